"""Noise layers Keras lacks, seeded and serializable.

Both act whenever `training=True`, which `Views` always passes, so they
augment inside the train step. At inference they are the identity. Like
Keras's image preprocessing layers, each separates drawing
(`get_random_transformation`) from applying (`transform_images`), so one
draw can be applied to a teacher's and a student's paired inputs.
"""

import keras
from keras import ops


class _ImageNoise(keras.layers.Layer):
    """Base: a seeded draw (`get_random_transformation`), a pure apply
    (`transform_images`), the identity outside training."""

    def __init__(self, *, value_range, seed, **kwargs):
        super().__init__(**kwargs)
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        return self.transform_images(images, self.get_random_transformation(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_kd")
class SaltAndPepper(_ImageNoise):
    """Sets a random fraction of pixels to the range's min (pepper) or max (salt).

    Each pixel is independently replaced with probability `rate`, by the
    minimum or the maximum of `value_range` with equal odds. All channels of
    a pixel are replaced together.

    Args:
        rate: fraction of pixels replaced, in [0, 1]. Defaults to 0.05.
        value_range: `(min, max)` of the images. Defaults to `(0, 255)`.
        seed: defaults to `None`.
    """

    def __init__(self, rate=0.05, *, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"SaltAndPepper: rate must be in [0, 1]. Received: rate={rate!r}.")
        self.rate = float(rate)

    def get_random_transformation(self, images, training=True, seed=None):
        """`{"hit": bool mask, "salt": bool mask}`, shape `(N, H, W, 1)`."""
        shape = (*ops.shape(images)[:-1], 1)
        hit = keras.random.uniform(shape, seed=self.generator) < self.rate
        salt = keras.random.uniform(shape, seed=self.generator) < 0.5
        return {"hit": hit, "salt": salt}

    def transform_images(self, images, transformation, training=True):
        low, high = self.value_range
        noise = ops.where(transformation["salt"], high, low)
        return ops.where(transformation["hit"], ops.cast(noise, images.dtype), images)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="keras_kd")
class ImageGaussianNoise(_ImageNoise):
    """Adds N(0, stddev^2) noise to images and clips to their value range.

    Unlike `keras.layers.GaussianNoise`, it clips to `value_range`, so
    noisy images stay valid images.

    Args:
        stddev: in pixel units. Defaults to 8.0 (on [0, 255] images).
        value_range: `(min, max)`. Defaults to `(0, 255)`.
        seed: defaults to `None`.
    """

    def __init__(self, stddev=8.0, *, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        if stddev < 0:
            raise ValueError(f"ImageGaussianNoise: stddev must be >= 0. Received: stddev={stddev!r}.")
        self.stddev = float(stddev)

    def get_random_transformation(self, images, training=True, seed=None):
        """`{"noise": ...}`, the same shape as `images`."""
        return {"noise": keras.random.normal(ops.shape(images), stddev=self.stddev, seed=self.generator)}

    def transform_images(self, images, transformation, training=True):
        return ops.clip(images + ops.cast(transformation["noise"], images.dtype), *self.value_range)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}
