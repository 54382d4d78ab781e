import warnings

import keras
import numpy as np
import pytest

from keras_kd import augment
from keras_kd.augment import presets
from keras_kd.methods import DAKDDistiller
from tests import reference

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _images(n=8, size=12, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, size, size, 1)).astype("float32")


class _Shift(keras.layers.Layer):
    """A deterministic 'augmentation' so the views are fixed."""

    def __init__(self, amount, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def call(self, x, training=None):
        return x + self.amount if training else x


def test_dakd_loss_matches_numpy_for_fixed_views():
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    views = augment.Views(teacher=[_Shift(30.0)], student=[_Shift(-20.0)])  # D2, D1
    distiller = DAKDDistiller(teacher, student, views=views, temperature=3.0, consistency_weight=0.7)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0), loss=SPARSE_CE)
    x, y = _images(8), np.arange(8) % 5
    d1, d2 = x - 20.0, x + 30.0
    t_d2 = teacher.predict(d2, verbose=0)
    s_d1, s_d2 = student.predict(d1, verbose=0), student.predict(d2, verbose=0)
    l_s = reference.sparse_ce_per_sample(y, s_d2).mean()
    l_c = (reference.kd_per_sample(t_d2, s_d1, 3.0) / 9.0).mean()  # KL without T^2
    logs = distiller.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["student_loss"], l_s, rtol=1e-5)
    np.testing.assert_allclose(logs["distillation_loss"], l_c, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], l_s + 0.7 * l_c, rtol=1e-5)


def test_dakd_needs_independent_views():
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="two different augmentations"):
        DAKDDistiller(teacher, student, views=augment.Views(shared=[keras.layers.GaussianNoise(1.0)]))
    with pytest.raises(ValueError, match="consistency_weight"):
        DAKDDistiller(teacher, student, views=presets.get("dakd"), consistency_weight=-1)


def test_dakd_trains_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    distiller = DAKDDistiller(teacher, student, views=presets.get("dakd"), consistency_weight=2.0)
    distiller.compile(optimizer="adam", loss=SPARSE_CE, metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        distiller.fit(_images(16), np.arange(16) % 4, batch_size=8, epochs=1, verbose=0)
    distiller.save(str(tmp_path / "dakd.keras"))
    restored = keras.saving.load_model(str(tmp_path / "dakd.keras"))
    assert isinstance(restored, DAKDDistiller) and restored.consistency_weight == 2.0
