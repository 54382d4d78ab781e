"""Argument checks shared by the losses, the Distiller and the recipes.

Each check raises an error that says what was wrong, what was received and
what to do, in the Keras style.
"""

import numbers


def _check_real(name, value, owner, expected):
    """Raises TypeError unless `value` is a real number (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: `{name}` must be {expected}. "
            f"Received: {name}={value!r} (of type {type(value).__name__})."
        )
    return float(value)


def check_positive_number(name, value, *, owner):
    """Raises unless `value` is a real number > 0."""
    value = _check_real(name, value, owner, "a positive number")
    if not value > 0:
        hint = " Typical temperatures for distillation are 1 to 8." if name == "temperature" else ""
        raise ValueError(f"{owner}: `{name}` must be > 0. Received: {name}={value!r}.{hint}")
    return value


def check_unit_interval(name, value, *, owner):
    """Raises unless `value` is a real number in [0, 1]."""
    value = _check_real(name, value, owner, "a number in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{owner}: `{name}` must be in [0, 1]. Received: {name}={value!r}. "
            f"It weighs the student's own loss against the distillation "
            f"terms: total = w * student_loss + (1 - w) * distillation_loss."
        )
    return value


def check_non_negative_number(name, value, *, owner):
    """Raises unless `value` is a real number >= 0."""
    value = _check_real(name, value, owner, "a number >= 0")
    if not value >= 0:
        raise ValueError(f"{owner}: `{name}` must be >= 0. Received: {name}={value!r}.")
    return value


def check_bool(name, value, *, owner):
    if not isinstance(value, bool):
        raise TypeError(
            f"{owner}: `{name}` must be True or False. "
            f"Received: {name}={value!r} (of type {type(value).__name__})."
        )
    return value
