import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.losses import teacher_free
from tests import models
from tests import reference


@pytest.mark.parametrize("mode", ["paper", "code"])
def test_tf_kd_reg_matches_numpy(mode):
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(16, 10)) * 3).astype("float32")
    labels = rng.integers(0, 10, 16)
    weights = rng.uniform(0, 2, 16).astype("float32")
    term = losses.TeacherFreeRegularization(0.9, 5.0, mode=mode)
    got = term.compute_loss(None, logits, sample_weight=weights, y_true=labels)
    want = reference.weighted_mean(reference.tf_kd_reg(logits, labels, 0.9, 5.0, mode), weights)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    one_hot = np.eye(10, dtype="float32")[labels]
    np.testing.assert_allclose(float(term.compute_loss(None, logits, sample_weight=weights, y_true=one_hot)), want, rtol=1e-5)


def test_the_designed_teacher_is_nearly_uniform_at_the_papers_settings():
    target = np.asarray(teacher_free.handmade_target(np.array([3]), 100, correct_probability=0.99, temperature=20.0))
    np.testing.assert_allclose(target[0, 3], 0.01050, atol=5e-6)
    np.testing.assert_allclose(np.delete(target[0], 3), 0.009995, atol=5e-6)
    np.testing.assert_allclose(target.sum(), 1.0, rtol=1e-6)


def test_a_distiller_without_teacher_trains_with_tf_kd_reg(vectors, sparse_ce, tmp_path):
    x, y = vectors()
    student = models.mlp(8, name="student")
    distiller = keras_kd.Distiller(None, student, losses.TeacherFreeRegularization(), student_loss_weight=0.9)
    distiller.compile(loss=sparse_ce)
    before = [w.copy() for w in student.get_weights()]
    logs = distiller.fit(x, y, epochs=1, batch_size=16, verbose=0).history
    assert np.isfinite(logs["distillation_loss"][0])
    assert any(not np.array_equal(b, a) for b, a in zip(before, student.get_weights()))
    path = str(tmp_path / "tf_kd_reg.keras")
    distiller.save(path)
    restored = keras.models.load_model(path)
    assert restored.teacher is None
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)


def test_a_term_that_reads_a_teacher_needs_one():
    with pytest.raises(ValueError, match="reads a teacher's outputs, but teacher=None"):
        keras_kd.Distiller(None, models.mlp(8), losses.KD())
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        losses.TeacherFreeRegularization(1.0)
