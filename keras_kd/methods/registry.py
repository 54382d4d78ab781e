"""The methods by name: recipes that go beyond one teacher and plain terms.

`get("multi_teacher")` returns the class (or, for chains, the function);
`available()` lists the names, which `keras-kd methods` prints. Terms are
named in `keras_kd.losses` instead.
"""

_METHODS = {}


def register(name):
    """Decorator: registers a Distiller subclass or a recipe function under `name`."""

    def decorator(obj):
        if name in _METHODS:
            raise ValueError(f"A method named {name!r} is already registered ({_METHODS[name].__name__}). Pick another name.")
        obj.registry_name = name
        _METHODS[name] = obj
        return obj

    return decorator


def available():
    """The sorted names `get` accepts."""
    return sorted(_METHODS)


def get(name):
    """The Distiller subclass or recipe registered under `name`."""
    key = str(name).lower().replace("-", "_")
    if key not in _METHODS:
        raise ValueError(f"Unknown method {name!r}. Available methods: {', '.join(available())}.")
    return _METHODS[key]
