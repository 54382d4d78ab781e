"""Quantization-aware training for Keras 3: `quantize_model`, tfmot's name.

`quantize_model(model)` returns a clone of a functional model that
simulates int8 inference while it trains (see `quantizers.py` for the
quantizers): kernels fake-quantized inside `QuantizeWrapper`, and an
`ActivationQuantizer` on the input and on every tensor the converter keeps
as int8. No quantizer sits where LiteRT fuses ops into one kernel:

- between a Conv2D / DepthwiseConv2D / Dense and a BatchNormalization that
  follows it (folded into the convolution);
- between one of those, a BatchNormalization or an Add, and a ReLU / ReLU6
  that follows (a fused activation);
- after layers that keep their input's scale (max pooling, Flatten,
  Reshape, Dropout, padding and cropping).

A QAT model trains like any student (`keras_kd.Distiller(teacher,
quantize_model(student))`), and `keras_kd.export.to_tflite(qat_model,
path, quantization="int8")` converts it with no calibration data: the
ranges come from training. A layer it cannot quantize is named in an error
before training starts.
"""

import keras

from keras_kd import model_checks
from keras_kd.model_graph import layer_graph
from keras_kd.compress.quantizers import QUANTIZABLE_WEIGHTS
from keras_kd.compress.quantizers import ActivationQuantizer
from keras_kd.compress.quantizers import QuantizeWrapper

L = keras.layers
PASSTHROUGH = (
    L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.Flatten, L.Reshape, L.Dropout, L.SpatialDropout2D,
    L.ZeroPadding2D, L.Cropping2D, L.Identity,
)  # fmt: skip
REQUANTIZING = (
    L.BatchNormalization, L.ReLU, L.Add, L.Concatenate, L.Rescaling, L.AveragePooling2D,
    L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.Activation,
)  # fmt: skip
FUSED_ACTIVATIONS = ("relu", "relu6", "linear")


def _is_fused_activation(layer):
    if isinstance(layer, L.ReLU):
        return layer.negative_slope == 0 and layer.threshold == 0 and layer.max_value in (None, 6.0)
    if isinstance(layer, L.Activation):
        return getattr(layer.activation, "__name__", "") in ("relu", "relu6")
    return False


def _check_layer(layer):
    """The reason `layer` cannot be quantized, or `None`."""
    if isinstance(layer, (L.InputLayer, *PASSTHROUGH, *QUANTIZABLE_WEIGHTS)):
        if isinstance(layer, QUANTIZABLE_WEIGHTS):
            activation = getattr(layer.activation, "__name__", "linear")
            if activation not in FUSED_ACTIVATIONS:
                return f"activation {activation!r} inside the layer (only relu, relu6 or none fuse)"
        return None
    if isinstance(layer, L.Activation) and not _is_fused_activation(layer):
        name = getattr(layer.activation, "__name__", layer.activation)
        if name != "linear":
            return f"activation {name!r} (int8 LiteRT needs fixed output ranges for it)"
    if isinstance(layer, L.ReLU) and not _is_fused_activation(layer):
        return "a leaky or thresholded ReLU"
    if isinstance(layer, REQUANTIZING):
        return None
    if isinstance(layer, keras.Model):
        return "a nested model (flatten it into one functional model first)"
    return f"{type(layer).__name__} is not supported"


def _fuses(producer, consumer):
    """Whether LiteRT fuses `consumer` into `producer` (no int8 tensor between them)."""
    if isinstance(consumer, L.BatchNormalization):
        return isinstance(producer, QUANTIZABLE_WEIGHTS) and getattr(producer.activation, "__name__", "linear") == "linear"
    if _is_fused_activation(consumer):
        linear = getattr(getattr(producer, "activation", None), "__name__", "linear") == "linear"
        return isinstance(producer, (*QUANTIZABLE_WEIGHTS, L.BatchNormalization, L.Add)) and linear
    return False


def quantize_model(model, *, ema_decay=0.999):
    """A clone of `model` that trains with simulated int8 inference (QAT).

    Args:
        model: a functional or Sequential `keras.Model` with one input, built
            from the layers listed in this module (convolutions, dense,
            batch normalization, ReLU/ReLU6, pooling, add, concatenate,
            rescaling, reshaping). Its weights are copied; it is left as it was.
        ema_decay: the activation ranges' moving-average decay. Defaults to
            0.999.

    Returns:
        The QAT model. Layer names are kept; quantizers are named
        `<layer>_quant` (`input_quant` for the input).

    Example:

    ```python
    qat = quantize_model(student)
    distiller = keras_kd.Distiller(teacher, qat, student_loss_weight=0.5)
    distiller.compile(keras.optimizers.Adam(1e-4), loss=..., metrics=["accuracy"])
    distiller.fit(x_train, y_train, epochs=2)
    keras_kd.export.to_tflite(qat, "student_qat_int8.tflite", quantization="int8")
    ```
    """
    owner = "quantize_model"
    if not model_checks.is_graph_model(model) or len(model.inputs) != 1:
        raise ValueError(
            f"{owner}: needs a functional or Sequential model with one input. Received: "
            f"{getattr(model, 'name', model)!r} ({type(model).__name__})."
        )
    if is_quantized(model):
        raise ValueError(f"{owner}: {model.name!r} is already quantized (it has ActivationQuantizer layers).")
    problems = [f"{layer.name!r}: {reason}" for layer in model.layers if (reason := _check_layer(layer)) is not None]
    if problems:
        raise ValueError(
            f"{owner}: cannot quantize {len(problems)} layer(s) of {model.name!r}: "
            + "; ".join(problems)
            + ". Replace them (e.g. a final softmax: train on logits and apply softmax after the "
            "int8 model), or keep the model float and use post-training quantization."
        )
    _, consumers = layer_graph(model)
    layers = {layer.name: layer for layer in model.layers}

    def needs_quantizer(layer):
        if isinstance(layer, PASSTHROUGH):
            return False
        readers = [layers[name] for name in consumers[layer.name]]
        return not (len(readers) == 1 and _fuses(layer, readers[0]))

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        return QuantizeWrapper(fresh) if isinstance(layer, QUANTIZABLE_WEIGHTS) else fresh

    inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype, name=model.inputs[0].name)
    quantized_input = ActivationQuantizer(ema_decay, name="input_quant")(inputs)

    def call(layer, *args, **kwargs):
        args = tuple(quantized_input if arg is inputs else arg for arg in args)
        outputs = layer(*args, **kwargs)
        name = layer.layer.name if isinstance(layer, QuantizeWrapper) else layer.name
        if needs_quantizer(layers[name]):
            outputs = ActivationQuantizer(ema_decay, name=f"{name}_quant")(outputs)
        return outputs

    qat = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone, call_function=call)
    for layer in model.layers:
        target = qat.get_layer(layer.name)
        (target.layer if isinstance(target, QuantizeWrapper) else target).set_weights(layer.get_weights())
    return qat


def is_quantized(model):
    """Whether `model` holds QAT quantizers (and so converts to int8 without data)."""
    return any(isinstance(layer, (ActivationQuantizer, QuantizeWrapper)) for layer in getattr(model, "layers", []))


def check_trained_ranges(model):
    """Raises unless every activation range of a QAT model has seen a training batch."""
    unseen = [
        layer.name for layer in model.layers
        if isinstance(layer, ActivationQuantizer) and float(layer.batches_seen.numpy()) == 0.0
    ]  # fmt: skip
    if unseen:
        raise ValueError(
            f"{model.name!r} is quantization-aware but {len(unseen)} activation range(s) were never "
            f"trained ({', '.join(unseen[:4])}{', ...' if len(unseen) > 4 else ''}): their ranges are "
            f"[0, 0], so the int8 model would output zeros. Fit the model (a few hundred steps) before "
            f"converting it."
        )
