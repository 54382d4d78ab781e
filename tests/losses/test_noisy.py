import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from tests import models


def _logits(seed, shape=(4000, 10)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_logit_mse_is_half_the_squared_distance():
    t, s = _logits(0, (16, 10)), _logits(1, (16, 10))
    np.testing.assert_allclose(float(losses.LogitMSE().compute_loss(t, s)), (0.5 * ((s - t) ** 2).sum(-1)).mean(), rtol=1e-5)


def test_noise_is_multiplicative_on_a_fraction_of_samples_and_unbiased():
    z = _logits(2)
    noisy = np.asarray(losses.NoisyTeacher(stddev=0.2, fraction=0.3, seed=1).perturb(z))
    changed = np.any(noisy != z, axis=-1)
    assert 0.27 < changed.mean() < 0.33
    xi = noisy[changed] / z[changed] - 1.0
    assert abs(xi.mean()) < 0.01 and 0.19 < xi.std() < 0.21


def test_noise_is_reproducible_with_a_seed_and_redrawn_each_call():
    z = _logits(3, (8, 10))
    a, b = losses.NoisyTeacher(seed=7), losses.NoisyTeacher(seed=7)
    first, again = np.asarray(a.perturb(z)), np.asarray(b.perturb(z))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(np.asarray(a.perturb(z)), first)


def test_no_noise_gives_the_wrapped_term():
    t, s = _logits(4, (16, 10)), _logits(5, (16, 10))
    for noise in (losses.NoisyTeacher(stddev=0.0), losses.NoisyTeacher(fraction=0.0)):
        np.testing.assert_allclose(float(noise.compute_loss(t, s)), float(losses.LogitMSE().compute_loss(t, s)), rtol=1e-6)
    kd = losses.NoisyTeacher(losses.KD(4.0), stddev=0.0)
    np.testing.assert_allclose(float(kd.compute_loss(t, s)), float(losses.KD(4.0).compute_loss(t, s)), rtol=1e-6)


def test_a_noisy_teacher_trains_in_a_distiller_and_round_trips(tmp_path, vectors, sparse_ce):
    x, y = vectors()
    distiller = keras_kd.Distiller(*models.teacher_and_student(), losses.NoisyTeacher("kd", stddev=0.3, seed=0))
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert np.isfinite(history["distillation_loss"]).all()
    distiller.save(str(tmp_path / "noisy.keras"))
    restored = keras.saving.load_model(str(tmp_path / "noisy.keras"))
    assert restored.distillation_losses[0].get_config() == distiller.distillation_losses[0].get_config()


def test_noise_on_features_is_refused():
    with pytest.raises(ValueError, match="teacher's logits"):
        losses.NoisyTeacher(losses.Hint("a", "b"))
