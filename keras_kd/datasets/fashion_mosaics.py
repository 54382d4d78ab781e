"""Fashion-MNIST mosaics: a small semantic-segmentation task on real images.

Each 56x56 mosaic holds four Fashion-MNIST garments, one per 28x28
quadrant, drawn at random (without replacement within a mosaic) from one
split, so test mosaics use only test images. The per-pixel label is

    0                   background: the garment's pixel is < `threshold`,
    1 + garment class   the pixel is >= `threshold` (on the garment),

so there are 11 classes. The threshold (default 32, one eighth of the
range) keeps the faint halo around garments in the background; masks are
made from the image alone, with no human annotation. Mean IoU over the 11
classes is the metric (`keras.metrics.MeanIoU(11, sparse_y_pred=False)`).
"""

import numpy as np

from keras_kd.datasets import fashion_mnist

NUM_CLASSES = 11  # background + 10 garments
SIZE = 56


def make_mosaics(images, labels, count, *, seed=0, threshold=32):
    """`(x, y)`: `count` mosaics `(count, 56, 56, 1)` uint8 and their label maps `(count, 56, 56)` uint8.

    Args:
        images: `(n, 28, 28)` or `(n, 28, 28, 1)` uint8 garments, n >= 4.
        labels: `(n,)` their classes (0-9).
        count: mosaics to make.
        seed: which garments go where. Defaults to 0.
        threshold: the pixel value from which a pixel is the garment's.
            Defaults to 32.
    """
    images = np.asarray(images).reshape(-1, 28, 28)
    labels = np.asarray(labels).reshape(-1)
    if len(images) < 4 or len(images) != len(labels):
        raise ValueError(f"make_mosaics needs >= 4 images and one label each. Received: {len(images)} images, {len(labels)} labels.")
    rng = np.random.default_rng(seed)
    x = np.zeros((count, SIZE, SIZE), np.uint8)
    y = np.zeros((count, SIZE, SIZE), np.uint8)
    for i in range(count):
        for quadrant, index in enumerate(rng.choice(len(images), 4, replace=False)):
            r, c = divmod(quadrant, 2)
            window = (slice(28 * r, 28 * r + 28), slice(28 * c, 28 * c + 28))
            x[i][window] = images[index]
            y[i][window] = np.where(images[index] >= threshold, labels[index] + 1, 0)
    return x[..., None], y


def load_splits(train_count=20000, validation_count=2000, test_count=4000, *, seed=0, threshold=32, directory=None):
    """`((x_train, y_train), (x_val, y_val), (x_test, y_test))` mosaics.

    Train and validation mosaics come from Fashion-MNIST's train split
    (its first 55k and last 5k images, as `fashion_mnist.load_splits`), test
    mosaics from its test split.
    """
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = fashion_mnist.load_splits(directory=directory)
    return (
        make_mosaics(x_train, y_train, train_count, seed=seed, threshold=threshold),
        make_mosaics(x_val, y_val, validation_count, seed=seed + 1, threshold=threshold),
        make_mosaics(x_test, y_test, test_count, seed=seed + 2, threshold=threshold),
    )
