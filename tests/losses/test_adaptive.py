import keras
import numpy as np
import pytest

from keras_kd import losses
from tests import reference


def _numpy_ats(t, s, labels, mode="adaptive", gamma=1.0, fixed=0.5, temperature=1.0):
    k = t.shape[-1]
    p_t = reference.softmax(t, temperature)
    on_label = np.take_along_axis(p_t, labels[..., None], -1)[..., 0]
    if mode == "adaptive":
        w = on_label**gamma / (on_label**gamma + (1 - on_label) ** gamma)
    elif mode == "conditional":
        w = (p_t.argmax(-1) == labels).astype(np.float64)
    else:
        w = np.full(labels.shape, fixed)
    target = w[..., None] * p_t + (1 - w[..., None]) * np.eye(k)[labels]
    return -(target * reference.log_softmax(s, temperature)).sum(-1), w


@pytest.mark.parametrize("mode, gamma, temperature", [
    ("adaptive", 1.0, 1.0), ("adaptive", 2.0, 2.0), ("conditional", 1.0, 1.0), ("interpolated", 1.0, 1.0),
])  # fmt: skip
def test_ats_matches_numpy(mode, gamma, temperature):
    rng = np.random.default_rng(0)
    t, s = (rng.normal(size=(16, 6)) * 3).astype("float32"), rng.normal(size=(16, 6)).astype("float32")
    labels = rng.integers(0, 6, size=16)
    term = losses.AdaptiveTeacherStudent(mode=mode, confidence_power=gamma, teacher_weight=0.3, temperature=temperature)
    per_sample, w = _numpy_ats(t, s, labels, mode, gamma, 0.3, temperature)
    np.testing.assert_allclose(float(term.compute_loss(t, s, y_true=labels)), per_sample.mean(), rtol=1e-5)
    p_t = keras.ops.softmax(t / temperature, axis=-1)
    np.testing.assert_allclose(np.asarray(term.teacher_weights(p_t, labels)), w, rtol=1e-5, atol=1e-7)


def test_ats_on_sequences_with_a_padding_mask_matches_numpy():
    rng = np.random.default_rng(1)
    t, s = (rng.normal(size=(4, 5, 6)) * 2).astype("float32"), rng.normal(size=(4, 5, 6)).astype("float32")
    labels = rng.integers(0, 6, size=(4, 5))
    mask = (np.arange(5)[None] < np.array([5, 3, 1, 4])[:, None]).astype("float32")
    per_step, w = _numpy_ats(t, s, labels)
    got = float(losses.AdaptiveTeacherStudent().compute_loss(t, s, sample_weight=mask, y_true=labels))
    np.testing.assert_allclose(got, (per_step * mask).sum() / mask.size, rtol=1e-5)
    assert np.all((w >= 0) & (w <= 1))


def test_a_certain_teacher_on_the_label_gives_a_one_hot_target():
    labels = np.array([0, 1, 2])
    t = np.eye(3, dtype="float32")[labels] * 60.0  # all mass on the label
    s = np.random.default_rng(2).normal(size=(3, 3)).astype("float32")
    want = -reference.log_softmax(s)[np.arange(3), labels].mean()
    for mode in ("adaptive", "conditional", "interpolated"):
        got = float(losses.AdaptiveTeacherStudent(mode=mode).compute_loss(t, s, y_true=labels))
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=mode)


def test_ats_needs_labels_and_valid_arguments():
    t = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="needs the labels"):
        losses.AdaptiveTeacherStudent().compute_loss(t, t)
    with pytest.raises(ValueError, match="unknown `mode`"):
        losses.AdaptiveTeacherStudent(mode="fixed")
    assert np.isnan(float(losses.AdaptiveTeacherStudent().compute_loss(t, t, y_true=np.array([0, 3]))))
    config = losses.AdaptiveTeacherStudent(mode="conditional").get_config()
    assert losses.AdaptiveTeacherStudent.from_config(config).get_config() == config
