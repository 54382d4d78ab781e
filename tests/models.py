"""Tiny models for fast tests. No BatchNorm or Dropout, so a model computes
the same function in training and inference, and numpy references can use
`predict`."""

import keras


def mlp(hidden=16, num_classes=10, *, input_dim=8, activation=None, name=None):
    inputs = keras.Input((input_dim,), name="x")
    x = keras.layers.Dense(hidden, activation="tanh", name="hidden")(inputs)
    x = keras.layers.Dense(hidden, activation="tanh", name="hidden2")(x)
    outputs = keras.layers.Dense(num_classes, activation=activation, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def teacher_and_student(num_classes=10):
    return mlp(32, num_classes, name="teacher"), mlp(6, num_classes, name="student")


def cnn(width, name, *, first_layer=None):
    """A tiny CNN on 8x8x1 images with layers conv1 (8x8), pool, conv2 (4x4), gap,
    embed (16) and logits (5); `first_layer`, if given, runs on the inputs first."""
    inputs = keras.Input((8, 8, 1))
    x = first_layer(inputs) if first_layer is not None else inputs
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(16, activation="relu", name="embed")(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="logits")(x), name=name)


def quadrant_images(n, size, *, background, bright, seed=0):
    """`(x, y)`: n `(size, size, 1)` images whose label (0-3) is the quadrant
    `bright` is added to, over uniform noise in [0, background): a task a
    tiny CNN learns in a few epochs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, background, size=(n, size, size, 1)).astype("float32")
    y = rng.integers(0, 4, size=n)
    half = size // 2
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        x[i, half * r : half * r + half, half * c : half * c + half] += bright
    return x, y
