"""Teacher-free KD: a hand-made soft target in place of a teacher (Tf-KD_reg)."""

from keras import ops

from keras_kd import validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import nan_outside_classes
from keras_kd.losses.base import sparse_labels
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.registry import register

MODES = ("paper", "code")


def handmade_target(labels, num_classes, *, correct_probability, temperature):
    """softmax(p^d / tau), with p^d = a on the label and (1 - a) / (K - 1) elsewhere."""
    one_hot = ops.one_hot(labels, num_classes, dtype="float32")
    wrong = (1.0 - correct_probability) / (num_classes - 1)
    designed = one_hot * correct_probability + (1.0 - one_hot) * wrong
    return ops.softmax(designed / temperature, axis=-1)


@register("tf_kd_reg")
class TeacherFreeRegularization(DistillationTerm):
    """Tf-KD_reg: KL from a manually designed teacher to the student, no teacher needed.

    The designed teacher puts probability a on the label y and spreads
    1 - a over the other K - 1 classes:
    p^d(k) = a if k = y else (1 - a) / (K - 1), softened as
    p^d_tau = softmax(p^d / tau) (the probabilities themselves are the
    logits, as in the authors' code). Then, over N samples with weights w_i:

    - `mode="paper"`: L = 1/N sum_i w_i KL(p^d_tau,i || softmax(z_i / tau));
    - `mode="code"`: L = 1/(N K) sum_i w_i KL(p^d_tau,i || softmax(z_i)), the
      student unsoftened and the KL divided by K, as PyTorch's
      `nn.KLDivLoss()` default reduction does in the authors' code
      (`loss_kd_regularization`); their `multiplier` is the term's weight.

    Neither mode multiplies by tau^2. The total is
    `(1 - alpha) * CE + alpha * multiplier * L`: in a `Distiller`, pass
    `student_loss_weight = 1 - alpha` and `distillation_loss_weights =
    [multiplier]`, with `teacher=None`. For K = 100, a = 0.99, tau = 20 the
    target is 0.01050 on the label and 0.009995 elsewhere: nearly uniform,
    which is the paper's point (KD acts as learned label smoothing).

    The self-taught variant, Tf-KD_self (a pretrained copy of the student
    as its teacher), is the recipe `keras_kd.methods.teacher_free_self`.

    Args:
        correct_probability: a in (0, 1). Defaults to 0.99 (the code's).
        temperature: tau > 0. Defaults to 20.0.
        mode: `"paper"` or `"code"`. Defaults to `"paper"`.
        name: defaults to `"tf_kd_reg"`.

    Reference:
        Yuan, Tay, Li, Wang and Feng, "Revisiting Knowledge Distillation
        via Label Smoothing Regularization", CVPR 2020 (arXiv:1909.11723).

    Example:

    ```python
    distiller = keras_kd.Distiller(
        None, student, TeacherFreeRegularization(temperature=20.0),
        distillation_loss_weights=[1.0], student_loss_weight=0.9)
    ```
    """

    requires_labels = True
    requires_teacher = False
    requires_same_output_shape = False

    def __init__(self, correct_probability=0.99, temperature=20.0, *, mode="paper", name="tf_kd_reg"):
        owner = type(self).__name__
        correct_probability = validation.check_positive_number("correct_probability", correct_probability, owner=owner)
        if correct_probability >= 1.0:
            raise ValueError(
                f"{owner}: `correct_probability` (the designed teacher's probability on the "
                f"label) must lie strictly between 0 and 1. Received: {correct_probability}. "
                f"The paper's code uses 0.99."
            )
        self.correct_probability = correct_probability
        self.temperature = validation.check_positive_number("temperature", temperature, owner=owner)
        self.mode = validation.check_one_of("mode", mode, MODES, owner=owner)
        self.name = name

    def expects_logits(self, role):
        return role == "student"

    def explain_nonfinite(self):
        return "Tf-KD_reg reads the labels: a label outside [0, classes) gives NaN."

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        del teacher_outputs  # no teacher: the target is made from the labels
        if y_true is None:
            raise ValueError(f"{type(self).__name__} needs the labels. Received: y_true=None.")
        logits = ops.cast(ops.convert_to_tensor(student_outputs), "float32")
        num_classes = logits.shape[-1]
        labels = sparse_labels(y_true, logits)
        target = handmade_target(
            labels, num_classes, correct_probability=self.correct_probability, temperature=self.temperature
        )
        student_temperature = self.temperature if self.mode == "paper" else 1.0
        log_q = ops.log_softmax(logits / student_temperature, axis=-1)
        kl = ops.sum(target * (ops.log(target) - log_q), axis=-1)
        if self.mode == "code":
            kl = kl / num_classes
        kl = nan_outside_classes(kl, labels, num_classes)
        return weighted_mean(kl, sample_weight)

    def get_config(self):
        return {
            "correct_probability": self.correct_probability,
            "temperature": self.temperature,
            "mode": self.mode,
            "name": self.name,
        }
