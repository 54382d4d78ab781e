"""Noise as a resource: noisy inputs, a fickle teacher and messy labels.

Arani, Sarfraz and Zonooz inject noise into distillation at three places,
each an option here (all off gives plain KD), each drawn from a
`keras.random.SeedGenerator(seed)` so a seeded run is reproducible:

- soft randomization (`input_noise=sigma`): the student sees x + N(0,
  sigma^2) while the teacher sees the clean x;
- a fickle teacher (`teacher_dropout=True`): the teacher runs with its
  dropout active while it produces the soft targets, so the same image
  gets varying targets (a frozen teacher's BatchNormalization keeps its
  moving statistics);
- messy collaboration (`label_flip_rate=r`): each label is replaced, with
  probability r, by a class drawn uniformly from the others, for the
  student's cross-entropy and any term that reads labels.

The exact rates and dropout placements of the paper were not recovered;
choose them per task.
"""

import dataclasses

import keras
from keras import ops

from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.methods import registry

OWNER = "NoisyCollaborationDistiller"


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("noisy_collaboration")
class NoisyCollaborationDistiller(Distiller):
    """A `Distiller` with noise on the student's inputs, the teacher, or the labels.

    Args:
        teacher, student, distillation_losses, distillation_loss_weights,
            student_loss_weight, name, views, paired_inputs: as for
            `keras_kd.Distiller`.
        input_noise: sigma >= 0 of the Gaussian noise on the student's
            inputs (in input units). Defaults to 0.0.
        teacher_dropout: run the teacher's dropout while training. Defaults
            to `False`.
        label_flip_rate: r in [0, 1]. Defaults to 0.0. Needs sparse labels.
        seed: defaults to `None`.

    Reference:
        Arani, Sarfraz and Zonooz, "Noise as a Resource for Learning in
        Knowledge Distillation", WACV 2021 (arXiv:1910.05057).
    """

    def __init__(
        self, teacher, student, distillation_losses=None, distillation_loss_weights=None, student_loss_weight=0.5,
        name="noisy_collaboration_distiller", *, input_noise=0.0, teacher_dropout=False, label_flip_rate=0.0,
        seed=None, views=None, paired_inputs=False,
    ):  # fmt: skip
        input_noise = validation.check_non_negative_number("input_noise", input_noise, owner=OWNER)
        label_flip_rate = validation.check_unit_interval("label_flip_rate", label_flip_rate, owner=OWNER)
        validation.check_bool("teacher_dropout", teacher_dropout, owner=OWNER)
        super().__init__(
            teacher, student, distillation_losses, distillation_loss_weights, student_loss_weight, name,
            views=views, paired_inputs=paired_inputs,
        )  # fmt: skip
        self.input_noise = input_noise
        self.teacher_dropout = teacher_dropout
        self.label_flip_rate = label_flip_rate
        self.seed = seed
        self.noise_generator = keras.random.SeedGenerator(seed)

    def teacher_forward(self, batch):
        return self._teacher_taps[None](batch.x_teacher, training=self.teacher_dropout and batch.training)

    def compute_distillation(self, batch, teacher, training):
        if training:
            batch = dataclasses.replace(batch, x_student=self.noisy_inputs(batch.x_student), y=self.noisy_labels(batch))
        return super().compute_distillation(batch, teacher, training)

    def noisy_inputs(self, x):
        """x + N(0, input_noise^2), or x when `input_noise` is 0."""
        if self.input_noise == 0:
            return x
        x = ops.convert_to_tensor(x)
        return x + keras.random.normal(ops.shape(x), stddev=self.input_noise, seed=self.noise_generator, dtype=x.dtype)

    def noisy_labels(self, batch):
        """The batch's labels, each replaced with probability r by another class."""
        if self.label_flip_rate == 0 or batch.y is None:
            return batch.y
        if batch.mixed:
            raise ValueError(f"{OWNER}: label flips need hard labels; they do not combine with MixUp/CutMix views.")
        num_classes = int(self.student.outputs[0].shape[-1])
        y = ops.convert_to_tensor(batch.y)
        one_hot = len(y.shape) >= 2 and y.shape[-1] == num_classes
        labels = ops.argmax(y, axis=-1) if one_hot else ops.cast(y, "int32")
        flip = keras.random.uniform(ops.shape(labels), seed=self.noise_generator) < self.label_flip_rate
        offset = ops.cast(keras.random.randint(ops.shape(labels), 1, num_classes, seed=self.noise_generator), labels.dtype)
        flipped = ops.where(flip, (labels + offset) % num_classes, labels)
        return ops.one_hot(flipped, num_classes, dtype=y.dtype) if one_hot else ops.cast(flipped, y.dtype)

    def get_config(self):
        return {
            **super().get_config(), "input_noise": self.input_noise, "teacher_dropout": self.teacher_dropout,
            "label_flip_rate": self.label_flip_rate, "seed": self.seed,
        }  # fmt: skip
