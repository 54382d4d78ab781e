import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import compress
from keras_kd import export
from keras_kd.export import litert
from tests import models


def _cnn(name="student"):
    """Rescaling, conv-BN-ReLU, depthwise conv with ReLU6, pooling, add, dense: the converter's fusions."""
    inputs = keras.Input((16, 16, 1), name="pixels")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    y = keras.layers.ReLU(max_value=6.0, name="relu6")(y)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(32, activation="relu", name="features")(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="logits")(x), name=name)


def _data(n=512, seed=0):
    return models.quadrant_images(n, 16, background=40, bright=200, seed=seed)


def test_quantizers_sit_where_the_converter_does_not_fuse():
    qat = compress.quantize_model(_cnn())
    names = [layer.name for layer in qat.layers]
    quantized = sorted(n[: -len("_quant")] for n in names if n.endswith("_quant"))
    # conv -> bn -> relu fuse; depthwise -> relu6 fuse; pooling keeps its scale.
    assert quantized == ["add", "conv2", "features", "gap", "input", "logits", "relu", "relu6", "rescale"]
    assert isinstance(qat.get_layer("conv"), compress.QuantizeWrapper)
    assert isinstance(qat.get_layer("features"), compress.QuantizeWrapper)


@pytest.fixture(scope="module")
def trained_qat():
    keras.utils.set_random_seed(0)
    x, y = _data()
    teacher = _cnn("teacher")
    teacher.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=4, batch_size=32, verbose=0)
    qat = compress.quantize_model(_cnn())
    distiller = keras_kd.Distiller(teacher, qat, student_loss_weight=0.5)
    distiller.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    distiller.fit(x, y, epochs=6, batch_size=32, verbose=0)
    return qat, x, y


def test_a_qat_model_converts_to_full_int8_without_data_and_agrees(trained_qat, tmp_path):
    qat, x, y = trained_qat
    path = str(tmp_path / "qat_int8.tflite")
    export.to_tflite(qat, path, quantization="int8")  # no representative data
    dtypes = litert.tensor_dtypes(path)
    assert set(dtypes["activations"]) == {"int8"}, dtypes
    assert set(dtypes["weights"]) <= {"int8", "int32"}, dtypes
    assert dtypes["input"] == "int8" and dtypes["output"] == "int8"
    assert "QUANTIZE" not in dtypes["ops"] and "DEQUANTIZE" not in dtypes["ops"], dtypes["ops"]
    int8 = litert.predict_tflite(path, x)
    keras_logits = qat.predict(x, verbose=0)
    agreement = np.mean(int8.argmax(-1) == keras_logits.argmax(-1))
    assert agreement >= 0.99, agreement
    assert np.mean(keras_logits.argmax(-1) == y) > 0.9  # it learned the task


def test_quantize_model_keeps_the_float_weights_and_the_original():
    model = _cnn()
    qat = compress.quantize_model(model)
    for name in ("conv", "depthwise", "features", "bn"):
        target = qat.get_layer(name)
        target = target.layer if isinstance(target, compress.QuantizeWrapper) else target
        for a, b in zip(model.get_layer(name).get_weights(), target.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not compress.is_quantized(model) and compress.is_quantized(qat)


def test_unquantizable_layers_are_named_before_training():
    inputs = keras.Input((8,))
    x = keras.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probs")(x))
    with pytest.raises(ValueError, match=r"3 layer\(s\).*'hidden': activation 'tanh'.*'norm': LayerNormalization.*'probs'"):
        compress.quantize_model(model)


def test_a_qat_model_saves_and_loads_with_its_ranges(trained_qat, tmp_path):
    qat, x, _ = trained_qat
    qat.save(tmp_path / "qat.keras")
    restored = keras.models.load_model(tmp_path / "qat.keras")
    np.testing.assert_allclose(restored.predict(x[:64], verbose=0), qat.predict(x[:64], verbose=0), rtol=1e-6)
    ranges = [(layer.range_min.numpy(), layer.range_max.numpy()) for layer in restored.layers if isinstance(layer, compress.ActivationQuantizer)]
    assert ranges and all(low <= 0 <= high and high > low for low, high in ranges)


def test_an_untrained_qat_model_is_refused_before_converting(tmp_path):
    qat = compress.quantize_model(_cnn())
    with pytest.raises(ValueError, match=r"never trained.*output zeros"):
        export.to_tflite(qat, str(tmp_path / "qat.tflite"), quantization="int8")
    assert not (tmp_path / "qat.tflite").exists()
