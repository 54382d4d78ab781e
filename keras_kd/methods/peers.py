"""Peers trained together: the container online-distillation methods train.

`PeerGroup(models, predict_with=...)` holds K logits models as one
`keras.Model`, so a Distiller trains, saves and restores them together
while each stays usable, savable and exportable alone
(`group.peers[k].save(...)`). Calling the group returns one peer's logits
or the ensemble's, log(mean_k softmax(z_k)), whose softmax is the mean of
the peers' probabilities (`predict_with`).

`peer_taps` gives each peer a feature tap (one pass: logits and features);
`peer_losses` gives each peer's compiled loss on the labels and its
accuracy, logged as `peer_<k>/...` by `MutualDistiller`, `OKDDipDistiller`
and `AFDDistiller`.
"""

import keras
from keras import ops

from keras_kd import model_checks
from keras_kd import serialization
from keras_kd import taps
from keras_kd import validation
from keras_kd.losses.base import sparse_labels

ENSEMBLE = "ensemble"


def ensemble_log_probabilities(logits_list):
    """log(mean_k softmax(z_k)): logits whose softmax is the peers' mean prediction."""
    probabilities = ops.stack([ops.softmax(ops.cast(z, "float32"), axis=-1) for z in logits_list], axis=0)
    return ops.log(ops.maximum(ops.mean(probabilities, axis=0), 1e-30))


def check_peers(models, *, owner, minimum=2):
    """Raises unless `models` is a list of at least `minimum` distinct logits models."""
    if not isinstance(models, (list, tuple)) or len(models) < minimum:
        count = len(models) if isinstance(models, (list, tuple)) else type(models).__name__
        raise validation.ArgumentTypeError(
            f"{owner}: `models` must be a list of at least {minimum} keras.Model peers. "
            f"Received: {count}."
        )
    for index, model in enumerate(models):
        model_checks.check_model(f"peer {index}", model, owner=owner)
        model_checks.check_logits_output(f"peer {index}", model, owner=owner)
        if any(model is other for other in models[:index]):
            raise ValueError(
                f"{owner}: peer {index} is the same model object as an earlier peer "
                f"({model.name!r}). Build a fresh model for each peer."
            )
    shapes = {tuple(m.outputs[0].shape[1:]) for m in models if model_checks.is_graph_model(m)}
    if len(shapes) > 1:
        raise ValueError(f"{owner}: every peer must predict the same classes. Received output shapes {sorted(shapes)}.")
    return list(models)


@keras.saving.register_keras_serializable(package="keras_kd")
class PeerGroup(keras.Model):
    """K peer models as one model; calling it returns one peer's or the ensemble's logits.

    Args:
        peers: the logits models.
        predict_with: the index of the peer whose logits `call` (and so
            `predict`, `evaluate`'s metrics and export of the group)
            returns, or `"ensemble"`. Defaults to 0.
    """

    def __init__(self, peers, predict_with=0, **kwargs):
        super().__init__(**kwargs)
        self.peers = list(peers)
        if predict_with != ENSEMBLE and (
            isinstance(predict_with, bool) or not isinstance(predict_with, int) or not 0 <= predict_with < len(self.peers)
        ):
            raise ValueError(
                f"PeerGroup: `predict_with` must be a peer index in [0, {len(self.peers) - 1}] "
                f"or 'ensemble'. Received: predict_with={predict_with!r}."
            )
        self.predict_with = predict_with
        self.built = all(peer.built for peer in self.peers)

    def select(self, logits_list):
        """The prediction `predict_with` picks from every peer's logits."""
        if self.predict_with == ENSEMBLE:
            return ensemble_log_probabilities(logits_list)
        return logits_list[self.predict_with]

    def call(self, x, training=None):
        if self.predict_with == ENSEMBLE:
            return self.select([peer(x, training=training) for peer in self.peers])
        return self.peers[self.predict_with](x, training=training)

    def get_config(self):
        return {
            "name": self.name,
            "peers": [keras.saving.serialize_keras_object(p) for p in self.peers],
            "predict_with": self.predict_with,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**serialization.deserialize_fields(config, lists=("peers",)))


def peer_taps(peers, layer_names=()):
    """One `taps.Tap` per peer over `layer_names` (trainable: no stop-gradient)."""
    return [taps.Tap(peer, list(layer_names), role=f"peer {k}") for k, peer in enumerate(peers)]


def accuracy(y, logits):
    """Top-1 accuracy of `logits` against sparse, one-hot or mixed labels."""
    labels = ops.cast(sparse_labels(y, logits), "int32")
    return ops.mean(ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels), "float32"))


def peer_losses(distiller, batch, logits_list, *, prefix="peer"):
    """Each peer's compiled loss on the labels and its accuracy.

    Returns:
        `(losses, measurements)`: one loss per peer, and
        `{f"{prefix}_{k}/ce": ..., f"{prefix}_{k}/accuracy": ...}`.
    """
    losses, measurements = [], {}
    for k, logits in enumerate(logits_list):
        loss = distiller.student_loss(batch, logits)
        losses.append(loss)
        measurements[f"{prefix}_{k}/ce"] = loss
        if batch.labels is not None:
            measurements[f"{prefix}_{k}/accuracy"] = accuracy(batch.labels, logits)
    return losses, measurements


def peer_measurement_names(count, extra=(), *, prefix="peer"):
    """The names `peer_losses` logs, plus `extra` per peer (e.g. `"kl"`)."""
    return [f"{prefix}_{k}/{part}" for k in range(count) for part in ("ce", "accuracy", *extra)]
