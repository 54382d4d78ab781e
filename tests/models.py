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
