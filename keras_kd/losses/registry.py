"""A registry of distillation terms keyed by short names.

`get("kd")` builds a term by name (the CLI and configs use it), and
`available()` lists the names. Registered classes are also registered with
Keras's serialization under the package ``keras_kd``, so Distillers that hold
them round-trip through ``.keras`` files.
"""

import keras

_REGISTRY = {}


def register(name):
    """Class decorator: registers a term under `name` and with Keras saving."""

    def decorator(cls):
        if name in _REGISTRY:
            raise ValueError(
                f"A distillation term named {name!r} is already registered "
                f"({_REGISTRY[name].__name__}). Pick another name."
            )
        cls = keras.saving.register_keras_serializable(package="keras_kd")(cls)
        cls.registry_name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def available():
    """The sorted names `get` accepts."""
    return sorted(_REGISTRY)


def get_class(name):
    """The class registered under `name`."""
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"Unknown distillation term {name!r}. Available names: {', '.join(available())}.")
    return _REGISTRY[key]


def get(identifier, **kwargs):
    """Builds a distillation term from a name, a config dict or an instance.

    Args:
        identifier: a registered name (`"kd"`), a dict
            `{"name": "kd", "temperature": 4}`, or a
            `keras.distillation.DistillationLoss` instance (returned as is).
        **kwargs: constructor arguments, used with a name. `None` values are
            dropped so the class's defaults stay in one place.

    Returns:
        A `keras.distillation.DistillationLoss` instance.
    """
    if isinstance(identifier, keras.distillation.DistillationLoss):
        if kwargs:
            raise ValueError(
                f"Arguments were given with an already built term. "
                f"Received: identifier={identifier!r}, kwargs={kwargs}. "
                f"Pass a name instead, e.g. get('kd', temperature=4)."
            )
        return identifier
    if isinstance(identifier, dict):
        identifier = dict(identifier)
        if "name" not in identifier:
            raise ValueError(
                f"A term config needs a 'name' key. Received: {identifier}. "
                f"Available names: {', '.join(available())}."
            )
        name = identifier.pop("name")
        return get(name, **{**identifier, **kwargs})
    if not isinstance(identifier, str):
        raise TypeError(
            f"Cannot build a distillation term from {identifier!r} "
            f"(of type {type(identifier).__name__}). Pass a name such as "
            f"'kd', a config dict, or a DistillationLoss instance."
        )
    key = identifier.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(
            f"Unknown distillation term {identifier!r}. "
            f"Available names: {', '.join(available())}."
        )
    return _REGISTRY[key](**{k: v for k, v in kwargs.items() if v is not None})
