"""Early exits: classifier heads attached inside a functional backbone.

`add_exits(model, at=[...])` returns a new functional model over the same
layers (the same variables) whose outputs are one logits tensor per exit,
shallow to deep, then the model's own output, unchanged. Each head maps a
layer's output to a feature of the deepest feature's size (the input of
the model's classifier), so exits can mimic it, then to logits.
`exit_model(model, k)` cuts the network after exit k: a plain
single-output model holding only the layers exit k needs, which trains,
saves and exports (int8 LiteRT) like any model. `MultiExitDistiller`
trains every exit together (self-distillation).
"""

import keras

from keras_kd import model_checks

HEADS = ("conv", "dense")


def _producer(model, tensor):
    """The layer of `model` whose output is `tensor` (`None` for an input)."""
    for layer in model.layers:
        try:
            output = layer.output
        except (AttributeError, ValueError):  # shared layers have no single output
            continue
        if output is tensor:
            return layer
    return None


def _classifier(model, output, *, owner):
    layer = _producer(model, output)
    if not isinstance(layer, keras.layers.Dense):
        raise ValueError(
            f"{owner}: each output of {model.name!r} must come from a Dense classifier, whose input "
            f"is the feature the exits mimic. Received: an output made by "
            f"{type(layer).__name__ if layer is not None else 'no layer'}. End the model "
            f"with keras.layers.Dense(num_classes) (logits)."
        )
    return layer


def _head(x, *, index, feature_dim, head):
    """Maps a backbone tensor to an exit's feature vector (see `add_exits`)."""
    prefix = f"exit{index}"
    if len(x.shape) == 4:
        if head == "conv":
            filters = int(x.shape[-1])
            x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"{prefix}_bn")(x)
            x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
        x = keras.layers.GlobalAveragePooling2D(name=f"{prefix}_pool")(x)
    elif len(x.shape) != 2:
        raise ValueError(f"add_exits: an exit reads a feature map (N, H, W, C) or a vector (N, D). Received: shape {tuple(x.shape)}.")
    return keras.layers.Dense(feature_dim, activation="relu", name=f"{prefix}_features")(x)


def add_exits(model, at, *, head="conv", name=None):
    """Attaches an early-exit classifier after each named layer.

    Each exit's head is, on a feature map, a 3x3 stride-2 convolution
    keeping the map's channels, with batch normalization and ReLU
    (`head="conv"`, after the heads of Zhang et al.'s "Be Your Own
    Teacher", one block instead of their stack) or nothing (`"dense"`),
    then global average pooling, then `Dense(d, relu)` (the exit's feature,
    named `exit<i>_features`) and `Dense(classes)` (`exit<i>_logits`),
    where d is the size of the feature the model's classifier reads.

    Args:
        model: a functional `keras.Model` with one input whose output is a
            `Dense` classifier's logits. Its layers are shared, not copied.
        at: the names of the layers to attach exits to, shallow to deep.
        head: `"conv"` or `"dense"`. Defaults to `"conv"`.
        name: defaults to `"<model name>_exits"`.

    Returns:
        A functional model with outputs `[exit_1, ..., exit_n, model's
        output]`, all logits. The last equals `model`'s output exactly.

    Example:

    ```python
    multi_exit = add_exits(zoo.student_cnn(), at=["block1", "block2"])
    early = exit_model(multi_exit, 0)  # the input to exit 1 only
    ```
    """
    owner = "add_exits"
    if not model_checks.is_graph_model(model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"{owner}: needs a functional or Sequential model with one input and one output. "
            f"Received: {model.name!r} ({type(model).__name__})."
        )
    if head not in HEADS:
        raise ValueError(f"{owner}: unknown head {head!r}. Valid: {', '.join(HEADS)}.")
    if isinstance(at, str) or not at:
        raise ValueError(f"{owner}: `at` must be a non-empty list of layer names. Received: at={at!r}.")
    classifier = _classifier(model, model.outputs[0], owner=owner)
    feature_dim = int(classifier.input.shape[-1])
    num_classes = int(model.outputs[0].shape[-1])
    outputs = []
    for index, layer_name in enumerate(at, start=1):
        layer = model_checks.check_layer("model", model, layer_name, owner=owner)
        feature = _head(layer.output, index=index, feature_dim=feature_dim, head=head)
        outputs.append(keras.layers.Dense(num_classes, name=f"exit{index}_logits")(feature))
    return keras.Model(model.inputs[0], outputs + [model.outputs[0]], name=name or f"{model.name}_exits")


def exit_model(model, index, *, name=None):
    """The network up to exit `index` (0-based; -1 is the full network), as its own model.

    It shares `model`'s layers and holds only those the exit needs, so it
    is as cheap as the exit: save or export it like any model.
    """
    count = len(model.outputs)
    if isinstance(index, bool) or not isinstance(index, int) or not -count <= index < count:
        raise ValueError(f"exit_model: `index` must be in [-{count}, {count - 1}]. Received: index={index!r}.")
    index %= count
    return keras.Model(model.inputs[0], model.outputs[index], name=name or f"{model.name}_exit{index}")


def exit_feature_layers(model, *, owner="exit_feature_layers"):
    """For each output of a multi-exit model, the layer whose output its classifier reads."""
    names = []
    for output in model.outputs:
        classifier = _classifier(model, output, owner=owner)
        feature = _producer(model, classifier.input)
        if feature is None:
            raise ValueError(f"{owner}: the classifier {classifier.name!r} reads the model's input; an exit needs a feature layer.")
        names.append(feature.name)
    return names
