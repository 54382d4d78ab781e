"""Feature and relation terms inside the Distiller: taps, connectors, logs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_kd
from keras_kd import losses
from tests import models

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class _CountingLayer(keras.layers.Layer):
    calls = 0

    def call(self, x):
        type(self).calls += 1
        return x


def _cnn(width, name, count=False):
    return models.cnn(width, name, first_layer=_CountingLayer(name="count") if count else None)


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 5, size=n)


def _distiller(terms, weights=None, count=False):
    teacher, student = _cnn(8, "teacher"), _cnn(3, "student", count=count)
    distiller = keras_kd.Distiller(teacher, student, terms, distillation_loss_weights=weights, student_loss_weight=0.5)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), loss=SPARSE_CE, run_eagerly=count)
    return distiller


def _terms():
    return [
        losses.KD(2.0),
        losses.Hint("conv2", "conv2"),                  # conv1x1 connector, 3*2 -> 8*2 channels
        losses.AttentionTransfer("conv1", "conv1"),     # no connector
        losses.RKD(teacher_layer_name="embed", student_layer_name="embed"),
    ]


def test_each_term_is_logged_and_weighted():
    x, y = _data()
    distiller = _distiller(_terms(), weights=[1.0, 0.5, 100.0, 0.1])
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    for name in ("distill/kd", "distill/hint", "distill/at", "distill/rkd"):
        assert name in logs and logs[name] > 0
    expected = logs["distill/kd"] + 0.5 * logs["distill/hint"] + 100 * logs["distill/at"] + 0.1 * logs["distill/rkd"]
    np.testing.assert_allclose(logs["distillation_loss"], expected, rtol=1e-5)


def test_only_hint_gets_a_connector_and_it_maps_to_the_teacher_shape():
    distiller = _distiller(_terms())
    assert len(distiller.connectors) == 1
    connector = distiller.connectors[0]
    assert connector.teacher_shape == (4, 4, 16)
    assert connector.compute_output_shape((None, 4, 4, 6)) == (None, 4, 4, 16)


def test_gradients_reach_student_and_connectors_never_teacher():
    x, y = _data()
    distiller = _distiller(_terms())
    batch = keras_kd.step.Batch(x, x, x, y)
    teacher = distiller.teacher_forward(batch)
    trainable = distiller.student.trainable_variables + distiller.connectors[0].trainable_variables
    watched = [v.value for v in trainable + distiller.teacher.weights]
    with tf.GradientTape() as tape:
        tape.watch(watched)
        total = distiller.compute_distillation(batch, teacher, training=True).loss
    grads = tape.gradient(total, watched)
    n = len(trainable)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads[:n])
    assert all(g is None for g in grads[n:])
    assert {id(v) for v in distiller.trainable_variables} == {id(v) for v in trainable}


def test_fit_trains_connectors_and_freezes_teacher():
    x, y = _data(32)
    distiller = _distiller(_terms())
    teacher_before = [v.numpy().copy() for v in distiller.teacher.weights]
    connector_before = [v.numpy().copy() for v in distiller.connectors[0].trainable_variables]
    distiller.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for before, after in zip(teacher_before, distiller.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert all(not np.array_equal(b, a.numpy()) for b, a in zip(connector_before, distiller.connectors[0].trainable_variables))


def test_taps_run_the_student_once_per_step():
    x, y = _data(32)
    distiller = _distiller(_terms(), count=True)
    _CountingLayer.calls = 0
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert _CountingLayer.calls == 4  # 4 steps, one student pass each


def test_connectors_save_with_the_distiller_not_with_the_student(tmp_path):
    x, y = _data()
    distiller = _distiller(_terms())
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    distiller.save(str(tmp_path / "d.keras"))
    restored = keras.saving.load_model(str(tmp_path / "d.keras"))
    for a, b in zip(restored.connectors[0].weights, distiller.connectors[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    before = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    after = restored.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-5, err_msg=key)
    distiller.student.save(str(tmp_path / "s.keras"))
    student = keras.saving.load_model(str(tmp_path / "s.keras"))
    assert not any("connector" in w.path for w in student.weights)
    assert student.count_params() == distiller.student.count_params()


def test_keras_feature_distillation_plugs_in():
    x, y = _data()
    term = keras.distillation.FeatureDistillation(loss="mse", teacher_layer_name="embed", student_layer_name="embed")
    distiller = _distiller([losses.KD(2.0), term])
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    t = distiller.teacher_forward(keras_kd.step.Batch(x, x, x)).features["embed"].numpy()
    s = distiller.student_forward(x, training=False).features["embed"].numpy()
    np.testing.assert_allclose(logs["distill/feature_distillation"], ((t - s) ** 2).mean(), rtol=1e-5)


def test_subclassed_student_gets_a_clear_error():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(5)

        def call(self, x):
            return self.d(keras.ops.reshape(x, (-1, 64)))

    with pytest.raises(ValueError, match="only functional and Sequential models expose.*features as extra outputs"):
        keras_kd.Distiller(_cnn(8, "teacher"), Sub(), [losses.Hint("conv2", "conv2")])


def test_unknown_layer_lists_the_available_ones():
    with pytest.raises(ValueError, match="has no layer named 'nope'.*Available layers:.*conv1"):
        _distiller([losses.Hint("nope", "conv2")])


def test_relation_term_on_final_outputs_accepts_different_widths():
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12)])
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    distiller = keras_kd.Distiller(teacher, student, losses.RKD(), student_loss_weight=0.0)
    distiller.compile(optimizer="sgd")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    assert distiller.evaluate(x, batch_size=8, return_dict=True, verbose=0)["distillation_loss"] > 0
