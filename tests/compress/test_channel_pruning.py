import keras
import numpy as np
import pytest

from keras_kd import compress
from keras_kd import profiling
from keras_kd import zoo


def _images(n=8):
    return np.random.default_rng(0).uniform(0, 255, (n, 28, 28, 1)).astype("float32")


def _randomized(model):
    """Non-trivial BN statistics, so every weight matters in the comparisons."""
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()])
    return model


def test_removing_no_channel_changes_nothing():
    student = _randomized(zoo.student_cnn())
    pruned, kept = compress.prune_channels(student, 0.0)
    np.testing.assert_array_equal(pruned.predict(_images(), verbose=0), student.predict(_images(), verbose=0))
    assert pruned.count_params() == student.count_params()
    assert all(len(k) == student.get_layer(n).kernel.shape[-1] for n, k in kept.items())


def test_the_parameter_count_follows_the_arithmetic():
    student = zoo.student_cnn()  # widths 16, 32, 32, hidden 48
    pruned, kept = compress.prune_channels(student, 0.5)
    assert {n: len(k) for n, k in kept.items()} == {"block1_conv": 8, "block2_conv": 16, "block3_conv": 16, "features": 24}
    bn = 4  # gamma, beta, moving mean and variance per channel
    want = (
        3 * 3 * 1 * 8 + bn * 8          # block1: no conv bias
        + 3 * 3 * 8 * 16 + bn * 16      # block2
        + 3 * 3 * 16 * 16 + bn * 16     # block3
        + 7 * 7 * 16 * 24 + 24          # features reads the flattened 7x7x16 map
        + 24 * 10 + 10                  # logits
    )  # fmt: skip
    assert pruned.count_params() == want
    assert profiling.count_macs(pruned) < 0.3 * profiling.count_macs(student)


def test_kept_channels_compute_what_they_did():
    student = _randomized(zoo.student_cnn())
    pruned, kept = compress.prune_channels(student, 0.25)
    before = keras.Model(student.inputs, student.get_layer("block1").output).predict(_images(), verbose=0)
    after = keras.Model(pruned.inputs, pruned.get_layer("block1").output).predict(_images(), verbose=0)
    np.testing.assert_allclose(after, before[..., kept["block1_conv"]], rtol=1e-5, atol=1e-6)


def test_criteria_rank_channels_by_l1_norm_or_bn_scale():
    student = zoo.student_cnn()
    kernel = student.get_layer("block1_conv").kernel.numpy()
    l1 = np.abs(kernel).reshape(-1, 16).sum(0)
    _, kept = compress.prune_channels(student, {"block1_conv": 0.5})
    np.testing.assert_array_equal(kept["block1_conv"], np.sort(np.argsort(-l1)[:8]))
    gamma = np.linspace(0.1, 1.6, 16).astype("float32")[::-1]
    bn = student.get_layer("block1_bn")
    bn.set_weights([gamma] + bn.get_weights()[1:])
    _, kept = compress.prune_channels(student, {"block1_conv": 0.75}, criterion="bn_scale")
    np.testing.assert_array_equal(kept["block1_conv"], [0, 1, 2, 3])  # the largest |gamma|
    with pytest.raises(ValueError, match="has none"):
        compress.prune_channels(student, {"features": 0.5}, criterion="bn_scale")


def test_channels_feeding_an_add_or_the_output_are_kept():
    inputs = keras.Input((8, 8, 4))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(a)
    x = keras.layers.Add(name="add")([inputs, b])
    x = keras.layers.Conv2D(6, 1, name="c")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    # a feeds only the convolution b; b feeds the Add (its width must match the input's); out is the output.
    assert compress.prunable_layers(model) == ["a", "c"]
    with pytest.raises(ValueError, match=r"cannot prune \['b'\]"):
        compress.prune_channels(model, {"b": 0.5})
    pruned, _ = compress.prune_channels(model, 0.5)
    assert pruned.get_layer("a").kernel.shape == (3, 3, 4, 2) and pruned.get_layer("b").kernel.shape == (3, 3, 2, 4)
    assert pruned.get_layer("c").kernel.shape == (1, 1, 4, 3) and pruned.get_layer("out").kernel.shape == (3, 3)
    assert pruned.predict(np.ones((2, 8, 8, 4), "float32"), verbose=0).shape == (2, 3)
