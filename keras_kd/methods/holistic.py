"""Holistic distillation for dense prediction: a Wasserstein critic on segmentation maps.

Liu et al. add to pixel-wise and pair-wise distillation a holistic term: a
fully convolutional critic D scores (image, segmentation map) pairs, the
teacher's maps as real and the student's as fake, trained with the
Wasserstein loss and a gradient penalty (WGAN-GP):

    critic:  L_D = lambda_adv * ( E[D(I, Q_S)] - E[D(I, Q_T)]
                                  + lambda_gp * E[(||grad_Q D(I, Q_hat)||_2 - 1)^2] )
             Q_hat = eps * Q_T + (1 - eps) * Q_S,  eps ~ U(0, 1) per sample
    student: the Distiller's loss + lambda_adv * (-E[D(I, Q_S)])

with Q the softmax of the score maps and I the image resized to the maps'
size (the paper's and its CVPR 2019 code's conditioning; their later code
drops the image: `condition_on_image=False`). lambda_adv = 0.1 and
lambda_gp = 10 are the paper's. The critic has its own optimizer (the code
uses SGD 4e-4 against the student's 1e-2) and updates after seeing the
student's maps through `stop_gradient`; it never ships with the student.
Pixel-wise and pair-wise terms (`losses.PixelwiseKD`,
`losses.PairwiseAffinity`) are the usual `distillation_losses`.
"""

import keras
from keras import ops

from keras_kd import serialization
from keras_kd import validation
from keras_kd.backend import tensorflow as backend
from keras_kd.distiller import Distiller
from keras_kd.methods import registry
from keras_kd.step import OptimizerGroup
from keras_kd.step import StepResult

OWNER = "HolisticDistiller"


def critic(input_channels, widths=(64, 128, 256, 512), name="critic"):
    """The paper's critic: four 4x4 stride-2 spectral-normalized convolutions with
    LeakyReLU(0.1) and a fifth to one channel, averaged to one score per sample
    (the self-attention blocks of their code are left out). Keras's
    `SpectralNormalization` rewrites its kernel at every training call."""
    inputs = keras.Input((None, None, input_channels))
    x = inputs
    for i, width in enumerate(widths):
        conv = keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{i + 1}")
        x = keras.layers.LeakyReLU(0.1)(keras.layers.SpectralNormalization(conv, name=f"sn{i + 1}")(x))
    x = keras.layers.Conv2D(1, 4, padding="same", name=f"conv{len(widths) + 1}")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name=name)


def gradient_penalty(score_fn, real, fake, epsilon):
    """E[(||grad D(Q_hat)||_2 - 1)^2] at Q_hat = eps * real + (1 - eps) * fake, per-sample eps `(N,)`."""
    eps = ops.reshape(ops.cast(epsilon, real.dtype), (-1,) + (1,) * (len(real.shape) - 1))
    mixed = eps * real + (1.0 - eps) * fake
    grads = backend.input_gradients(score_fn, mixed)
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=tuple(range(1, len(grads.shape)))) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("holistic")
class HolisticDistiller(Distiller):
    """Dense-prediction distillation with a WGAN-GP critic on (image, map) pairs.

    Logs `distill/holistic` (the student's -E[D(I, Q_S)]), `critic/wasserstein`
    (E[D(I, Q_T)] - E[D(I, Q_S)]) and `critic/gradient_penalty`.

    Args:
        teacher, student: segmentation models returning score maps
            `(N, H, W, classes)` of one size.
        distillation_losses, distillation_loss_weights, student_loss_weight,
            name, views, paired_inputs: as for `keras_kd.Distiller`.
        critic_model: the critic, taking `(N, H, W, channels + classes)` (or
            `classes` without the image) and returning `(N, 1)`. Defaults to
            `critic(...)` at the paper's widths.
        critic_optimizer: defaults to `keras.optimizers.Adam(1e-4)`.
        adversarial_weight: lambda_adv. Defaults to 0.1.
        gradient_penalty_weight: lambda_gp. Defaults to 10.0.
        condition_on_image: give the critic the image too. Defaults to `True`.
        seed: for eps. Defaults to `None`.

    Reference:
        Liu, Chen, Liu, Qin, Luo and Wang, "Structured Knowledge
        Distillation for Semantic Segmentation", CVPR 2019; Liu, Shu, Wang
        and Shen, "Structured Knowledge Distillation for Dense Prediction",
        TPAMI 2020; Gulrajani et al., "Improved Training of Wasserstein
        GANs", NeurIPS 2017.

    Example:

    ```python
    distiller = HolisticDistiller(
        zoo.segmenter(width=32), zoo.segmenter(width=8),
        [losses.PixelwiseKD(1.0), losses.PairwiseAffinity("features", "features")], [10.0, 1.0], 0.5,
        critic_optimizer=keras.optimizers.Adam(1e-4))
    distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    distiller.fit(x_mosaics, y_masks, epochs=10)
    ```
    """

    def __init__(
        self, teacher, student, distillation_losses=None, distillation_loss_weights=None, student_loss_weight=0.5,
        name="holistic_distiller", *, critic_model=None, critic_optimizer=None, adversarial_weight=0.1,
        gradient_penalty_weight=10.0, condition_on_image=True, seed=None, views=None, paired_inputs=False,
    ):  # fmt: skip
        self.adversarial_weight = validation.check_non_negative_number("adversarial_weight", adversarial_weight, owner=OWNER)
        self.gradient_penalty_weight = validation.check_non_negative_number(
            "gradient_penalty_weight", gradient_penalty_weight, owner=OWNER
        )
        self.condition_on_image = validation.check_bool("condition_on_image", condition_on_image, owner=OWNER)
        super().__init__(
            teacher, student, distillation_losses, distillation_loss_weights, student_loss_weight, name,
            views=views, paired_inputs=paired_inputs,
        )  # fmt: skip
        shape = tuple(student.outputs[0].shape[1:])
        if len(shape) != 3 or tuple(teacher.outputs[0].shape[1:]) != shape:
            raise ValueError(
                f"{OWNER}: teacher and student must return score maps (N, H, W, classes) of one shape. "
                f"Received: {tuple(teacher.outputs[0].shape[1:])} and {shape}."
            )
        channels = shape[-1] + (int(student.inputs[0].shape[-1]) if self.condition_on_image else 0)
        self.critic = critic_model if critic_model is not None else critic(channels)
        self.critic_optimizer = critic_optimizer if critic_optimizer is not None else keras.optimizers.Adam(1e-4)
        self.seed = seed
        self.noise = keras.random.SeedGenerator(seed)
        self.track_measurements(["distill/holistic", "critic/wasserstein", "critic/gradient_penalty"])

    def critic_inputs(self, x, maps):
        """softmax(maps), with the image resized to their size in front when conditioned."""
        probabilities = ops.softmax(ops.cast(maps, "float32"), axis=-1)
        if not self.condition_on_image:
            return probabilities
        image = ops.image.resize(ops.cast(x, "float32"), tuple(maps.shape[1:3]), interpolation="bilinear")
        return ops.concatenate([image, probabilities], axis=-1)

    def compute_distillation(self, batch, teacher, training):
        student = self.student_forward(batch.x_student, training=training)
        result = self.combined_losses(batch, teacher, student, training)
        real = self.critic_inputs(batch.x_teacher, teacher.outputs)
        fake = self.critic_inputs(batch.x_student, student.outputs)
        fooling = -ops.mean(self.critic(fake, training=training))
        fake = ops.stop_gradient(fake)
        wasserstein = ops.mean(self.critic(real, training=training)) - ops.mean(self.critic(fake, training=training))
        epsilon = keras.random.uniform((ops.shape(real)[0],), seed=self.noise)
        penalty = gradient_penalty(lambda q: self.critic(q, training=training), real, fake, epsilon)
        critic_loss = self.adversarial_weight * (-wasserstein + self.gradient_penalty_weight * penalty)
        measurements = {
            **result.measurements, "distill/holistic": fooling, "critic/wasserstein": wasserstein,
            "critic/gradient_penalty": penalty,
        }  # fmt: skip
        total = result.loss + self.adversarial_weight * fooling
        return StepResult(total, measurements, result.predictions, group_losses={"critic": critic_loss})

    def optimizer_groups(self):
        critic_ids = {id(v) for v in self.critic.trainable_variables}
        main = [v for v in self.trainable_variables if id(v) not in critic_ids]
        return [OptimizerGroup("loss", self.optimizer, main), OptimizerGroup("critic", self.critic_optimizer, self.critic.trainable_variables)]

    def get_config(self):
        return {
            **super().get_config(), "critic_model": keras.saving.serialize_keras_object(self.critic),
            "critic_optimizer": keras.saving.serialize_keras_object(self.critic_optimizer),
            "adversarial_weight": self.adversarial_weight, "gradient_penalty_weight": self.gradient_penalty_weight,
            "condition_on_image": self.condition_on_image, "seed": self.seed,
        }  # fmt: skip

    @classmethod
    def from_config(cls, config):
        config = serialization.deserialize_fields(config, objects=("critic_model", "critic_optimizer"))
        return super().from_config.__func__(cls, config)
