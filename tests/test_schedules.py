"""Term-weight schedules: layer-wise (progressive / stacked) and linear warm-up."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd import schedules
from tests import models


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 5, size=n)


def _distiller(terms, weights=None):
    teacher, student = models.cnn(8, "teacher"), models.cnn(3, "student")
    distiller = keras_kd.Distiller(teacher, student, terms, distillation_loss_weights=weights, student_loss_weight=0.5)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return distiller


@pytest.mark.parametrize("mode, expected", [
    ("progressive", [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]),
    ("stacked", [[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]]),
])
def test_layerwise_schedule_sets_weights_per_epoch(mode, expected):
    x, y = _data()
    terms = [losses.CosineRepresentation("conv1", "conv1"), losses.CosineRepresentation("conv2", "conv2"),
             losses.CosineRepresentation("embed", "embed"), losses.KD(2.0)]
    distiller = _distiller(terms)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([float(v.numpy()) for v in self.model.term_weights])

    schedule = schedules.LayerwiseSchedule(distiller.term_names[:3], mode=mode, epochs_per_stage=2)
    history = distiller.fit(x, y, epochs=6, batch_size=8, callbacks=[schedule, Record()], verbose=0)
    assert [w[:3] for w in seen] == expected and all(w[3] == 1.0 for w in seen)
    # The distillation loss follows the active terms.
    last = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    names = ["distill/cosine", "distill/cosine_2", "distill/cosine_3", "distill/kd"]
    weighted = sum(w * last[n] for w, n in zip(expected[-1] + [1], names))
    np.testing.assert_allclose(last["distillation_loss"], weighted, rtol=1e-5)
    assert len(history.history["loss"]) == 6


def test_linear_warmup_ramps_named_terms_and_keeps_others():
    x, y = _data()
    distiller = _distiller([losses.KD(2.0), losses.DKD()], weights=[0.5, 2.0])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([float(v.numpy()) for v in self.model.term_weights])

    warmup = schedules.LinearWarmup(["dkd"], warmup_epochs=3)
    distiller.fit(x, y, epochs=4, batch_size=8, callbacks=[warmup, Record()], verbose=0)
    np.testing.assert_allclose(seen, [[0.5, 2 / 3], [0.5, 4 / 3], [0.5, 2.0], [0.5, 2.0]], rtol=1e-6)

    # Resuming mid-ramp continues the same ramp from the same base.
    seen.clear()
    distiller.fit(x, y, epochs=2, initial_epoch=1, batch_size=8, callbacks=[warmup, Record()], verbose=0)
    np.testing.assert_allclose(seen, [[0.5, 4 / 3]], rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"term_names": [], "warmup_epochs": 2}, "at least one term"),
    ({"term_names": ["dkd"], "warmup_epochs": 0}, "positive integer"),
    ({"term_names": ["dkd"], "warmup_epochs": 1.5}, "positive integer"),
])
def test_linear_warmup_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.LinearWarmup(**kwargs)


def test_linear_warmup_names_unknown_terms():
    x, y = _data()
    distiller = _distiller([losses.KD(2.0)])
    with pytest.raises(ValueError, match=r"unknown terms \['dkd'\].*\['kd'\]"):
        distiller.fit(x, y, epochs=1, batch_size=8, callbacks=[schedules.LinearWarmup(["dkd"], warmup_epochs=2)],
                      verbose=0)
