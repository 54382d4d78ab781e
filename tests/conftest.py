import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture
def vectors():
    """`vectors(n=32, seed=0)`: `(x, y)`, n samples of 8 features and labels over
    10 classes, the inputs of `tests.models.teacher_and_student()`."""

    def make(n=32, seed=0):
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n, 8)).astype("float32"), rng.integers(0, 10, size=n)

    return make


@pytest.fixture
def sparse_ce():
    """The student loss most tests compile: sparse cross-entropy on logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
