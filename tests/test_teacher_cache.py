import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd import teacher_cache
from tests import models


def _student_weights_after(distiller, data, y):
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = distiller.fit(data, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    return history, distiller.student.get_weights()


def test_cached_logits_train_the_same_student_as_the_live_teacher(vectors, tmp_path):
    x, y = vectors(32)
    teacher, student = models.teacher_and_student()
    initial = student.get_weights()
    live_history, live_weights = _student_weights_after(keras_kd.Distiller(teacher, student, losses.KD(4.0)), x, y)
    logits = teacher_cache.cache_teacher_outputs(teacher, x, str(tmp_path / "logits.npy"))
    np.testing.assert_allclose(np.asarray(logits), teacher.predict(x, verbose=0), rtol=1e-6)
    student.set_weights(initial)
    cached = keras_kd.Distiller(teacher_cache.cached_teacher(logits), student, losses.KD(4.0), paired_inputs=True)
    cached_history, cached_weights = _student_weights_after(cached, (np.asarray(logits), x), y)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(cached_history[key], live_history[key], rtol=1e-6, err_msg=key)
    for a, b in zip(cached_weights, live_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_cache_is_written_atomically_and_never_overwritten(vectors, tmp_path):
    x, _ = vectors(16)
    teacher, _ = models.teacher_and_student()
    path = tmp_path / "logits.npy"
    half = teacher_cache.cache_teacher_outputs(teacher, x, str(path), batch_size=5, dtype="float16")
    assert half.dtype == np.float16 and half.shape == (16, 10)
    with pytest.raises(FileExistsError, match="exists"):
        teacher_cache.cache_teacher_outputs(teacher, x, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logits.npy"]  # no temporary left behind


def test_a_feature_term_cannot_read_a_cached_teacher():
    _, student = models.teacher_and_student()
    with pytest.raises(ValueError, match="hidden"):
        keras_kd.Distiller(teacher_cache.cached_teacher((10,)), student, losses.Hint("hidden", "hidden"), paired_inputs=True)


def test_top_k_rows_keep_the_k_largest_and_share_the_rest_evenly():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(6, 10))
    values, indices, fill = teacher_cache.top_k_rows(logits, 3)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    rebuilt = np.asarray(teacher_cache.TopKLogits(10)((values.astype("float32"), indices, fill.astype("float32"))))
    q = np.exp(rebuilt - rebuilt.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    top = np.argsort(-p, axis=-1)[:, :3]
    np.testing.assert_array_equal(indices, top)
    want = np.repeat(((1.0 - np.take_along_axis(p, top, -1).sum(-1)) / 7)[:, None], 10, axis=1)
    np.put_along_axis(want, top, np.take_along_axis(p, top, -1), axis=-1)
    np.testing.assert_allclose(q, want, rtol=1e-5, atol=1e-7)  # FKD's marginal smoothing at T = 1
    np.testing.assert_allclose(teacher_cache.TopKLogits(10)(teacher_cache.top_k_rows(logits, 10)), logits, rtol=1e-5, atol=1e-5)


def test_a_full_top_k_cache_trains_the_same_student_as_the_live_teacher(vectors, tmp_path):
    x, y = vectors(32)
    teacher, student = models.teacher_and_student()
    initial = student.get_weights()
    live_history, live_weights = _student_weights_after(keras_kd.Distiller(teacher, student, losses.KD(4.0)), x, y)
    cache = teacher_cache.cache_teacher_outputs(teacher, x, str(tmp_path / "top.npy"), top_k=10, batch_size=7)
    assert cache["values"].shape == (32, 10) and teacher_cache.is_top_k(cache)
    student.set_weights(initial)
    stand_in = teacher_cache.cached_teacher(cache, num_classes=10)
    cached = keras_kd.Distiller(stand_in, student, losses.KD(4.0), paired_inputs=True)
    cached_history, cached_weights = _student_weights_after(cached, (teacher_cache.cached_inputs(cache), x), y)
    for key in ("loss", "distillation_loss"):
        np.testing.assert_allclose(cached_history[key], live_history[key], rtol=1e-5, err_msg=key)
    for a, b in zip(cached_weights, live_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_top_k_asks_for_what_it_needs(vectors, tmp_path):
    x, _ = vectors(8)
    teacher, _ = models.teacher_and_student()
    with pytest.raises(ValueError, match="1 <= top_k <= classes"):
        teacher_cache.cache_teacher_outputs(teacher, x, str(tmp_path / "a.npy"), top_k=11)
    cache = teacher_cache.cache_teacher_outputs(teacher, x, str(tmp_path / "b.npy"), top_k=2)
    with pytest.raises(ValueError, match="num_classes=C"):
        teacher_cache.cached_teacher(cache)
    assert not (tmp_path / "a.npy").exists()


def test_views_that_would_augment_cached_logits_are_refused_with_the_fix(tmp_path):
    from keras_kd import augment

    student = models.cnn(4, "student")
    shared = augment.Views(shared=[keras.layers.RandomFlip("horizontal", seed=1)])
    with pytest.raises(ValueError, match="transform the teacher's input too.*Views\\(student=\\[...\\]\\)"):
        keras_kd.Distiller(teacher_cache.cached_teacher((5,)), student, losses.KD(4.0), views=shared, paired_inputs=True)
    alone = augment.Views(student=[keras.layers.RandomFlip("horizontal", seed=1)])
    x, y = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype("float32"), np.arange(16) % 5
    teacher = models.cnn(8, "teacher")
    top2 = teacher_cache.cache_teacher_outputs(teacher, x, str(tmp_path / "top2.npy"), top_k=2)
    stand_in = teacher_cache.cached_teacher(top2, num_classes=5)
    distiller = keras_kd.Distiller(stand_in, student, losses.KD(4.0), views=alone, paired_inputs=True)
    distiller.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = distiller.fit((teacher_cache.cached_inputs(top2), x), y, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][0])  # the top-k tuple passes through; the student alone is augmented
