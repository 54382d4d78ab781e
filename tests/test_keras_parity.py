"""Code written for keras.distillation.Distiller runs with only the import changed."""

import pathlib
import types
import unittest
import warnings

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.losses import KD
from tests import models

KERAS_TESTS = pathlib.Path(keras.__file__).parent / "src" / "distillation" / "distiller_test.py"
KERAS_IMPORT = "from keras.src.distillation.distiller import Distiller"


def test_keras_own_distiller_tests_pass_with_only_the_import_changed():
    source = KERAS_TESTS.read_text()
    assert source.count(KERAS_IMPORT) == 1
    module = types.ModuleType("keras_distiller_test_on_keras_kd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # our bare-KL warning, once per test
        exec(compile(source.replace(KERAS_IMPORT, "from keras_kd import Distiller"), str(KERAS_TESTS), "exec"), module.__dict__)
        suite = unittest.TestLoader().loadTestsFromTestCase(module.TestDistiller)
        result = unittest.TextTestRunner(verbosity=0, stream=open("/dev/null", "w")).run(suite)
    problems = [f"{test}: {trace[-1500:]}" for test, trace in result.failures + result.errors]
    assert suite.countTestCases() >= 10
    assert result.wasSuccessful(), "\n\n".join(problems)



def test_positional_arguments_follow_keras_order():
    teacher, student = models.teacher_and_student()
    terms = [KD(2.0), KD(4.0, name="kd4")]
    distiller = keras_kd.Distiller(teacher, student, terms, [0.3, 0.7], 0.2, "mine")
    assert distiller.distillation_loss_weights == [0.3, 0.7]
    assert distiller.student_loss_weight == 0.2 and distiller.name == "mine"


def test_compute_loss_returns_the_combined_loss(vectors, sparse_ce):
    x, y = vectors()
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, KD(4.0), student_loss_weight=0.3)
    distiller.compile(loss=sparse_ce)
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    combined = distiller.compute_loss(x, y, distiller(x), training=False)
    np.testing.assert_allclose(float(combined), logs["loss"], rtol=1e-6)
    np.testing.assert_allclose(logs["loss"], 0.3 * logs["student_loss"] + 0.7 * logs["distillation_loss"], rtol=1e-6)


def test_logs_carry_total_loss_and_early_stopping_can_watch_it(vectors, sparse_ce):
    x, y = vectors(64)
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student)
    distiller.compile(optimizer="sgd", loss=sparse_ce)
    stop = keras.callbacks.EarlyStopping(monitor="val_total_loss", patience=0)
    history = distiller.fit(x, y, validation_data=(x, y), epochs=2, batch_size=16, callbacks=[stop], verbose=0)
    assert {"total_loss", "val_total_loss", "loss", "val_loss"} <= set(history.history)
    np.testing.assert_allclose(history.history["total_loss"], history.history["loss"], rtol=1e-6)
    assert stop.monitor_op is not None  # the direction was inferred (it is a loss)


def test_call_forwards_keyword_arguments_to_the_student(vectors):
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(10)

        def call(self, x, training=None, scale=1.0):
            return self.dense(x) * scale

    teacher, _ = models.teacher_and_student()
    student = Scaled()
    x, _ = vectors(4)
    student(x)
    distiller = keras_kd.Distiller(teacher, student)
    np.testing.assert_allclose(distiller(x, scale=3.0), 3.0 * student(x), rtol=1e-6)


def test_loss_trackers_exist_and_hold_the_logged_values(vectors, sparse_ce):
    x, y = vectors()
    distiller = keras_kd.Distiller(*models.teacher_and_student())
    distiller.compile(loss=sparse_ce)
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    assert float(distiller.student_loss_tracker.result()) == pytest.approx(logs["student_loss"])
    assert float(distiller.distillation_loss_tracker.result()) == pytest.approx(logs["distillation_loss"])
    assert float(distiller.total_loss_tracker.result()) == pytest.approx(logs["total_loss"])


@pytest.mark.parametrize("bad", [
    dict(teacher="not a model"),
    dict(student="not a model"),
    dict(student_loss_weight="half"),
    dict(student_loss_weight=1.5),
])  # fmt: skip
def test_bad_arguments_keras_answers_with_value_error_are_value_errors_here(bad):
    teacher, student = models.teacher_and_student()
    kwargs = {"teacher": teacher, "student": student, **bad}
    with pytest.raises(ValueError):
        keras.distillation.Distiller(**{"distillation_losses": keras.distillation.LogitsDistillation(), **kwargs})
    with pytest.raises(ValueError):
        keras_kd.Distiller(**kwargs)


def test_a_wrong_type_is_both_a_type_error_and_a_value_error():
    teacher, student = models.teacher_and_student()
    for bad in ({"teacher": "not a model"}, {"distillation_losses": [object()]}, {"paired_inputs": "yes"}):
        with pytest.raises(TypeError) as caught:
            keras_kd.Distiller(**{"teacher": teacher, "student": student, **bad})
        assert isinstance(caught.value, ValueError)


def test_keras_terms_honour_sample_weight_and_class_weight(vectors):
    x, y = vectors(40)
    w = np.random.default_rng(1).uniform(0.0, 2.0, size=len(x)).astype("float32")
    teacher, student = models.teacher_and_student()
    logits = keras.distillation.LogitsDistillation(4.0, loss=keras.losses.KLDivergence())
    features = keras.distillation.FeatureDistillation("mse", "hidden2", "hidden2")
    wide_teacher = models.mlp(6, name="teacher6")  # the same width as the student's hidden2
    ours = keras_kd.Distiller(wide_teacher, student, [KD(4.0), logits, features], student_loss_weight=0.0)
    ours.compile(optimizer="sgd")
    logs = ours.evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["distill/logits_distillation"], logs["distill/kd"], rtol=1e-4)
    t = ours.teacher_forward(keras_kd.step.Batch(x, x, x)).features["hidden2"].numpy()
    s = ours.student_forward(x, training=False).features["hidden2"].numpy()
    np.testing.assert_allclose(logs["distill/feature_distillation"], (((t - s) ** 2).mean(-1) * w).mean(), rtol=1e-5)
    # class_weight becomes a sample weight per label.
    class_weight = {c: 1.0 + c for c in range(10)}
    ours.compile(optimizer=keras.optimizers.SGD(0.0))
    fitted = ours.fit(x, y, class_weight=class_weight, batch_size=len(x), epochs=1, verbose=0).history
    weighted = ours.evaluate(x, y, sample_weight=1.0 + y.astype("float32"), batch_size=len(x), return_dict=True, verbose=0)
    for key in ("distill/kd", "distill/logits_distillation", "distill/feature_distillation"):
        np.testing.assert_allclose(fitted[key][0], weighted[key], rtol=1e-5, err_msg=key)
    assert not np.isclose(weighted["distill/kd"], logs["distill/kd"])


def test_keras_feature_distillation_between_different_widths_fails_at_construction():
    teacher, student = models.teacher_and_student()  # hidden widths 32 and 6
    term = keras.distillation.FeatureDistillation("mse", "hidden", "hidden")
    with pytest.raises(ValueError, match=r"cannot compare teacher layer .hidden. of shape \(32,\).*\(6,\).*shapes must match.*losses.Hint"):
        keras_kd.Distiller(teacher, student, term)


def test_keras_feature_distillation_with_a_loss_that_handles_widths_is_accepted(vectors):
    teacher, student = models.teacher_and_student()  # hidden widths 32 and 6

    def mean_mse(teacher_features, student_features):
        return keras.ops.square(keras.ops.mean(teacher_features, -1) - keras.ops.mean(student_features, -1))

    distiller = keras_kd.Distiller(teacher, student, keras.distillation.FeatureDistillation(mean_mse, "hidden", "hidden"))
    distiller.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = vectors()
    assert np.isfinite(distiller.evaluate(x, y, return_dict=True, verbose=0)["distillation_loss"])
