"""A small typed schema for config files: every error names the key's path.

A section is a dict `{key: Field}`; `validate(raw, section, path)` returns
the values with defaults filled in, or raises a `ConfigError` such as

    distill.epochs: expected a positive integer, got 'ten' (a str).
    distill.termz: unknown key. Did you mean 'terms'? Valid: epochs, ...

No data is loaded and no model is trained before a config passes.
"""

import dataclasses
import difflib


class ConfigError(ValueError):
    """A config file is wrong; the message starts with the bad key's path."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One key: its kind, default and what it means.

    `kind` is one of `"int+"` (integer >= 1), `"int0"` (integer >= 0),
    `"float+"` (number > 0), `"unit"` (number in [0, 1]), `"bool"`,
    `"str"`, `"list"`, `"choice"` (one of `choices`), `"section"`
    (a nested dict validated against `fields`), or `"any"`.
    """

    kind: str
    default: object = None
    choices: tuple = ()
    fields: dict = None
    doc: str = ""
    required: bool = False


def _type_name(value):
    return type(value).__name__


def _check(value, field, path):
    kind = field.kind
    if value is None and not field.required:
        return None
    wrong = f"{path}: expected {{}}, got {value!r} (a {_type_name(value)})."
    if kind in ("int+", "int0"):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if kind == "int+" else 0):
            raise ConfigError(wrong.format("a positive integer" if kind == "int+" else "an integer >= 0"))
    elif kind in ("float+", "unit"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(wrong.format("a number"))
        if kind == "float+" and value <= 0:
            raise ConfigError(wrong.format("a number > 0"))
        if kind == "unit" and not 0 <= value <= 1:
            raise ConfigError(wrong.format("a number in [0, 1]"))
        value = float(value)
    elif kind == "bool" and not isinstance(value, bool):
        raise ConfigError(wrong.format("true or false"))
    elif kind == "str" and not isinstance(value, str):
        raise ConfigError(wrong.format("a string"))
    elif kind == "list" and not isinstance(value, (list, tuple)):
        raise ConfigError(wrong.format("a list"))
    elif kind == "choice" and value not in field.choices:
        raise ConfigError(f"{path}: expected one of {', '.join(map(repr, field.choices))}, got {value!r}.")
    elif kind == "section":
        value = validate(value, field.fields, path)
    return value


def validate(raw, fields, path=""):
    """`raw` checked against `fields`, defaults filled in (see the module docstring)."""
    where = path or "the config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {raw!r} (a {_type_name(raw)}).")
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path + '.' if path else ''}{key}: unknown key.{hint} Valid: {', '.join(fields)}.")
    result = {}
    for key, field in fields.items():
        key_path = f"{path}.{key}" if path else key
        if key not in raw:
            if field.required:
                raise ConfigError(f"{key_path}: required ({field.doc}).")
            result[key] = validate({}, field.fields, key_path) if field.kind == "section" else field.default
            continue
        result[key] = _check(raw[key], field, key_path)
    return result


def set_value(raw, assignment):
    """Applies `--set a.b=value` to the raw config; the value is read as YAML (so `3`, `true`, `[kd]`)."""
    import yaml

    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key.path=value, e.g. distill.epochs=3.")
    key_path, text = assignment.split("=", 1)
    keys = key_path.strip().split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: {key} is not a section.")
    node[keys[-1]] = yaml.safe_load(text)
    return raw
