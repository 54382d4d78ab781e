"""KSANC: adversarial distillation of logits with intermediate supervision by squeezed knowledge.

Shu et al. train the student against a discriminator D on logits (the
teacher's real, the student's fake) and add two regression terms:

    L = lambda_adv * L_adv + lambda_b * L_b + lambda_is * L_is   (+ w * CE, w = 0 as in the paper)

    L_b   = ||z_T - z_S||_2^2                                  backbone: the logits
    L_is  = sum_stages ||SKD_T - P(SKD_S)||_2^2                intermediate supervision
    L_adv = BCE(D(z_S), real) + CE(y, C(z_S))                  the student's side of the game

D has two heads (AC-GAN style): a real/fake score D(z) and class logits
C(z), so that matching stays tied to the labels. It minimizes, with its
own optimizer, on the student's logits through `stop_gradient`:

    L_D = BCE(D(z_T), real) + BCE(D(z_S), fake) + CE(y, C(z_T)) + CE(y, C(z_S))
          + l1 * ||w_D||_1 + l2 * ||w_D||_2^2 + BCE(D(dropout(z_S)), real)

The last three are the regularizers of the adversarial compression work
KSANC builds on (Belagiannis et al., "Adversarial Network Compression",
2018), which keep D from winning trivially: L1 and L2 on its weights and
"adversarial samples", student outputs under dropout that D must call real.
Their paper applies dropout inside the student; here it is applied to the
logits D sees, which needs no second student pass.

Squeezed knowledge descriptor (the attention estimator of Jetley et al.,
"Learn to Pay Attention", ICLR 2018, which KSANC's "task-driven attention"
follows): from a feature map F `(H, W, C)` and the global descriptor g (the
softmax input, i.e. the logits),

    c_u = <u, F_u + A g>,   a = softmax_u(c),   SKD = sum_u a_u F_u   (a C-vector)

The teacher's estimator is task-driven: a linear classifier on SKD_T is
trained on the labels (logged `ksanc/teacher_attention_ce`) while the
teacher stays frozen, and L_is reaches it only through `stop_gradient`, so
it cannot collapse onto what the student finds easy. The student's SKD is
projected by a linear map P to the teacher's width.

What was verified: the structure L = L_adv + L_b + L_is and the terms'
definitions come from the abstract and secondary descriptions of the paper
(arXiv 1904.05100; Li et al.'s hierarchical extension, AAAI 2020); the
authors released no code, and the relative weights, D's widths and the
regularizers' strengths were not recovered, so the defaults below are ours
(all 1.0; l1 = l2 = 1e-5; D = two LeakyReLU layers of 128).
"""

import keras
from keras import ops

from keras_kd import serialization
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import weighted_mean
from keras_kd.methods import registry
from keras_kd.step import OptimizerGroup
from keras_kd.step import StepResult

OWNER = "KSANCDistiller"


def logit_discriminator(num_classes, hidden=(128, 128), name="logit_discriminator"):
    """D on logits: LeakyReLU(0.2) layers, then `1 + num_classes` outputs (real/fake score, class logits)."""
    inputs = keras.Input((num_classes,))
    x = inputs
    for i, width in enumerate(hidden):
        x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(width, name=f"dense{i + 1}")(x))
    return keras.Model(inputs, keras.layers.Dense(1 + num_classes, name="heads")(x), name=name)


def binary_cross_entropy(score_logits, target):
    """mean BCE of sigmoid(score_logits) against the constant `target` (1 real, 0 fake)."""
    score_logits = ops.cast(score_logits, "float32")
    return ops.mean(ops.binary_crossentropy(ops.full_like(score_logits, target), score_logits, from_logits=True))


def class_cross_entropy(y, class_logits):
    """mean sparse CE of D's class head against the labels."""
    return ops.mean(ops.sparse_categorical_crossentropy(y, ops.cast(class_logits, "float32"), from_logits=True))


def weight_penalty(weights, l1, l2):
    """l1 * sum |w| + l2 * sum w^2 over D's weights (kernels and biases)."""
    total = ops.zeros((), "float32")
    for w in weights:
        total = total + l1 * ops.sum(ops.abs(w)) + l2 * ops.sum(ops.square(w))
    return total


def squeezed_descriptor(features, scores):
    """SKD = sum_u softmax_u(scores)_u F_u for a map `(N, H, W, C)` and scores `(N, H, W)`: `(N, C)`."""
    features = ops.cast(features, "float32")
    n, channels = ops.shape(features)[0], features.shape[-1]
    attention = ops.softmax(ops.reshape(ops.cast(scores, "float32"), (n, -1)), axis=-1)
    return ops.sum(attention[..., None] * ops.reshape(features, (n, -1, channels)), axis=1)


@keras.saving.register_keras_serializable(package="keras_kd")
class SqueezedKnowledge(keras.layers.Layer):
    """The attention estimator: c_u = <u, F_u + A g>, SKD = sum_u softmax(c)_u F_u.

    Called on `(feature_map, global_descriptor)`; returns `(SKD, scores)`.
    """

    def build(self, input_shape):
        feature_shape, global_shape = input_shape
        channels = int(feature_shape[-1])
        self.project_global = keras.layers.Dense(channels, use_bias=False, name="project_global")
        self.project_global.build(tuple(global_shape))
        self.compatibility = self.add_weight(name="compatibility", shape=(channels,), initializer="glorot_uniform")

    def call(self, inputs):
        features, global_descriptor = inputs
        features = ops.cast(features, "float32")
        g = self.project_global(ops.cast(global_descriptor, "float32"))
        scores = ops.sum((features + g[:, None, None, :]) * self.compatibility, axis=-1)
        return squeezed_descriptor(features, scores), scores


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("ksanc")
class KSANCDistiller(Distiller):
    """KSANC: a logit discriminator, logit regression and squeezed-knowledge supervision.

    Logs `ksanc/backbone` (L_b), `ksanc/squeezed` (L_is), `ksanc/adversarial`
    (L_adv), `ksanc/teacher_attention_ce`, `discriminator/loss` and
    `discriminator/regularization`.

    Args:
        teacher, student: classifiers returning logits of one shape.
        stages: `[(teacher_layer, student_layer), ...]`, the feature maps
            `(N, H, W, C)` whose squeezed descriptors are matched (sizes may
            differ: each map is pooled by its own attention).
        distillation_losses, distillation_loss_weights: other terms, if any.
            Defaults to `None`.
        student_loss_weight: w, the weight of the student's own CE.
            Defaults to 0.0 (the paper's loss has none; labels enter through
            D's class head and the teacher's estimator).
        name: defaults to `"ksanc_distiller"`.
        adversarial_weight, backbone_weight, squeezed_weight: lambda_adv,
            lambda_b, lambda_is. Default to 1.0.
        discriminator: a model from logits `(N, K)` to `(N, 1 + K)`. Defaults
            to `logit_discriminator(K)`.
        discriminator_optimizer: defaults to `keras.optimizers.Adam(1e-4)`.
        l1, l2: D's weight penalties. Default to 1e-5 each.
        adversarial_dropout: the dropout rate of the adversarial samples.
            Defaults to 0.5.
        seed: for the dropout. Defaults to `None`.
        views, paired_inputs: as for `keras_kd.Distiller`.

    Reference:
        Shu, Li, Xie, Qu, Dai and Ma, "Knowledge Squeezed Adversarial
        Network Compression", arXiv 1904.05100, 2019; Li, Shu, Xie, Qu and
        Kong, "Hierarchical Knowledge Squeezed Adversarial Network
        Compression", AAAI 2020.

    Example:

    ```python
    ksanc = KSANCDistiller(teacher, student, [("block2", "block2"), ("block3", "block3")])
    ksanc.compile("adam")  # no student loss: w = 0
    ksanc.fit(x_train, y_train, epochs=10)
    ```
    """

    brings_own_losses = True

    def __init__(
        self, teacher, student, stages, distillation_losses=None, distillation_loss_weights=None,
        student_loss_weight=0.0, name="ksanc_distiller", *, adversarial_weight=1.0, backbone_weight=1.0,
        squeezed_weight=1.0, discriminator=None, discriminator_optimizer=None, l1=1e-5, l2=1e-5,
        adversarial_dropout=0.5, seed=None, views=None, paired_inputs=False,
    ):  # fmt: skip
        self.stages = [tuple(stage) for stage in stages]
        if not self.stages or any(len(stage) != 2 for stage in self.stages):
            raise ValueError(
                f"{OWNER}: `stages` must be a non-empty list of (teacher_layer, student_layer) pairs. Received: {stages!r}."
            )
        self.adversarial_weight = validation.check_non_negative_number("adversarial_weight", adversarial_weight, owner=OWNER)
        self.backbone_weight = validation.check_non_negative_number("backbone_weight", backbone_weight, owner=OWNER)
        self.squeezed_weight = validation.check_non_negative_number("squeezed_weight", squeezed_weight, owner=OWNER)
        self.l1 = validation.check_non_negative_number("l1", l1, owner=OWNER)
        self.l2 = validation.check_non_negative_number("l2", l2, owner=OWNER)
        self.adversarial_dropout = validation.check_non_negative_number("adversarial_dropout", adversarial_dropout, owner=OWNER)
        if self.adversarial_dropout >= 1.0:
            raise ValueError(
                f"{OWNER}: `adversarial_dropout` is a dropout rate in [0, 1). Received: {adversarial_dropout!r}. "
                f"Use 0 to leave the adversarial samples out (the paper's regularizer uses 0.5)."
            )
        super().__init__(
            teacher, student, distillation_losses, distillation_loss_weights, student_loss_weight, name,
            views=views, paired_inputs=paired_inputs,
        )  # fmt: skip
        logits_shape = tuple(student.outputs[0].shape[1:])
        if len(logits_shape) != 1 or tuple(teacher.outputs[0].shape[1:]) != logits_shape:
            raise ValueError(
                f"{OWNER}: teacher and student must return logits (N, classes) of one shape. "
                f"Received: {tuple(teacher.outputs[0].shape[1:])} and {logits_shape}."
            )
        num_classes = logits_shape[0]
        self.teacher_estimators, self.student_estimators, self.teacher_heads, self.projections = [], [], [], []
        for i, (t_layer, s_layer) in enumerate(self.stages):
            t_shape = self._teacher_taps[None].feature_shape(t_layer)
            s_shape = self._student_tap.feature_shape(s_layer)
            if len(t_shape) != 3 or len(s_shape) != 3:
                raise ValueError(
                    f"{OWNER}: stage {i} must name feature maps (N, H, W, C). Received: "
                    f"{t_layer!r} {tuple(t_shape)} and {s_layer!r} {tuple(s_shape)}."
                )
            self.teacher_estimators.append(self._built(SqueezedKnowledge(name=f"teacher_attention{i}"), [(None, *t_shape), (None, num_classes)]))
            self.student_estimators.append(self._built(SqueezedKnowledge(name=f"student_attention{i}"), [(None, *s_shape), (None, num_classes)]))
            self.teacher_heads.append(self._built(keras.layers.Dense(num_classes, name=f"teacher_attention_head{i}"), (None, t_shape[-1])))
            self.projections.append(self._built(keras.layers.Dense(t_shape[-1], name=f"projection{i}"), (None, s_shape[-1])))
        self.discriminator = discriminator if discriminator is not None else logit_discriminator(num_classes)
        self.discriminator_optimizer = (
            discriminator_optimizer if discriminator_optimizer is not None else keras.optimizers.Adam(1e-4)
        )
        self.seed = seed
        self.noise = keras.random.SeedGenerator(seed)
        self.track_measurements([
            "ksanc/backbone", "ksanc/squeezed", "ksanc/adversarial", "ksanc/teacher_attention_ce",
            "discriminator/loss", "discriminator/regularization",
        ])  # fmt: skip

    @staticmethod
    def _built(layer, shape):
        layer.build(shape)
        return layer

    def tap_layers(self, terms, *, role):
        index = 0 if role == "teacher" else 1
        return list(dict.fromkeys([*super().tap_layers(terms, role=role), *(stage[index] for stage in self.stages)]))

    def squeezed_terms(self, batch, teacher, student):
        """`(L_is per sample, the teacher estimators' CE)` summed over the stages."""
        squeezed, attention_ce = 0.0, ops.zeros((), "float32")
        z_t, z_s = ops.cast(teacher.outputs, "float32"), ops.cast(student.outputs, "float32")
        for i, (t_layer, s_layer) in enumerate(self.stages):
            skd_t, _ = self.teacher_estimators[i]((teacher.features[t_layer], z_t))
            skd_s, _ = self.student_estimators[i]((student.features[s_layer], z_s))
            squeezed = squeezed + ops.sum(ops.square(ops.stop_gradient(skd_t) - self.projections[i](skd_s)), axis=-1)
            if batch.y is not None:
                attention_ce = attention_ce + class_cross_entropy(batch.y, self.teacher_heads[i](skd_t))
        return squeezed, attention_ce

    def discriminator_loss(self, y, z_t, z_s, training):
        """L_D (with its regularizers) on the teacher's and the (stopped) student's logits."""
        z_s = ops.stop_gradient(z_s)
        real, fake = self.discriminator(z_t, training=training), self.discriminator(z_s, training=training)
        dropped = keras.random.dropout(z_s, self.adversarial_dropout, seed=self.noise) if self.adversarial_dropout else z_s
        adversarial_samples = self.discriminator(dropped, training=training)
        loss = binary_cross_entropy(real[:, 0], 1.0) + binary_cross_entropy(fake[:, 0], 0.0)
        if y is not None:
            loss = loss + class_cross_entropy(y, real[:, 1:]) + class_cross_entropy(y, fake[:, 1:])
        regularization = weight_penalty(self.discriminator.trainable_weights, self.l1, self.l2)
        regularization = regularization + binary_cross_entropy(adversarial_samples[:, 0], 1.0)
        return loss + regularization, regularization

    def compute_distillation(self, batch, teacher, training):
        student = self.student_forward(batch.x_student, training=training)
        result = self.combined_losses(batch, teacher, student, training)  # one student pass for every term
        z_t, z_s = ops.cast(teacher.outputs, "float32"), ops.cast(student.outputs, "float32")
        backbone = weighted_mean(ops.sum(ops.square(z_t - z_s), axis=-1), batch.sample_weight)
        squeezed, attention_ce = self.squeezed_terms(batch, teacher, student)
        squeezed = weighted_mean(squeezed, batch.sample_weight)
        judged = self.discriminator(z_s, training=training)
        adversarial = binary_cross_entropy(judged[:, 0], 1.0)
        if batch.y is not None:
            adversarial = adversarial + class_cross_entropy(batch.y, judged[:, 1:])
        d_loss, d_regularization = self.discriminator_loss(batch.y, z_t, z_s, training)
        total = (
            result.loss + self.adversarial_weight * adversarial + self.backbone_weight * backbone
            + self.squeezed_weight * squeezed + attention_ce
        )  # fmt: skip
        measurements = {
            **result.measurements, "ksanc/backbone": backbone, "ksanc/squeezed": squeezed, "ksanc/adversarial": adversarial,
            "ksanc/teacher_attention_ce": attention_ce, "discriminator/loss": d_loss,
            "discriminator/regularization": d_regularization,
        }  # fmt: skip
        return StepResult(total, measurements, result.predictions, group_losses={"discriminator": d_loss})

    def optimizer_groups(self):
        d_ids = {id(v) for v in self.discriminator.trainable_variables}
        main = [v for v in self.trainable_variables if id(v) not in d_ids]
        return [
            OptimizerGroup("loss", self.optimizer, main),
            OptimizerGroup("discriminator", self.discriminator_optimizer, self.discriminator.trainable_variables),
        ]

    def get_config(self):
        return {
            **super().get_config(), "stages": [list(stage) for stage in self.stages],
            "adversarial_weight": self.adversarial_weight, "backbone_weight": self.backbone_weight,
            "squeezed_weight": self.squeezed_weight, "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "discriminator_optimizer": keras.saving.serialize_keras_object(self.discriminator_optimizer),
            "l1": self.l1, "l2": self.l2, "adversarial_dropout": self.adversarial_dropout, "seed": self.seed,
        }  # fmt: skip

    @classmethod
    def from_config(cls, config):
        config = serialization.deserialize_fields(config, objects=("discriminator", "discriminator_optimizer"))
        return super().from_config.__func__(cls, config)
