"""DAKD: data-augmentation knowledge distillation with a consistency loss.

The procedure (the method's section 3.2), per batch:

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

Built on the Distiller's hook: the consistency loss is the Distiller's one
term, `KD(T, scale_by_temperature_squared=False)` weighted by lambda, and
`compute_distillation` only changes which passes it compares.
"""

import keras
from keras import ops

from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD
from keras_kd.methods import registry
from keras_kd.step import StepResult
from keras_kd.taps import ModelOutputs

OWNER = "DAKDDistiller"


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("dakd")
class DAKDDistiller(Distiller):
    """Distills with different teacher/student augmentations and a consistency loss.

        L = CE(y, student(D2)) + lambda * 1/N sum_i KL(softmax(teacher(D2)_i / T)
                                                      || softmax(student(D1)_i / T))

    `student_loss_weight` does not apply: the method weighs L_s by 1.

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
        paired_inputs: as for `Distiller`. Defaults to `False`.

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
        paired_inputs=False,
    ):
        if views is None or not views.independent:
            raise ValueError(
                f"{OWNER}: DAKD needs two different augmentations, so `views` must "
                f"have per-side layers (teacher=[...], student=[...]). Received: "
                f"views={views!r}. Use keras_kd.augment.presets.get('dakd')."
            )
        if views.mixes_labels:
            raise ValueError(f"{OWNER}: MixUp/CutMix views are not part of DAKD. Received: mix={views.mix!r}.")
        consistency = KD(
            temperature, scale_by_temperature_squared=scale_by_temperature_squared, name="consistency"
        )
        weight = validation.check_non_negative_number("consistency_weight", consistency_weight, owner=OWNER)
        super().__init__(
            teacher, student, consistency, [weight], 1.0, name, views=views, paired_inputs=paired_inputs
        )
        self.temperature = consistency.temperature
        self.consistency_weight = weight
        self.scale_by_temperature_squared = scale_by_temperature_squared

    def compute_distillation(self, batch, teacher, training):
        teacher_d2 = teacher  # the teacher ran on its view, D2
        if batch.x_student is batch.x_teacher:  # evaluation: one view
            student_d1 = student_d2 = self.student_forward(batch.x_student, training=training)
        else:
            size = ops.shape(batch.x_student)[0]
            both = self.student(ops.concatenate([batch.x_student, batch.x_teacher], axis=0), training=training)
            student_d1, student_d2 = ModelOutputs(both[:size]), ModelOutputs(both[size:])
        student_loss = self.student_loss(batch, student_d2.outputs)
        weighted, values = self.distillation_terms(batch, teacher_d2, student_d1, training=training)
        total = student_loss + weighted + self.regularization_loss()
        measurements = {"student_loss": student_loss, "distillation_loss": values["consistency"]}
        return StepResult(total, measurements, student_d2.outputs)

    def get_config(self):
        return {
            **self.base_config(),
            "temperature": self.temperature,
            "consistency_weight": float(self.term_weights[0].numpy()),
            "scale_by_temperature_squared": self.scale_by_temperature_squared,
        }
