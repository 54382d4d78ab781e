"""A registry of distillation terms keyed by short names.

`get("kd")` builds a term by name, `available()` lists the names, and
`from_specs` builds the terms and weights of a config or a command line,
where a term is written `"name[:key=value,...]"` (or as a dict). Registered classes are also registered with
Keras's serialization under the package ``keras_kd``, so Distillers that hold
them round-trip through ``.keras`` files.
"""

import inspect
import json

import keras

from keras_kd.registries import Registry

TERMS = Registry("distillation term")


def register(name):
    """Class decorator: registers a term under `name` and with Keras saving."""

    def decorator(cls):
        return TERMS.register(name, keras.saving.register_keras_serializable(package="keras_kd")(cls))

    return decorator


def available():
    """The sorted names `get` accepts."""
    return TERMS.available()


def get_class(name):
    """The class registered under `name`."""
    return TERMS.get(name)


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
    cls = get_class(identifier)
    key = cls.registry_name
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    accepted = _init_arguments(cls)
    unknown = sorted(set(kwargs) - set(accepted))
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
    if unknown and not takes_any:
        raise ValueError(
            f"{cls.__name__} ({key!r}) takes no argument {', '.join(map(repr, unknown))}. "
            f"Its arguments: {', '.join(accepted)}."
        )
    return cls(**kwargs)


def _init_arguments(cls):
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _parse_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_spec(spec):
    """Parses `"name[:key=value,...]"` into a config dict.

    Values are read as JSON where they parse (`4`, `0.5`, `true`, `null`),
    as strings otherwise (`block3`). The key `weight` is the term's weight
    in the Distiller, not a constructor argument.

    >>> parse_spec("hint:teacher_layer_name=block3,student_layer_name=block3,weight=100")
    {'name': 'hint', 'teacher_layer_name': 'block3', 'student_layer_name': 'block3', 'weight': 100}
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(
            f"A term spec is a non-empty string 'name[:key=value,...]'. Received: {spec!r}. "
            f"Example: 'kd:temperature=4,weight=1'."
        )
    name, _, arguments = spec.strip().partition(":")
    config = {"name": name.strip()}
    for item in filter(None, (part.strip() for part in arguments.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"Cannot read {item!r} in the term spec {spec!r}: arguments are written key=value, "
                f"separated by commas. Example: 'hint:teacher_layer_name=block3,student_layer_name=block3'."
            )
        config[key.strip()] = _parse_value(value.strip())
    return config


def from_specs(specs, *, defaults=None):
    """Builds `(terms, weights)` from term specs, as configs and the CLI write them.

    Args:
        specs: a list of specs, each a string `"name[:key=value,...]"` (see
            `parse_spec`), a config dict `{"name": ..., **arguments}`, or a
            `DistillationLoss` instance. A spec's `weight` (default 1.0) is
            its term weight.
        defaults: arguments given to every term whose constructor takes
            them and whose spec does not set them (e.g. the run's
            `{"temperature": 4.0}`). Defaults to `None`.

    Returns:
        `(terms, weights)`, two lists of equal length.
    """
    if isinstance(specs, (str, dict)) or not specs:
        raise ValueError(
            f"from_specs takes a non-empty list of term specs. Received: {specs!r}. "
            f"Example: ['kd', 'hint:teacher_layer_name=block3,student_layer_name=block3,weight=100']."
        )
    terms, weights = [], []
    for spec in specs:
        if isinstance(spec, keras.distillation.DistillationLoss):
            terms.append(spec)
            weights.append(1.0)
            continue
        config = dict(parse_spec(spec) if isinstance(spec, str) else spec)
        weight = config.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"A term weight must be a non-negative number. Received: weight={weight!r} in {spec!r}.")
        if "name" not in config:
            raise ValueError(f"A term config needs a 'name' key. Received: {spec!r}. Available names: {', '.join(available())}.")
        accepted = _init_arguments(get_class(config["name"]))
        for key, value in (defaults or {}).items():
            if key in accepted and config.get(key) is None:
                config[key] = value
        terms.append(get(config))
        weights.append(float(weight))
    return terms, weights
