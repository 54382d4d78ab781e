"""Your own data as arrays: an `.npz` with x_train, y_train, x_test, y_test (x_val, y_val optional)."""

import numpy as np


def load_splits(path):
    """`((x_train, y_train), (x_val, y_val) or None, (x_test, y_test))` from an `.npz` file."""
    with np.load(path) as arrays:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays.files)
        if missing:
            raise ValueError(f"{path}: lacks arrays {sorted(missing)} (found {sorted(arrays.files)}).")
        validation = (arrays["x_val"], arrays["y_val"]) if {"x_val", "y_val"} <= set(arrays.files) else None
        return (arrays["x_train"], arrays["y_train"]), validation, (arrays["x_test"], arrays["y_test"])
