import os

import keras
import numpy as np
import pytest

from keras_kd import Distiller
from keras_kd import losses
from keras_kd.methods import MixtureLogits
from keras_kd.methods import ensemble_teacher
from tests import models
from tests import reference


def _teachers(same_name=False):
    return [models.mlp(16 + 8 * m, name="teacher" if same_name else f"teacher{m}") for m in range(3)]


@pytest.mark.parametrize("temperature, weights, same_name", [(1.0, None, False), (4.0, [1.0, 2.0, 0.5], False), (1.0, None, True)])
def test_tempered_softmax_of_the_logits_is_the_weighted_mixture(temperature, weights, same_name):
    teachers = _teachers(same_name)  # one name for all: teachers of one recipe (zoo.teacher_cnn)
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32") * 3
    teacher = ensemble_teacher(teachers, temperature=temperature, teacher_weights=weights)
    w = np.full(3, 1 / 3) if weights is None else np.asarray(weights) / np.sum(weights)
    want = sum(w_m * reference.softmax(t.predict(x, verbose=0), temperature) for w_m, t in zip(w, teachers))
    got = reference.softmax(teacher.predict(x, verbose=0), temperature)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_one_teacher_gives_its_own_predictions():
    (teacher,) = _teachers()[:1]
    x = np.random.default_rng(1).normal(size=(8, 8)).astype("float32")
    ensemble = ensemble_teacher([teacher], temperature=2.0)
    np.testing.assert_allclose(
        reference.softmax(ensemble.predict(x, verbose=0), 2.0),
        reference.softmax(teacher.predict(x, verbose=0), 2.0), rtol=1e-5, atol=1e-7,
    )


@pytest.mark.parametrize("same_name", [False, True])
def test_distilling_from_it_trains_the_student_alone_and_saves(tmp_path, same_name):
    teachers = _teachers(same_name)
    before = [[w.copy() for w in t.get_weights()] for t in teachers]
    student = models.mlp(6, name="student")
    distiller = Distiller(ensemble_teacher(teachers), student, losses.KD(1.0), student_loss_weight=0.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    x = np.random.default_rng(2).normal(size=(16, 8)).astype("float32")
    y = np.arange(16) % 10
    student_before = [w.copy() for w in student.get_weights()]
    distiller.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for teacher, weights in zip(teachers, before):
        for got, want in zip(teacher.get_weights(), weights):
            np.testing.assert_array_equal(got, want)
    assert any(np.any(a != b) for a, b in zip(student.get_weights(), student_before))
    path = os.path.join(tmp_path, "ensemble.keras")
    distiller.teacher.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x, verbose=0), distiller.teacher.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"teachers": []}, "non-empty list of keras.Model"),
    ({"teachers": ["t"]}, r"non-empty list of keras.Model.*\['str'\]"),
    ({"teachers": "mixed"}, r"same input and output shapes"),
    ({"teacher_weights": [1.0, -1.0, 1.0]}, r"`teacher_weights\[1\]` must be >= 0.*Received: teacher_weights\[1\]=-1.0"),
    ({"teacher_weights": [1.0]}, r"one weight >= 0 per teacher: 3 of them.*\[1.0\] \(1 for 3 teachers\)"),
    ({"teacher_weights": [0, 0, 0]}, r"must not all be 0"),
    ({"teacher_weights": 2.0}, r"list of 3 numbers >= 0.*of type float"),
    ({"temperature": 0.0}, "temperature"),
])
def test_bad_input_is_named(kwargs, match):
    teachers = _teachers()
    if kwargs.get("teachers") == "mixed":
        kwargs = {"teachers": [teachers[0], models.mlp(16, 5)]}
    with pytest.raises(ValueError, match=match):
        ensemble_teacher(**{"teachers": teachers, **kwargs})


def test_layer_config_round_trips():
    layer = MixtureLogits(2.0, [1.0, 3.0])
    assert MixtureLogits.from_config(layer.get_config()).get_config() == layer.get_config()
