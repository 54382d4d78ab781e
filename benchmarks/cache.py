"""Cached teacher logits vs the live teacher: epoch time and accuracy.

Time (one run, the same process, ratios side by side): epochs of the
demo's student alone, distilled from the live zoo teacher, from cached
logits and from a top-3 cache (`keras_kd.teacher_cache`), after one
warm-up epoch each; 5 rounds of one epoch per run, interleaved, medians.

Accuracy (3 seeds, the demo's 10-epoch budget, KD T 4, w 0.9): live vs
cached vs cached top-3 (FKD's marginal smoothing, `top_k=3`: 3 logits, 3
class indices and a fill logit per row), without views and with the
`light` views. With views the cache
holds the clean images' logits while the student sees augmented ones: the
inconsistency the docs warn about, measured.

    python benchmarks/cache.py              # timing + 3 seeds (resumable)
    python benchmarks/cache.py --timing-only
"""

import argparse
import dataclasses
import os
import statistics
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import common  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import Distiller  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import teacher_cache  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.augment import Views  # noqa: E402
from keras_kd.augment import presets  # noqa: E402
from keras_kd.datasets import fashion_mnist  # noqa: E402


MODES = ("live", "cached", "cached_top3")


def _compile(model):
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def timing(teacher, logits, top3, data, rounds=5):
    (x, y), _, _ = data
    runs = {
        "student alone": (_compile(zoo.student_cnn()), x),
        "live teacher": (_compile(Distiller(teacher, zoo.student_cnn(), losses.KD(4.0), student_loss_weight=0.9)), x),
        "cached logits": (
            _compile(Distiller(teacher_cache.cached_teacher(logits), zoo.student_cnn(), losses.KD(4.0),
                               student_loss_weight=0.9, paired_inputs=True)),
            (logits, x),
        ),  # fmt: skip
        "cached top-3": (
            _compile(Distiller(teacher_cache.cached_teacher(top3, num_classes=10), zoo.student_cnn(), losses.KD(4.0),
                               student_loss_weight=0.9, paired_inputs=True)),
            (teacher_cache.cached_inputs(top3), x),
        ),  # fmt: skip
    }
    epochs = common.interleaved_timing({name: (trainer, inputs, y) for name, (trainer, inputs) in runs.items()}, rounds=rounds)
    seconds = common.print_timing(epochs, "student alone")
    return {"median_seconds": seconds, "epoch_seconds": epochs}


def accuracy_row(mode, views, seed, teacher, caches, data, base):
    config = training.TrainConfig(epochs=base.student_epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
    view_maker = presets.get("light", seed=seed) if views else None
    if views and mode != "live":  # the cache labels the clean image: the student alone is augmented
        view_maker = Views(student=view_maker.shared)
    if mode == "live":
        result = training.train_distilled("live", teacher, zoo.student_cnn, data, config, distillation_losses=[losses.KD(4.0)],
                                          student_loss_weight=0.9, views=view_maker)  # fmt: skip
    else:
        (x, y), _, test = data  # no validation: the cached rows exist for the training images only
        cache = caches[mode]
        stand_in = teacher_cache.cached_teacher(cache, num_classes=10)
        result = training.train_distilled(
            mode, None, zoo.student_cnn, (((teacher_cache.cached_inputs(cache), x), y), None, test), config,
            distiller_fn=lambda _, student: Distiller(stand_in, student, losses.KD(4.0),
                                                      student_loss_weight=0.9, views=view_maker, paired_inputs=True),
        )  # fmt: skip
    return {"mode": mode, "views": views, "seed": seed, "test_accuracy": result.test_accuracy,
            "seconds_per_epoch": result.train_seconds / config.epochs}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--results", default="benchmarks/results/cache.jsonl")
    parser.add_argument("--timing-only", action="store_true")
    args = parser.parse_args()
    base = demo.DemoConfig()
    data = fashion_mnist.load_splits()
    done = {(r["mode"], r["views"], r["seed"]) for r in load_records(args.results) if "mode" in r}
    with tempfile.TemporaryDirectory() as tmp:
        timed = any("timing" in r for r in load_records(args.results))
        for seed in ([None] if args.timing_only or not timed else []) + ([] if args.timing_only else args.seeds):
            teacher, _ = demo.get_teacher(dataclasses.replace(base, seed=seed or 0), data)
            logits = teacher_cache.cache_teacher_outputs(teacher, data[0][0], os.path.join(tmp, f"logits-{seed}.npy"), overwrite=True)
            top3_path = os.path.join(tmp, f"top3-{seed}.npy")
            top3 = teacher_cache.cache_teacher_outputs(teacher, data[0][0], top3_path, top_k=3, overwrite=True)
            if seed is None:
                sizes = {"cached": os.path.getsize(os.path.join(tmp, "logits-None.npy")), "cached_top3": os.path.getsize(top3_path)}
                print(f"cache size: all logits {sizes['cached'] / 2**20:.2f} MiB, top-3 {sizes['cached_top3'] / 2**20:.2f} MiB")
                append_record(args.results, {"timing": timing(teacher, logits, top3, data), "cache_bytes": sizes})
                continue
            for views in (False, True):
                for mode in MODES:
                    if (mode, views, seed) not in done:
                        record = accuracy_row(mode, views, seed, teacher, {"cached": logits, "cached_top3": top3}, data, base)
                        append_record(args.results, record)
                        print(f"seed {seed} {mode} views={views}: {100 * record['test_accuracy']:.2f}%", flush=True)
    rows = [r for r in load_records(args.results) if "mode" in r]
    for views in (False, True):
        for mode in MODES:
            mine = [100 * r["test_accuracy"] for r in rows if r["mode"] == mode and r["views"] == views]
            if mine:
                print(f"{mode:7s} views={views!s:5s} {statistics.mean(mine):.2f} ({len(mine)} seeds)")


if __name__ == "__main__":
    main()
