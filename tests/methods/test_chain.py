import numpy as np
import pytest

from keras_kd import training
from keras_kd.methods import distill_chain
from tests import models


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + 2 * (x[:, 1] > 0)
    return (x, y), (x[:16], y[:16]), (x, y)


def test_each_hop_distills_from_the_previous_hops_model():
    data = _data()
    teacher = models.mlp(32, name="teacher")
    config = training.TrainConfig(epochs=1, batch_size=16, verbose=0)
    stages = [lambda: models.mlp(16, name="assistant"), lambda: models.mlp(6, name="student")]
    hops = distill_chain(teacher, stages, data, config, student_loss_weight=0.5)
    assert [hop.name for hop in hops] == ["assistant_1", "student"]
    assert [hop.model.name for hop in hops] == ["assistant", "student"]
    assert not teacher.trainable and not hops[0].model.trainable  # both served as teachers
    assert hops[1].model.trainable  # the student never did
    assert all(0.0 <= hop.test_accuracy <= 1.0 for hop in hops)


def test_the_assistant_stays_bit_identical_while_it_teaches(monkeypatch):
    data = _data()
    config = training.TrainConfig(epochs=1, batch_size=16, verbose=0)
    snapshots = []

    def assistant():
        return models.mlp(16, name="assistant")

    def student():  # built when the second hop starts, after the assistant trained
        snapshots.append([w.copy() for w in assistant_model[0].get_weights()])
        return models.mlp(6, name="student")

    assistant_model = []
    original = training.train_distilled

    def spy(name, teacher, student_fn, *args, **kwargs):
        result = original(name, teacher, student_fn, *args, **kwargs)
        assistant_model.append(result.model)
        return result

    monkeypatch.setattr(training, "train_distilled", spy)
    hops = distill_chain(models.mlp(32, name="teacher"), [assistant, student], data, config)
    assert hops[0].model is assistant_model[0]
    for before, after in zip(snapshots[0], hops[0].model.get_weights()):
        np.testing.assert_array_equal(before, after)  # what it was when it started teaching


def test_names_must_match_the_stages():
    with pytest.raises(ValueError, match="one name per stage"):
        distill_chain(models.mlp(), [models.mlp], _data(), training.TrainConfig(epochs=1), names=["a", "b"])
    with pytest.raises(ValueError, match="at least one stage"):
        distill_chain(models.mlp(), [], _data(), training.TrainConfig(epochs=1))
