import keras
import numpy as np
import pytest

from keras_kd import schedules
from keras_kd.methods import OKDDipDistiller
from keras_kd.methods import okddip
from tests import models
from tests import reference


def _distiller(count=4, **kwargs):
    peers = [models.mlp(16, name=f"model{k}") for k in range(count)]
    return OKDDipDistiller(peers, "hidden2", **kwargs), peers


def _features(peers, x):
    return np.stack([keras.Model(p.inputs, p.get_layer("hidden2").output).predict(x, verbose=0) for p in peers[:-1]], 1)


def test_attention_rows_sum_to_one_and_match_numpy(vectors):
    x, _ = vectors(8)
    distiller, peers = _distiller(projection_ratio=4)
    got = np.asarray(distiller.attention(x))
    want = reference.okddip_attention(
        _features(peers, x), distiller.query_projection.kernel.numpy(), distiller.key_projection.kernel.numpy()
    )
    assert got.shape == (8, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)


def test_the_two_level_loss_matches_numpy(vectors, sparse_ce):
    x, y = vectors(32)
    distiller, peers = _distiller(temperature=3.0, distillation_weight=0.5)
    distiller.compile(loss=sparse_ce)
    got = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    logits = [p.predict(x, verbose=0) for p in peers]
    alpha = reference.okddip_attention(
        _features(peers, x), distiller.query_projection.kernel.numpy(), distiller.key_projection.kernel.numpy()
    )
    targets = np.einsum("npq,nqc->npc", alpha, np.stack(logits[:-1], 1))
    first = sum(reference.kd_per_sample(targets[:, a], logits[a], 3.0).mean() for a in range(3))
    second = reference.kd_per_sample(np.mean(logits[:-1], 0), logits[-1], 3.0).mean()
    ce = sum(reference.sparse_ce_per_sample(y, z).mean() for z in logits)
    np.testing.assert_allclose(got["distill/first_level"], first, rtol=1e-5)
    np.testing.assert_allclose(got["distill/second_level"], second, rtol=1e-5)
    np.testing.assert_allclose(got["loss"], ce + 0.5 * (first + second), rtol=1e-5)


def test_zero_query_projection_gives_uniform_attention_and_the_leaders_target(vectors):
    x, _ = vectors(8)
    distiller, peers = _distiller()
    distiller.query_projection.kernel.assign(np.zeros(distiller.query_projection.kernel.shape, "float32"))
    alpha = np.asarray(distiller.attention(x))
    np.testing.assert_allclose(alpha, 1.0 / 3.0, rtol=1e-6)
    logits = np.stack([p.predict(x, verbose=0) for p in peers[:-1]], 1)
    targets = np.asarray(okddip.aggregate(alpha, logits))
    np.testing.assert_allclose(targets, np.repeat(logits.mean(1, keepdims=True), 3, axis=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("detach", [False, True])
def test_the_projections_learn_only_through_undetached_targets(vectors, sparse_ce, detach):
    x, y = vectors(32)
    distiller, peers = _distiller(detach_targets=detach)
    distiller.compile(optimizer=keras.optimizers.SGD(0.5), loss=sparse_ce)
    before = distiller.query_projection.kernel.numpy().copy()
    leader_before = [w.copy() for w in peers[-1].get_weights()]
    distiller.fit(x, y, epochs=1, batch_size=16, verbose=0)
    moved = np.abs(distiller.query_projection.kernel.numpy() - before).max()
    assert (moved == 0.0) == detach
    assert all(not np.array_equal(a, b) for a, b in zip(leader_before, peers[-1].get_weights()))


def test_ramp_up_logs_its_weight_and_the_leader_predicts(vectors, sparse_ce, tmp_path):
    x, y = vectors(32)
    distiller, peers = _distiller(distillation_weight=schedules.SigmoidRampUp(4))
    distiller.compile(loss=sparse_ce, metrics=["accuracy"])
    logs = distiller.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    # Logged each epoch as the mean over its two steps (0, 1), (2, 3), (4, 5).
    ramp = [np.mean([np.exp(-5 * (1 - min(s, 4) / 4) ** 2) for s in steps]) for steps in ((0, 1), (2, 3), (4, 5))]
    np.testing.assert_allclose(logs["distillation_weight"], ramp, rtol=1e-5)
    np.testing.assert_allclose(distiller.predict(x, verbose=0), peers[-1].predict(x, verbose=0), rtol=1e-6)
    distiller.save(tmp_path / "okddip.keras")
    restored = keras.models.load_model(tmp_path / "okddip.keras")
    np.testing.assert_allclose(restored.attention(x), distiller.attention(x), rtol=1e-6)
    assert restored.distillation_weight.rampup_steps == 4


def test_a_missing_feature_layer_is_named():
    with pytest.raises(ValueError, match="nope"):
        OKDDipDistiller([models.mlp(8), models.mlp(8)], "nope")
