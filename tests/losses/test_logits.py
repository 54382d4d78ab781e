import keras
import numpy as np
import pytest

from keras_kd import losses
from tests import reference


def _logits(seed, shape=(16, 10), scale=3.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype("float32")


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0])
def test_kd_matches_numpy(temperature):
    t, s = _logits(0), _logits(1)
    got = float(losses.KD(temperature).compute_loss(t, s))
    want = reference.kd_per_sample(t, s, temperature).mean()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_kd_with_sample_weight_matches_numpy():
    t, s = _logits(2), _logits(3)
    w = np.random.default_rng(4).uniform(0, 2, size=16).astype("float32")
    got = float(losses.KD(4.0).compute_loss(t, s, sample_weight=w))
    want = reference.weighted_mean(reference.kd_per_sample(t, s, 4.0), w)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_kd_from_probabilities_equals_from_logits():
    t, s = _logits(5), _logits(6)
    p_t = reference.softmax(t).astype("float32")
    p_s = reference.softmax(s).astype("float32")
    from_logits = float(losses.KD(3.0).compute_loss(t, s))
    from_probs = float(
        losses.KD(3.0, teacher_from_logits=False, student_from_logits=False).compute_loss(p_t, p_s)
    )
    np.testing.assert_allclose(from_probs, from_logits, rtol=1e-4)


def test_kd_is_zero_when_student_equals_teacher():
    t = _logits(7)
    assert abs(float(losses.KD(4.0).compute_loss(t, t))) < 1e-6


def test_kd_is_nonnegative_and_scales_with_t_squared():
    t, s = _logits(8), _logits(9)
    # T^2 * KL at T is the same as KL at T times T^2: check the factor alone.
    kl_at_2 = reference.kd_per_sample(t, s, 2.0).mean() / 4.0
    np.testing.assert_allclose(float(losses.KD(2.0).compute_loss(t, s)), 4.0 * kl_at_2, rtol=1e-5)
    assert float(losses.KD(2.0).compute_loss(t, s)) > 0


def test_kd_matches_keras_logits_distillation_with_kl_instance():
    t, s = _logits(10), _logits(11)
    ours = float(losses.KD(4.0).compute_loss(t, s))
    theirs = float(
        keras.distillation.LogitsDistillation(
            temperature=4.0, loss=keras.losses.KLDivergence()
        ).compute_loss(t, s)
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


@pytest.mark.parametrize("bad", [0, -1.0, 0.0])
def test_kd_rejects_non_positive_temperature(bad):
    with pytest.raises(ValueError, match=r"temperature.*> 0.*Received: temperature="):
        losses.KD(bad)


@pytest.mark.parametrize("bad", ["4", None, True])
def test_kd_rejects_non_number_temperature(bad):
    with pytest.raises(TypeError, match="temperature"):
        losses.KD(bad)


def test_kd_rejects_different_class_counts():
    with pytest.raises(ValueError, match=r"same number of classes.*\(4, 10\).*\(4, 5\)"):
        losses.KD(2.0).compute_loss(_logits(0, (4, 10)), _logits(1, (4, 5)))


def test_kd_config_round_trip():
    term = losses.KD(2.0, teacher_from_logits=False, name="soft")
    config = term.get_config()
    clone = losses.KD.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
    assert isinstance(restored, losses.KD) and restored.get_config() == config


def test_registry_builds_by_name_and_lists_names_on_error():
    assert "kd" in losses.available()
    term = losses.get("kd", temperature=2.0)
    assert isinstance(term, losses.KD) and term.temperature == 2.0
    assert losses.get({"name": "kd", "temperature": 3.0}).temperature == 3.0
    with pytest.raises(ValueError, match=r"Unknown distillation term 'nope'.*Available names: .*kd"):
        losses.get("nope")


# ------------------------------------------------------------ sequences


def _padding_mask(n=6, steps=7, seed=9):
    lengths = np.random.default_rng(seed).integers(2, steps + 1, size=n)
    return (np.arange(steps)[None, :] < lengths[:, None]).astype("float32")


def test_kd_on_sequences_with_a_padding_mask_matches_numpy():
    t, s = _logits(20, (6, 7, 5)), _logits(21, (6, 7, 5))
    mask = _padding_mask()
    per_step = reference.kd_per_sample(t.reshape(-1, 5), s.reshape(-1, 5), 3.0).reshape(6, 7)
    want = (per_step * mask).sum() / mask.size  # Keras's sum_over_batch_size over (N, T)
    got = float(losses.KD(3.0).compute_loss(t, s, sample_weight=mask))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(float(losses.KD(3.0).compute_loss(t, s)), per_step.mean(), rtol=1e-5)


def test_dkd_on_sequences_with_a_padding_mask_matches_numpy():
    t, s = _logits(22, (6, 7, 5)), _logits(23, (6, 7, 5))
    labels = np.random.default_rng(24).integers(0, 5, size=(6, 7))
    mask = _padding_mask()
    per_step = reference.dkd(t.reshape(-1, 5), s.reshape(-1, 5), labels.reshape(-1)).reshape(6, 7)
    got = float(losses.DKD().compute_loss(t, s, sample_weight=mask, y_true=labels))
    np.testing.assert_allclose(got, (per_step * mask).sum() / mask.size, rtol=1e-5)


def test_dkd_gives_nan_for_a_label_outside_the_classes():
    t, s = _logits(25), _logits(26)
    labels = np.arange(16) % 10
    labels[3] = 10
    assert np.isnan(float(losses.DKD().compute_loss(t, s, y_true=labels)))
