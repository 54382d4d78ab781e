import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import compress
from keras_kd.compress import pruning
from tests import models


def test_schedules_follow_tfmots_formulas():
    constant = compress.ConstantSparsity(0.6, begin_step=10, end_step=40, frequency=10)
    assert [s for s in range(60) if constant(s)[0]] == [10, 20, 30, 40]
    assert constant(25)[1] == 0.6
    poly = compress.PolynomialDecay(0.1, 0.8, begin_step=5, end_step=25, power=3, frequency=5)
    assert [s for s in range(40) if poly(s)[0]] == [5, 10, 15, 20, 25]
    for step in (0, 5, 12, 25, 30):
        p = min(1.0, max(0.0, (step - 5) / 20))
        assert poly(step)[1] == pytest.approx(0.8 + (0.1 - 0.8) * (1 - p) ** 3)
    with pytest.raises(ValueError, match="end_step > begin_step"):
        compress.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=-1)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        compress.ConstantSparsity(1.0)


def test_the_mask_drops_the_smallest_magnitudes():
    weights = np.array([[0.5, -0.1], [0.05, -2.0]], "float32")
    np.testing.assert_array_equal(pruning.magnitude_mask(weights, 0.5), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(pruning.magnitude_mask(weights, 0.0), np.ones((2, 2)))


def test_wrapping_keeps_names_outputs_and_the_original(vectors):
    x, _ = vectors()
    student = models.mlp(8, name="student")
    before = student.predict(x, verbose=0)
    pruned = compress.prune_low_magnitude(student, pruning_schedule={"hidden2": compress.ConstantSparsity(0.5)})
    assert isinstance(pruned.get_layer("hidden2"), compress.PruneLowMagnitude)
    assert not isinstance(pruned.get_layer("hidden"), compress.PruneLowMagnitude)  # not named: left dense
    np.testing.assert_allclose(pruned.predict(x, verbose=0), before, rtol=1e-6)
    assert all(not isinstance(layer, compress.PruneLowMagnitude) for layer in student.layers)
    with pytest.raises(ValueError, match="no layers named"):
        compress.prune_low_magnitude(student, pruning_schedule={"nope": compress.ConstantSparsity(0.5)})


class _SparsityLog(keras.callbacks.Callback):
    def __init__(self, layer):
        super().__init__()
        self.layer, self.seen = layer, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.layer.sparsity())


def test_masks_hold_exact_zeros_and_sparsity_follows_the_schedule(vectors, sparse_ce):
    x, y = vectors(128)
    teacher, student = models.teacher_and_student()
    schedule = compress.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=12, power=3, frequency=3)
    pruned = compress.prune_low_magnitude(student, pruning_schedule=schedule)
    distiller = keras_kd.Distiller(teacher, pruned)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce)
    layer = pruned.get_layer("hidden2")
    log = _SparsityLog(layer)
    teacher_before = [w.copy() for w in teacher.get_weights()]
    distiller.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[compress.UpdatePruningStep(), log])
    size = layer.mask.shape[0] * layer.mask.shape[1]
    want = []
    for step in range(32):  # the sparsity set at the last update at or before each step
        last = max(s for s in range(step + 1) if schedule(s)[0])
        want.append(round(size * schedule(last)[1]) / size)
    np.testing.assert_allclose(log.seen, want)
    kernel = layer.pruned_weight.numpy()
    np.testing.assert_array_equal(kernel[layer.mask.numpy() == 0], 0.0)
    assert compress.model_sparsity(pruned)["total"] == pytest.approx(round(size * 0.8) / size, abs=0.01)
    for before, after in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_strip_pruning_gives_plain_layers_with_the_same_function(vectors, sparse_ce, tmp_path):
    x, y = vectors(64)
    pruned = compress.prune_low_magnitude(models.mlp(8), pruning_schedule=compress.ConstantSparsity(0.5, frequency=1))
    pruned.compile(optimizer="adam", loss=sparse_ce)
    pruned.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[compress.UpdatePruningStep()])
    stripped = compress.strip_pruning(pruned)
    assert all(not isinstance(layer, compress.PruneLowMagnitude) for layer in stripped.layers)
    assert stripped.count_params() == models.mlp(8).count_params()
    np.testing.assert_allclose(stripped.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-6)
    assert compress.model_sparsity(stripped)["total"] == pytest.approx(0.5, abs=0.01)
    pruned.save(tmp_path / "pruned.keras")
    restored = keras.models.load_model(tmp_path / "pruned.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-6)
    assert restored.get_layer("hidden").pruning_schedule.target_sparsity == 0.5
    dense_bytes = np.random.default_rng(0).normal(size=4096).astype("float32")
    sparse_bytes = dense_bytes * (np.arange(4096) % 4 == 0)
    assert compress.gzipped_size(sparse_bytes.tobytes()) < compress.gzipped_size(dense_bytes.tobytes()) * 0.5


def test_training_without_the_callback_stops_with_a_clear_error(vectors, sparse_ce):
    x, y = vectors(32)
    teacher, student = models.teacher_and_student()
    pruned = compress.prune_low_magnitude(student)
    distiller = keras_kd.Distiller(teacher, pruned)
    distiller.compile(loss=sparse_ce)
    before = [w.copy() for w in pruned.get_weights()]
    with pytest.raises(ValueError, match=r"UpdatePruningStep\(\)"):
        distiller.fit(x, y, epochs=1, verbose=0)
    for b, a in zip(before, pruned.get_weights()):
        np.testing.assert_array_equal(b, a)
    with pytest.raises(ValueError, match="no pruned layers"):
        plain = keras_kd.Distiller(*models.teacher_and_student())
        plain.compile(loss=sparse_ce)
        plain.fit(x, y, epochs=1, verbose=0, callbacks=[compress.UpdatePruningStep()])
    with pytest.raises(ValueError, match="has no kernel to prune"):
        compress.prune_low_magnitude(keras.layers.ReLU())
