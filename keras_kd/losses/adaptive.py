"""Terms that weigh the teacher's soft labels against the true labels per sample."""

from keras import ops

from keras_kd import validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import nan_outside_classes
from keras_kd.losses.base import sparse_labels
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.logits import check_class_dims
from keras_kd.losses.registry import register

MODES = ("adaptive", "conditional", "interpolated")


@register("ats")
class AdaptiveTeacherStudent(DistillationTerm):
    """AT/S: cross-entropy to a per-sample mix of the teacher's posterior and the label.

    With P_T = softmax(z_t / T), the label r and its one-hot e_r, for each
    sample (or each step of a sequence):

        t = w * P_T + (1 - w) * e_r,     L = -1/N sum_i w_i sum_q t_q log P_S(q)

    where P_S = softmax(z_s / T) and the weight w (a constant: no gradient
    flows through it) is

    - `mode="adaptive"`: w = f(c_T) / (f(c_T) + f(c_GT)), from the
      confidence in the teacher's soft label, c_T = P_T(r), and in the
      one-hot label, c_GT = 1 - P_T(r), with f(c) = c^gamma
      (`confidence_power`), monotonically increasing on [0, 1]. The paper
      asks only that f be increasing; which f it used is not stated in
      what we could check, so gamma = 1 (w = P_T(r)) is the default;
    - `mode="conditional"` (conditional T/S): w = 1 when the teacher's
      argmax is r, else 0;
    - `mode="interpolated"` (interpolated T/S): w = `teacher_weight`.

    The term includes the label, so use it with `student_loss_weight=0`. It
    works on `(N, classes)` and on `(N, T, classes)` outputs with a padding
    mask `(N, T)` as `sample_weight`. A label outside [0, classes) gives
    NaN, which stops training at that step.

    Args:
        mode: one of `MODES`. Defaults to `"adaptive"`.
        confidence_power: gamma > 0 for `"adaptive"`. Defaults to 1.0.
        teacher_weight: w in [0, 1] for `"interpolated"`. Defaults to 0.5.
        temperature: T > 0. Defaults to 1.0 (the posteriors themselves).
        name: defaults to `"ats"`.

    Reference:
        Meng, Li, Gaur and Gong, "Domain Adaptation via Teacher-Student
        Learning for End-to-End Speech Recognition", ASRU 2019.

    Example:

    ```python
    distiller = keras_kd.Distiller(clean_teacher, student, AdaptiveTeacherStudent(),
                                   student_loss_weight=0.0, paired_inputs=True)
    distiller.fit((x_clean, x_far_field), labels)
    ```
    """

    requires_labels = True

    def __init__(self, *, mode="adaptive", confidence_power=1.0, teacher_weight=0.5, temperature=1.0, name="ats"):
        owner = type(self).__name__
        self.mode = validation.check_one_of("mode", mode, MODES, owner=owner)
        self.confidence_power = validation.check_positive_number("confidence_power", confidence_power, owner=owner)
        self.teacher_weight = validation.check_unit_interval("teacher_weight", teacher_weight, owner=owner)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=owner)
        self.name = name

    def expects_logits(self, role):
        return True

    def teacher_weights(self, teacher_probabilities, labels):
        """w per sample (or step), from the teacher's posterior and the labels."""
        num_classes = teacher_probabilities.shape[-1]
        on_label = ops.sum(teacher_probabilities * ops.one_hot(labels, num_classes, dtype=teacher_probabilities.dtype), -1)
        if self.mode == "interpolated":
            return ops.full_like(on_label, self.teacher_weight)
        if self.mode == "conditional":
            return ops.cast(ops.argmax(teacher_probabilities, axis=-1) == labels, on_label.dtype)
        teacher_confidence = ops.power(on_label, self.confidence_power)
        label_confidence = ops.power(1.0 - on_label, self.confidence_power)
        return teacher_confidence / ops.maximum(teacher_confidence + label_confidence, 1e-12)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        if y_true is None:
            raise ValueError(
                f"{type(self).__name__} needs the labels: its target mixes the teacher's "
                f"posterior with the one-hot label. Use it with keras_kd.Distiller and (x, y)."
            )
        t = ops.stop_gradient(ops.convert_to_tensor(teacher_outputs))
        s = ops.cast(student_outputs, t.dtype)
        check_class_dims(t, s, type(self).__name__)
        num_classes = t.shape[-1]
        labels = sparse_labels(y_true, t)
        teacher_probabilities = ops.softmax(t / self.temperature, axis=-1)
        weight = ops.expand_dims(self.teacher_weights(teacher_probabilities, labels), -1)
        target = weight * teacher_probabilities + (1.0 - weight) * ops.one_hot(labels, num_classes, dtype=t.dtype)
        per_sample = -ops.sum(target * ops.log_softmax(s / self.temperature, axis=-1), axis=-1)
        return weighted_mean(nan_outside_classes(per_sample, labels, num_classes), sample_weight)

    def explain_nonfinite(self):
        return "AT/S is NaN for a label outside [0, classes): check the labels."

    def get_config(self):
        return {
            "mode": self.mode, "confidence_power": self.confidence_power,
            "teacher_weight": self.teacher_weight, "temperature": self.temperature, "name": self.name,
        }  # fmt: skip
