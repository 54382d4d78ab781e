"""Response-based distillation: terms that compare the models' outputs."""

from keras import ops

from keras_kd import _validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import log_probabilities
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.registry import register


def check_class_dims(teacher_outputs, student_outputs, owner):
    """Raises at trace time when the class dimensions differ."""
    t_dim = teacher_outputs.shape[-1]
    s_dim = student_outputs.shape[-1]
    if t_dim is not None and s_dim is not None and t_dim != s_dim:
        raise ValueError(
            f"{owner}: the teacher and the student must output the same "
            f"number of classes to be compared. Received: teacher outputs of "
            f"shape {tuple(teacher_outputs.shape)}, student outputs of shape "
            f"{tuple(student_outputs.shape)}. Give both models the same "
            f"final layer width."
        )


@register("kd")
class KD(DistillationTerm):
    """Hinton's knowledge distillation: KL between softened distributions.

    With p = softmax(z_t / T) from the teacher and q = softmax(z_s / T) from
    the student, over a batch of N samples with weights w_i (default 1):

        L = T^2 / N * sum_i w_i * sum_c p_ic * (log p_ic - log q_ic)

    The T^2 factor keeps the gradient's magnitude independent of T, so the
    term can be mixed with the hard-label loss without retuning its weight.

    Args:
        temperature: T > 0. Defaults to 4.0.
        teacher_from_logits: whether the teacher's outputs are logits (`True`)
            or probabilities (`False`). Defaults to `True`. Probabilities
            are turned into log-probabilities before the temperature.
        student_from_logits: the same for the student. Defaults to `True`.
        name: the key under which the Distiller logs this term. Defaults to
            `"kd"`.

    Reference:
        Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
        Network", NIPS 2014 Deep Learning Workshop, arXiv:1503.02531.

    Example:

    >>> import numpy as np
    >>> term = KD(temperature=4.0)
    >>> t = np.array([[2.0, 0.5, -1.0]]); s = np.array([[1.0, 1.0, 0.0]])
    >>> float(term.compute_loss(t, s)) > 0
    True
    """

    def __init__(
        self,
        temperature=4.0,
        *,
        teacher_from_logits=True,
        student_from_logits=True,
        name="kd",
    ):
        owner = type(self).__name__
        self.temperature = _validation.check_positive_number(
            "temperature", temperature, owner=owner
        )
        self.teacher_from_logits = _validation.check_bool(
            "teacher_from_logits", teacher_from_logits, owner=owner
        )
        self.student_from_logits = _validation.check_bool(
            "student_from_logits", student_from_logits, owner=owner
        )
        self.name = name

    def per_sample_loss(self, teacher_outputs, student_outputs):
        """T^2 * KL(p_i || q_i) for each sample, shape `(N,)` (or `(N, ...)`)."""
        teacher_outputs = ops.convert_to_tensor(teacher_outputs)
        student_outputs = ops.convert_to_tensor(student_outputs)
        check_class_dims(teacher_outputs, student_outputs, type(self).__name__)
        log_p = log_probabilities(
            teacher_outputs,
            from_logits=self.teacher_from_logits,
            temperature=self.temperature,
        )
        log_q = log_probabilities(
            ops.cast(student_outputs, log_p.dtype),
            from_logits=self.student_from_logits,
            temperature=self.temperature,
        )
        kl = ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)
        return kl * (self.temperature**2)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        return weighted_mean(
            self.per_sample_loss(teacher_outputs, student_outputs), sample_weight
        )

    def get_config(self):
        return {
            "temperature": self.temperature,
            "teacher_from_logits": self.teacher_from_logits,
            "student_from_logits": self.student_from_logits,
            "name": self.name,
        }
