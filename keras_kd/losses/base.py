"""What every keras_kd distillation term shares.

A term subclasses `keras.distillation.DistillationLoss`, so it plugs into
Keras's own `Distiller` as well as ours, and implements one method:
`compute_loss(teacher_outputs, student_outputs, sample_weight=None)`, which
returns a scalar.
"""

import keras
from keras import ops


class DistillationTerm(keras.distillation.DistillationLoss):
    """Base class of keras_kd's terms: config round trips and reductions.

    Subclasses set `self.name` (the log key suffix) and implement
    `compute_loss`. `get_config` must return every `__init__` argument.
    """

    # Whether the term consumes the models' final outputs (logits). Feature
    # terms set this to False and name their layers instead.
    uses_final_outputs = True

    def get_config(self):
        raise NotImplementedError(
            f"{type(self).__name__} must implement get_config() returning "
            f"every __init__ argument."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def weighted_mean(per_sample, sample_weight=None):
    """Keras's "sum_over_batch_size" reduction: sum(w_i * l_i) / N.

    With `sample_weight=None` this is the plain mean. Dividing by N rather
    than by sum(w) is what `keras.losses.Loss` does, so the student loss and
    the distillation terms weigh samples the same way.
    """
    per_sample = ops.convert_to_tensor(per_sample)
    if sample_weight is None:
        return ops.mean(per_sample)
    sample_weight = ops.cast(sample_weight, per_sample.dtype)
    sample_weight = ops.reshape(sample_weight, ops.shape(per_sample))
    return ops.sum(per_sample * sample_weight) / ops.cast(
        ops.shape(per_sample)[0], per_sample.dtype
    )


def log_probabilities(outputs, *, from_logits, temperature):
    """log softmax(z / T), from logits or from probabilities.

    Probabilities p become log p first, so softmax(log p / T) = p^(1/T) / Z
    sharpens or softens them exactly as temperature does logits.
    """
    outputs = ops.convert_to_tensor(outputs)
    if not from_logits:
        outputs = ops.log(ops.clip(outputs, keras.config.epsilon(), 1.0))
    return ops.log_softmax(outputs / temperature, axis=-1)
