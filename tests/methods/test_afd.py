import keras
import numpy as np
import pytest

from keras_kd.methods import AFDDistiller
from keras_kd.methods import afd
from tests import models
from tests import reference


def test_least_squares_losses_match_their_formula_and_the_half_point():
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(size=(8, 1)).astype("float32"), rng.uniform(size=(8, 1)).astype("float32")
    np.testing.assert_allclose(float(afd.discriminator_loss(real, fake)), ((1 - real) ** 2).mean() + (fake**2).mean(), rtol=1e-6)
    np.testing.assert_allclose(float(afd.generator_loss(fake)), ((1 - fake) ** 2).mean(), rtol=1e-6)
    half = np.full((4, 1), 0.5, "float32")
    assert float(afd.discriminator_loss(half, half)) == pytest.approx(0.5)
    assert float(afd.generator_loss(half)) == pytest.approx(0.25)


def _images(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), np.arange(n) % 5


def _afd(**kwargs):
    nets = [models.cnn(4, "net_a"), models.cnn(4, "net_b")]
    return AFDDistiller(nets, "conv2", **kwargs), nets


def test_every_networks_terms_match_numpy(sparse_ce):
    x, y = _images()
    distiller, nets = _afd(temperature=2.0)
    distiller.compile(loss=sparse_ce)
    got = distiller.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    logits = [n.predict(x, verbose=0) for n in nets]
    maps = [keras.Model(n.inputs, n.get_layer("conv2").output).predict(x, verbose=0) for n in nets]
    for k in range(2):
        peer = 1 - k
        d = distiller.discriminators[k]
        real, fake = d.predict(maps[peer], verbose=0), d.predict(maps[k], verbose=0)
        np.testing.assert_allclose(got[f"peer_{k}/discriminator"], ((1 - real) ** 2).mean() + (fake**2).mean(), rtol=1e-5)
        np.testing.assert_allclose(got[f"peer_{k}/generator"], ((1 - fake) ** 2).mean(), rtol=1e-5)
        np.testing.assert_allclose(got[f"peer_{k}/kl"], reference.kd_per_sample(logits[peer], logits[k], 2.0).mean(), rtol=1e-5)


def _snapshot(distiller, nets):
    extractor = {id(v) for k in range(2) for v in distiller.extractor_variables(k)}
    groups = {"extractors": [], "classifiers": [], "discriminators": []}
    for net in nets:
        for v in net.trainable_variables:
            groups["extractors" if id(v) in extractor else "classifiers"].append(v)
    groups["discriminators"] = [v for d in distiller.discriminators for v in d.trainable_variables]
    return groups, {name: [v.numpy().copy() for v in vs] for name, vs in groups.items()}


@pytest.mark.parametrize(
    "rates, moved",
    [
        ((0.1, 0.0, 0.0), {"extractors": True, "classifiers": True, "discriminators": False}),
        ((0.0, 0.1, 0.0), {"extractors": True, "classifiers": False, "discriminators": False}),
        ((0.0, 0.0, 0.1), {"extractors": False, "classifiers": False, "discriminators": True}),
    ],
)
def test_each_optimizer_updates_only_its_own_variables(sparse_ce, rates, moved):
    x, y = _images()
    network_lr, generator_lr, discriminator_lr = rates
    distiller, nets = _afd(
        generator_optimizer=keras.optimizers.SGD(generator_lr), discriminator_optimizer=keras.optimizers.SGD(discriminator_lr)
    )
    distiller.compile(optimizer=keras.optimizers.SGD(network_lr), loss=sparse_ce)
    groups, before = _snapshot(distiller, nets)
    distiller.fit(x, y, epochs=1, batch_size=16, verbose=0)
    got = {name: any(not np.array_equal(b, v.numpy()) for b, v in zip(before[name], vs)) for name, vs in groups.items()}
    assert got == moved
    assert {v.path.split("/")[0] for k in range(2) for v in distiller.extractor_variables(k)} <= {"conv1", "conv2"}


def test_afd_saves_and_loads_and_refuses_mismatched_maps(sparse_ce, tmp_path):
    x, y = _images(16)
    distiller, nets = _afd()
    distiller.compile(loss=sparse_ce)
    distiller.fit(x, y, epochs=1, verbose=0)
    distiller.save(tmp_path / "afd.keras")
    restored = keras.models.load_model(tmp_path / "afd.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="maps .* of one shape"):
        AFDDistiller([models.cnn(4, "a"), models.cnn(8, "b")], "conv2")
