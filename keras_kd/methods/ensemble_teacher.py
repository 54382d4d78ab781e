"""Several teachers as one: a model whose logits are the teachers' mixture.

`ensemble_teacher(teachers, temperature=T)` returns a functional
`keras.Model` that any single-teacher method accepts (`Distiller`,
`function_matching`, `dakd`, `distill_chain`). Its logits are

    z_bar = T * log(sum_m w_m * softmax(z_m / T)),

so softmax(z_bar / T) is exactly the weighted mixture of the teachers'
tempered predictions, the target Hinton et al. distil an ensemble into.
Distil it at the same temperature T: at any other temperature the
tempered softmax of z_bar is a different (sharper or flatter) ensemble.
Fixed weights only; for per-sample weights (confidence, entropy) and terms
against one teacher, use `MultiTeacherDistiller`.

Reference:
    Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
    Network", NIPS 2014 Deep Learning Workshop (section 2: distilling an
    ensemble by matching its averaged soft targets).
"""

import keras
from keras import ops

from keras_kd import validation
from keras_kd.methods.multi_teacher import ensemble_logits

OWNER = "ensemble_teacher"


def _checked_weights(teacher_weights, count):
    """The teachers' weights normalized to sum to 1 (equal when `None`)."""
    if teacher_weights is None:
        return [1.0 / count] * count
    weights = validation.check_weights("teacher_weights", teacher_weights, count, owner=OWNER)
    return [w / sum(weights) for w in weights]


@keras.saving.register_keras_serializable(package="keras_kd")
class MixtureLogits(keras.layers.Layer):
    """Logits whose tempered softmax is the weighted mixture of the inputs'.

    Args:
        temperature: T. Defaults to 1.0.
        teacher_weights: one non-negative weight per input (normalized to
            sum to 1). Defaults to `None` (equal weights).

    Call on a list of logits tensors of one shape `(N, K)`; returns
    T * log(sum_m w_m softmax(z_m / T)), float32.
    """

    def __init__(self, temperature=1.0, teacher_weights=None, **kwargs):
        super().__init__(**kwargs)
        validation.check_positive_number("temperature", temperature, owner="MixtureLogits")
        self.temperature = float(temperature)
        self.teacher_weights = None if teacher_weights is None else [float(w) for w in teacher_weights]

    def call(self, logits_list):
        weights = _checked_weights(self.teacher_weights, len(logits_list))
        return ensemble_logits(logits_list, ops.convert_to_tensor(weights, "float32"), temperature=self.temperature)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "teacher_weights": self.teacher_weights}


def ensemble_teacher(teachers, *, temperature=1.0, teacher_weights=None, name="teacher_ensemble"):
    """One logits model from several trained teachers.

    Args:
        teachers: trained logits models with the same input and output
            shapes (at least one).
        temperature: T of the mixture; distil at the same T. Defaults to
            1.0 (function matching's).
        teacher_weights: one non-negative weight per teacher. Defaults to
            `None` (the mean).
        name: the model's name. Defaults to `"teacher_ensemble"`.

    Returns:
        A functional `keras.Model`: pixels -> mixture logits.

    Example:

    ```python
    teacher = methods.ensemble_teacher([t0, t1, t2])
    methods.function_matching(teacher, zoo.student_convnet, data, config)
    ```
    """
    teachers = list(teachers) if isinstance(teachers, (list, tuple)) else [teachers]
    if not teachers or not all(isinstance(t, keras.Model) for t in teachers):
        raise ValueError(
            f"{OWNER}: `teachers` must be a non-empty list of keras.Model. "
            f"Received: {[type(t).__name__ for t in teachers]}."
        )
    unbuilt = [t.name for t in teachers if not getattr(t, "inputs", None)]
    if unbuilt:
        raise ValueError(
            f"{OWNER}: every teacher needs known inputs (a functional or Sequential model "
            f"that has been built). Received teachers without inputs: {unbuilt}."
        )
    shapes = {(tuple(t.inputs[0].shape[1:]), tuple(t.outputs[0].shape[1:])) for t in teachers}
    if len(shapes) != 1:
        raise ValueError(
            f"{OWNER}: every teacher needs the same input and output shapes. Received "
            f"(input, output) shapes {sorted(shapes)}. Use MultiTeacherDistiller, which "
            f"resizes inputs per teacher."
        )
    weights = _checked_weights(teacher_weights, len(teachers))
    ((input_shape, _),) = shapes
    if len({t.name for t in teachers}) < len(teachers):
        # A functional model needs one name per layer; teachers of one recipe share theirs
        # (`zoo.teacher_cnn`). Each is wrapped, named by its position; its weights stay its own.
        teachers = [keras.Sequential([keras.Input(input_shape), t], name=f"{t.name}_{i}") for i, t in enumerate(teachers)]
    inputs = keras.Input(input_shape, name="pixels")
    mixture = MixtureLogits(temperature, weights, name="mixture")([t(inputs) for t in teachers])
    return keras.Model(inputs, mixture, name=name)
