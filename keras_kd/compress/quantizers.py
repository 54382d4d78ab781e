"""The fake-quantization layers of quantization-aware training.

Both use `keras.quantizers.fake_quant_with_min_max_vars`, which on the
TensorFlow backend is `tf.quantization.fake_quant_with_min_max_vars`: the
op the LiteRT converter reads ranges from, so a trained model converts to
int8 with no calibration data.

- `ActivationQuantizer`: per-tensor 8-bit activations. Its range is an
  exponential moving average of the batch minimum and maximum (set from the
  first batch, then `min <- d * min + (1 - d) * batch_min`, tfmot's
  `MovingAverageQuantizer`), widened to contain 0 so that 0 is exact.
- `QuantizeWrapper`: Conv2D, DepthwiseConv2D and Dense with fake-quantized
  kernels, symmetric (range +-max|w|) with `narrow_range=True` (levels
  -127..127): per output channel for convolutions, per tensor for Dense
  (per-channel Dense kernels fail conversion with "'tfl.transpose' op has
  mismatched quantized axes"). The range is the kernel's own, recomputed at
  every step (tfmot's `LastValueQuantizer`).

A BatchNormalization after a convolution is left unfolded during training:
the converter folds it (w_c * gamma_c / sigma_c per output channel), and a
per-channel grid scaled per channel is again a per-channel grid whose end
points are +-127 levels, so folding after fake quantization loses nothing.
"""

import keras
from keras import ops
from keras.quantizers import fake_quant_with_min_max_vars

from keras_kd import validation

QUANTIZABLE_WEIGHTS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


@keras.saving.register_keras_serializable(package="keras_kd")
class ActivationQuantizer(keras.layers.Layer):
    """Fake-quantizes a tensor to 8 bits over a moving-average [min, max] range.

    Args:
        ema_decay: d in [0, 1). Defaults to 0.999 (tfmot's).
    """

    def __init__(self, ema_decay=0.999, **kwargs):
        super().__init__(**kwargs)
        self.ema_decay = validation.check_non_negative_number("ema_decay", ema_decay, owner="ActivationQuantizer")
        if self.ema_decay >= 1:
            raise ValueError(f"ActivationQuantizer: ema_decay must be < 1. Received: {ema_decay}.")

    def build(self, input_shape):
        def scalar(name):
            return self.add_weight(name=name, shape=(), initializer="zeros", trainable=False)

        self.range_min, self.range_max, self.batches_seen = scalar("min"), scalar("max"), scalar("batches_seen")

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, "float32")
        if training:
            batch_min = ops.minimum(ops.min(inputs), 0.0)
            batch_max = ops.maximum(ops.max(inputs), 0.0)
            first = ops.equal(self.batches_seen, 0.0)
            d = self.ema_decay
            new_min = ops.where(first, batch_min, d * self.range_min + (1 - d) * batch_min)
            new_max = ops.where(first, batch_max, d * self.range_max + (1 - d) * batch_max)
            self.range_min.assign(new_min)
            self.range_max.assign(new_max)
            self.batches_seen.assign(self.batches_seen + 1.0)
            return fake_quant_with_min_max_vars(inputs, new_min, new_max)
        return fake_quant_with_min_max_vars(inputs, self.range_min, self.range_max)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ema_decay": self.ema_decay}


def quantize_kernel(kernel, per_channel):
    """Symmetric 8-bit fake quantization over +-max|w| (per last axis, or per tensor)."""
    if not per_channel:
        bound = ops.maximum(ops.max(ops.abs(kernel)), 1e-8)
        return fake_quant_with_min_max_vars(kernel, -bound, bound, narrow_range=True)
    bound = ops.maximum(ops.max(ops.abs(kernel), axis=tuple(range(len(kernel.shape) - 1))), 1e-8)
    return fake_quant_with_min_max_vars(kernel, -bound, bound, narrow_range=True, axis=-1)


@keras.saving.register_keras_serializable(package="keras_kd")
class QuantizeWrapper(keras.layers.Wrapper):
    """Runs a Conv2D, DepthwiseConv2D or Dense layer with a fake-quantized kernel.

    Keeps the wrapped layer's name (feature terms and `get_layer` still
    find it) and its variables (the float kernel trains; only its use is
    quantized).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, QUANTIZABLE_WEIGHTS):
            raise ValueError(f"QuantizeWrapper: {type(layer).__name__} has no kernel this wrapper quantizes.")
        if isinstance(layer, keras.layers.Conv2D) and (layer.groups != 1 or layer.data_format != "channels_last"):
            raise ValueError(
                f"quantize_model: Conv2D {layer.name!r} uses groups={layer.groups}, "
                f"data_format={layer.data_format!r}; only groups=1, channels_last convert to int8 here."
            )
        kwargs.setdefault("name", layer.name)
        super().__init__(layer, **kwargs)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def call(self, inputs):
        layer = self.layer
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, quantize_kernel(layer.kernel, per_channel=False))
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = layer.kernel  # (kh, kw, in, multiplier): one channel per (in, multiplier)
            kh, kw, channels, multiplier = kernel.shape
            flat = quantize_kernel(ops.reshape(kernel, (kh, kw, channels * multiplier)), per_channel=True)
            outputs = ops.depthwise_conv(
                inputs, ops.reshape(flat, kernel.shape), strides=layer.strides, padding=layer.padding,
                dilation_rate=layer.dilation_rate,
            )  # fmt: skip
        else:
            outputs = ops.conv(
                inputs, quantize_kernel(layer.kernel, per_channel=True), strides=layer.strides,
                padding=layer.padding, dilation_rate=layer.dilation_rate,
            )  # fmt: skip
        if layer.use_bias:
            outputs = outputs + layer.bias
        return layer.activation(outputs) if layer.activation is not None else outputs
