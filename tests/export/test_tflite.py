import os

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import export
from keras_kd.export import litert
from keras_kd.export import tflite


def _small_cnn(with_augmentation=False):
    """Conv, BatchNorm, ReLU/ReLU6, DepthwiseConv, pooling and Dense."""
    inputs = keras.Input((16, 16, 1))
    x = inputs
    if with_augmentation:
        x = keras.layers.RandomFlip("horizontal", name="flip")(x)
        x = keras.layers.RandomTranslation(0.2, 0.2, name="translate")(x)
    x = keras.layers.Rescaling(1.0 / 255)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.ReLU(max_value=6.0)(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 1)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    # >= 1024 weights: LiteRT's dynamic range mode skips smaller tensors.
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(4)(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _trained(with_augmentation=False, n=512):
    """A small CNN fit on a learnable task: which quadrant is brightest."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 40, size=(n, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 4, size=n)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        x[i, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] += 200
    model = _small_cnn(with_augmentation)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    return model, x, y


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    return _trained()


def test_int8_export_is_full_integer_and_agrees_with_keras(trained, tmp_path):
    model, x, y = trained
    path = str(tmp_path / "m.tflite")
    export.to_tflite(model, path, quantization="int8", representative_data=x[:200])
    dtypes = export.tensor_dtypes(path)
    assert dtypes["input"] == "int8" and dtypes["output"] == "int8"
    assert set(dtypes["activations"]) == {"int8"}
    assert set(dtypes["weights"]) <= {"int8", "int32"} and "int8" in dtypes["weights"]
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(dtypes["ops"])
    keras_pred = np.argmax(model.predict(x, verbose=0), -1)
    tflite_pred = np.argmax(export.predict_tflite(path, x), -1)
    assert np.mean(tflite_pred == keras_pred) >= 0.98
    assert export.evaluate_tflite(path, x, y) == pytest.approx(np.mean(tflite_pred == y))


def test_int8_with_float_io(trained):
    model, x, _ = trained
    flatbuffer = export.to_tflite(model, quantization="int8", representative_data=x[:100], io_dtype="float32")
    dtypes = export.tensor_dtypes(flatbuffer)
    assert dtypes["input"] == "float32" and dtypes["output"] == "float32"
    assert "int8" in dtypes["activations"]


@pytest.mark.parametrize("mode, weight_dtype", [(None, "float32"), ("float16", "float16"), ("dynamic", "int8")])
def test_float_and_dynamic_modes(trained, mode, weight_dtype):
    model, x, _ = trained
    flatbuffer = export.to_tflite(model, quantization=mode)
    dtypes = export.tensor_dtypes(flatbuffer)
    assert weight_dtype in dtypes["weights"]
    assert dtypes["input"] == "float32"
    keras_out = model.predict(x[:64], verbose=0)
    tflite_out = export.predict_tflite(flatbuffer, x[:64])
    assert np.mean(np.argmax(keras_out, -1) == np.argmax(tflite_out, -1)) >= 0.98
    if mode is None:
        np.testing.assert_allclose(tflite_out, keras_out, rtol=1e-3, atol=1e-3)


def test_quantize_dequantize_follow_scale_and_zero_point():
    detail = {"dtype": np.int8, "quantization": (0.5, -3), "name": "t"}
    q = litert.quantize(np.array([0.0, 1.0, 100.0, -100.0]), detail)
    np.testing.assert_array_equal(q, [-3, -1, 127, -128])
    np.testing.assert_allclose(litert.dequantize(q, detail), [0.0, 1.0, 65.0, -62.5])


def test_augmentation_layers_are_bypassed_in_the_export():
    keras.utils.set_random_seed(1)
    model, x, _ = _trained(with_augmentation=True, n=256)
    flatbuffer = export.to_tflite(model, quantization=None)
    dtypes = export.tensor_dtypes(flatbuffer)
    assert not any("RANDOM" in op or "STATELESS" in op for op in dtypes["ops"])
    # Deterministic, and equal to Keras's inference (no flip, no shift).
    first = export.predict_tflite(flatbuffer, x[:32])
    np.testing.assert_allclose(export.predict_tflite(flatbuffer, x[:32]), first)
    np.testing.assert_allclose(first, model(x[:32], training=False), rtol=1e-3, atol=1e-3)


def test_a_distiller_is_refused_with_the_way_to_export_its_student(trained, tmp_path):
    model, x, _ = trained
    distiller = keras_kd.Distiller(_small_cnn(), model)
    with pytest.raises(TypeError, match=r"Export its student: to_tflite\(distiller.student"):
        export.to_tflite(distiller, str(tmp_path / "m.tflite"), quantization=None)
    assert not (tmp_path / "m.tflite").exists()
    flatbuffer = export.to_tflite(distiller.student, quantization=None)
    np.testing.assert_allclose(export.predict_tflite(flatbuffer, x[:8]), model.predict(x[:8], verbose=0), rtol=1e-3, atol=1e-3)


def test_benchmark_reports_latency_and_size(trained, tmp_path):
    model, x, _ = trained
    path = str(tmp_path / "m.tflite")
    export.to_tflite(model, path, quantization=None)
    result = export.benchmark_tflite(path, threads=1, runs=20, warmup=2)
    assert 0 < result["median_ms"] <= result["p90_ms"]
    assert result["size_kb"] == pytest.approx(os.path.getsize(path) / 1024)


def test_export_report_writes_json_and_every_variant(trained, tmp_path):
    model, x, y = trained
    report = export.export_report(model, str(tmp_path), x[:128], y[:128], representative_data=x[:100], log=lambda s: None)
    assert [r["variant"] for r in report["variants"]] == ["float32", "float16", "dynamic", "int8"]
    assert (tmp_path / "export_report.json").exists()
    int8 = report["variants"][-1]
    assert int8["size_ratio"] < 1.0 and int8["agreement_pct"] >= 98.0


# ------------------------------------------------------------ bad input


def test_unknown_mode_lists_valid_modes(trained):
    with pytest.raises(ValueError, match=r"Unknown quantization mode.*'int4'.*'float16', 'dynamic', 'int8'"):
        export.to_tflite(trained[0], quantization="int4")


def test_int8_needs_representative_data(trained):
    with pytest.raises(ValueError, match="needs representative_data"):
        export.to_tflite(trained[0], quantization="int8")


def test_empty_representative_data(trained):
    model = trained[0]
    with pytest.raises(ValueError, match="Representative data is empty"):
        export.to_tflite(model, quantization="int8", representative_data=np.zeros((0, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match="Representative data is empty"):
        export.to_tflite(model, quantization="int8", representative_data=lambda: iter([]))


def test_representative_shape_mismatch(trained):
    with pytest.raises(ValueError, match=r"does not match the model's input.*\(28, 28\).*\(16, 16, 1\)"):
        export.to_tflite(trained[0], quantization="int8", representative_data=np.zeros((10, 28, 28), "float32"))


def test_unconvertible_op_is_named_and_leaves_no_file(tmp_path):
    class Erf(keras.layers.Layer):
        def call(self, x):
            import tensorflow as tf

            return tf.math.bessel_i0e(x)  # no LiteRT builtin

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Erf()(inputs)), name="odd")
    path = tmp_path / "odd.tflite"
    with pytest.raises(ValueError, match=r"cannot convert 'odd' with builtin ops.*BesselI0e"):
        export.to_tflite(model, str(path), quantization=None)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_existing_file_is_never_overwritten_without_asking(trained, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.to_tflite(trained[0], str(path), quantization=None)
    assert path.read_bytes() == b"precious"
    export.to_tflite(trained[0], str(path), quantization=None, overwrite=True)
    assert path.read_bytes() != b"precious"


def test_bad_io_dtype_combinations(trained):
    with pytest.raises(ValueError, match="needs full-integer quantization"):
        export.to_tflite(trained[0], quantization="dynamic", io_dtype="int8")
    with pytest.raises(ValueError, match="Unknown io_dtype"):
        export.to_tflite(trained[0], quantization="int8", io_dtype="int4")


def test_representative_data_forms_give_the_same_calibration(trained):
    import tensorflow as tf

    model, x, y = trained
    from_array = export.to_tflite(model, quantization="int8", representative_data=x[:64], calibration_steps=64)
    batched = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(16)
    from_dataset = export.to_tflite(model, quantization="int8", representative_data=batched, calibration_steps=64)
    from_generator = export.to_tflite(
        model, quantization="int8", calibration_steps=64,
        representative_data=lambda: (x[i : i + 8] for i in range(0, 64, 8)),
    )
    reference = export.predict_tflite(from_array, x[:32])
    for other in (from_dataset, from_generator):
        np.testing.assert_array_equal(export.predict_tflite(other, x[:32]), reference)


def test_calibration_steps_caps_the_samples():
    samples = tflite.representative_samples(np.zeros((50, 4), "float32"), (4,), steps=10)
    assert len(samples) == 10 and samples[0].shape == (1, 4)
    with pytest.raises(ValueError, match="calibration_steps"):
        export.to_tflite(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), quantization="int8",
                         representative_data=np.zeros((5, 4), "float32"), calibration_steps=0)


def test_flatten_shape_arithmetic_is_not_counted_as_activations(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    x_data = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype("float32")
    dtypes = export.tensor_dtypes(export.to_tflite(model, quantization="int8", representative_data=x_data))
    assert set(dtypes["activations"]) == {"int8"}
    assert set(dtypes["shape"]) <= {"int32"}
    assert set(dtypes["weights"]) <= {"int8", "int32"}


def test_converter_chatter_is_silenced(trained, capfd):
    export.to_tflite(trained[0], quantization=None)
    out, err = capfd.readouterr()
    assert "TensorSpec" not in out and "SavedModel" not in err


def test_calibration_images_without_the_channel_axis_get_it():
    shape = (16, 16, 1)
    images = np.random.default_rng(0).uniform(0, 255, (6, 16, 16)).astype("float32")
    got = tflite.representative_samples(images, shape, steps=10)
    want = tflite.representative_samples(images[..., None], shape, steps=10)
    assert len(got) == 6 and all(g.shape == (1, 16, 16, 1) for g in got)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert tflite.representative_samples(images[0], shape, steps=10)[0].shape == (1, 16, 16, 1)
    for bad in (np.zeros((4, 16, 16, 3), "float32"), np.zeros((4, 16), "float32"), np.zeros((4, 16, 16, 1, 1), "float32")):
        with pytest.raises(ValueError, match="does not match the model's input"):
            tflite.representative_samples(bad, shape, steps=10)


def test_bad_labels_and_threads_fail_before_any_file_is_written(trained, tmp_path):
    model, x, y = trained
    path = str(tmp_path / "m.tflite")
    export.to_tflite(model, path, quantization=None)
    with pytest.raises(ValueError, match=r"one integer label per input.*64 inputs and labels of shape \(63,\)"):
        export.evaluate_tflite(path, x[:64], y[:63])
    with pytest.raises(ValueError, match="threads"):
        export.benchmark_tflite(path, threads=0)
    out = tmp_path / "report"
    with pytest.raises(ValueError, match="threads"):
        export.export_report(model, str(out), x[:32], y[:32], variants=["float32"], threads=0)
    with pytest.raises(ValueError, match="one integer label per input"):
        export.export_report(model, str(out), x[:32], y[:31], variants=["float32"])
    assert not out.exists()


def test_the_device_report_lists_ops_and_estimates_the_arena(trained, tmp_path):
    model, x, _ = trained
    path = str(tmp_path / "m.tflite")
    export.to_tflite(model, path, quantization="int8", representative_data=x[:64])
    report = export.device_report(path)
    names = {op["op"] for op in report["ops"]}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= names
    assert all(op["version"] >= 1 and op["count"] >= 1 for op in report["ops"])
    assert report["micro_ready"] and report["not_in_micro"] == []
    # The arena holds at least the largest activation: the 16x16x8 int8 map after the first conv.
    assert 16 * 16 * 8 <= report["arena_bytes"] < 16 * 16 * 8 * 4
    assert 0 < report["weights_bytes"] < report["size_bytes"]


def test_arena_follows_the_live_ranges_of_a_chain():
    inputs = keras.Input((10,))
    a = keras.layers.Dense(40, name="a")(inputs)
    b = keras.layers.Dense(20, name="b")(a)
    model = keras.Model(inputs, keras.layers.Dense(5, name="c")(b))
    flatbuffer = export.to_tflite(model, quantization=None)
    # float32 at batch 1: step a holds in+a (10+40), step b a+b (40+20), step c b+c (20+5): peak 60 floats.
    assert export.device_report(flatbuffer)["arena_bytes"] == 60 * 4


def test_the_modes_table_is_the_one_the_readme_shows():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    assert export.modes_table() in readme
    assert list(export.MODES) == ["float32", "float16", "dynamic", "int8"]
