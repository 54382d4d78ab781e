"""Ensemble distribution distillation: a student that predicts a Dirichlet.

The student (a "prior network") outputs logits z; its concentrations are
alpha = exp(z), alpha_0 = sum_c alpha_c, and its mean prediction is
alpha / alpha_0 = softmax(z), so `predict`, evaluation and export use it
as any logits model. It learns the *spread* of an ensemble's predictions,
not only their mean, which lets it tell what it does not know (knowledge
uncertainty) from what is ambiguous in the data.

`keras.ops` has no log-gamma or digamma (Keras 3.15), so both are computed
here from their recurrences and asymptotic series, in `keras.ops`.
"""

import math

import keras
from keras import ops

from keras_kd import validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.registry import register

_SHIFT = 6  # shift arguments to >= 6, where the series are accurate in float32


def lgamma(x):
    """log Gamma(x) for x > 0: lgamma(x + 6) by Stirling's series, shifted back."""
    x = ops.convert_to_tensor(x)
    shift = ops.zeros_like(x)
    for k in range(_SHIFT):
        shift = shift + ops.log(x + k)
    y = x + _SHIFT
    series = 1.0 / (12.0 * y) - 1.0 / (360.0 * y**3) + 1.0 / (1260.0 * y**5)
    return (y - 0.5) * ops.log(y) - y + 0.5 * math.log(2.0 * math.pi) + series - shift


def digamma(x):
    """psi(x) = d/dx log Gamma(x) for x > 0, by the same shift and series."""
    x = ops.convert_to_tensor(x)
    shift = ops.zeros_like(x)
    for k in range(_SHIFT):
        shift = shift + 1.0 / (x + k)
    y = x + _SHIFT
    series = -1.0 / (2.0 * y) - 1.0 / (12.0 * y**2) + 1.0 / (120.0 * y**4) - 1.0 / (252.0 * y**6)
    return ops.log(y) + series - shift


def dirichlet_uncertainties(logits):
    """Per-sample uncertainties of a prior network's Dirichlet (alpha = exp(z)).

    - `total`: the entropy of the mean prediction, H[p_hat];
    - `data`: the expected entropy, E_Dir[H[pi]] =
      -sum_c p_hat_c (psi(alpha_c + 1) - psi(alpha_0 + 1));
    - `knowledge`: their difference, the mutual information (>= 0).

    Returns:
        `{"total": ..., "data": ..., "knowledge": ...}`, each `logits.shape[:-1]`.
    """
    z = ops.cast(ops.convert_to_tensor(logits), "float32")
    alpha = ops.exp(z)
    alpha_0 = ops.sum(alpha, axis=-1, keepdims=True)
    p_hat = alpha / alpha_0
    total = -ops.sum(p_hat * ops.log_softmax(z, axis=-1), axis=-1)
    data = -ops.sum(p_hat * (digamma(alpha + 1.0) - digamma(alpha_0 + 1.0)), axis=-1)
    return {"total": total, "data": data, "knowledge": total - data}


@register("endd")
class EnsembleDistributionDistillation(DistillationTerm):
    """EnD^2: the negative log-likelihood of the ensemble's predictions under the student's Dirichlet.

    With M members' tempered predictions pi_m = softmax(z_m / T), smoothed
    toward uniform, pi <- (1 - eps)(pi - 1/K) + 1/K, their mean log
    g_c = 1/M sum_m log(pi_mc + 1e-8), and the student's alpha = exp(z / T):

        L = T^2 * 1/N sum_i w_i * [ sum_c lgamma(alpha_c) - lgamma(alpha_0)
                                     - sum_c (alpha_c - 1) g_c ]

    This is the authors' released code (its default temperature variant,
    with the T^2 factor, the smoothing eps = 1e-3 and the 1e-8 guards);
    anneal T with `DirichletTemperatureSchedule`. The teacher outputs are
    the members' logits stacked as `(N, M, K)`: inside a
    `keras_kd.methods.MultiTeacherDistiller` the term reads all teachers.
    The NLL can be negative and is not bounded below when the members
    agree; it is not a distance.

    Args:
        temperature: the initial T > 0. Defaults to 1.0. Stored in a
            variable, so a schedule changes it without retracing.
        smoothing: eps in [0, 1). Defaults to 1e-3.
        name: defaults to `"endd"`.

    Reference:
        Malinin, Mlodozeniec and Gales, "Ensemble Distribution
        Distillation", ICLR 2020.
    """

    def __init__(self, temperature=1.0, *, smoothing=1e-3, name="endd"):
        owner = type(self).__name__
        temperature = validation.check_positive_number("temperature", temperature, owner=owner)
        self.temperature = keras.Variable(temperature, trainable=False, dtype="float32", name="endd_temperature")
        self.smoothing = validation.check_unit_interval("smoothing", smoothing, owner=owner)
        self.name = name

    def expects_logits(self, role):
        return role == "student"

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        members = ops.cast(ops.convert_to_tensor(teacher_outputs), "float32")
        z = ops.cast(student_outputs, "float32")
        if len(members.shape) != len(z.shape) + 1 or members.shape[-1] != z.shape[-1]:
            raise ValueError(
                f"{type(self).__name__}: the teacher outputs must be the members' logits stacked "
                f"as (N, M, K) for student logits (N, K). Received: teacher {tuple(members.shape)}, "
                f"student {tuple(z.shape)}. Use it inside keras_kd.methods.MultiTeacherDistiller."
            )
        temperature = ops.cast(self.temperature, "float32")
        classes = float(z.shape[-1])
        pi = ops.softmax(members / temperature, axis=-1)
        pi = (1.0 - self.smoothing) * (pi - 1.0 / classes) + 1.0 / classes
        mean_log = ops.mean(ops.log(pi + 1e-8), axis=-2)
        alpha = ops.exp(z / temperature)
        alpha_0 = ops.sum(alpha, axis=-1)
        nll = ops.sum(lgamma(alpha + 1e-8), -1) - lgamma(alpha_0 + 1e-8) - ops.sum((alpha - 1.0) * mean_log, -1)
        return weighted_mean(nll * temperature**2, sample_weight)

    def get_config(self):
        return {"temperature": float(self.temperature.numpy()), "smoothing": self.smoothing, "name": self.name}


class DirichletTemperatureSchedule(keras.callbacks.Callback):
    """Anneals an `EnsembleDistributionDistillation` term's temperature per epoch.

    T = `initial` for epochs < `decay_start`, then linear down to `minimum`
    over `decay_epochs` epochs, then `minimum` (the authors' schedule).

    Args:
        term: the `EnsembleDistributionDistillation` term.
        initial: T0 > 0.
        minimum: T_min > 0. Defaults to 1.0.
        decay_start: the first epoch of the decay. Defaults to 0.
        decay_epochs: epochs to reach `minimum`. Defaults to 1.
    """

    def __init__(self, term, *, initial, minimum=1.0, decay_start=0, decay_epochs=1):
        super().__init__()
        owner = type(self).__name__
        if not isinstance(term, EnsembleDistributionDistillation):
            raise validation.ArgumentTypeError(f"{owner}: `term` must be an EnsembleDistributionDistillation. Received: {term!r}.")
        self.term = term
        self.initial = validation.check_positive_number("initial", initial, owner=owner)
        self.minimum = validation.check_positive_number("minimum", minimum, owner=owner)
        self.decay_start = int(validation.check_non_negative_number("decay_start", decay_start, owner=owner))
        self.decay_epochs = validation.check_positive_int("decay_epochs", decay_epochs, owner=owner)

    def temperature_at(self, epoch):
        progress = min(max(epoch - self.decay_start, 0) / self.decay_epochs, 1.0)
        return self.initial + (self.minimum - self.initial) * progress

    def on_epoch_begin(self, epoch, logs=None):
        self.term.temperature.assign(self.temperature_at(epoch))
