"""The term contract: everything a Distiller needs from a distillation term.

A term subclasses `keras.distillation.DistillationLoss`, so it plugs into
Keras's own `Distiller` as well as ours, and implements one method:
`compute_loss(teacher_outputs, student_outputs, sample_weight=None,
y_true=None)`, which returns a scalar. Everything else the Distiller reads
from a term is declared on `DistillationTerm`, with a default, so the
Distiller calls methods and reads attributes it knows exist:

- `teacher_layer_name`, `student_layer_name`: the layers whose outputs the
  term compares, or `None` for the models' final outputs;
- `requires_labels`: whether `compute_loss` needs `y_true`;
- `requires_teacher`: whether it reads a teacher at all (teacher-free
  terms, such as Tf-KD's hand-made targets, run with `teacher=None`);
- `requires_same_output_shape`: on final outputs, whether the teacher's and
  the student's shapes must match (relation terms compare structure within
  each model, so theirs may differ);
- `expects_logits(role)`: whether the term treats a model's final outputs
  as logits (the Distiller then refuses a model that ends in softmax);
- `build_connector(teacher_shape, student_shape, name=...)`: the adapter
  that maps the student's feature to the teacher's, which the Distiller
  owns and trains, or `None`;
- `explain_nonfinite()`: a hint added to the error when the term's value
  goes NaN or infinite during training;
- `validate_model_compatibility(teacher, student)`: Keras's own hook, where
  these declarations are checked against the models before any training.

Keras's own `DistillationLoss` objects are wrapped once into this contract
by `keras_kd.losses.as_term` (see `keras_terms.py`).
"""

import keras
from keras import ops

from keras_kd import model_checks


class DistillationTerm(keras.distillation.DistillationLoss):
    """Base class of keras_kd's terms: the contract, config round trips, reductions.

    Subclasses set `self.name` (the log key suffix) and implement
    `compute_loss`. `get_config` must return every `__init__` argument.
    """

    teacher_layer_name = None
    student_layer_name = None
    requires_labels = False
    requires_teacher = True
    requires_same_output_shape = True
    name = None

    @property
    def uses_final_outputs(self):
        """Whether the term compares the models' final outputs (no layer named)."""
        return self.teacher_layer_name is None and self.student_layer_name is None

    def expects_logits(self, role):
        """Whether the final outputs of `role` ("teacher"/"student") are read as logits."""
        del role
        return False

    def build_connector(self, teacher_shape, student_shape, *, name):
        """The layer mapping the student's feature to the teacher's shape, or `None`.

        Shapes come without the batch axis. The Distiller builds, trains and
        saves the connector; it never ships with the student.
        """
        del teacher_shape, student_shape, name
        return None

    def explain_nonfinite(self):
        """A hint for the error raised when this term's value is NaN or Inf."""
        return ""

    def validate_model_compatibility(self, teacher, student):
        """Checks this term's declarations against the models, before training."""
        owner = self.name or type(self).__name__
        for role, model, layer_name in (
            ("teacher", teacher, self.teacher_layer_name),
            ("student", student, self.student_layer_name),
        ):
            if layer_name is not None:
                model_checks.check_layer(role, model, layer_name, owner=owner)
        if not self.uses_final_outputs:
            return
        if self.requires_same_output_shape:
            model_checks.check_same_output_shapes(teacher, student, owner=owner)
        for role, model in (("teacher", teacher), ("student", student)):
            if self.expects_logits(role):
                model_checks.check_logits_output(role, model, owner=owner)

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Shape checks happen in `compute_loss`, where the tensors are read."""

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


def weighted_mean(values, sample_weight=None):
    """Keras's "sum_over_batch_size" reduction: sum(w * l) / size(l).

    `values` holds one loss per sample (`(N,)`) or per sample and step
    (`(N, T)` for sequences); `sample_weight` has the same shape (a padding
    mask for sequences) or one weight per sample. Dividing by the number of
    values rather than by sum(w) is what `keras.losses.Loss` does, so the
    student loss and the distillation terms weigh samples and steps alike.
    """
    values = ops.convert_to_tensor(values)
    if sample_weight is None:
        return ops.mean(values)
    sample_weight = ops.cast(sample_weight, values.dtype)
    while len(sample_weight.shape) < len(values.shape):
        sample_weight = ops.expand_dims(sample_weight, -1)
    if len(sample_weight.shape) > len(values.shape):
        sample_weight = ops.reshape(sample_weight, ops.shape(values))
    return ops.sum(values * sample_weight) / ops.cast(ops.size(values), values.dtype)


def sparse_labels(y_true, outputs):
    """Integer labels shaped like `outputs` without its class axis.

    One-hot or soft labels give their argmax; sparse labels of shape `(N,)`,
    `(N, 1)` or `(N, T)` are reshaped.
    """
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(outputs.shape) and y_true.shape[-1] == outputs.shape[-1]:
        return ops.argmax(y_true, axis=-1)
    return ops.reshape(ops.cast(y_true, "int32"), ops.shape(outputs)[:-1])


def nan_outside_classes(values, labels, num_classes):
    """`values` with NaN where a label lies outside [0, num_classes).

    Terms that read labels use it so that a bad label stops training at
    that step (the Distiller names the term) rather than giving a number.
    """
    in_range = ops.logical_and(labels >= 0, labels < num_classes)
    return ops.where(in_range, values, float("nan"))


def log_probabilities(outputs, *, from_logits, temperature):
    """log softmax(z / T), from logits or from probabilities.

    Probabilities p become log p first, so softmax(log p / T) = p^(1/T) / Z
    sharpens or softens them exactly as temperature does logits.
    """
    outputs = ops.convert_to_tensor(outputs)
    if not from_logits:
        outputs = ops.log(ops.clip(outputs, keras.config.epsilon(), 1.0))
    return ops.log_softmax(outputs / temperature, axis=-1)
