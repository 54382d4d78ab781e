import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd.methods import MutualDistiller
from keras_kd.methods import peers as peer_utils
from keras_kd.step import make_batch
from tests import models
from tests import reference


def _peers(count=3):
    return [models.mlp(8 + 4 * k, name=f"peer{k}") for k in range(count)]


@pytest.mark.parametrize("mode", ["paper", "code"])
def test_each_peers_loss_matches_numpy(vectors, sparse_ce, mode):
    x, y = vectors(32)
    peers = _peers()
    dml = MutualDistiller(peers, temperature=2.0, distillation_weight=0.7, mode=mode)
    dml.compile(loss=sparse_ce)
    got = dml.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    logits = [p.predict(x, verbose=0) for p in peers]
    ce, kl = reference.dml(logits, y, temperature=2.0, mode=mode)
    for k in range(3):
        np.testing.assert_allclose(got[f"peer_{k}/ce"], ce[k], rtol=1e-5)
        np.testing.assert_allclose(got[f"peer_{k}/kl"], kl[k], rtol=1e-5)
        np.testing.assert_allclose(got[f"peer_{k}/accuracy"], np.mean(logits[k].argmax(-1) == y), rtol=1e-6)
    np.testing.assert_allclose(got["loss"], sum(c + 0.7 * k for c, k in zip(ce, kl)), rtol=1e-5)


def test_gradients_never_cross_peers_through_the_targets(vectors, sparse_ce):
    x, y = vectors(16)
    peers = _peers(2)
    dml = MutualDistiller(peers)
    dml.compile(loss=sparse_ce)
    batch = make_batch((x, y), views=None, paired_inputs=False, training=True)
    with tf.GradientTape() as tape:
        total = dml.compute_distillation(batch, None, training=True).loss
    got = tape.gradient(total, peers[1].trainable_variables)
    # Peer 1's own loss, with peer 0's prediction a numpy constant.
    target = peers[0].predict(x, verbose=0)
    with tf.GradientTape() as tape:
        z = peers[1](x, training=True)
        own = sparse_ce(y, z) + tf.reduce_mean(
            tf.reduce_sum(tf.nn.softmax(target) * (tf.nn.log_softmax(target) - tf.nn.log_softmax(z)), -1)
        )
    want = tape.gradient(own, peers[1].trainable_variables)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-7)


def test_every_peer_trains_and_identical_peers_do_not_disagree(vectors, sparse_ce):
    x, y = vectors(32)
    peers = _peers(3)
    dml = MutualDistiller(peers)
    dml.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce)
    before = [[w.copy() for w in p.get_weights()] for p in peers]
    dml.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for old, peer in zip(before, peers):
        assert all(not np.array_equal(a, b) for a, b in zip(old, peer.get_weights()))
    twin = keras.models.clone_model(peers[0])
    twin.set_weights(peers[0].get_weights())
    same = MutualDistiller([peers[0], twin])
    same.compile(loss=sparse_ce)
    logs = same.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    np.testing.assert_allclose([logs["peer_0/kl"], logs["peer_1/kl"]], 0.0, atol=1e-6)


def test_predict_uses_the_chosen_peer_or_the_ensemble_and_peers_save_alone(vectors, sparse_ce, tmp_path):
    x, y = vectors(16)
    peers = _peers(2)
    dml = MutualDistiller(peers, predict_with="ensemble")
    dml.compile(loss=sparse_ce, metrics=["accuracy"])
    dml.fit(x, y, epochs=1, verbose=0)
    logits = [p.predict(x, verbose=0) for p in peers]
    mean = (reference.softmax(logits[0]) + reference.softmax(logits[1])) / 2
    np.testing.assert_allclose(reference.softmax(dml.predict(x, verbose=0)), mean, rtol=1e-5, atol=1e-7)
    dml.save(tmp_path / "dml.keras")
    restored = keras.models.load_model(tmp_path / "dml.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), dml.predict(x, verbose=0), rtol=1e-6)
    peers[1].save(tmp_path / "peer1.keras")
    alone = keras.models.load_model(tmp_path / "peer1.keras")
    np.testing.assert_allclose(alone.predict(x, verbose=0), logits[1], rtol=1e-6)
    assert MutualDistiller(_peers(2), predict_with=1).predict(x, verbose=0).shape == (16, 10)


def test_bad_peers_are_refused():
    peer = models.mlp(8)
    with pytest.raises(ValueError, match="at least 2"):
        MutualDistiller([peer])
    with pytest.raises(ValueError, match="same model object"):
        MutualDistiller([peer, peer])
    with pytest.raises(ValueError, match="predict_with"):
        peer_utils.PeerGroup([peer, models.mlp(8)], predict_with=2)
    with pytest.raises(ValueError, match="same classes"):
        MutualDistiller([peer, models.mlp(8, num_classes=5)])
