"""Bad input fails at construction (or at the step that goes wrong), clearly."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from tests import models




def test_the_student_cannot_be_the_teacher_and_the_model_is_left_trainable():
    model = models.mlp(name="model")
    with pytest.raises(ValueError, match=r"the student is the teacher.*Received: teacher=student='model'.*clone_model"):
        keras_kd.Distiller(model, model)
    assert model.trainable and all(v.trainable for v in model.weights)


def test_a_student_sharing_the_teachers_variables_is_refused():
    teacher = models.mlp(name="teacher")
    inputs = keras.Input((8,))
    student = keras.Model(inputs, teacher.get_layer("logits")(keras.layers.Dense(16)(inputs)), name="student")
    with pytest.raises(ValueError, match=r"shares 2 variables with the teacher.*logits/kernel"):
        keras_kd.Distiller(teacher, student)
    assert teacher.trainable


@pytest.mark.parametrize("ending", ["ops.softmax", "ops.log_softmax", "activations.softmax"])
def test_a_teacher_ending_in_a_softmax_op_is_refused_as_logits(ending):
    inputs = keras.Input((8,))
    logits = keras.layers.Dense(10)(keras.layers.Dense(16, activation="tanh")(inputs))
    op = {"ops.softmax": keras.ops.softmax, "ops.log_softmax": keras.ops.log_softmax,
          "activations.softmax": keras.activations.softmax}[ending]  # fmt: skip
    teacher = keras.Model(inputs, op(logits), name="teacher")
    _, student = models.teacher_and_student()
    name = "log_softmax" if "log" in ending else "softmax"
    with pytest.raises(ValueError, match=rf"teacher's final layer applies {name}.*teacher_from_logits=False"):
        keras_kd.Distiller(teacher, student, losses.KD(2.0))
    assert teacher.trainable  # a refused Distiller leaves the models as they were
    if name == "softmax":  # declared as probabilities, the same teacher is accepted
        keras_kd.Distiller(teacher, student, losses.KD(2.0, teacher_from_logits=False))


@pytest.mark.parametrize("temperature", [float("inf"), float("nan")])
def test_a_non_finite_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match=r"`temperature` must be finite.*Received: temperature="):
        losses.KD(temperature)
    with pytest.raises(ValueError, match="must be finite"):
        losses.DKD(temperature=temperature)


def test_a_non_finite_term_weight_is_refused():
    with pytest.raises(ValueError, match="must be finite"):
        keras_kd.Distiller(*models.teacher_and_student(), losses.KD(), [float("inf")])


def test_dkd_with_a_label_outside_the_classes_stops_training_and_says_why(vectors):
    x, y = vectors()
    y[5] = 12  # 10 classes
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, losses.DKD(), student_loss_weight=0.0)
    distiller.compile(optimizer="sgd")
    before = [v.numpy().copy() for v in student.weights]
    with pytest.raises(keras_kd.NonFiniteLossError, match=r"step 1 .*`distill/dkd` went non-finite first\. DKD is NaN for a label outside"):
        distiller.fit(x, y, batch_size=32, epochs=1, verbose=0)
    for b, v in zip(before, student.weights):
        np.testing.assert_array_equal(b, v.numpy())  # the bad step applied nothing


class _NaNAfter(losses.DistillationTerm):
    """A term that returns NaN from the step it is told, to test the stop."""

    def __init__(self, bad_from_step, name="fragile"):
        self.bad_from_step = bad_from_step
        self.name = name
        self.step = keras.Variable(0.0, trainable=False)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None):
        self.step.assign_add(1.0)
        value = keras.ops.mean(keras.ops.square(teacher_outputs - student_outputs))
        return keras.ops.where(self.step > self.bad_from_step, float("nan"), value)

    def get_config(self):
        return {"bad_from_step": self.bad_from_step, "name": self.name}


def test_a_nan_term_stops_fit_at_its_step_naming_the_term_and_keeping_the_weights(vectors, sparse_ce):
    x, y = vectors(64)
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, [losses.KD(), _NaNAfter(2)])
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    with pytest.raises(keras_kd.NonFiniteLossError) as caught:
        distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    message = str(caught.value)
    assert "training step 3 (optimizer iteration 2)" in message
    assert "`distill/fragile` went non-finite first" in message
    assert "student_loss=" in message and "distill/fragile=nan" in message
    assert int(distiller.optimizer.iterations.numpy()) == 2  # steps 1 and 2 applied, step 3 not
