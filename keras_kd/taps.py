"""Feature taps: one forward pass that yields a model's output and features.

A tap is a functional `keras.Model` over the same layers (and so the same
variables) as the model it taps, whose outputs are the model's own output
followed by the outputs of the named layers. Calling it runs the network
once; no layer is evaluated twice, unlike running the model and a separate
feature extractor.
"""

import keras


def _is_graph_model(model):
    return isinstance(model, keras.Model) and getattr(model, "inputs", None) is not None and getattr(model, "outputs", None) is not None


def build_tap(model, layer_names, *, role="model"):
    """Builds a single-pass model returning `[output, feature_1, ...]`.

    Args:
        model: a functional or Sequential `keras.Model` (built).
        layer_names: names of layers whose outputs to return, in order.
        role: how the model is named in errors ("teacher", "student").
            Defaults to `"model"`.

    Returns:
        A `keras.Model` whose outputs are the model's output followed by one
        tensor per name, or `None` when `layer_names` is empty.
    """
    layer_names = list(layer_names)
    if not layer_names:
        return None
    if not _is_graph_model(model):
        raise ValueError(
            f"Feature distillation needs the {role}'s intermediate layers, "
            f"which only functional and Sequential models expose. Received: "
            f"a subclassed {type(model).__name__} named {model.name!r}, "
            f"asked for layers {layer_names}. Either rebuild it with the "
            f"functional API, or return the features as extra outputs from "
            f"call() and distill those outputs."
        )
    if len(model.outputs) != 1:
        raise ValueError(
            f"Feature taps support {role}s with one output. Received: "
            f"{model.name!r} with {len(model.outputs)} outputs. Wrap it in a "
            f"functional model that returns the output to distill."
        )
    available = [layer.name for layer in model.layers]
    features = []
    for layer_name in layer_names:
        if layer_name not in available:
            raise ValueError(
                f"The {role} {model.name!r} has no layer named "
                f"{layer_name!r}. Available layers: {', '.join(available)}."
            )
        layer = model.get_layer(layer_name)
        try:
            features.append(layer.output)
        except (AttributeError, ValueError) as e:
            raise ValueError(
                f"Layer {layer_name!r} of the {role} {model.name!r} is called "
                f"more than once, so its output is ambiguous. Tap a layer "
                f"that is used once. ({e})"
            ) from e
    return keras.Model(
        inputs=model.inputs[0] if len(model.inputs) == 1 else model.inputs,
        outputs=[model.outputs[0]] + features,
        name=f"{model.name}_tap",
    )
