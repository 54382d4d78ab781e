import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.methods import FromTeacher
from keras_kd.methods import MultiTeacherDistiller
from keras_kd.methods import multi_teacher
from tests import models
from tests import reference


def _teachers(count=3):
    return [models.mlp(32 + 8 * m, name=f"teacher{m}") for m in range(count)]


def _numpy_weights(logits, mode, fixed=None):
    count = len(logits)
    if mode == "mean":
        return np.full((len(logits[0]), count), 1.0 / count)
    if mode == "weighted":
        return np.tile(np.asarray(fixed) / np.sum(fixed), (len(logits[0]), 1))
    p = [reference.softmax(z) for z in logits]
    if mode == "entropy":
        conf = np.stack([np.log(z.shape[-1]) + (q * np.log(q)).sum(-1) for q, z in zip(p, logits)], -1)
    else:
        conf = np.stack([q.max(-1) for q in p], -1)
    return conf / conf.sum(-1, keepdims=True)


@pytest.mark.parametrize("mode", ["mean", "weighted", "entropy", "max_probability"])
def test_ensemble_target_is_the_weighted_mixture_of_tempered_teachers(mode):
    rng = np.random.default_rng(0)
    logits = [(rng.normal(size=(16, 10)) * s).astype("float32") for s in (1.0, 3.0, 0.3)]
    fixed = [1.0, 2.0, 0.5]
    weights = multi_teacher.ensemble_weights(logits, mode=mode, teacher_weights=fixed)
    want = _numpy_weights(logits, mode, fixed)
    np.testing.assert_allclose(np.asarray(weights), want, rtol=1e-5, atol=1e-7)  # float32 log K - H
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, rtol=1e-6)
    combined = multi_teacher.ensemble_logits(logits, weights, temperature=4.0)
    mixture = sum(want[:, [m]] * reference.softmax(z, 4.0) for m, z in enumerate(logits))
    np.testing.assert_allclose(reference.softmax(np.asarray(combined), 4.0), mixture, rtol=1e-5, atol=1e-7)


def test_the_mean_of_identical_teachers_gives_single_teacher_kd(vectors, sparse_ce):
    x, y = vectors()
    teacher, student = models.teacher_and_student()
    copies = [keras.models.clone_model(teacher) for _ in range(3)]
    for copy in copies:
        copy.set_weights(teacher.get_weights())
    multi = MultiTeacherDistiller(copies, student, losses.KD(4.0), student_loss_weight=0.3)
    multi.compile(loss=sparse_ce)
    single = keras_kd.Distiller(teacher, student, losses.KD(4.0), student_loss_weight=0.3)
    single.compile(loss=sparse_ce)
    got = multi.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    want = single.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose([got[f"teacher_weight/{m}"] for m in range(3)], 1 / 3, rtol=1e-6)


class _Counting(keras.layers.Layer):
    calls = {}

    def call(self, x):
        type(self).calls[self.name] = type(self).calls.get(self.name, 0) + 1
        return x


def test_each_teacher_runs_once_per_step_and_none_changes(vectors, sparse_ce):
    x, y = vectors(32)
    teachers = []
    for m in range(3):
        inputs = keras.Input((8,))
        hidden = keras.layers.Dense(16, activation="tanh", name="hidden")(_Counting(name=f"count{m}")(inputs))
        teachers.append(keras.Model(inputs, keras.layers.Dense(10)(hidden), name=f"teacher{m}"))
    _, student = models.teacher_and_student()
    terms = [losses.KD(4.0), FromTeacher(losses.Hint("hidden", "hidden"), teacher=2)]
    distiller = MultiTeacherDistiller(teachers, student, terms, ensemble="entropy")
    distiller.compile(optimizer="sgd", loss=sparse_ce, run_eagerly=True)
    before = [[v.numpy().copy() for v in t.weights] for t in teachers]
    _Counting.calls = {}
    history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert _Counting.calls == {"count0": 4, "count1": 4, "count2": 4}
    for teacher, weights in zip(teachers, before):
        for b, v in zip(weights, teacher.weights):
            np.testing.assert_array_equal(b, v.numpy())
    assert {"distill/kd", "distill/hint_teacher2", "teacher_weight/0"} <= set(history)
    assert len(distiller.connectors) == 1  # the hint's dense 6 -> 16, trained with the student


def test_a_term_to_one_teacher_reads_that_teacher(vectors, sparse_ce):
    x, y = vectors()
    teachers = _teachers(3)
    _, student = models.teacher_and_student()
    terms = [losses.KD(4.0), FromTeacher(losses.KD(2.0), teacher=1)]
    distiller = MultiTeacherDistiller(teachers, student, terms, [1.0, 0.5], ensemble="weighted", teacher_weights=[1, 0, 3])
    distiller.compile(loss=sparse_ce)
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    t = [m.predict(x, verbose=0) for m in teachers]
    s = student.predict(x, verbose=0)
    np.testing.assert_allclose(logs["distill/kd_teacher1"], reference.kd_per_sample(t[1], s, 2.0).mean(), rtol=1e-5)
    mixture = 0.25 * reference.softmax(t[0], 4.0) + 0.75 * reference.softmax(t[2], 4.0)
    kd = 16.0 * (mixture * (np.log(mixture) - reference.log_softmax(s, 4.0))).sum(-1).mean()
    np.testing.assert_allclose(logs["distill/kd"], kd, rtol=1e-5)
    np.testing.assert_allclose(logs["distillation_loss"], logs["distill/kd"] + 0.5 * logs["distill/kd_teacher1"], rtol=1e-5)


def test_teachers_with_other_input_sizes_get_their_own_resized_view(sparse_ce):
    def cnn(size, name):
        inputs = keras.Input((size, size, 1))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
        return keras.Model(inputs, keras.layers.Dense(5)(x), name=name)

    teachers, student = [cnn(8, "small"), cnn(12, "large")], cnn(8, "student")
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype("float32")
    y = np.arange(8) % 5
    distiller = MultiTeacherDistiller(teachers, student, student_loss_weight=0.5)
    distiller.compile(loss=sparse_ce)
    logs = distiller.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    large = teachers[1].predict(keras.ops.image.resize(x, (12, 12)), verbose=0)
    small = teachers[0].predict(x, verbose=0)
    s = student.predict(x, verbose=0)
    mixture = 0.5 * reference.softmax(small, 4.0) + 0.5 * reference.softmax(large, 4.0)
    kd = 16.0 * (mixture * (np.log(mixture) - reference.log_softmax(s, 4.0))).sum(-1).mean()
    np.testing.assert_allclose(logs["distillation_loss"], kd, rtol=1e-5)


def test_round_trips_through_a_keras_file(tmp_path, vectors, sparse_ce):
    x, y = vectors()
    _, student = models.teacher_and_student()
    terms = [losses.KD(3.0), FromTeacher(losses.Hint("hidden2", "hidden2"), teacher=0)]
    distiller = MultiTeacherDistiller(_teachers(2), student, terms, ensemble="max_probability", temperature=3.0)
    distiller.compile(optimizer="adam", loss=sparse_ce)
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    distiller.save(str(tmp_path / "multi.keras"))
    restored = keras.saving.load_model(str(tmp_path / "multi.keras"))
    assert isinstance(restored, MultiTeacherDistiller) and restored.ensemble == "max_probability"
    before = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    after = restored.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("kwargs, match", [
    ({"teachers": []}, r"non-empty list"),
    ({"ensemble": "median"}, r"unknown `ensemble`.*Received: ensemble='median'"),
    ({"ensemble": "weighted"}, r"needs `teacher_weights`, one weight per teacher.*None for 2 teachers"),
    ({"ensemble": "weighted", "teacher_weights": [1.0, 2.0, 3.0]}, r"2 of them.*\(3 for 2 teachers\)"),
    ({"ensemble": "weighted", "teacher_weights": [1.0, float("nan")]}, r"`teacher_weights\[1\]` must be finite"),
    ({"ensemble": "weighted", "teacher_weights": [0.0, 0.0]}, r"must not all be 0"),
    ({"distillation_losses": losses.KD(2.0)}, r"same temperature.*temperature=2.0"),
    ({"distillation_losses": losses.Hint("hidden", "hidden")}, r"ensemble has no layers.*FromTeacher"),
    ({"distillation_losses": FromTeacher("kd", teacher=5)}, r"reads teacher 5, but there are 2 teachers"),
])  # fmt: skip
def test_bad_arguments_are_explained(kwargs, match):
    _, student = models.teacher_and_student()
    arguments = {"teachers": _teachers(2), "student": student, **kwargs}
    with pytest.raises(ValueError, match=match):
        MultiTeacherDistiller(**arguments)


def test_pfeed_trains_one_transform_per_teacher_that_never_ships(tmp_path, sparse_ce):
    teachers, student = [models.cnn(8, "t0"), models.cnn(6, "t1")], models.cnn(3, "student")
    terms = [losses.KD(4.0)] + [FromTeacher(losses.FEED("conv2", "conv2"), teacher=m) for m in range(2)]
    distiller = MultiTeacherDistiller(teachers, student, terms, [1.0, 10.0, 10.0])
    distiller.compile(optimizer="adam", loss=sparse_ce)
    assert [c.kind for c in distiller.connectors] == ["conv3x3_stack", "conv3x3_stack"]
    assert [c.teacher_shape for c in distiller.connectors] == [(4, 4, 16), (4, 4, 12)]
    before = [[v.numpy().copy() for v in c.trainable_variables] for c in distiller.connectors]
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype("float32")
    y = np.arange(16) % 5
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert {"distill/feed_teacher0", "distill/feed_teacher1"} <= set(history)
    for connector, weights in zip(distiller.connectors, before):
        assert all(not np.array_equal(b, v.numpy()) for b, v in zip(weights, connector.trainable_variables))
    student.save(str(tmp_path / "student.keras"))
    saved = keras.saving.load_model(str(tmp_path / "student.keras"))
    assert not any("connector" in w.path or "transform" in w.path for w in saved.weights)
    assert saved.count_params() == student.count_params()


def test_methods_are_named_in_a_registry():
    from keras_kd import methods

    assert methods.get("multi_teacher") is MultiTeacherDistiller
    assert methods.get("takd") is methods.distill_chain
    assert {"dakd", "multi_teacher", "noisy_collaboration", "takd"} <= set(methods.available())
    with pytest.raises(ValueError, match=r"Unknown method .ensemble..*Available names: .*dakd"):
        methods.get("ensemble")
