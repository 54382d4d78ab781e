"""Runs each case on one device and under MirroredStrategy on 2 logical CPUs.

Run as a script (a fresh process: logical devices must be set before
TensorFlow starts). Prints one JSON object: per case, the largest relative
difference between the two runs' epoch logs and final trained weights,
and the logs themselves.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_kd  # noqa: E402
from keras_kd import augment  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd.methods import DAKDDistiller  # noqa: E402
from tests import models  # noqa: E402

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class PairSwapMixUp(keras.layers.MixUp):
    """MixUp with a fixed draw that does not depend on how the batch is split:
    each sample is mixed with its neighbour (0<->1, 2<->3, ...), with weight
    0.7 on even positions and 0.4 on odd ones. Every replica's shard of an
    even size then mixes the same pairs as the whole batch does."""

    def get_random_transformation(self, data, training=True, seed=None):
        size = keras.ops.shape(data)[0]
        index = keras.ops.arange(size, dtype="int32")
        partner = index + 1 - 2 * (index % 2)
        weight = keras.ops.where(index % 2 == 0, 0.7, 0.4)
        return {"mix_weight": keras.ops.cast(weight, "float32"), "permutation_order": partner}


def _kd():
    teacher, student = models.teacher_and_student()
    return keras_kd.Distiller(teacher, student, losses.KD(4.0), student_loss_weight=0.3)


def _kd_and_hint():
    teacher, student = models.teacher_and_student()
    terms = [losses.KD(4.0), losses.Hint("hidden", "hidden")]  # a dense connector 6 -> 32
    return keras_kd.Distiller(teacher, student, terms, [1.0, 2.0], 0.3)


def _image_mlp(hidden, name):
    # MixUp mixes images (N, H, W, C): the MLP of the other cases behind a Flatten.
    inputs = keras.Input((2, 4, 1))
    mlp = models.mlp(hidden, name=f"{name}_mlp")
    return keras.Model(inputs, mlp(keras.layers.Flatten()(inputs)), name=name)


def _mixup_views():
    teacher, student = _image_mlp(32, "teacher"), _image_mlp(6, "student")
    views = augment.Views(mix=PairSwapMixUp())
    return keras_kd.Distiller(teacher, student, losses.KD(4.0), student_loss_weight=0.3, views=views)


def _dakd():
    teacher, student = models.teacher_and_student()
    views = augment.Views(teacher=[keras.layers.Rescaling(0.9)], student=[keras.layers.Rescaling(1.1)])
    return DAKDDistiller(teacher, student, views=views, temperature=4.0, consistency_weight=2.0)


CASES = {"kd": _kd, "kd+hint": _kd_and_hint, "mixup_views": _mixup_views, "dakd": _dakd}
IMAGE_CASES = ("mixup_views",)


def _run(build, strategy, x, y, w):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        distiller = build()
        distiller.compile(optimizer=keras.optimizers.SGD(0.05), loss=SPARSE_CE, metrics=["accuracy"])
    history = distiller.fit(x, y, sample_weight=w, batch_size=16, epochs=1, shuffle=False, verbose=0)
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    weights = [v.numpy() for v in distiller.trainable_variables]
    return logs, weights


def _relative(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


def main(names):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.integers(0, 10, size=64)
    w = rng.uniform(0.5, 1.5, size=64).astype("float32")
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": mirrored.num_replicas_in_sync}
    for name in names:
        inputs = x.reshape(-1, 2, 4, 1) if name in IMAGE_CASES else x
        single_logs, single_weights = _run(CASES[name], tf.distribute.get_strategy(), inputs, y, w)
        mirrored_logs, mirrored_weights = _run(CASES[name], mirrored, inputs, y, w)
        report[name] = {
            "logs_rel_diff": max(_relative(mirrored_logs[k], single_logs[k]) for k in single_logs),
            "weights_rel_diff": max(_relative(m, s) for m, s in zip(mirrored_weights, single_weights)),
            "single": single_logs,
            "mirrored": mirrored_logs,
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
