"""On-device views vs the same augmentation in a `tf.data` map.

Distills the reference teacher into the reference student on
Fashion-MNIST-shaped batches (128 x 28 x 28 x 1) with a preset's
augmentation applied either

- on device, inside the train step (`Distiller(views=preset)`), or
- in `tf.data` (`dataset.map(augment, num_parallel_calls=AUTOTUNE)`, with
  the same Keras layers, prefetching), feeding a Distiller without views;

and prints steps per second for both and their ratio from one run. For
consistent presets the two pipelines compute the same thing; `dakd` draws
two views per image, which the map does too (returning both).

    python benchmarks/augmentation.py                    # presets light, standard, dakd
    python benchmarks/augmentation.py --presets standard --steps 20 --rounds 2
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_kd  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.augment import presets  # noqa: E402

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _distiller(teacher, views=None, two_inputs=False):
    # tf.data makes ((x_teacher, x_student), y): the Distiller's paired inputs.
    distiller = keras_kd.Distiller(teacher, zoo.student_cnn(), keras_kd.losses.KD(4.0), views=views, paired_inputs=two_inputs)
    distiller.compile(optimizer="adam", loss=SPARSE_CE)
    return distiller


def _timer(distiller, dataset, steps):
    distiller.fit(dataset.take(2), verbose=0)

    def run():
        start = time.perf_counter()
        distiller.fit(dataset.take(steps), verbose=0)
        return steps / (time.perf_counter() - start)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["light", "standard", "dakd"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    x = rng.integers(0, 256, size=(n, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=n)
    teacher = zoo.teacher_cnn()
    plain = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).repeat()

    print(f"\n{os.cpu_count()} CPUs, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds (median)\n")
    print(f"  {'preset':10s} {'on-device steps/s':>18s} {'tf.data steps/s':>16s} {'ratio':>7s}")
    for name in args.presets:
        views = presets.get(name, seed=0)
        map_views = presets.get(name, seed=0)

        def augment(images, labels, map_views=map_views):
            x_teacher, x_student, _ = map_views(images, None, training=True)
            return (x_teacher, x_student), labels

        mapped = (
            tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size)
            .map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE).repeat()
        )  # fmt: skip
        candidates = {
            "device": _timer(_distiller(teacher, views=views), plain, args.steps),
            "tf.data": _timer(_distiller(teacher, two_inputs=True), mapped, args.steps),
        }
        rates = {k: [] for k in candidates}
        for r in range(args.rounds):
            for key in (list(candidates) if r % 2 == 0 else list(candidates)[::-1]):
                rates[key].append(candidates[key]())
        device, data = statistics.median(rates["device"]), statistics.median(rates["tf.data"])
        print(f"  {name:10s} {device:18.2f} {data:16.2f} {device / data:7.3f}", flush=True)
    print("\n  ratio = on-device steps/s / tf.data steps/s (> 1: on-device is faster)")


if __name__ == "__main__":
    main()
