import keras
import pytest

from keras_kd import profiling
from keras_kd import zoo


def test_macs_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*3*3*3*4 = 6912
    x = keras.layers.DepthwiseConv2D(3, padding="valid")(x)  # 6*6*3*3*4 = 1296
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5)(x)  # 144*5 = 720
    assert profiling.count_macs(keras.Model(inputs, outputs)) == 6912 + 1296 + 720


def test_reference_models_fit_their_budgets():
    teacher = profiling.summarize(zoo.teacher_cnn())
    student = profiling.summarize(zoo.student_cnn())
    assert student["params"] <= 100_000
    assert teacher["params"] > 20 * student["params"]
    assert student["float32_kb"] == round(student["params"] * 4 / 1024, 1)


def test_student_convnet_spends_its_budget_on_convolutions():
    model = zoo.student_convnet()
    widths = [1, 24, 48, 48, 64, 64]
    convs = sum(9 * a * b for a, b in zip(widths, widths[1:]))  # 3x3, no bias (BatchNorm follows)
    batch_norm = 4 * sum(widths[1:])
    assert model.count_params() == convs + batch_norm + 64 * 10 + 10 <= 100_000
    assert convs / model.count_params() > 0.98
    # MACs by hand: 3x3 convs at 28^2, 14^2 (two) and 7^2 (two), then the logits.
    macs = 28 * 28 * 9 * 24 + 14 * 14 * 9 * (24 * 48 + 48 * 48) + 7 * 7 * 9 * (48 * 64 + 64 * 64) + 640
    assert profiling.count_macs(model) == macs


def test_student_convnet_names_five_widths():
    with pytest.raises(ValueError, match=r"five positive widths.*\(8, 8\)"):
        zoo.student_convnet(filters=(8, 8))
