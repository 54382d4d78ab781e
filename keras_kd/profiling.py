"""Model cost: parameters, multiply-accumulates (MACs) and float32 size."""

import numpy as np
import keras


def _shape(tensor_or_shape):
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _layer_macs(layer):
    """MACs of one call of `layer` on one sample (batch dimension dropped).

    A wrapper (pruning, quantization-aware training) counts as the layer it wraps.
    """
    try:
        in_shape = _shape(layer.input)[1:]
        out_shape = _shape(layer.output)[1:]
    except (AttributeError, ValueError):
        return 0
    while isinstance(layer, keras.layers.Wrapper):
        layer = layer.layer
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        k_h, k_w = layer.kernel_size
        return int(np.prod(out_shape[:-1])) * k_h * k_w * out_shape[-1]
    if isinstance(layer, keras.layers.SeparableConv2D):
        k_h, k_w = layer.kernel_size
        spatial = int(np.prod(out_shape[:-1]))
        depth_out = in_shape[-1] * layer.depth_multiplier
        return spatial * (k_h * k_w * depth_out + depth_out * out_shape[-1])
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        if layer.data_format == "channels_first":
            in_channels, spatial = in_shape[0], int(np.prod(out_shape[1:]))
            out_channels = out_shape[0]
        else:
            in_channels, spatial = in_shape[-1], int(np.prod(out_shape[:-1]))
            out_channels = out_shape[-1]
        kernel = int(np.prod(layer.kernel_size))
        return spatial * kernel * in_channels * out_channels // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(out_shape[:-1])) * in_shape[-1] * out_shape[-1]
    return 0


def count_macs(model):
    """Multiply-accumulates of one forward pass on one sample.

    Counts convolutions (regular, grouped, depthwise, separable) and dense
    layers, which dominate; normalization, activations and pooling are
    omitted. Nested models are walked.

    Args:
        model: a built functional or Sequential `keras.Model`.

    Returns:
        The MAC count as an int.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
        else:
            total += _layer_macs(layer)
    return total


def summarize(model):
    """`{"params", "trainable_params", "macs", "float32_kb"}` of a model."""
    params = int(model.count_params())
    trainable = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    return {
        "params": params,
        "trainable_params": trainable,
        "macs": count_macs(model),
        "float32_kb": round(params * 4 / 1024, 1),
    }
