"""Your own images in folders: `root/train/<class>/*.png`, `root/test/<class>/*`, optional `root/val/`.

Read with `keras.utils.image_dataset_from_directory` (class names from the
folder names, sorted; the same order in every split) into uint8-range
float arrays of `image_size` (+ channels), as the training recipes take.
"""

import os

import numpy as np

SPLITS = ("train", "val", "test")


def load_splits(root, *, image_size=(28, 28), color_mode="grayscale"):
    """`((x_train, y_train), (x_val, y_val) or None, (x_test, y_test))` and the class names.

    Args:
        root: the directory holding `train/` and `test/` (and `val/`).
        image_size: `(height, width)` every image is resized to. Defaults to `(28, 28)`.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`. Defaults to `"grayscale"`.
    """
    import keras

    missing = [s for s in ("train", "test") if not os.path.isdir(os.path.join(root, s))]
    if missing:
        raise ValueError(
            f"{root!r}: an image folder dataset needs {', '.join(s + '/' for s in missing)} sub-directories, "
            f"each with one folder per class (root/train/<class>/*.png). Found: {sorted(os.listdir(root)) if os.path.isdir(root) else 'no directory'}."
        )
    class_names = sorted(d for d in os.listdir(os.path.join(root, "train")) if os.path.isdir(os.path.join(root, "train", d)))
    arrays = {}
    for split in SPLITS:
        directory = os.path.join(root, split)
        if not os.path.isdir(directory):
            continue
        dataset = keras.utils.image_dataset_from_directory(
            directory, labels="inferred", class_names=class_names, color_mode=color_mode,
            image_size=tuple(image_size), batch_size=None, shuffle=False, verbose=False,
        )  # fmt: skip
        pairs = list(dataset.as_numpy_iterator())
        arrays[split] = (np.stack([x for x, _ in pairs]).astype("float32"), np.array([y for _, y in pairs]))
    return (arrays["train"], arrays.get("val"), arrays["test"]), class_names
