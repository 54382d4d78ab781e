"""The parts of `keras.distillation.Distiller`'s API that `keras_kd.Distiller` mirrors.

`call` returns the student's outputs, `compute_loss(x, y)` the combined
loss, and the three tracker attributes name the Distiller's loss trackers,
so code written for Keras's Distiller runs unchanged against ours
(`tests/test_keras_parity.py` runs Keras's own tests).
"""

import keras

from keras_kd.step import make_batch


class KerasDistillerAPI:
    """Mixin for `keras_kd.Distiller` (it reads `student`, `paired_inputs`,
    `loss_trackers`, `teacher_forward` and `compute_distillation`)."""

    def call(self, inputs, training=None, **kwargs):
        """The student's outputs (on the student's side of paired inputs)."""
        if self.paired_inputs and isinstance(inputs, (tuple, list)) and len(inputs) == 2:
            inputs = inputs[1]
        return self.student(inputs, training=training, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The combined loss on `(x, y)`, as `keras.distillation.Distiller` returns it.

        No views are applied. `y_pred` is accepted for Keras's signature; the
        student runs again, through its tap, so its features come from the
        same pass as its outputs.
        """
        del y_pred
        data = keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        batch = make_batch(data, views=None, paired_inputs=self.paired_inputs, training=False)
        return self.compute_distillation(batch, self.teacher_forward(batch), training=training).loss

    # The tracker attributes of keras.distillation.Distiller.
    student_loss_tracker = property(lambda self: self.loss_trackers.tracker("student_loss"))
    distillation_loss_tracker = property(lambda self: self.loss_trackers.tracker("distillation_loss"))
    total_loss_tracker = property(lambda self: self.loss_trackers.tracker("total_loss"))
