import gzip
import os
import shutil

import keras
import numpy as np
import pytest

from keras_kd.datasets import fashion_mnist


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_dir(tmp_path, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": rng.integers(0, 10, n_test),
    }
    for key, filename in fashion_mnist.FILES.items():
        _write_idx(str(tmp_path / filename), arrays[key])
    return arrays


def test_reads_idx_files_from_the_env_directory(tmp_path, monkeypatch):
    arrays = _fake_dir(tmp_path)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])


def test_env_directory_without_files_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"without the Fashion-MNIST files.*missing"):
        fashion_mnist.load_data()


def test_truncated_file_is_reported(tmp_path):
    path = str(tmp_path / "bad.gz")
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="truncated"):
        fashion_mnist.read_idx(path)


def test_bad_magic_is_reported(tmp_path):
    path = str(tmp_path / "bad.gz")
    with gzip.open(path, "wb") as f:
        f.write(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        fashion_mnist.read_idx(path)


def test_load_splits_holds_out_the_last_training_images(tmp_path):
    arrays = _fake_dir(tmp_path, n_train=10)
    (x_train, y_train), (x_val, y_val), (x_test, _) = fashion_mnist.load_splits(3, directory=str(tmp_path))
    assert x_train.shape == (7, 28, 28, 1) and x_val.shape == (3, 28, 28, 1) and x_test.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(y_val, arrays["y_train"][7:])
    with pytest.raises(ValueError, match="validation_size"):
        fashion_mnist.load_splits(10, directory=str(tmp_path))


@pytest.mark.skipif(not os.path.isdir(fashion_mnist.DEBIAN_DIR), reason="dataset-fashion-mnist not installed")
def test_same_arrays_as_keras_loader(tmp_path, monkeypatch):
    # Keras's loader reads its cache without downloading when the files are
    # there: seed a private cache with the Debian files and compare.
    cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for filename in fashion_mnist.FILES.values():
        shutil.copy(os.path.join(fashion_mnist.DEBIAN_DIR, filename), cache / filename)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    # keras_home() is read when Keras is imported: patch where get_file asks.
    from keras.src.backend import config as keras_config

    monkeypatch.setattr(keras_config, "keras_home", lambda: str(tmp_path / "keras_home"))
    ours = fashion_mnist.load_data(fashion_mnist.DEBIAN_DIR)
    theirs = keras.datasets.fashion_mnist.load_data()
    for (ours_x, ours_y), (theirs_x, theirs_y) in zip(ours, theirs):
        assert ours_x.shape == theirs_x.shape and ours_x.dtype == theirs_x.dtype
        np.testing.assert_array_equal(ours_x, theirs_x)
        np.testing.assert_array_equal(ours_y, theirs_y)
    assert ours[0][0].shape == (60000, 28, 28) and ours[1][0].shape == (10000, 28, 28)
