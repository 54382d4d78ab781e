import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_kd
from keras_kd.losses import KD
from tests import models
from tests import reference

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _data(n=32, seed=0, num_classes=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.integers(0, num_classes, size=n)
    w = rng.uniform(0.0, 2.0, size=n).astype("float32")
    return x, y, w


def _numpy_losses(teacher, student, x, y, w, temperature, student_loss_weight):
    t = teacher.predict(x, verbose=0)
    s = student.predict(x, verbose=0)
    student_loss = reference.weighted_mean(reference.sparse_ce_per_sample(y, s), w)
    kd = reference.weighted_mean(reference.kd_per_sample(t, s, temperature), w)
    total = student_loss_weight * student_loss + (1 - student_loss_weight) * kd
    return {"student_loss": student_loss, "distillation_loss": kd, "loss": total}


def _distiller(temperature=4.0, student_loss_weight=0.5, terms=None, **compile_kwargs):
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(
        teacher,
        student,
        terms if terms is not None else KD(temperature),
        student_loss_weight=student_loss_weight,
    )
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss=SPARSE_CE, metrics=["accuracy"], **compile_kwargs)
    return distiller


@pytest.mark.parametrize("temperature", [1.0, 4.0])
@pytest.mark.parametrize("student_loss_weight", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_reported_losses_match_numpy(temperature, student_loss_weight, weighted):
    x, y, w = _data()
    w = w if weighted else None
    distiller = _distiller(temperature, student_loss_weight)
    want = _numpy_losses(distiller.teacher, distiller.student, x, y, w, temperature, student_loss_weight)

    evaluated = distiller.evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    # One training step reports the losses of the weights it started from.
    trained = distiller.train_on_batch(x, y, sample_weight=w, return_dict=True)
    for logs in (evaluated, trained):
        for key, value in want.items():
            np.testing.assert_allclose(logs[key], value, rtol=2e-5, atol=1e-6, err_msg=key)


def test_every_term_is_reported_even_with_zero_weight():
    x, y, _ = _data()
    distiller = _distiller(student_loss_weight=1.0, terms=[KD(2.0, name="kd2"), KD(4.0, name="kd4")])
    t, s = distiller.teacher.predict(x, verbose=0), distiller.student.predict(x, verbose=0)
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    kd2 = reference.kd_per_sample(t, s, 2.0).mean()
    kd4 = reference.kd_per_sample(t, s, 4.0).mean()
    np.testing.assert_allclose(logs["distill/kd2"], kd2, rtol=2e-5)
    np.testing.assert_allclose(logs["distill/kd4"], kd4, rtol=2e-5)
    np.testing.assert_allclose(logs["distillation_loss"], kd2 + kd4, rtol=2e-5)
    np.testing.assert_allclose(logs["loss"], logs["student_loss"], rtol=1e-6)
    assert kd2 > 0


def test_term_weights_scale_the_distillation_loss():
    x, y, _ = _data()
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(
        teacher, student, [KD(2.0, name="a"), KD(4.0, name="b")],
        distillation_loss_weights=[0.25, 2.0], student_loss_weight=0.3,
    )
    distiller.compile(loss=SPARSE_CE)
    logs = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["distillation_loss"], 0.25 * logs["distill/a"] + 2.0 * logs["distill/b"], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 0.3 * logs["student_loss"] + 0.7 * logs["distillation_loss"], rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_keras_logits_distillation_gives_hintons_numbers(temperature):
    x, y, w = _data()
    results = {}
    for label, term in {
        "ours": KD(temperature),
        "keras_bare_kl": keras.distillation.LogitsDistillation(temperature=temperature),
        "keras_kl_instance": keras.distillation.LogitsDistillation(
            temperature=temperature, loss=keras.losses.KLDivergence()
        ),
    }.items():
        keras.utils.set_random_seed(7)
        distiller = _distiller(terms=term)
        results[label] = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    for label in ("keras_bare_kl", "keras_kl_instance"):
        np.testing.assert_allclose(
            results[label]["distillation_loss"], results["ours"]["distillation_loss"], rtol=1e-4, err_msg=label
        )


def test_bare_kl_is_fixed_on_a_copy_with_a_warning():
    term = keras.distillation.LogitsDistillation(temperature=1.0)
    teacher, student = models.teacher_and_student()
    with pytest.warns(UserWarning, match="KL on temperature-scaled logits"):
        distiller = keras_kd.Distiller(teacher, student, term)
    assert term.loss is keras.losses.kl_divergence  # the user's object is untouched
    assert isinstance(distiller.distillation_losses[0].loss, keras.losses.KLDivergence)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit KLDivergence() needs no fix
        keras_kd.Distiller(teacher, student, keras.distillation.LogitsDistillation(1.0, loss=keras.losses.KLDivergence()))


def test_fit_freezes_teacher_and_trains_student():
    x, y, _ = _data(64)
    distiller = _distiller()
    teacher_before = [v.numpy().copy() for v in distiller.teacher.weights]
    student_before = [v.numpy().copy() for v in distiller.student.weights]
    distiller.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for before, after in zip(teacher_before, distiller.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert all(not np.array_equal(b, a.numpy()) for b, a in zip(student_before, distiller.student.weights))
    assert {id(v) for v in distiller.trainable_variables} == {id(v) for v in distiller.student.trainable_variables}
    assert not distiller.teacher.trainable


def test_gradients_reach_only_the_student_and_the_tape_records_no_teacher_variable():
    x, y, _ = _data()
    distiller = _distiller()
    batch = keras_kd.step.Batch(x, x, x, y)
    watched = [v.value for v in distiller.student.trainable_variables + distiller.teacher.weights]
    teacher = distiller.teacher_forward(batch)
    with tf.GradientTape() as tape:
        total = distiller.compute_distillation(batch, teacher, training=True).loss
    recorded = {id(v) for v in tape.watched_variables()}
    assert recorded == {id(v.value) for v in distiller.student.trainable_variables}
    with tf.GradientTape() as tape:
        tape.watch(watched)
        total = distiller.compute_distillation(batch, distiller.teacher_forward(batch), training=True).loss
    grads = tape.gradient(total, watched)
    n = len(distiller.student.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads[:n])
    assert all(g is None for g in grads[n:])


class _CountingLayer(keras.layers.Layer):
    calls = 0

    def call(self, x):
        type(self).calls += 1
        return x


def test_teacher_and_student_run_once_per_step():
    inputs = keras.Input((8,))
    teacher = keras.Model(inputs, keras.layers.Dense(10)(_CountingLayer()(inputs)))
    _, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, KD(2.0))
    distiller.compile(loss=SPARSE_CE, run_eagerly=True)
    x, y, _ = _data(32)
    _CountingLayer.calls = 0
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert _CountingLayer.calls == 4


def test_predict_and_call_return_student_outputs():
    x, _, _ = _data()
    distiller = _distiller()
    np.testing.assert_allclose(distiller.predict(x, verbose=0), distiller.student.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(distiller(x), distiller.student(x), rtol=1e-6)


def test_inputs_tf_data_and_pydataset_match_numpy():
    x, y, w = _data(32)
    distiller = _distiller()
    from_numpy = distiller.evaluate(x, y, sample_weight=w, batch_size=8, return_dict=True, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(8)
    from_dataset = distiller.evaluate(dataset, return_dict=True, verbose=0)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[8 * i : 8 * i + 8], y[8 * i : 8 * i + 8], w[8 * i : 8 * i + 8]

    from_pydataset = distiller.evaluate(Batches(), return_dict=True, verbose=0)
    for other in (from_dataset, from_pydataset):
        for key in from_numpy:
            np.testing.assert_allclose(other[key], from_numpy[key], rtol=1e-5, err_msg=key)
    history = distiller.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    history = distiller.fit(Batches(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_jit_compile_gives_the_same_losses():
    x, y, w = _data()
    keras.utils.set_random_seed(3)
    plain = _distiller().evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    keras.utils.set_random_seed(3)
    xla = _distiller(jit_compile=True)
    assert xla.jit_compile
    compiled = xla.evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    xla.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for key in plain:
        np.testing.assert_allclose(compiled[key], plain[key], rtol=1e-4, err_msg=key)


def test_callbacks_work(tmp_path):
    x, y, _ = _data(64)
    distiller = _distiller()
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_distillation_loss", patience=1, restore_best_weights=True),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    history = distiller.fit(x, y, validation_data=(x, y), epochs=3, batch_size=16, callbacks=callbacks, verbose=0)
    assert {"val_loss", "val_student_loss", "val_distillation_loss", "val_accuracy"} <= set(history.history)
    assert (tmp_path / "best.keras").exists()
    assert any((tmp_path / "tb").rglob("*tfevents*"))
    restored = keras.saving.load_model(str(tmp_path / "best.keras"))
    assert isinstance(restored, keras_kd.Distiller)


def test_distiller_save_load_round_trip(tmp_path):
    x, y, w = _data()
    distiller = _distiller(temperature=2.0, student_loss_weight=0.1)
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, keras_kd.Distiller)
    assert restored.student_loss_weight == 0.1
    assert restored.distillation_losses[0].get_config() == distiller.distillation_losses[0].get_config()
    before = distiller.evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    after = restored.evaluate(x, y, sample_weight=w, batch_size=len(x), return_dict=True, verbose=0)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-6, err_msg=key)
    restored.fit(x, y, epochs=1, batch_size=8, verbose=0)  # the optimizer came back too


def test_student_saves_alone(tmp_path):
    x, y, _ = _data()
    distiller = _distiller()
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "student.keras")
    distiller.student.save(path)
    student = keras.saving.load_model(path)
    assert not isinstance(student, keras_kd.Distiller)
    assert student.count_params() == distiller.student.count_params()
    np.testing.assert_allclose(student.predict(x, verbose=0), distiller.student.predict(x, verbose=0), rtol=1e-6)


def test_pure_distillation_on_unlabeled_data():
    x, _, _ = _data()
    teacher, student = models.teacher_and_student()
    distiller = keras_kd.Distiller(teacher, student, KD(2.0), student_loss_weight=0.0)
    distiller.compile(optimizer="adam")
    logs = distiller.fit(x, epochs=1, batch_size=8, verbose=0).history
    assert "student_loss" not in logs and logs["loss"][0] > 0


# ------------------------------------------------------------ bad input


def test_rejects_incomparable_output_shapes():
    teacher, student = models.mlp(num_classes=10), models.mlp(num_classes=5)
    with pytest.raises(ValueError, match=r"cannot be compared.*\(None, 10\).*\(None, 5\)"):
        keras_kd.Distiller(teacher, student, KD(2.0))


@pytest.mark.parametrize("temperature", [0, -2.0])
def test_rejects_non_positive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        keras_kd.Distiller(*models.teacher_and_student(), KD(temperature))
    with pytest.raises(ValueError, match="temperature"):
        keras.distillation.LogitsDistillation(temperature=temperature)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_rejects_student_loss_weight_outside_unit_interval(weight):
    with pytest.raises(ValueError, match=r"student_loss_weight.*\[0, 1\].*Received: student_loss_weight="):
        keras_kd.Distiller(*models.teacher_and_student(), student_loss_weight=weight)


def test_rejects_non_keras_teacher():
    _, student = models.teacher_and_student()
    with pytest.raises(TypeError, match=r"teacher must be a keras.Model.*Received: teacher=.*function"):
        keras_kd.Distiller(lambda x: x, student)


def test_rejects_softmax_teacher_declared_as_logits():
    teacher = models.mlp(activation="softmax", name="teacher")
    _, student = models.teacher_and_student()
    with pytest.raises(ValueError, match=r"applies softmax.*teacher_from_logits=False"):
        keras_kd.Distiller(teacher, student, KD(2.0))
    with pytest.raises(ValueError, match="applies softmax"):
        keras_kd.Distiller(teacher, student, keras.distillation.LogitsDistillation(2.0, loss=keras.losses.KLDivergence()))
    # Declared as probabilities, the same teacher is accepted.
    keras_kd.Distiller(teacher, student, KD(2.0, teacher_from_logits=False))


def test_rejects_softmax_student_declared_as_logits():
    teacher, _ = models.teacher_and_student()
    student = models.mlp(6, activation="softmax", name="student")
    with pytest.raises(ValueError, match=r"student's final layer applies softmax.*student_from_logits=False"):
        keras_kd.Distiller(teacher, student, KD(2.0))
    keras_kd.Distiller(teacher, student, KD(2.0, student_from_logits=False))


def test_rejects_missing_student_loss_and_mismatched_weights():
    distiller = keras_kd.Distiller(*models.teacher_and_student())
    with pytest.raises(ValueError, match="`loss`.*is required when student_loss_weight > 0"):
        distiller.compile(optimizer="adam")
    with pytest.raises(ValueError, match="one weight per distillation loss"):
        keras_kd.Distiller(*models.teacher_and_student(), [KD(), KD(name="b")], distillation_loss_weights=[1.0])
    with pytest.raises(ValueError, match="Unknown distillation term"):
        keras_kd.Distiller(*models.teacher_and_student(), "kdd")


def test_sequence_outputs_with_a_padding_mask_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 7, 4)).astype("float32")
    y = rng.integers(0, 5, size=(6, 7))
    lengths = rng.integers(2, 8, size=6)
    mask = (np.arange(7)[None, :] < lengths[:, None]).astype("float32")

    def tagger(width, name):  # per-step logits: [batch, time, classes]
        inputs = keras.Input((7, 4))
        hidden = keras.layers.Dense(width, activation="tanh")(inputs)
        return keras.Model(inputs, keras.layers.Dense(5)(hidden), name=name)

    teacher, student = tagger(16, "teacher"), tagger(3, "student")
    distiller = keras_kd.Distiller(teacher, student, KD(2.0), student_loss_weight=0.3)
    distiller.compile(optimizer="sgd", loss=SPARSE_CE)
    logs = distiller.evaluate(x, y, sample_weight=mask, batch_size=6, return_dict=True, verbose=0)
    t, s = teacher.predict(x, verbose=0).reshape(-1, 5), student.predict(x, verbose=0).reshape(-1, 5)
    kd = (reference.kd_per_sample(t, s, 2.0) * mask.reshape(-1)).sum() / mask.size
    ce = (reference.sparse_ce_per_sample(y.reshape(-1), s) * mask.reshape(-1)).sum() / mask.size
    np.testing.assert_allclose([logs["distillation_loss"], logs["student_loss"]], [kd, ce], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 0.3 * ce + 0.7 * kd, rtol=1e-5)
    assert np.isfinite(distiller.fit(x, y, sample_weight=mask, batch_size=3, verbose=0).history["loss"][0])


class _StopAfterEpoch(keras.callbacks.Callback):
    """Raises at the end of `epoch`, after the callbacks before it (the backup) ran."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_to_the_same_weights_as_an_uninterrupted_fit(tmp_path):
    x, y, _ = _data(64)

    def fit(callbacks):
        keras.utils.set_random_seed(0)
        teacher, student = models.teacher_and_student()
        distiller = keras_kd.Distiller(teacher, student, KD(4.0), student_loss_weight=0.5)
        distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=SPARSE_CE)  # Adam: its moments must come back
        history = distiller.fit(x, y, epochs=3, batch_size=16, shuffle=False, callbacks=callbacks, verbose=0)
        return distiller, history

    straight, _ = fit([])
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        fit([keras.callbacks.BackupAndRestore(backup), _StopAfterEpoch(0)])
    resumed, history = fit([keras.callbacks.BackupAndRestore(backup)])
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    assert int(resumed.optimizer.iterations) == int(straight.optimizer.iterations) == 12
    for got, want in zip(resumed.student.get_weights(), straight.student.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
