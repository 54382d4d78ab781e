"""Checks on the models a Distiller is given, run once at construction.

They read what a Keras model declares (its class, its functional graph, its
layers) and raise before any training starts, with what was wrong, what was
received and what to do.
"""

import keras

from keras_kd.validation import ArgumentTypeError

# Operations (layers or `keras.ops` calls) that turn logits into probabilities.
PROBABILITY_OPS = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}


def require_tensorflow(owner):
    """Raises unless Keras runs on TensorFlow (the train step's tape)."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"{owner}'s train_step needs the TensorFlow backend. Received: "
            f"KERAS_BACKEND={keras.backend.backend()!r}. Set "
            f"KERAS_BACKEND=tensorflow before importing keras (JAX and PyTorch "
            f"train steps are not implemented yet; the losses already use "
            f"keras.ops)."
        )


def check_model(role, model, *, owner):
    """Raises unless `model` is a `keras.Model`."""
    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(
            f"{owner}: the {role} must be a keras.Model. Received: "
            f"{role}={model!r} (of type {type(model).__name__}). Wrap "
            f"other frameworks' models or plain functions in a Keras model, "
            f"e.g. keras.layers.TorchModuleWrapper or a functional model."
        )
    return model


def check_distinct(teacher, student, *, owner):
    """Raises when the student is the teacher or shares its variables.

    Freezing the teacher would freeze those variables in the student too,
    so this runs before anything is changed.
    """
    if teacher is student:
        raise ValueError(
            f"{owner}: the student is the teacher (the same object). Received: "
            f"teacher=student={teacher.name!r}. Distill into a separate, "
            f"usually smaller, model: e.g. keras.models.clone_model(teacher) "
            f"for a same-size student, or keras_kd.zoo.student_cnn()."
        )
    teacher_ids = {id(v) for v in teacher.weights}
    shared = [v.path for v in student.weights if id(v) in teacher_ids]
    if shared:
        raise ValueError(
            f"{owner}: the student shares {len(shared)} variables with the "
            f"teacher, which is frozen, so they would stop training. Received: "
            f"shared variables {shared[:5]}{' ...' if len(shared) > 5 else ''}. "
            f"Build the student from new layers (keras.models.clone_model "
            f"copies the architecture without sharing weights)."
        )


def is_graph_model(model):
    """Whether `model` exposes a functional graph (functional or Sequential)."""
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def final_activation_name(model):
    """The name of the activation a single-output model ends with, or `None`.

    Reads the operation that produced the output in the functional graph: a
    `Softmax` layer, a `keras.ops.softmax` / `log_softmax` call, or a layer
    whose `activation` is softmax (Dense, Conv, Activation).
    """
    if not is_graph_model(model) or len(model.outputs) != 1:
        return None
    history = getattr(model.outputs[0], "_keras_history", None)
    if history is None:
        return None
    operation = history[0]
    if type(operation).__name__ in PROBABILITY_OPS:
        return PROBABILITY_OPS[type(operation).__name__]
    activation = getattr(operation, "activation", None)
    return getattr(activation, "__name__", None)


def check_logits_output(role, model, *, owner):
    """Raises when a model whose outputs are used as logits ends in softmax."""
    activation = final_activation_name(model)
    if activation in PROBABILITY_OPS.values():
        raise ValueError(
            f"{owner}: the {role}'s final layer applies {activation}, but a "
            f"distillation term declares its outputs as logits. Received: "
            f"{role} {model.name!r} ending in activation={activation!r}. Either "
            f"remove it (logits are better for temperature scaling; compile "
            f"the student's loss with from_logits=True), or use a term that "
            f"takes probabilities, e.g. keras_kd.losses.KD({role}_from_logits=False)."
        )


def _shapes(model):
    if not is_graph_model(model):
        return None
    return [tuple(o.shape) for o in model.outputs]


def check_same_output_shapes(teacher, student, *, owner):
    """Raises when known output shapes differ (None dimensions match anything)."""
    t_shapes, s_shapes = _shapes(teacher), _shapes(student)
    if t_shapes is None or s_shapes is None:
        return
    comparable = len(t_shapes) == len(s_shapes) and all(
        len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))
        for a, b in zip(t_shapes, s_shapes)
    )
    if not comparable:
        raise ValueError(
            f"{owner}: the teacher's and the student's outputs cannot be "
            f"compared. Received: teacher outputs {t_shapes}, student outputs "
            f"{s_shapes}. Both must predict the same classes: give the student "
            f"the teacher's output width, or distill features instead "
            f"(teacher_layer_name / student_layer_name)."
        )


def check_layer(role, model, layer_name, *, owner):
    """The layer named `layer_name` of a functional model, or a clear error."""
    if not is_graph_model(model):
        raise ValueError(
            f"{owner}: feature distillation needs the {role}'s intermediate "
            f"layers, which only functional and Sequential models expose. "
            f"Received: a subclassed {type(model).__name__} named "
            f"{model.name!r}, asked for layer {layer_name!r}. Either rebuild it "
            f"with the functional API, or return the features as extra "
            f"outputs from call() and distill those outputs."
        )
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"{owner}: the {role} {model.name!r} has no layer named "
            f"{layer_name!r}. Available layers: {', '.join(names)}."
        )
    return model.get_layer(layer_name)


def layer_output_shape(role, model, layer_name, *, owner):
    """The output shape (without the batch axis) of a tapped layer."""
    layer = check_layer(role, model, layer_name, owner=owner)
    try:
        return tuple(layer.output.shape[1:])
    except (AttributeError, ValueError) as e:
        raise ValueError(
            f"{owner}: layer {layer_name!r} of the {role} {model.name!r} is "
            f"called more than once, so its output is ambiguous. Tap a layer "
            f"that is used once. ({e})"
        ) from e
