"""Response-based distillation: terms that compare the models' outputs."""

from keras import ops

from keras_kd import validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import log_probabilities
from keras_kd.losses.base import nan_outside_classes
from keras_kd.losses.base import sparse_labels
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
    Some methods leave it out (DAKD's consistency loss): pass
    `scale_by_temperature_squared=False`.

    Outputs may be `(N, classes)` or sequences `(N, T, classes)`; for
    sequences the KL is taken per step, and a `sample_weight` of shape
    `(N, T)` (a padding mask) weighs the steps as Keras's losses do.

    Args:
        temperature: T > 0. Defaults to 4.0.
        teacher_from_logits: whether the teacher's outputs are logits (`True`)
            or probabilities (`False`). Defaults to `True`. Probabilities
            are turned into log-probabilities before the temperature.
        student_from_logits: the same for the student. Defaults to `True`.
        scale_by_temperature_squared: multiply by T^2. Defaults to `True`.
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
        scale_by_temperature_squared=True,
        name="kd",
    ):
        owner = type(self).__name__
        self.temperature = validation.check_positive_number(
            "temperature", temperature, owner=owner
        )
        self.teacher_from_logits = validation.check_bool(
            "teacher_from_logits", teacher_from_logits, owner=owner
        )
        self.student_from_logits = validation.check_bool(
            "student_from_logits", student_from_logits, owner=owner
        )
        self.scale_by_temperature_squared = validation.check_bool(
            "scale_by_temperature_squared", scale_by_temperature_squared, owner=owner
        )
        self.name = name

    def expects_logits(self, role):
        return self.teacher_from_logits if role == "teacher" else self.student_from_logits

    def per_sample_loss(self, teacher_outputs, student_outputs):
        """T^2 * KL(p_i || q_i) for each sample, shape `(N,)` (or `(N, T)`)."""
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
        return kl * (self.temperature**2) if self.scale_by_temperature_squared else kl

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        return weighted_mean(
            self.per_sample_loss(teacher_outputs, student_outputs), sample_weight
        )

    def get_config(self):
        return {
            "temperature": self.temperature,
            "teacher_from_logits": self.teacher_from_logits,
            "student_from_logits": self.student_from_logits,
            "scale_by_temperature_squared": self.scale_by_temperature_squared,
            "name": self.name,
        }


def _target_split(z, gt):
    """DKD's two distributions from tempered logits `z` and one-hot `gt`.

    Returns `log [p_g, 1 - p_g]` (the binary target / rest split of
    softmax(z)) and the log-softmax over the non-target logits alone (the
    target pushed to -inf; the authors subtract 1000). Both stay in log
    space, log(1 - p_g) as a log-sum-exp over the rest, so no epsilon is
    needed: a near-certain model's tiny non-target mass (an overconfident
    student's, say) keeps its precision.
    """
    rest = z - 1000.0 * gt
    log_total = ops.logsumexp(z, axis=-1)
    log_binary = ops.stack(
        [ops.sum(z * gt, axis=-1) - log_total, ops.logsumexp(rest, axis=-1) - log_total], axis=-1
    )
    return log_binary, ops.log_softmax(rest, axis=-1)


@register("dkd")
class DKD(DistillationTerm):
    """Decoupled KD: target-class (TCKD) and non-target-class (NCKD) terms.

    At temperature T, with g the label: b = [p_g, 1 - p_g] is the binary
    target/non-target split of softmax(z / T), and p^ the softmax over the
    non-target logits only:

        TCKD = KL(b_t || b_s),  NCKD = KL(p^_t || p^_s)
        L = 1/N sum_i w_i * (alpha * TCKD_i + beta * NCKD_i) * T^2

    The T^2 factor and the defaults (alpha 1, beta 8, T 4) follow the
    authors' code for CIFAR-100. Needs the labels, which `keras_kd.Distiller`
    passes (Keras's own Distiller does not). A sample whose label lies
    outside [0, classes) gets a NaN loss, so training stops at that step
    with an error naming this term, rather than with a silent number.

    Args:
        alpha: TCKD weight. Defaults to 1.0.
        beta: NCKD weight. Defaults to 8.0.
        temperature: T > 0. Defaults to 4.0.
        name: defaults to `"dkd"`.

    Reference:
        Zhao, Cui, Song, Qiu and Liang, "Decoupled Knowledge Distillation",
        CVPR 2022.
    """

    requires_labels = True

    def __init__(self, *, alpha=1.0, beta=8.0, temperature=4.0, name="dkd"):
        owner = type(self).__name__
        self.alpha = validation.check_non_negative_number("alpha", alpha, owner=owner)
        self.beta = validation.check_non_negative_number("beta", beta, owner=owner)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=owner)
        self.name = name

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        if y_true is None:
            raise ValueError(
                "DKD needs the labels to split target and non-target classes. "
                "Use it with keras_kd.Distiller and labeled data (x, y)."
            )
        t = ops.convert_to_tensor(teacher_outputs)
        s = ops.cast(student_outputs, t.dtype)
        check_class_dims(t, s, "DKD")
        num_classes = t.shape[-1]
        labels = sparse_labels(y_true, t)
        gt = ops.one_hot(labels, num_classes, dtype=t.dtype)
        T = self.temperature
        log_b_t, log_q_t = _target_split(t / T, gt)
        log_b_s, log_q_s = _target_split(s / T, gt)
        tckd = ops.sum(ops.exp(log_b_t) * (log_b_t - log_b_s), -1)
        nckd = ops.sum(ops.exp(log_q_t) * (log_q_t - log_q_s) * (1 - gt), -1)
        per_sample = (self.alpha * tckd + self.beta * nckd) * T**2
        return weighted_mean(nan_outside_classes(per_sample, labels, num_classes), sample_weight)

    def expects_logits(self, role):
        return True

    def explain_nonfinite(self):
        return (
            "DKD is NaN for a label outside [0, classes): check that the labels "
            "are class indices (or one-hot rows) for the model's output width."
        )

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta, "temperature": self.temperature, "name": self.name}


@register("pixelwise")
class PixelwiseKD(KD):
    """Pixel-wise KD for dense outputs: per-pixel KL over classes.

        L = T^2 / N sum_n w_n * mean_{h,w} KL(softmax(t_nhw / T) || softmax(s_nhw / T))

    on segmentation logits of shape `(N, H, W, C)` (or `(N, C, H, W)` with
    `data_format="channels_first"`). Liu et al. use T = 1.

    Args:
        temperature: defaults to 1.0.
        teacher_from_logits, student_from_logits: defaults to `True`.
        scale_by_temperature_squared: defaults to `True`.
        data_format: defaults to `"channels_last"`.
        name: defaults to `"pixelwise"`.

    Reference:
        Liu et al., "Structured Knowledge Distillation for Semantic
        Segmentation", CVPR 2019.
    """

    def __init__(
        self, temperature=1.0, *, teacher_from_logits=True, student_from_logits=True,
        scale_by_temperature_squared=True, data_format="channels_last", name="pixelwise",
    ):  # fmt: skip
        super().__init__(
            temperature, teacher_from_logits=teacher_from_logits, student_from_logits=student_from_logits,
            scale_by_temperature_squared=scale_by_temperature_squared, name=name,
        )  # fmt: skip
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"PixelwiseKD: data_format must be 'channels_last' or 'channels_first'. Received: {data_format!r}.")
        self.data_format = data_format

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t = ops.convert_to_tensor(teacher_outputs)
        s = ops.convert_to_tensor(student_outputs)
        if self.data_format == "channels_first":
            perm = (0, *range(2, len(t.shape)), 1)
            t, s = ops.transpose(t, perm), ops.transpose(s, perm)
        per_pixel = self.per_sample_loss(t, s)
        per_sample = ops.mean(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)
        return weighted_mean(per_sample, sample_weight)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register("logit_mse")
class LogitMSE(DistillationTerm):
    """Logit regression: half the squared distance between the logits.

        L = 1/N sum_i w_i * 1/2 * ||z_s,i - z_t,i||^2

    Ba and Caruana's mimic loss; Sau and Balasubramanian regress it onto
    noisy teacher logits (wrap this term in `NoisyTeacher`).

    Args:
        name: defaults to `"logit_mse"`.

    Reference:
        Ba and Caruana, "Do Deep Nets Really Need to be Deep?", NIPS 2014.
    """

    def __init__(self, *, name="logit_mse"):
        self.name = name

    def expects_logits(self, role):
        return True

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t = ops.convert_to_tensor(teacher_outputs)
        s = ops.cast(student_outputs, t.dtype)
        check_class_dims(t, s, "LogitMSE")
        return weighted_mean(0.5 * ops.sum(ops.square(s - t), axis=-1), sample_weight)

    def get_config(self):
        return {"name": self.name}
