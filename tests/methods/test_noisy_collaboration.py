import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.methods import NoisyCollaborationDistiller
from keras_kd.step import Batch
from tests import models


def _teacher_with_dropout():
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(32, activation="tanh")(inputs)
    hidden = keras.layers.BatchNormalization(name="bn")(hidden)
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Dropout(0.5)(hidden)), name="teacher")


def test_without_noise_it_is_plain_kd(vectors, sparse_ce):
    x, y = vectors()
    teacher, student = models.teacher_and_student()
    noisy = NoisyCollaborationDistiller(teacher, student, losses.KD(4.0), student_loss_weight=0.3, seed=0)
    plain = keras_kd.Distiller(teacher, student, losses.KD(4.0), student_loss_weight=0.3)
    for distiller in (noisy, plain):
        distiller.compile(optimizer=keras.optimizers.SGD(0.0), loss=sparse_ce)
    a = noisy.train_on_batch(x, y, return_dict=True)
    b = plain.train_on_batch(x, y, return_dict=True)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)


def test_the_student_sees_noisy_inputs_and_the_teacher_clean_ones(vectors):
    x, _ = vectors()
    distiller = NoisyCollaborationDistiller(*models.teacher_and_student(), input_noise=0.5, seed=3)
    noisy = np.asarray(distiller.noisy_inputs(x))
    assert 0.45 < (noisy - x).std() < 0.55
    again = NoisyCollaborationDistiller(*models.teacher_and_student(), input_noise=0.5, seed=3)
    np.testing.assert_array_equal(np.asarray(again.noisy_inputs(x)), noisy)  # seeded


def test_a_fickle_teacher_varies_in_training_only_and_keeps_its_statistics(vectors):
    x, _ = vectors(64)
    teacher = _teacher_with_dropout()
    distiller = NoisyCollaborationDistiller(teacher, models.teacher_and_student()[1], teacher_dropout=True, seed=0)
    moving = [v.numpy().copy() for v in teacher.get_layer("bn").weights]
    training = Batch(x, x, x, training=True)
    first = np.asarray(distiller.teacher_forward(training).outputs)
    second = np.asarray(distiller.teacher_forward(training).outputs)
    assert not np.allclose(first, second)
    evaluation = Batch(x, x, x, training=False)
    np.testing.assert_array_equal(np.asarray(distiller.teacher_forward(evaluation).outputs),
                                  np.asarray(distiller.teacher_forward(evaluation).outputs))  # fmt: skip
    for before, after in zip(moving, teacher.get_layer("bn").weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_labels_flip_at_the_rate_to_other_classes(sparse_ce):
    y = np.arange(4000) % 10
    x = np.zeros((4000, 8), "float32")
    distiller = NoisyCollaborationDistiller(*models.teacher_and_student(), label_flip_rate=0.2, seed=1)
    flipped = np.asarray(distiller.noisy_labels(Batch(x, x, x, y)))
    changed = flipped != y
    assert 0.18 < changed.mean() < 0.22
    assert flipped.min() >= 0 and flipped.max() <= 9
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    assert np.isfinite(distiller.fit(x[:64], y[:64], batch_size=16, verbose=0).history["loss"][0])


def test_round_trips_and_checks_its_arguments(tmp_path, vectors, sparse_ce):
    x, y = vectors()
    distiller = NoisyCollaborationDistiller(*models.teacher_and_student(), input_noise=0.1, label_flip_rate=0.1, seed=2)
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    distiller.fit(x, y, batch_size=8, verbose=0)
    distiller.save(str(tmp_path / "noisy.keras"))
    restored = keras.saving.load_model(str(tmp_path / "noisy.keras"))
    assert restored.input_noise == 0.1 and restored.label_flip_rate == 0.1 and restored.seed == 2
    with pytest.raises(ValueError, match="label_flip_rate"):
        NoisyCollaborationDistiller(*models.teacher_and_student(), label_flip_rate=1.5)


def test_one_hot_labels_flip_to_one_hot_rows():
    y = np.eye(10, dtype="float32")[np.arange(2000) % 10]
    x = np.zeros((2000, 8), "float32")
    distiller = NoisyCollaborationDistiller(*models.teacher_and_student(), label_flip_rate=0.3, seed=4)
    flipped = np.asarray(distiller.noisy_labels(Batch(x, x, x, y)))
    assert flipped.shape == y.shape and np.all(flipped.sum(-1) == 1.0)
    assert 0.27 < (flipped.argmax(-1) != y.argmax(-1)).mean() < 0.33
