import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.losses import dirichlet
from keras_kd.methods import MultiTeacherDistiller
from tests import models
from tests import reference


def test_lgamma_and_digamma_match_the_exact_values():
    x = np.array([1e-6, 0.01, 0.3, 1.0, 2.5, 7.0, 40.0, 1e4], "float32")
    np.testing.assert_allclose(np.asarray(dirichlet.lgamma(x)), reference.lgamma(x), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(np.asarray(dirichlet.digamma(x)), reference.digamma(x), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_endd_nll_matches_numpy(temperature):
    rng = np.random.default_rng(0)
    members = (rng.normal(size=(8, 5, 4)) * 2).astype("float32")  # 5 teachers, 4 classes
    z = rng.normal(size=(8, 4)).astype("float32")
    w = rng.uniform(0, 2, size=8).astype("float32")
    term = losses.EnsembleDistributionDistillation(temperature)
    want = (reference.endd_nll(members, z, temperature) * w).mean()
    np.testing.assert_allclose(float(term.compute_loss(members, z, sample_weight=w)), want, rtol=1e-5)


def test_a_uniform_dirichlet_gives_minus_log_gamma_k_for_any_members():
    members = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    z = np.zeros((3, 3), "float32")  # alpha = 1
    np.testing.assert_allclose(float(losses.EnsembleDistributionDistillation().compute_loss(members, z)), -np.log(2.0), rtol=1e-5)


def test_uncertainties_match_numpy_and_the_known_two_class_values():
    z = np.random.default_rng(2).normal(size=(6, 5)).astype("float32") * 2
    got = losses.dirichlet_uncertainties(z)
    for key, want in zip(("total", "data", "knowledge"), reference.dirichlet_uncertainties(z)):
        np.testing.assert_allclose(np.asarray(got[key]), want, rtol=1e-4, atol=1e-5, err_msg=key)
    flat = losses.dirichlet_uncertainties(np.zeros((1, 2), "float32"))  # alpha = (1, 1)
    np.testing.assert_allclose([float(flat[k][0]) for k in ("total", "data", "knowledge")],
                               [np.log(2.0), 0.5, np.log(2.0) - 0.5], rtol=1e-5)  # fmt: skip
    sharp = losses.dirichlet_uncertainties(np.log(np.array([[300.0, 700.0]], "float32")))
    assert 0.0 <= float(sharp["knowledge"][0]) < 1e-3  # a confident Dirichlet knows


def test_endd_inside_a_multi_teacher_distiller_reads_every_member(vectors):
    x, y = vectors()
    teachers = [models.mlp(16 + 8 * m, name=f"teacher{m}") for m in range(3)]
    _, student = models.teacher_and_student()
    term = losses.EnsembleDistributionDistillation(2.0)
    distiller = MultiTeacherDistiller(teachers, student, term, student_loss_weight=0.0)
    distiller.compile(optimizer="sgd")
    logs = distiller.evaluate(x, batch_size=len(x), return_dict=True, verbose=0)
    members = np.stack([t.predict(x, verbose=0) for t in teachers], axis=1)
    want = reference.endd_nll(members, student.predict(x, verbose=0), 2.0).mean()
    np.testing.assert_allclose(logs["distillation_loss"], want, rtol=1e-5)
    schedule = keras_kd.schedules.DirichletTemperatureSchedule(term, initial=2.0, minimum=1.0, decay_start=1, decay_epochs=2)
    assert [schedule.temperature_at(e) for e in range(5)] == [2.0, 2.0, 1.5, 1.0, 1.0]
    distiller.fit(x, epochs=3, batch_size=8, callbacks=[schedule], verbose=0)
    assert float(term.temperature.numpy()) == 1.5  # epoch 2 (0-based) was the last


def test_endd_outside_a_multi_teacher_distiller_is_explained():
    members = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match=r"stacked as \(N, M, K\).*MultiTeacherDistiller"):
        losses.EnsembleDistributionDistillation().compute_loss(members, members)
    with pytest.raises(TypeError, match="EnsembleDistributionDistillation"):
        keras_kd.schedules.DirichletTemperatureSchedule(losses.KD(), initial=2.0)
