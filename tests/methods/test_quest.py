import keras
import numpy as np
import pytest

from keras_kd.methods import QuESTDistiller
from keras_kd.methods import quest
from tests import models
from tests import reference


def _numpy_assignment(features, codebook, beta):
    d = ((features[..., None, :] - codebook) ** 2).sum(-1)
    return reference.softmax(-beta * d)


def test_soft_assignment_matches_numpy_and_sharpens_to_the_nearest_word():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    codebook = rng.normal(size=(6, 4)).astype("float32")
    got = np.asarray(quest.soft_assignment(features, codebook, 5.0))
    np.testing.assert_allclose(got, _numpy_assignment(features, codebook, 5.0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)
    hard = np.asarray(quest.soft_assignment(features, codebook, 1e4))
    nearest = ((features[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)
    np.testing.assert_array_equal(hard.argmax(-1), nearest)
    np.testing.assert_allclose(hard.max(-1), 1.0, atol=1e-4)


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], "float32")
    points = np.concatenate([c + rng.normal(scale=0.1, size=(200, 2)) for c in centers]).astype("float32")
    found = quest.kmeans(points, 3, iterations=10, seed=1)
    order = np.argsort(found[:, 0] * 100 + found[:, 1])
    np.testing.assert_allclose(found[order], centers[np.argsort(centers[:, 0] * 100 + centers[:, 1])], atol=0.05)


def _distiller(**kwargs):
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    return QuESTDistiller(teacher, student, "conv2", "conv2", num_words=8, **kwargs), teacher, student


def _images(n=32):
    return np.random.default_rng(0).normal(size=(n, 8, 8, 1)).astype("float32")


def test_the_quest_term_matches_numpy(sparse_ce):
    distiller, teacher, student = _distiller(beta=2.0, quest_weight=0.5)
    x = _images()
    y = np.arange(32) % 5
    distiller.fit_codebook(x)
    distiller.compile(loss=sparse_ce)
    got = distiller.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    t = keras.Model(teacher.inputs, teacher.get_layer("conv2").output).predict(x, verbose=0)
    s = keras.Model(student.inputs, student.get_layer("conv2").output).predict(x, verbose=0)
    target = _numpy_assignment(t, distiller.codebook.numpy(), 2.0)
    w = distiller.predictor.words.numpy()
    cos = (s / np.linalg.norm(s, axis=-1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0, keepdims=True))
    log_q = reference.log_softmax(3.0 * cos)
    want = (target * (np.log(target) - log_q)).sum(-1).mean()
    np.testing.assert_allclose(got["distill/quest"], want, rtol=1e-5)
    ce = reference.sparse_ce_per_sample(y, student.predict(x, verbose=0)).mean()
    np.testing.assert_allclose(got["loss"], ce + 0.5 * want, rtol=1e-5)


def test_the_codebook_stays_fixed_the_predictor_learns_and_the_student_ships_alone(sparse_ce, tmp_path):
    distiller, _, student = _distiller()
    x, y = _images(), np.arange(32) % 5
    with pytest.raises(ValueError, match="codebook is not fitted"):
        distiller.fit(x, y, epochs=1, verbose=0)
    distiller.fit_codebook(x)
    codebook = distiller.codebook.numpy().copy()
    scale = float(distiller.predictor.scale.numpy())
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce)
    distiller.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(distiller.codebook.numpy(), codebook)
    assert float(distiller.predictor.scale.numpy()) != scale
    assert student.count_params() == models.cnn(4, "plain").count_params()  # no helper inside
    distiller.save(tmp_path / "quest.keras")
    restored = keras.models.load_model(tmp_path / "quest.keras")
    np.testing.assert_array_equal(restored.codebook.numpy(), codebook)
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)


def test_a_twice_larger_teacher_map_is_pooled_and_other_sizes_are_refused():
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    distiller = QuESTDistiller(teacher, student, "conv1", "conv2", num_words=4)  # 8x8 teacher, 4x4 student
    assert distiller.pool_teacher
    assert tuple(distiller.teacher_features(_images(2)).shape) == (2, 4, 4, 8)
    with pytest.raises(ValueError, match="spatial size or twice it"):
        QuESTDistiller(models.cnn(8, "t2"), models.cnn(4, "s2"), "conv2", "conv1", num_words=4)


class _Counting(keras.layers.Layer):
    calls = 0

    def call(self, x):
        type(self).calls += 1
        return x


def test_the_student_runs_once_per_step_for_the_loss_and_the_codebook_term(sparse_ce):
    student = models.cnn(4, "student", first_layer=_Counting())
    distiller = QuESTDistiller(models.cnn(8, "teacher"), student, "conv2", "conv2", num_words=4)
    distiller.fit_codebook(_images(16))
    distiller.compile(loss=sparse_ce, run_eagerly=True)  # eager: the layer counts calls, not traces
    _Counting.calls = 0
    distiller.train_on_batch(_images(8), np.arange(8) % 5)
    assert _Counting.calls == 1
