import numpy as np
import pytest

from keras_kd import profiling
from keras_kd import zoo
from keras_kd.datasets import fashion_mosaics


def _garments():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28)).astype("uint8")
    return images, np.array([3, 1, 4, 1, 5, 9])


def test_each_quadrant_holds_a_garment_labelled_by_its_threshold_mask():
    images, labels = _garments()
    x, y = fashion_mosaics.make_mosaics(images, labels, 5, seed=7, threshold=100)
    assert x.shape == (5, 56, 56, 1) and y.shape == (5, 56, 56) and x.dtype == y.dtype == np.uint8
    chosen = np.random.default_rng(7).choice(6, 4, replace=False)  # the first mosaic's draw
    for quadrant, index in enumerate(chosen):
        r, c = divmod(quadrant, 2)
        patch = x[0, 28 * r : 28 * r + 28, 28 * c : 28 * c + 28, 0]
        np.testing.assert_array_equal(patch, images[index])
        want = np.where(images[index] >= 100, labels[index] + 1, 0)
        np.testing.assert_array_equal(y[0, 28 * r : 28 * r + 28, 28 * c : 28 * c + 28], want)
    assert y.max() <= 10 and set(np.unique(y)) <= {0, 2, 4, 5, 6, 10}
    with pytest.raises(ValueError, match=">= 4 images"):
        fashion_mosaics.make_mosaics(images[:3], labels[:3], 1)


def test_the_segmenters_return_a_score_per_pixel_and_class():
    teacher, student = zoo.segmenter(width=32, name="seg_teacher"), zoo.segmenter(width=8, name="seg_student")
    x, _ = fashion_mosaics.make_mosaics(*_garments(), 2)
    assert student.predict(x, verbose=0).shape == (2, 56, 56, 11)
    assert profiling.count_macs(student) < profiling.count_macs(teacher) / 8
