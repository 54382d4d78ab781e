"""Feature taps: one forward pass that yields a model's output and features.

A `Tap` runs a model once and returns `ModelOutputs`: the model's outputs
and a dict of named intermediate features. With layer names it calls a
functional `keras.Model` over the same layers (and so the same variables)
as the model it taps, whose outputs are the model's own output followed by
the outputs of the named layers; no layer is evaluated twice, unlike
running the model and a separate feature extractor.

A frozen tap (the teacher's) runs in inference mode unless told
`training=True` (which a frozen model's BatchNormalization ignores; only
dropout and noise layers then act) and passes everything it returns
through `stop_gradient`.
"""

import dataclasses

import keras
from keras import ops

from keras_kd import model_checks


@dataclasses.dataclass(frozen=True)
class ModelOutputs:
    """What one forward pass of a model gave: its outputs and named features."""

    outputs: object
    features: dict = dataclasses.field(default_factory=dict)

    def select(self, layer_name):
        """The outputs for `None`, else the feature of the layer named `layer_name`."""
        return self.outputs if layer_name is None else self.features[layer_name]


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
    owner = "Feature taps"
    features = []
    for layer_name in layer_names:
        layer = model_checks.check_layer(role, model, layer_name, owner=owner)
        model_checks.layer_output_shape(role, model, layer_name, owner=owner)
        features.append(layer.output)
    if len(model.outputs) != 1:
        raise ValueError(
            f"Feature taps support {role}s with one output. Received: "
            f"{model.name!r} with {len(model.outputs)} outputs. Wrap it in a "
            f"functional model that returns the output to distill."
        )
    return keras.Model(
        inputs=model.inputs[0] if len(model.inputs) == 1 else model.inputs,
        outputs=[model.outputs[0]] + features,
        name=f"{model.name}_tap",
    )


class Tap:
    """Runs `model` once, returning its outputs and the named layers' features.

    Args:
        model: the model to run.
        layer_names: the layers to read (may be empty).
        role: `"teacher"` or `"student"`, for errors.
        frozen: run with `training=False` unless `training=True` is asked
            for, and stop gradients. Defaults to `False`.
    """

    def __init__(self, model, layer_names, *, role, frozen=False):
        self.model = model
        self.layer_names = list(layer_names)
        self.role = role
        self.frozen = frozen
        self.tap_model = build_tap(model, self.layer_names, role=role)

    def feature_shape(self, layer_name):
        """The shape of a tapped feature, without the batch axis."""
        return tuple(self.tap_model.outputs[1 + self.layer_names.index(layer_name)].shape[1:])

    def __call__(self, x, training=None, **kwargs):
        if self.frozen:
            training = bool(training)
        if self.tap_model is None:
            outputs, features = self.model(x, training=training, **kwargs), []
        else:
            outputs, *features = self.tap_model(x, training=training, **kwargs)
        result = ModelOutputs(outputs, dict(zip(self.layer_names, features)))
        if self.frozen:
            stop = ops.stop_gradient
            result = ModelOutputs(keras.tree.map_structure(stop, result.outputs), {k: stop(v) for k, v in result.features.items()})
        return result
