"""Structured pruning: remove whole filters, so the int8 model is smaller and faster.

`prune_channels(model, fraction)` ranks the output channels of each
prunable Conv2D / Dense layer by an importance criterion, keeps the top
`1 - fraction`, and rebuilds a smaller functional model with the surviving
weights: the layer's kernel and bias lose those columns, every layer the
channels pass through unchanged (BatchNormalization, activations, pooling,
dropout, depthwise convolutions) loses them too, and the next Conv2D or
Dense loses the matching input rows (through a Flatten, every spatial
position of a removed channel). Unlike magnitude pruning, the result has
fewer parameters and MACs, and its int8 LiteRT file is smaller and faster.
Accuracy is then recovered by distilling from the teacher (or from the
unpruned model).

Criteria (Li et al., ICLR 2017; Liu et al., ICCV 2017):

- `"l1"`: ||W_c||_1, the sum of |weights| of filter c;
- `"bn_scale"`: |gamma_c| of the BatchNormalization right after the layer.

A layer is prunable when each path from its output passes only through
channel-wise layers to a Conv2D, Dense or (via Flatten / global pooling) a
Dense; channels that reach an Add, a Concatenate, a Reshape or the model's
output are kept (residual branches must keep matching widths).
"""

import keras
import numpy as np

from keras_kd import model_checks
from keras_kd.model_graph import layer_graph
from keras_kd.model_graph import output_layers

L = keras.layers
CRITERIA = ("l1", "bn_scale")
CHANNELWISE = (
    L.BatchNormalization, L.ReLU, L.Activation, L.MaxPooling2D, L.AveragePooling2D, L.Dropout, L.SpatialDropout2D,
    L.DepthwiseConv2D, L.ZeroPadding2D, L.Cropping2D, L.Identity,
)  # fmt: skip
TARGETS = (L.Conv2D, L.Dense)
FLATTENING = (L.Flatten, L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)


def _channels_reach_only_targets(name, layers, consumers, outputs):
    """Whether channels leaving `name` reach only Conv2D / Dense inputs (see the module docstring)."""
    if name in outputs or not consumers[name]:
        return False
    for reader in consumers[name]:
        layer = layers[reader]
        if isinstance(layer, TARGETS):
            continue
        if not isinstance(layer, (*CHANNELWISE, *FLATTENING)):
            return False
        if isinstance(layer, L.DepthwiseConv2D) and layer.depth_multiplier != 1:
            return False
        if isinstance(layer, L.Flatten) and len(layer.input.shape) != 4:
            return False
        if not _channels_reach_only_targets(reader, layers, consumers, outputs):
            return False
    return True


def prunable_layers(model):
    """The names of the layers whose output channels `prune_channels` can remove."""
    layers = {layer.name: layer for layer in model.layers}
    _, consumers = layer_graph(model)
    outputs = output_layers(model)
    return [
        layer.name for layer in model.layers
        if isinstance(layer, TARGETS) and not (isinstance(layer, L.Conv2D) and layer.groups != 1)
        and _channels_reach_only_targets(layer.name, layers, consumers, outputs)
    ]  # fmt: skip


def channel_importance(model, name, criterion):
    """One score per output channel of layer `name` (higher: kept first)."""
    layer = model.get_layer(name)
    if criterion == "l1":
        kernel = np.asarray(layer.kernel)
        return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    _, consumers = layer_graph(model)
    readers = [model.get_layer(n) for n in consumers[name]]
    if len(readers) != 1 or not isinstance(readers[0], L.BatchNormalization) or not readers[0].scale:
        raise ValueError(
            f"prune_channels: criterion='bn_scale' ranks {name!r}'s channels by the scale of the "
            f"BatchNormalization right after it, and {name!r} has none. Use criterion='l1'."
        )
    return np.abs(np.asarray(readers[0].gamma))


def _fractions(fraction, candidates):
    if isinstance(fraction, dict):
        unknown = sorted(set(fraction) - set(candidates))
        if unknown:
            raise ValueError(
                f"prune_channels: cannot prune {unknown}: not prunable layers of the model "
                f"(prunable: {candidates}; channels reaching an Add, a Concatenate, a Reshape or "
                f"the output must be kept)."
            )
        items = fraction.items()
    else:
        items = [(name, fraction) for name in candidates]
    result = {}
    for name, value in items:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"prune_channels: the fraction of channels to remove must be in [0, 1). Received: {name}={value!r}.")
        result[name] = float(value)
    return result


def prune_channels(model, fraction, *, criterion="l1"):
    """A smaller copy of `model` without the least important channels.

    Args:
        model: a functional or Sequential `keras.Model` (left unchanged).
        fraction: the fraction of output channels to remove from every
            prunable layer (`prunable_layers(model)`), or `{layer name:
            fraction}`. At least one channel of each layer is kept.
        criterion: `"l1"` or `"bn_scale"`. Defaults to `"l1"`.

    Returns:
        `(pruned_model, kept)`: the new model, with the same layer names,
        and `{layer name: indices of the channels kept}`.

    Example:

    ```python
    small, kept = prune_channels(student, 0.5)
    distiller = keras_kd.Distiller(teacher, small, student_loss_weight=0.5)  # recover
    ```
    """
    if not model_checks.is_graph_model(model):
        raise ValueError(f"prune_channels: needs a functional or Sequential model. Received: {type(model).__name__}.")
    if criterion not in CRITERIA:
        raise ValueError(f"prune_channels: unknown criterion {criterion!r}. Valid: {', '.join(CRITERIA)}.")
    fractions = _fractions(fraction, prunable_layers(model))
    selected = {}
    for name, value in fractions.items():
        scores = channel_importance(model, name, criterion)
        keep = max(1, int(round(len(scores) * (1.0 - value))))
        selected[name] = np.sort(np.argsort(-scores, kind="stable")[:keep])
    producers, _ = layer_graph(model)
    kept_out = {}  # layer name -> indices (into the original channels / features) of its output, or None
    new_weights, new_configs = {}, {}
    for layer in model.layers:
        inputs = [kept_out.get(p) for p in producers[layer.name]]
        keep_in = inputs[0] if len(inputs) == 1 else None
        if len(inputs) > 1 and any(k is not None for k in inputs):
            raise ValueError(f"prune_channels: {layer.name!r} merges pruned channels; this cannot happen for prunable layers.")
        weights = layer.get_weights()
        config = layer.get_config()
        out = keep_in
        if isinstance(layer, TARGETS):
            out = selected.get(layer.name)
            kernel = weights[0]
            if keep_in is not None:
                kernel = np.take(kernel, keep_in, axis=-2)
            if out is not None:
                kernel = np.take(kernel, out, axis=-1)
                config["filters" if isinstance(layer, L.Conv2D) else "units"] = len(out)
            weights = [kernel] + ([np.take(weights[1], out, axis=0) if out is not None else weights[1]] if len(weights) > 1 else [])
        elif isinstance(layer, L.DepthwiseConv2D) and keep_in is not None:
            weights = [np.take(weights[0], keep_in, axis=2)] + [np.take(w, keep_in, axis=0) for w in weights[1:]]
        elif isinstance(layer, L.BatchNormalization) and keep_in is not None:
            weights = [np.take(w, keep_in, axis=0) for w in weights]
        elif isinstance(layer, L.Flatten) and keep_in is not None:
            height, width, channels = layer.input.shape[1:]
            positions = np.arange(height * width)[:, None] * channels
            out = (positions + keep_in[None, :]).reshape(-1)
        new_weights[layer.name], new_configs[layer.name] = weights, config
        kept_out[layer.name] = out
    pruned = keras.models.clone_model(
        model, clone_function=lambda layer: layer.__class__.from_config(new_configs.get(layer.name, layer.get_config()))
    )
    for layer in pruned.layers:
        if new_weights.get(layer.name):
            layer.set_weights(new_weights[layer.name])
    return pruned, selected
