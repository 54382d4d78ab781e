import keras

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
