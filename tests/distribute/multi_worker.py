"""One worker of a MultiWorkerMirroredStrategy run (or the single-device reference).

Usage: `python -m tests.distribute.multi_worker OUT.json [--single]`. Each
worker reads its role from `TF_CONFIG` (set by the test: 2 workers on
loopback ports); `--single` trains the same Distiller on one device. Writes
the epoch logs and the trained weights to OUT.json.

The same script on a cluster: set TF_CONFIG on each machine to the
cluster's addresses and that machine's task index, and run it there.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

single = "--single" in sys.argv
strategy = tf.distribute.get_strategy() if single else tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_kd  # noqa: E402
from keras_kd import losses  # noqa: E402
from tests import models  # noqa: E402


def main(out_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.integers(0, 10, size=64)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        teacher, student = models.teacher_and_student()
        terms = [losses.KD(4.0), losses.Hint("hidden", "hidden")]
        distiller = keras_kd.Distiller(teacher, student, terms, [1.0, 2.0], 0.3)
        distiller.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    history = distiller.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "logs": {k: float(v[-1]) for k, v in history.history.items()},
        "weights": [v.numpy().tolist() for v in distiller.trainable_variables],
    }
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
