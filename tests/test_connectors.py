"""Connectors: shapes, spatial matching (pool / resize) and layouts, against numpy."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.connectors import Connector

RNG = np.random.default_rng(7)
SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _numpy_bilinear(x, out_h, out_w):
    """Bilinear resize with half-pixel centres, no antialiasing (NHWC)."""
    n, in_h, in_w, c = x.shape

    def taps(out_size, in_size):
        src = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
        src = np.clip(src, 0, in_size - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, in_size - 1)
        return lo, hi, src - lo

    y0, y1, fy = taps(out_h, in_h)
    x0, x1, fx = taps(out_w, in_w)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


def test_pool_averages_the_student_map_onto_the_teacher_grid():
    x = RNG.normal(size=(2, 6, 4, 3)).astype("float32")
    connector = Connector((3, 2, 3), kind="identity", spatial="pool")
    want = x.reshape(2, 3, 2, 2, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(connector(x).numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("student_hw, teacher_hw", [((3, 2), (6, 4)), ((8, 8), (3, 5))])
def test_resize_is_bilinear_to_the_teacher_size(student_hw, teacher_hw):
    x = RNG.normal(size=(2, *student_hw, 2)).astype("float32")
    connector = Connector((*teacher_hw, 2), kind="identity", spatial="resize")
    np.testing.assert_allclose(connector(x).numpy(), _numpy_bilinear(x, *teacher_hw), rtol=1e-5, atol=1e-6)


def test_conv1x1_is_a_per_position_matrix_product():
    x = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    connector = Connector((4, 4, 5), kind="conv1x1", use_batch_norm=False)
    connector.build(x.shape)
    kernel, bias = (w.numpy() for w in connector.projection.weights)
    want = np.einsum("nhwc,cd->nhwd", x, kernel[0, 0]) + bias
    np.testing.assert_allclose(connector(x).numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, use_batch_norm, spatial", [
    ("conv1x1", False, "pool"), ("conv1x1", True, "resize"), ("conv3x3_stack", True, "pool"), ("dense", True, "resize"),
])
def test_channels_first_gives_the_channels_last_result_transposed(kind, use_batch_norm, spatial):
    # Same weights in either layout; NCHW runs on CPU too (TensorFlow's CPU convolutions take NHWC only).
    x = RNG.normal(size=(2, 8, 6, 3)).astype("float32")
    last = Connector((4, 3, 5), kind=kind, spatial=spatial, use_batch_norm=use_batch_norm)
    first = Connector((5, 4, 3), kind=kind, spatial=spatial, use_batch_norm=use_batch_norm, data_format="channels_first")
    last.build(x.shape)
    first.build((2, 3, 8, 6))
    first.set_weights([RNG.uniform(0.5, 1.5, size=w.shape).astype("float32") for w in last.get_weights()])  # variances > 0
    last.set_weights(first.get_weights())
    nchw = np.transpose(x, (0, 3, 1, 2))
    for training in (False, True):
        np.testing.assert_allclose(
            first(nchw, training=training).numpy(),
            np.transpose(last(x, training=training).numpy(), (0, 3, 1, 2)), rtol=1e-4, atol=1e-4, equal_nan=False,
        )


def test_dense_maps_the_last_axis():
    connector = Connector((7,), kind="dense")
    assert connector(RNG.normal(size=(3, 4)).astype("float32")).shape == (3, 7)
    assert connector.compute_output_shape((None, 4)) == (None, 7)


@pytest.mark.parametrize("kwargs, match", [
    ({"teacher_shape": (4, 4, 8), "kind": "mlp"}, "Unknown connector kind.*kind='mlp'"),
    ({"teacher_shape": (4, 4, 8), "spatial": "crop"}, "Unknown spatial mode.*spatial='crop'"),
    ({"teacher_shape": (4, 4, 8), "data_format": "NHWC"}, "data_format must be"),
    ({"teacher_shape": (8,), "kind": "conv1x1"}, "Use kind='dense' for vectors"),
])
def test_bad_arguments_are_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Connector(**kwargs)


def test_pool_needs_an_integer_multiple():
    connector = Connector((3, 3, 2), kind="identity", spatial="pool")
    with pytest.raises(ValueError, match="integer multiple.*student \\(4, 4\\), teacher \\(3, 3\\).*spatial='resize'"):
        connector(np.zeros((1, 4, 4, 2), "float32"))


def test_round_trips_through_its_config():
    connector = Connector((3, 3, 2), kind="conv1x1", spatial="pool", use_batch_norm=False, name="c")
    config = connector.get_config()
    assert Connector.from_config(config).get_config() == config


def _cnn(width, name):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="logits")(x), name=name)


@pytest.mark.parametrize("spatial", ["pool", "resize"])
def test_distiller_matches_a_finer_student_map_to_the_teacher(spatial):
    teacher, student = _cnn(8, "teacher"), _cnn(3, "student")
    term = losses.Hint("pool", "conv1", spatial=spatial)  # teacher 4x4x8, student 8x8x3
    distiller = keras_kd.Distiller(teacher, student, [term], student_loss_weight=0.5)
    distiller.compile(optimizer="sgd", loss=SPARSE_CE)
    (connector,) = distiller.connectors
    assert connector.spatial == spatial and connector.teacher_shape == (4, 4, 8)
    x = RNG.normal(size=(8, 8, 8, 1)).astype("float32")
    y = RNG.integers(0, 5, size=8)
    logs = distiller.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    t_features = distiller.teacher_forward(keras_kd.step.Batch(x, x, x)).features["pool"].numpy()
    s_features = distiller.student_forward(x, training=False).features["conv1"]
    connected = connector(s_features, training=False).numpy()
    np.testing.assert_allclose(logs["distillation_loss"], ((t_features - connected) ** 2).mean(), rtol=1e-5)
