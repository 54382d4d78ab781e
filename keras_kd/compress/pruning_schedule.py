"""When to prune and to what sparsity: tfmot's two schedules, for Keras 3.

A schedule maps the pruning step (0 at the first training batch, counted by
`UpdatePruningStep`) to `(should_prune, sparsity)`. Masks are recomputed
only at steps where `should_prune` is true: from `begin_step` on, every
`frequency` steps, until `end_step` (-1: never stops). Between updates the
mask stays fixed and pruned weights stay exactly zero.
"""

import abc
import math

import keras

from keras_kd import validation


class PruningSchedule(abc.ABC):
    """Base class: `schedule(step) -> (should_prune, sparsity)`, both Python values."""

    def __init__(self, begin_step, end_step, frequency):
        owner = type(self).__name__
        if isinstance(begin_step, bool) or not isinstance(begin_step, int) or begin_step < 0:
            raise ValueError(f"{owner}: `begin_step` must be an integer >= 0. Received: begin_step={begin_step!r}.")
        if isinstance(end_step, bool) or not isinstance(end_step, int) or (end_step != -1 and end_step < begin_step):
            raise ValueError(
                f"{owner}: `end_step` must be -1 (prune until training ends) or an integer >= "
                f"begin_step ({begin_step}). Received: end_step={end_step!r}."
            )
        self.begin_step = begin_step
        self.end_step = end_step
        self.frequency = validation.check_positive_int("frequency", frequency, owner=owner)

    def should_prune(self, step):
        """Whether the mask is recomputed at `step`."""
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    @abc.abstractmethod
    def sparsity(self, step):
        """The target fraction of zeros at `step` (each schedule defines it)."""

    def __call__(self, step):
        return self.should_prune(step), self.sparsity(step)

    @abc.abstractmethod
    def get_config(self):
        """Every `__init__` argument, so the schedule saves with the model."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_sparsity(name, value, owner):
    value = validation.check_non_negative_number(name, value, owner=owner)
    if value >= 1.0:
        raise ValueError(
            f"{owner}: `{name}` is the fraction of weights set to zero and must lie in [0, 1). "
            f"Received: {name}={value!r}."
        )
    return value


@keras.saving.register_keras_serializable(package="keras_kd")
class ConstantSparsity(PruningSchedule):
    """Prunes to `target_sparsity` at once, then keeps it (tfmot's `ConstantSparsity`).

    Args:
        target_sparsity: the fraction of weights at zero, in [0, 1).
        begin_step: the first step that prunes. Defaults to 0.
        end_step: the last step that may recompute the mask; -1 for none.
            Defaults to -1.
        frequency: steps between mask updates. Defaults to 100.
    """

    def __init__(self, target_sparsity, begin_step=0, end_step=-1, frequency=100):
        super().__init__(begin_step, end_step, frequency)
        self.target_sparsity = _check_sparsity("target_sparsity", target_sparsity, type(self).__name__)

    def sparsity(self, step):
        return self.target_sparsity

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity, "begin_step": self.begin_step,
            "end_step": self.end_step, "frequency": self.frequency,
        }  # fmt: skip


@keras.saving.register_keras_serializable(package="keras_kd")
class PolynomialDecay(PruningSchedule):
    """Sparsity rising from `initial_sparsity` to `final_sparsity` (Zhu and Gupta, 2017).

        s(t) = s_f + (s_i - s_f) * (1 - p)^power,   p = clip((t - begin) / (end - begin), 0, 1)

    (tfmot's `PolynomialDecay`; power 3 prunes fast early, when the network
    has redundancy to spare, and slowly near the end).

    Args:
        initial_sparsity: s_i in [0, 1).
        final_sparsity: s_f in [0, 1).
        begin_step: defaults to 0.
        end_step: the step reaching s_f; required (not -1).
        power: defaults to 3.
        frequency: steps between mask updates. Defaults to 100.

    Reference:
        Zhu and Gupta, "To prune, or not to prune: exploring the efficacy
        of pruning for model compression", arXiv:1710.01878, 2017.
    """

    def __init__(self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100):
        super().__init__(begin_step, end_step, frequency)
        owner = type(self).__name__
        if end_step == -1 or end_step == begin_step:
            raise ValueError(f"{owner}: needs end_step > begin_step. Received: begin_step={begin_step}, end_step={end_step}.")
        self.initial_sparsity = _check_sparsity("initial_sparsity", initial_sparsity, owner)
        self.final_sparsity = _check_sparsity("final_sparsity", final_sparsity, owner)
        self.power = validation.check_positive_number("power", power, owner=owner)

    def sparsity(self, step):
        progress = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * math.pow(1.0 - progress, self.power)

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity, "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step, "end_step": self.end_step, "power": self.power,
            "frequency": self.frequency,
        }  # fmt: skip
