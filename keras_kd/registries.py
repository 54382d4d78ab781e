"""A registry of named objects, with errors that list the names.

`keras_kd.losses` names its terms with one and `keras_kd.methods` its
recipes with another; names are case-insensitive and `-` reads as `_`.
"""


class Registry:
    """Names -> objects (classes or functions).

    Args:
        kind: what the registry holds, for errors ("distillation term").
    """

    def __init__(self, kind):
        self.kind = kind
        self._objects = {}

    def register(self, name, obj):
        """Registers `obj` under `name` (and sets `obj.registry_name`)."""
        if name in self._objects:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered "
                f"({self._objects[name].__name__}). Pick another name."
            )
        obj.registry_name = name
        self._objects[name] = obj
        return obj

    def available(self):
        """The sorted names `get` accepts."""
        return sorted(self._objects)

    def get(self, name):
        """The object registered under `name`."""
        key = str(name).lower().replace("-", "_")
        if key not in self._objects:
            raise ValueError(f"Unknown {self.kind} {name!r}. Available names: {', '.join(self.available())}.")
        return self._objects[key]
