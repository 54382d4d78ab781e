import numpy as np
import pytest

from keras_kd import losses
from keras_kd import training
from keras_kd.methods import born_again
from keras_kd.methods import generations
from keras_kd.methods import sequential_feed
from keras_kd.methods import teacher_free_self
from tests import models
from tests import reference


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + 2 * (x[:, 1] > 0)
    return (x, y), (x[:16], y[:16]), (x, y)


CONFIG = training.TrainConfig(epochs=1, batch_size=16, verbose=0)


def _spy(monkeypatch):
    """Records each hop's teacher and its weights when the hop starts and ends."""
    hops = []
    original = training.train_distilled

    def spy(name, teacher, student_fn, data, config, **kwargs):
        start = [w.copy() for w in teacher.get_weights()]
        result = original(name, teacher, student_fn, data, config, **kwargs)
        hops.append({"teacher": teacher, "start": start, "end": teacher.get_weights(), "kwargs": kwargs, "config": config})
        return result

    monkeypatch.setattr(training, "train_distilled", spy)
    return hops


def test_each_generation_is_taught_by_the_previous_one_bit_for_bit(monkeypatch):
    hops = _spy(monkeypatch)
    result = born_again(lambda: models.mlp(8, name="net"), _data(), CONFIG, generations=3)
    assert len(result.generations) == 4 and len(hops) == 3
    for k, hop in enumerate(hops):
        assert hop["teacher"] is result.generations[k].model
        for start, end, final in zip(hop["start"], hop["end"], result.generations[k].model.get_weights()):
            np.testing.assert_array_equal(start, end)
            np.testing.assert_array_equal(start, final)
        term = hop["kwargs"]["distillation_losses"]
        assert isinstance(term, losses.KD) and term.temperature == 1.0
        assert hop["kwargs"]["student_loss_weight"] == 0.0 and hop["config"].seed == k + 1


def test_the_ensemble_of_generations_is_their_mean_prediction():
    result = born_again(lambda: models.mlp(8, name="net"), _data(), CONFIG, generations=2)
    (_, _), _, (x, y) = _data()
    mean = np.mean([reference.softmax(g.model.predict(x, verbose=0)) for g in result.generations[1:]], axis=0)
    assert result.ensemble_test_accuracy == pytest.approx(np.mean(mean.argmax(-1) == y))
    assert len(result.models) == 3


def test_sfeed_and_tf_kd_self_are_chains_with_their_terms(monkeypatch):
    hops = _spy(monkeypatch)
    teacher = models.cnn(4, "gen0")
    images = np.random.default_rng(0).normal(size=(32, 8, 8, 1)).astype("float32")
    labels = np.arange(32) % 5
    data = ((images, labels), (images[:8], labels[:8]), (images, labels))
    result = sequential_feed(lambda: models.cnn(4, "net"), data, CONFIG, feature_layer="conv2", teacher=teacher, feed_weight=2.0)
    assert result.generations[0] is None and hops[0]["teacher"] is teacher
    assert isinstance(hops[0]["kwargs"]["distillation_losses"][0], losses.FEED)
    assert hops[0]["kwargs"]["distillation_loss_weights"] == [2.0]
    self_taught = teacher_free_self(lambda: models.mlp(8, name="net"), _data(), CONFIG, temperature=6.0, alpha=0.9)
    assert len(self_taught.generations) == 2
    assert hops[-1]["teacher"] is self_taught.generations[0].model
    assert hops[-1]["kwargs"]["distillation_losses"].temperature == 6.0
    assert hops[-1]["kwargs"]["student_loss_weight"] == pytest.approx(0.1)


def test_generations_must_be_positive():
    with pytest.raises(ValueError, match="generations"):
        generations.born_again(models.mlp, _data(), CONFIG, generations=0)
