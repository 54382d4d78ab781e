"""The hook contract (`keras_kd.step`): methods written against it, paired inputs."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd import augment
from keras_kd import losses
from keras_kd.step import OptimizerGroup
from keras_kd.step import StepResult
from tests import models
from tests import reference




class LogitMatching(keras_kd.Distiller):
    """Ba & Caruana's logit regression, as a toy method on the hook:
    total = CE + lambda * mean((z_t - z_s)^2), logged as `logit_l2`."""

    def __init__(self, teacher, student, *, l2_weight=0.5, **kwargs):
        super().__init__(teacher, student, **kwargs)
        self.l2_weight = l2_weight
        self.track_measurements(["logit_l2"])

    def compute_distillation(self, batch, teacher, training):
        student = self.student_forward(batch.x_student, training=training)
        ce = self.student_loss(batch, student.outputs)
        l2 = ops.mean(ops.square(teacher.outputs - student.outputs))
        total = ce + self.l2_weight * l2 + self.regularization_loss()
        return StepResult(total, {"student_loss": ce, "logit_l2": l2}, student.outputs)


def test_a_toy_method_on_the_hook_trains_logs_and_matches_numpy(vectors, sparse_ce):
    x, y = vectors()
    teacher, student = models.teacher_and_student()
    method = LogitMatching(teacher, student, l2_weight=0.5)
    method.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce, metrics=["accuracy"])
    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    ce, l2 = reference.sparse_ce_per_sample(y, s).mean(), ((t - s) ** 2).mean()
    teacher_before = [v.numpy().copy() for v in teacher.weights]
    logs = method.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose([logs["student_loss"], logs["logit_l2"], logs["loss"]], [ce, l2, ce + 0.5 * l2], rtol=1e-5)
    assert logs["total_loss"] == logs["loss"] and "accuracy" in logs
    history = method.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    assert history["logit_l2"][-1] < l2  # it learns what it was asked to
    for before, after in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())


class WithProbe(keras_kd.Distiller):
    """A helper network with an optimizer of its own (as discriminators have):
    a linear probe learns to predict the teacher's logits from the student's."""

    def __init__(self, teacher, student, **kwargs):
        super().__init__(teacher, student, **kwargs)
        self.probe = keras.layers.Dense(10, name="probe")
        self.probe.build((None, 10))
        self.probe_optimizer = keras.optimizers.SGD(0.2)
        self.track_measurements(["probe_loss"])

    def optimizer_groups(self):
        probe = {id(v) for v in self.probe.trainable_variables}
        student = [v for v in self.trainable_variables if id(v) not in probe]
        return [OptimizerGroup("loss", self.optimizer, student),
                OptimizerGroup("probe", self.probe_optimizer, self.probe.trainable_variables)]  # fmt: skip

    def compute_distillation(self, batch, teacher, training):
        result = super().compute_distillation(batch, teacher, training)
        probe_loss = ops.mean(ops.square(self.probe(ops.stop_gradient(result.predictions)) - teacher.outputs))
        measurements = {**result.measurements, "probe_loss": probe_loss}
        return StepResult(result.loss, measurements, result.predictions, {"probe": probe_loss})


def test_a_second_optimizer_group_updates_only_its_variables(vectors, sparse_ce):
    x, y = vectors()
    keras.utils.set_random_seed(3)
    plain = keras_kd.Distiller(*models.teacher_and_student())
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce)
    plain.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    keras.utils.set_random_seed(3)
    probed = WithProbe(*models.teacher_and_student())
    probed.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce)
    probe_before = [v.numpy().copy() for v in probed.probe.weights]
    history = probed.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    assert history["probe_loss"][-1] < history["probe_loss"][0]
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(probe_before, probed.probe.weights))
    assert int(probed.probe_optimizer.iterations.numpy()) == int(probed.optimizer.iterations.numpy()) == 12
    # The probe's loss never reaches the student: after one epoch it equals the plain run's.
    keras.utils.set_random_seed(3)
    one_epoch = WithProbe(*models.teacher_and_student())
    one_epoch.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce)
    one_epoch.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(one_epoch.student.weights, plain.student.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_paired_inputs_give_the_teacher_its_input_and_the_student_its_own(vectors, sparse_ce):
    rng = np.random.default_rng(0)
    x_teacher, y = vectors()
    x_student = x_teacher + rng.normal(scale=0.5, size=x_teacher.shape).astype("float32")  # noisy side
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, losses.KD(2.0), student_loss_weight=0.4, paired_inputs=True)
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    t, s = teacher.predict(x_teacher, verbose=0), student.predict(x_student, verbose=0)
    logs = distiller.evaluate((x_teacher, x_student), y, batch_size=len(y), return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["distillation_loss"], reference.kd_per_sample(t, s, 2.0).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["student_loss"], reference.sparse_ce_per_sample(y, s).mean(), rtol=1e-5)
    assert np.isfinite(distiller.fit((x_teacher, x_student), y, batch_size=8, verbose=0).history["loss"][0])
    np.testing.assert_allclose(distiller.predict(x_student, verbose=0), student.predict(x_student, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(distiller((x_teacher, x_student)), student(x_student), rtol=1e-6)


def test_paired_inputs_share_one_draw_of_the_shared_view_layers():
    images = np.random.default_rng(0).uniform(0, 200, size=(16, 6, 6, 1)).astype("float32")
    views = augment.Views(shared=[keras.layers.RandomFlip("horizontal", seed=1)], student=[keras.layers.Rescaling(1.0, offset=7.0)])
    x_teacher, x_student, _ = views(images, None, training=True, x_student=images + 10.0)
    np.testing.assert_allclose(np.asarray(x_student) - np.asarray(x_teacher), 17.0, rtol=1e-5)
    flipped = [not np.allclose(np.asarray(x_teacher)[i], images[i]) for i in range(len(images))]
    assert 0 < sum(flipped) < len(images)  # a real draw, applied the same to both sides


def test_paired_inputs_need_a_pair_and_pairable_views(vectors, sparse_ce):
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, paired_inputs=True)
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    x, y = vectors(8)
    with pytest.raises(ValueError, match=r"must be a pair \(x_teacher, x_student\).*Received: inputs of type"):
        distiller.evaluate(x, y, verbose=0)
    views = augment.Views(shared=[keras.layers.GaussianNoise(1.0, name="noise")])
    with pytest.raises(ValueError, match=r"one draw to both inputs.*\['noise'\]"):
        keras_kd.Distiller(*models.teacher_and_student(), paired_inputs=True, views=views)
