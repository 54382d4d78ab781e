import keras
import numpy as np
import pytest

from keras_kd import Distiller
from keras_kd import training
from keras_kd.methods import dakd
from keras_kd.methods import fine_tune_teacher
from tests import models


def _data(n=32):
    x, y = models.quadrant_images(n, 8, background=50.0, bright=150.0)
    return (x, y), None, (x[:16], y[:16])


@pytest.mark.parametrize("frozen", [False, True])
def test_step_2_fine_tunes_a_copy_of_the_teacher_and_leaves_the_given_one_alone(frozen):
    teacher = models.cnn(8, "teacher")
    if frozen:  # as every Distiller leaves its teacher; the copy must still learn
        Distiller(teacher, models.cnn(4, "student"))
        assert not teacher.trainable
    before = [w.copy() for w in teacher.get_weights()]
    config = training.TrainConfig(epochs=1, batch_size=8, learning_rate=1e-2, verbose=0)
    result = fine_tune_teacher(teacher, _data(), config, views="fashion_dakd")
    for a, b in zip(teacher.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert result.model is not teacher and result.model.count_params() == teacher.count_params()
    assert any(not np.array_equal(a, b) for a, b in zip(result.model.get_weights(), before))
    x, y = _data()[2]
    assert result.test_accuracy == training.test_accuracy(result.model, x, y)  # no views in evaluation
    assert teacher.trainable is not frozen  # the given teacher keeps its state


def test_dakd_runs_both_stages_and_refuses_consistent_views():
    teacher = models.cnn(8, "teacher")
    config = training.TrainConfig(epochs=1, batch_size=8, verbose=0)
    outcome = dakd(teacher, lambda: models.cnn(4, "student"), _data(), config, teacher_config=config, views="fashion_dakd")
    assert outcome.teacher is not None and outcome.student.model.name == "student"
    assert dakd(teacher, lambda: models.cnn(4, "student"), _data(), config).teacher is None  # step 2 skipped
    with pytest.raises(ValueError, match="independent views.*fashion_dakd"):
        dakd(teacher, lambda: models.cnn(4, "student"), _data(), config, views="fashion_mixup")


def test_dakd_hands_its_callbacks_to_the_distillation_stage_only():
    class Epochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.models = []

        def on_epoch_end(self, epoch, logs=None):
            self.models.append(self.model.name)

    seen = Epochs()
    teacher = models.cnn(8, "teacher")
    stage, config = (training.TrainConfig(epochs=e, batch_size=8, verbose=0) for e in (1, 2))
    dakd(teacher, lambda: models.cnn(4, "student"), _data(), config, teacher_config=stage, callbacks=[seen])
    assert len(seen.models) == 2 and "teacher" not in seen.models[0]  # two student epochs, none of step 2
