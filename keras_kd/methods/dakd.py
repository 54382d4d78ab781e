"""DAKD: data-augmentation knowledge distillation with a consistency loss.

The procedure (`../shared/reference/dakd-method.md`, section 3.2), per batch:

1. make two augmentations of each image, D1 and D2 (`views` with
   independent per-side layers: the student's view is D1, the teacher's D2);
2. the teacher's soft labels Y_T = softmax(z_T(D2) / T);
3. the student's soft labels Y_S = softmax(z_S(D1) / T);
4. the consistency loss L_c = 1/N sum_i KL(Y_T^i || Y_S^i);
5. the student's cross-entropy L_s on D2 against the true labels;
6. L = L_s + lambda * L_c, minimized over the student's weights.

So the student runs on *two* views per step (D1 and D2; one forward pass
over the two batches concatenated, so BatchNorm sees both), while the
teacher runs once, on D2. The method's L_c has no T^2 factor; it is left
out here too (pass `scale_by_temperature_squared=True` for Hinton's scaling).
"""

import keras
from keras import ops

from keras_kd import _validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD


@keras.saving.register_keras_serializable(package="keras_kd")
class DAKDDistiller(Distiller):
    """Distills with different teacher/student augmentations and a consistency loss.

        L = CE(y, student(D2)) + lambda * 1/N sum_i KL(softmax(teacher(D2)_i / T)
                                                      || softmax(student(D1)_i / T))

    Args:
        teacher: a trained logits `keras.Model` (frozen).
        student: the logits `keras.Model` to train.
        views: a `keras_kd.augment.Views` with independent per-side layers
            (e.g. `keras_kd.augment.presets.get("dakd")`). Required.
        temperature: T > 0. Defaults to 4.0.
        consistency_weight: lambda >= 0. Defaults to 1.0.
        scale_by_temperature_squared: multiply L_c by T^2. Defaults to
            `False` (the method's formula).
        name: defaults to `"dakd_distiller"`.

    Logs `loss`, `student_loss` (L_s) and `distillation_loss` (L_c).

    Example:

    ```python
    distiller = DAKDDistiller(teacher, student, views=presets.get("dakd"),
                              temperature=4.0, consistency_weight=1.0)
    distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        *,
        views,
        temperature=4.0,
        consistency_weight=1.0,
        scale_by_temperature_squared=False,
        name="dakd_distiller",
        **kwargs,
    ):
        owner = "DAKDDistiller"
        temperature = _validation.check_positive_number("temperature", temperature, owner=owner)
        consistency_weight = _validation.check_non_negative_number(
            "consistency_weight", consistency_weight, owner=owner
        )
        for key in ("distillation_losses", "distillation_loss_weights", "student_loss_weight"):
            kwargs.pop(key, None)
        super().__init__(
            teacher, student, KD(temperature, name="consistency"),
            student_loss_weight=0.5, views=views, name=name, **kwargs,
        )  # fmt: skip
        self.temperature = temperature
        self.consistency_weight = consistency_weight
        self.scale_by_temperature_squared = bool(scale_by_temperature_squared)
        if views is None or not views.independent:
            raise ValueError(
                f"{owner}: DAKD needs two different augmentations, so `views` must "
                f"have per-side layers (teacher=[...], student=[...]). Received: "
                f"views={views!r}. Use keras_kd.augment.presets.get('dakd')."
            )
        if views.mixes_labels:
            raise ValueError(f"{owner}: MixUp/CutMix views are not part of DAKD. Received: mix={views.mix!r}.")

    def _consistency(self, teacher_logits, student_logits, sample_weight):
        value = self.distillation_losses[0].compute_loss(teacher_logits, student_logits, sample_weight=sample_weight)
        if not self.scale_by_temperature_squared:
            value = value / (self.temperature**2)
        return ops.cast(value, "float32")

    def _total(self, y, student_d2, student_d1, teacher_d2, sample_weight):
        if self._compile_loss is None or y is None:
            raise ValueError("DAKDDistiller needs labels and a compiled loss: L = L_s + lambda * L_c.")
        student_loss = ops.cast(self._compile_loss(y, student_d2, sample_weight), "float32")
        consistency = self._consistency(teacher_d2, student_d1, sample_weight)
        total = student_loss + self.consistency_weight * consistency
        for regularization in self.student.losses:
            total = total + ops.cast(regularization, "float32")
        return total, student_loss, consistency

    def train_step(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        d2, d1, _ = self.views(x, y, training=True)  # teacher's view D2, student's D1
        teacher_d2 = ops.stop_gradient(self.teacher(d2, training=False))
        batch = ops.shape(d1)[0]
        with tf.GradientTape() as tape:
            both = self.student(ops.concatenate([d1, d2], axis=0), training=True)
            student_d1, student_d2 = both[:batch], both[batch:]
            total, student_loss, consistency = self._total(y, student_d2, student_d1, teacher_d2, sample_weight)
            scaled = self.optimizer.scale_loss(total)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self._update_loss_trackers(x, total, student_loss, consistency, [consistency])
        return self.compute_metrics(x, y, student_d2, sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher = self.teacher(x, training=False)
        student = self.student(x, training=False)
        total, student_loss, consistency = self._total(y, student, student, teacher, sample_weight)
        self._update_loss_trackers(x, total, student_loss, consistency, [consistency])
        return self.compute_metrics(x, y, student, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        for key in ("distillation_losses", "distillation_loss_weights", "student_loss_weight"):
            config.pop(key)
        config.update({
            "temperature": self.temperature, "consistency_weight": self.consistency_weight,
            "scale_by_temperature_squared": self.scale_by_temperature_squared,
        })  # fmt: skip
        return config
