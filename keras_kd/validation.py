"""Argument checks shared by the losses, the Distiller and the recipes.

Each check raises an error that says what was wrong, what was received and
what to do, in the Keras style. A value of the wrong type raises
`ArgumentTypeError`, which is both a `TypeError` and a `ValueError`:
`keras.distillation` answers the same mistakes with `ValueError`, so code
written against it catches ours too.
"""

import math
import numbers


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (catchable as TypeError or ValueError)."""


def _check_real(name, value, owner, expected):
    """Raises unless `value` is a finite real number (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{owner}: `{name}` must be {expected}. "
            f"Received: {name}={value!r} (of type {type(value).__name__})."
        )
    if not math.isfinite(value):
        raise ValueError(
            f"{owner}: `{name}` must be finite: an infinite or NaN value makes "
            f"every loss NaN. Received: {name}={value!r}."
        )
    return float(value)


def check_positive_number(name, value, *, owner):
    """Raises unless `value` is a finite real number > 0."""
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
    """Raises unless `value` is a finite real number >= 0."""
    value = _check_real(name, value, owner, "a number >= 0")
    if not value >= 0:
        raise ValueError(f"{owner}: `{name}` must be >= 0. Received: {name}={value!r}.")
    return value


def check_bool(name, value, *, owner):
    """Raises unless `value` is `True` or `False`."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(
            f"{owner}: `{name}` must be True or False. "
            f"Received: {name}={value!r} (of type {type(value).__name__})."
        )
    return value


def check_one_of(name, value, choices, *, owner):
    """Raises unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"{owner}: unknown `{name}`. Received: {name}={value!r}. "
            f"Valid: {', '.join(repr(c) for c in choices)}."
        )
    return value


def check_positive_int(name, value, *, owner, allow_none=False):
    """Raises unless `value` is an integer >= 1 (or `None` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        expected = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(f"{owner}: `{name}` must be {expected}. Received: {name}={value!r}.")
    return int(value)


def check_weights(name, values, count, *, owner):
    """Raises unless `values` holds `count` finite numbers >= 0, not all 0.

    Returns them as floats, unnormalized: one weight per teacher.
    """
    try:
        values = list(values)
    except TypeError:
        raise ArgumentTypeError(
            f"{owner}: `{name}` must be a list of {count} numbers >= 0, one per teacher. "
            f"Received: {name}={values!r} (of type {type(values).__name__})."
        ) from None
    if len(values) != count:
        raise ValueError(
            f"{owner}: `{name}` needs one weight >= 0 per teacher: {count} of them. "
            f"Received: {name}={values!r} ({len(values)} for {count} teachers)."
        )
    weights = [check_non_negative_number(f"{name}[{i}]", value, owner=owner) for i, value in enumerate(values)]
    if sum(weights) <= 0:
        raise ValueError(f"{owner}: `{name}` must not all be 0. Received: {name}={values!r}.")
    return weights
