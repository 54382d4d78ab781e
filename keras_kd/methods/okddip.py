"""OKDDip: online distillation with diverse peers and a group leader.

m models of one architecture train together: m - 1 auxiliary peers and a
group leader (the last model, the one that ships). Two levels of
distillation, with z_a the logits of peer a and h_a its pooled last-stage
feature (`feature_layer`, global-average-pooled when it is a map):

1. Each peer a learns from its own aggregate of the peers' logits, weighted
   by attention learned per sample from the features, with shared,
   bias-free projections W_L (query) and W_E (key) to d / 8 dimensions:

       alpha_ab = softmax_b( (W_L h_a) . (W_E h_b) ),    t_a = sum_b alpha_ab z_b

   (self included, no 1/sqrt(d) scaling, over the m - 1 peers). Peers
   weighing each other differently keep them diverse.
2. The leader learns from the peers' mean logits t_m = mean_a z_a.

    L = sum_{a=1..m} CE(y, z_a)
        + lambda(step) * T^2 * [ sum_{a<m} KL(s_T(t_a) || s_T(z_a)) + KL(s_T(t_m) || s_T(z_m)) ]

with s_T the tempered softmax. As in the authors' code (`DefangChen/OKDDip`),
the targets keep their gradients by default (`detach_targets=False`): the
projections learn only through them, and the leader's KL also reaches the
peers; `detach_targets=True` stops them (the projections then stay at their
initial values). The code aggregates logits and softens afterwards (the
paper writes the aggregate over predictions); this follows the code. The
paper ramps lambda up over 80 epochs along exp(-5 (1 - e/80)^2): pass
`distillation_weight=keras_kd.schedules.SigmoidRampUp(80 * steps_per_epoch)`.
"""

import keras
from keras import ops

from keras_kd import schedules
from keras_kd import serialization
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD
from keras_kd.methods import peers as peer_utils
from keras_kd.methods import registry
from keras_kd.step import StepResult

OWNER = "OKDDipDistiller"


def attention_weights(queries, keys):
    """alpha `(N, P, P)`: softmax over b of q_a . k_b, from `(N, P, d)` queries and keys."""
    return ops.softmax(ops.einsum("npd,nqd->npq", queries, keys), axis=-1)


def aggregate(alpha, logits):
    """t_a = sum_b alpha_ab z_b: `(N, P, P)` weights and `(N, P, C)` logits -> `(N, P, C)`."""
    return ops.einsum("npq,nqc->npc", alpha, logits)


def pooled(feature):
    """A feature vector per sample: maps `(N, H, W, C)` are averaged over space."""
    feature = ops.cast(feature, "float32")
    return ops.mean(feature, axis=tuple(range(1, len(feature.shape) - 1))) if len(feature.shape) > 2 else feature


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("okddip")
class OKDDipDistiller(Distiller):
    """OKDDip: auxiliary peers with attention-weighted targets and a group leader.

    Logs `peer_k/ce` and `peer_k/accuracy` for every model (the last, peer
    m-1, is the leader), `distill/first_level`, `distill/second_level` and
    `distillation_weight`. `predict`, `call` and the compiled metrics use
    the leader.

    Args:
        models: m >= 2 freshly built logits models of one architecture,
            the m - 1 peers first and the group leader last.
        feature_layer: the layer of each peer whose output is h_a (its
            last stage, before the classifier).
        name: defaults to `"okddip_distiller"`.
        temperature: T > 0. Defaults to 3.0 (the code's).
        distillation_weight: lambda >= 0, or a Keras schedule of the step
            (`keras_kd.schedules.SigmoidRampUp`). Defaults to 1.0.
        projection_ratio: the projections map d to d // ratio
            dimensions. Defaults to 8.
        detach_targets: stop the gradient through t_a and t_m. Defaults to
            `False` (the code's behaviour).
        views: a `keras_kd.augment.Views`. Defaults to `None`.

    Reference:
        Chen, Mei, Wang, Feng and Chen, "Online Knowledge Distillation with
        Diverse Peers", AAAI 2020 (arXiv:1912.00350).

    Example:

    ```python
    okddip = OKDDipDistiller([zoo.student_cnn() for _ in range(4)], feature_layer="embed",
                             distillation_weight=schedules.SigmoidRampUp(4 * 469))
    okddip.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    okddip.fit(x_train, y_train, epochs=10)
    okddip.leader.save("leader.keras")
    ```
    """

    def __init__(
        self, models, feature_layer, *, name="okddip_distiller", temperature=3.0, distillation_weight=1.0,
        projection_ratio=8, detach_targets=False, views=None,
    ):  # fmt: skip
        models = peer_utils.check_peers(models, owner=OWNER)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=OWNER)
        self.distillation_weight = schedules.check_weight("distillation_weight", distillation_weight, owner=OWNER)
        self.projection_ratio = validation.check_positive_int("projection_ratio", projection_ratio, owner=OWNER)
        self.detach_targets = validation.check_bool("detach_targets", detach_targets, owner=OWNER)
        self.feature_layer = feature_layer
        group = peer_utils.PeerGroup(models, predict_with=len(models) - 1, name="peers")
        taps = peer_utils.peer_taps(models[:-1], [feature_layer])  # checks the layer exists in every peer
        super().__init__(None, group, student_loss_weight=1.0, name=name, views=views)
        self.__dict__.update(_peer_taps=taps, _mimicry=KD(self.temperature))
        dim = int(taps[0].feature_shape(feature_layer)[-1])
        projected = max(dim // self.projection_ratio, 1)
        self.query_projection = keras.layers.Dense(projected, use_bias=False, name="query_projection")
        self.key_projection = keras.layers.Dense(projected, use_bias=False, name="key_projection")
        for projection in (self.query_projection, self.key_projection):
            projection.build((None, dim))
            # Detached targets give the projections no gradient: they stay as initialized.
            projection.trainable = not self.detach_targets
        names = peer_utils.peer_measurement_names(len(models))
        self.track_measurements(names + ["distill/first_level", "distill/second_level", "distillation_weight"])

    @property
    def peers(self):
        """Every model, the leader last."""
        return self.student.peers

    @property
    def leader(self):
        """The group leader: the model that ships."""
        return self.student.peers[-1]

    def attention(self, x):
        """The attention weights alpha `(N, m-1, m-1)` on inputs `x` (inference mode)."""
        features = [pooled(tap(x, training=False).features[self.feature_layer]) for tap in self._peer_taps]
        return self._attention(ops.stack(features, axis=1))

    def _attention(self, features):
        return attention_weights(self.query_projection(features), self.key_projection(features))

    def compute_distillation(self, batch, teacher, training):
        del teacher  # none: the peers and the leader teach each other
        outputs = [tap(batch.x_student, training=training) for tap in self._peer_taps]
        peer_logits = [out.outputs for out in outputs]
        leader_logits = self.leader(batch.x_student, training=training)
        logits = peer_logits + [leader_logits]
        ce, measurements = peer_utils.peer_losses(self, batch, logits)
        features = ops.stack([pooled(out.features[self.feature_layer]) for out in outputs], axis=1)
        stacked = ops.cast(ops.stack(peer_logits, axis=1), "float32")
        targets = aggregate(self._attention(features), stacked)
        leader_target = ops.mean(stacked, axis=1)
        if self.detach_targets:
            targets, leader_target = ops.stop_gradient(targets), ops.stop_gradient(leader_target)
        weight = batch.sample_weight
        first = sum(
            self._mimicry.compute_loss(targets[:, a], peer_logits[a], sample_weight=weight) for a in range(len(peer_logits))
        )  # fmt: skip
        second = self._mimicry.compute_loss(leader_target, leader_logits, sample_weight=weight)
        step = self.optimizer.iterations if self.optimizer is not None else 0
        lam = schedules.weight_at(self.distillation_weight, step)
        total = sum(ce) + lam * (first + second) + self.regularization_loss()
        measurements.update({
            "student_loss": sum(ce) / len(ce), "distillation_loss": first + second,
            "distill/first_level": first, "distill/second_level": second, "distillation_weight": lam,
        })  # fmt: skip
        return StepResult(total, measurements, leader_logits)

    def get_config(self):
        config = {key: value for key, value in self.base_config().items() if key not in ("teacher", "student", "paired_inputs")}
        return {
            **config,
            "models": [keras.saving.serialize_keras_object(p) for p in self.peers],
            "feature_layer": self.feature_layer,
            "temperature": self.temperature,
            "distillation_weight": keras.saving.serialize_keras_object(self.distillation_weight),
            "projection_ratio": self.projection_ratio,
            "detach_targets": self.detach_targets,
        }

    @classmethod
    def from_config(cls, config):
        config = serialization.deserialize_fields(config, objects=("views", "distillation_weight"), lists=("models",))
        return cls(**config)
