"""Dense-prediction distillation on Fashion-MNIST mosaics: mean IoU over 11 classes.

Data: `keras_kd.datasets.fashion_mosaics` (20k train, 2k validation, 4k test
mosaics of 56x56). Teacher: `zoo.segmenter(width=32)`, trained once (seed
0, 10 epochs) and kept in `benchmarks/results/segmentation_teacher-w32-e10.keras`
(delete it to train it again). Student:
`zoo.segmenter(width=8)`, 10 epochs, Adam 2e-3 with cosine decay, for
every row and seed. Rows, each adding to the previous (Liu et al.'s
lambda_1 = 10, lambda_2 = 1, lambda_adv = 0.1; in the Distiller,
w = 0.5 halves the first three, so the critic's weight is 0.05):

    scratch     per-pixel cross-entropy only
    pixelwise   + pixel-wise KD (T = 1), weight 10
    pairwise    + pair-wise affinity of the `features` maps (all node pairs), weight 1
    holistic    + the WGAN-GP critic on (image, score map) pairs (critic Adam 1e-4),
                at a quarter of the paper's widths (16, 32, 64, 128): at full width
                the critic costs about 95M MACs per map (three maps a step, and the
                gradient penalty's second derivative), over 2 h per run on 2 cores

Resumable: each finished (row, seed) is appended to `--results`, and a row
interrupted mid-run resumes from its last finished epoch (a per-epoch
backup in ~/.cache/keras_kd/segmentation). `--timing`
measures every row's seconds per epoch again, interleaved in one process
(30 steps of 64 per row and round, scaled to the 20k mosaics), so the
ratios between rows hold whatever else the machine does.

    python benchmarks/segmentation.py              # 3 seeds
    python benchmarks/segmentation.py --timing     # costs per epoch, interleaved
    python benchmarks/segmentation.py --quick      # smoke
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import Distiller  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import profiling  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.datasets import fashion_mosaics  # noqa: E402
from keras_kd.methods import HolisticDistiller  # noqa: E402
from keras_kd.methods import holistic  # noqa: E402

ROWS = ("scratch", "pixelwise", "pairwise", "holistic")
CACHE = os.path.expanduser("~/.cache/keras_kd/segmentation")
TEACHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "segmentation_teacher-w32-e10.keras")


def mean_iou(model, x, y):
    metric = keras.metrics.MeanIoU(fashion_mosaics.NUM_CLASSES, sparse_y_true=True, sparse_y_pred=False)
    for i in range(0, len(x), 256):
        metric.update_state(y[i : i + 256], model.predict(x[i : i + 256], verbose=0))
    return float(metric.result())


def _fit(trainer, data, epochs, seed, backup=None):
    """Seconds per epoch run here: a run interrupted after epoch k resumes from it
    (`keras.callbacks.BackupAndRestore` in `backup`) and times only the rest."""
    keras.utils.set_random_seed(seed)
    (x, y), validation, _ = data
    steps = int(np.ceil(len(x) / 64)) * epochs
    trainer.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    callbacks = [keras.callbacks.BackupAndRestore(backup)] if backup else []
    start = time.perf_counter()
    history = trainer.fit(x, y, batch_size=64, epochs=epochs, validation_data=validation, callbacks=callbacks, verbose=0)
    return (time.perf_counter() - start) / max(1, len(history.history.get("loss", [])))


def teacher_model(data, epochs, quick):
    """The width-32 teacher, trained once (seed 0). The full one is kept in the repository
    (2.3 MB, `TEACHER`): training it costs over an hour on 2 cores, and every row needs it."""
    path = os.path.join(CACHE, f"teacher-w32-e{epochs}-quick.keras") if quick else TEACHER
    if os.path.exists(path):
        return keras.saving.load_model(path, compile=False)
    keras.utils.set_random_seed(0)
    teacher = zoo.segmenter(width=32, name="seg_teacher")
    seconds = _fit(teacher, data, epochs, 0) * epochs
    os.makedirs(os.path.dirname(path), exist_ok=True)
    teacher.save(path + ".partial.keras")
    os.replace(path + ".partial.keras", path)
    print(f"teacher: mIoU {mean_iou(teacher, *data[2]):.4f} ({seconds:.0f} s)", flush=True)
    return teacher


CRITIC_WIDTHS = (16, 32, 64, 128)


def make_trainer(row, seed, teacher):
    """`(trainer, student)` of a row: the student itself for scratch, else its Distiller."""
    keras.utils.set_random_seed(seed)
    student = zoo.segmenter(width=8, name="seg_student")
    terms, weights = [losses.PixelwiseKD(1.0)], [10.0]
    if row in ("pairwise", "holistic"):
        terms.append(losses.PairwiseAffinity("features", "features"))
        weights.append(1.0)
    if row == "scratch":
        trainer = student
    elif row == "holistic":
        channels = 1 + int(student.outputs[0].shape[-1])  # the image and the class map
        trainer = HolisticDistiller(teacher, student, terms, weights, 0.5, adversarial_weight=0.05, seed=seed,
                                    critic_model=holistic.critic(channels, widths=CRITIC_WIDTHS))  # fmt: skip
    else:
        trainer = Distiller(teacher, student, terms, weights, 0.5)
    return trainer, student


def run_row(row, seed, teacher, data, epochs):
    trainer, student = make_trainer(row, seed, teacher)
    seconds_per_epoch = _fit(trainer, data, epochs, seed, backup=os.path.join(CACHE, f"backup-{row}-s{seed}-e{epochs}"))
    return {"row": row, "seed": seed, "mean_iou": mean_iou(student, *data[2]), "seconds_per_epoch": seconds_per_epoch}


def timing(teacher, data, rounds, samples):
    """Every row's seconds per epoch, measured interleaved in one process (`common.interleaved_timing`)."""
    (x, y), _, _ = data
    runs = {}
    for row in ROWS:
        trainer, _ = make_trainer(row, 0, teacher)
        trainer.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        runs[row] = (trainer, x, y)
    epochs = common.interleaved_timing(runs, rounds=rounds, batch_size=64, samples=samples)
    medians = common.print_timing(epochs, "scratch")
    return {"timing": {"rounds": rounds, "samples": samples, "median_seconds_per_epoch": medians, "seconds_per_epoch": epochs}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--results", default="benchmarks/results/segmentation.jsonl")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--timing", action="store_true", help="only time every row, interleaved")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = (1000, 200, 400) if args.quick else (20000, 2000, 4000)
    epochs = 1 if args.quick else 10
    data = fashion_mosaics.load_splits(*counts)
    teacher = teacher_model(data, 1 if args.quick else 10, args.quick)
    if args.timing:
        append_record(args.results, timing(teacher, data, args.rounds, 320 if args.quick else 1920))
        return
    done = {(r["row"], r["seed"]) for r in load_records(args.results) if "row" in r}
    for seed in args.seeds:
        for row in args.rows:
            if (row, seed) not in done:
                record = run_row(row, seed, teacher, data, epochs)
                append_record(args.results, record)
                print(f"seed {seed} {row}: mIoU {record['mean_iou']:.4f}", flush=True)
    records = load_records(args.results)
    records = common.print_timing_records(records)
    print(f"\nteacher MACs {profiling.count_macs(teacher) / 1e6:.1f}M, student {profiling.count_macs(zoo.segmenter(width=8)) / 1e6:.1f}M")
    for row in ROWS:
        mine = {r["seed"]: r for r in records if r["row"] == row}
        if mine:
            gains = [mine[s]["mean_iou"] - r["mean_iou"] for r in records if r["row"] == "scratch" for s in [r["seed"]] if s in mine]
            print(f"{row:10s} mIoU {statistics.mean(m['mean_iou'] for m in mine.values()):.4f} ({len(mine)} seeds) "
                  f"vs scratch {statistics.mean(gains):+.4f}  s/epoch {statistics.mean(m['seconds_per_epoch'] for m in mine.values()):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
