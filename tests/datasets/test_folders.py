import numpy as np
import pytest
from PIL import Image

from keras_kd.datasets import folders


def _tree(root, counts):
    rng = np.random.default_rng(0)
    for split, per_class in counts.items():
        for name in ("boot", "coat"):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                value = 200 if name == "coat" else 20
                pixels = np.clip(rng.normal(value, 5, (12, 10)), 0, 255).astype("uint8")
                Image.fromarray(pixels, mode="L").save(root / split / name / f"{i}.png")


def test_image_folders_load_with_labels_from_class_folders(tmp_path):
    _tree(tmp_path, {"train": 3, "test": 2})
    (train, validation, test), classes = folders.load_splits(str(tmp_path), image_size=(8, 8))
    assert classes == ["boot", "coat"] and validation is None
    assert train[0].shape == (6, 8, 8, 1) and test[0].shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(train[1], [0, 0, 0, 1, 1, 1])
    assert train[0][train[1] == 1].mean() > 150 > 50 > train[0][train[1] == 0].mean()  # coats are bright


def test_a_folder_without_splits_is_explained(tmp_path):
    (tmp_path / "boot").mkdir()
    with pytest.raises(ValueError, match=r"needs train/, test/ sub-directories.*Found: \['boot'\]"):
        folders.load_splits(str(tmp_path))
