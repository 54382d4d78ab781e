"""AFD: online distillation where each network's feature maps are judged by a discriminator.

K networks train together from scratch. Network k is a feature extractor
G_k (through `feature_layer`, its last feature map) and a classifier. With
z_k the logits and D_k a discriminator per network, over the batch:

    logits:        L_k = CE(y, z_k) + T^2 * KL(s_T(sg z_l) || s_T(z_k))   (DML, l = k's peer)
    extractor:     L_G,k = E[(1 - D_k(G_k(x)))^2]
    discriminator: L_D,k = E[(1 - D_k(sg G_l(x)))^2] + E[D_k(sg G_k(x))^2]

(least-squares GAN). D_k calls the peer's map real and its own fake, so
G_k learns to produce maps distributed as its peer's. For K > 2 knowledge
flows in a cycle: peer l of k is k - 1 (of network 1, network K), so there
are K discriminators rather than K(K - 1); the logit KL follows the same
cycle (that it does in the paper was not verified).

Three optimizers, one forward pass: the networks minimize sum_k L_k with
the compiled optimizer; the extractors also minimize sum_k L_G,k with
`generator_optimizer` (the paper's adversarial learning rate is far
smaller: Adam 2e-5); the discriminators minimize sum_k L_D,k with
`discriminator_optimizer` (the same). The discriminators never ship.
"""

import keras
from keras import ops

from keras_kd import model_graph
from keras_kd import serialization
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD
from keras_kd.methods import peers as peer_utils
from keras_kd.methods import registry
from keras_kd.step import OptimizerGroup
from keras_kd.step import StepResult

OWNER = "AFDDistiller"


def feature_discriminator(shape, name):
    """Conv(C/2, 3x3) - BN - LeakyReLU(0.2) - Conv(1, 3x3, stride 2) - mean - sigmoid: one score per map."""
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(max(int(shape[-1]) // 2, 1), 3, padding="same")(inputs)
    x = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x))
    x = keras.layers.Conv2D(1, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.GlobalAveragePooling2D()(x)), name=name)


def discriminator_loss(real_scores, fake_scores):
    """Least squares: E[(1 - D(real))^2] + E[D(fake)^2]."""
    return ops.mean(ops.square(1.0 - real_scores)) + ops.mean(ops.square(fake_scores))


def generator_loss(fake_scores):
    """Least squares: E[(1 - D(fake))^2]."""
    return ops.mean(ops.square(1.0 - fake_scores))


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("afd")
class AFDDistiller(Distiller):
    """Online adversarial feature-map distillation between K networks.

    Logs `peer_k/ce`, `peer_k/kl`, `peer_k/accuracy`, `peer_k/generator` and
    `peer_k/discriminator` per network.

    Args:
        models: K >= 2 freshly built logits models whose `feature_layer`
            outputs maps of one shape `(N, H, W, C)`.
        feature_layer: the last feature map of each network (before pooling).
        name: defaults to `"afd_distiller"`.
        predict_with: as for `MutualDistiller`. Defaults to 0.
        temperature: T of the logit KL. Defaults to 3.0 (the paper's).
        generator_optimizer, discriminator_optimizer: default to
            `keras.optimizers.Adam(2e-5)` each.
        views: a `keras_kd.augment.Views`. Defaults to `None`.

    Reference:
        Chung, Park, Kim and Kwak, "Feature-map-level Online Adversarial
        Knowledge Distillation", ICML 2020.

    Example:

    ```python
    afd = AFDDistiller([zoo.student_cnn(), zoo.student_cnn()], "block3",
                       generator_optimizer=keras.optimizers.Adam(2e-5))
    afd.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    afd.fit(x_train, y_train, epochs=10)
    afd.peers[0].save("network_0.keras")
    ```
    """

    def __init__(
        self, models, feature_layer, *, name="afd_distiller", predict_with=0, temperature=3.0,
        generator_optimizer=None, discriminator_optimizer=None, views=None,
    ):  # fmt: skip
        models = peer_utils.check_peers(models, owner=OWNER)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=OWNER)
        self.feature_layer = feature_layer
        peer_taps = peer_utils.peer_taps(models, [feature_layer])
        shapes = {tuple(tap.feature_shape(feature_layer)) for tap in peer_taps}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(
                f"{OWNER}: every network's {feature_layer!r} must output maps (H, W, C) of one shape. "
                f"Received: {sorted(shapes)}."
            )
        super().__init__(
            None, peer_utils.PeerGroup(models, predict_with=predict_with, name="peers"), student_loss_weight=1.0,
            name=name, views=views,
        )  # fmt: skip
        self.discriminators = [feature_discriminator(next(iter(shapes)), f"discriminator_{k}") for k in range(len(models))]
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-5)
        self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(2e-5)
        self.__dict__.update(_peer_taps=peer_taps, _mimicry=KD(self.temperature))
        self.track_measurements(peer_utils.peer_measurement_names(len(models), ("kl", "generator", "discriminator")))

    @property
    def peers(self):
        return self.student.peers

    def extractor_variables(self, k):
        """Network k's variables up to `feature_layer` (its feature extractor G_k)."""
        peer = self.peers[k]
        names = model_graph.ancestors(peer, self.feature_layer)
        return [v for layer in peer.layers if layer.name in names for v in layer.trainable_variables]

    def compute_distillation(self, batch, teacher, training):
        del teacher  # none: the networks teach each other
        outputs = [tap(batch.x_student, training=training) for tap in self._peer_taps]
        logits = [out.outputs for out in outputs]
        maps = [ops.cast(out.features[self.feature_layer], "float32") for out in outputs]
        ce, measurements = peer_utils.peer_losses(self, batch, logits)
        count = len(logits)
        generator, discriminator, kls = 0.0, 0.0, []
        for k in range(count):
            peer = (k - 1) % count  # the cycle: for two networks, each other
            kl = self._mimicry.compute_loss(ops.stop_gradient(logits[peer]), logits[k], sample_weight=batch.sample_weight)
            d_loss = discriminator_loss(
                self.discriminators[k](ops.stop_gradient(maps[peer]), training=training),
                self.discriminators[k](ops.stop_gradient(maps[k]), training=training),
            )
            g_loss = generator_loss(self.discriminators[k](maps[k], training=training))
            kls.append(kl)
            generator, discriminator = generator + g_loss, discriminator + d_loss
            measurements.update({f"peer_{k}/kl": kl, f"peer_{k}/generator": g_loss, f"peer_{k}/discriminator": d_loss})
        total = sum(c + kl for c, kl in zip(ce, kls)) + self.regularization_loss()
        measurements.update({"student_loss": sum(ce) / count, "distillation_loss": sum(kls) / count})
        return StepResult(
            total, measurements, self.student.select(logits),
            group_losses={"generator": generator, "discriminator": discriminator},
        )

    def optimizer_groups(self):
        networks = self.student.trainable_variables
        extractors = [v for k in range(len(self.peers)) for v in self.extractor_variables(k)]
        critics = [v for d in self.discriminators for v in d.trainable_variables]
        return [
            OptimizerGroup("loss", self.optimizer, networks),
            OptimizerGroup("generator", self.generator_optimizer, extractors, shared=True),
            OptimizerGroup("discriminator", self.discriminator_optimizer, critics),
        ]

    def get_config(self):
        config = {key: value for key, value in self.base_config().items() if key not in ("teacher", "student", "paired_inputs")}
        serialize = keras.saving.serialize_keras_object
        return {
            **config, "models": [serialize(p) for p in self.peers], "feature_layer": self.feature_layer,
            "predict_with": self.student.predict_with, "temperature": self.temperature,
            "generator_optimizer": serialize(self.generator_optimizer),
            "discriminator_optimizer": serialize(self.discriminator_optimizer),
        }  # fmt: skip

    @classmethod
    def from_config(cls, config):
        objects = ("views", "generator_optimizer", "discriminator_optimizer")
        return cls(**serialization.deserialize_fields(config, objects=objects, lists=("models",)))
