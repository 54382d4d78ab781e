"""Compression of the distilled Fashion-MNIST student: QAT, pruning, channels, pipeline.

For each seed: the zoo teacher of that seed (cached by the demo) and the
demo's distilled student (KD T=4, w=0.9, 10 epochs; cached here), then each
row fine-tunes a copy of that student for `--epochs-per-stage` epochs
(Adam 5e-4, cosine), once with the teacher guiding (KD T=4, w=0.5) and once
on the labels alone:

    qat            quantization-aware training -> int8 from learned ranges
    sparsity_50    magnitude pruning to 50% (cubic schedule), PTQ int8
    sparsity_75    ... to 75%
    channels_25    25% of the channels of every prunable layer removed, PTQ int8
    channels_50    ... 50%
    pipeline       50% channels -> 50% sparsity -> QAT -> int8
    channels_50_long  50% of the channels, recovered for 10 epochs (the
                   student's own budget) instead of `--epochs-per-stage`

Every row reports the float student's accuracy and its PTQ int8 accuracy
(the references), the compressed Keras model's and its int8 model's
accuracy, parameters, MACs, int8 size, gzip size and interpreter latency
(1 thread, batch 1).

Resumable: each finished (row, guided, seed) is appended to `--results`.

    python benchmarks/compress.py                  # 3 seeds
    python benchmarks/compress.py --rows qat --seeds 0
    python benchmarks/compress.py --quick          # smoke, a few minutes
"""

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
from keras_kd import compress  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402

ROWS = {
    "qat": {"qat": True},
    "sparsity_50": {"sparsity": 0.5, "qat": False},
    "sparsity_75": {"sparsity": 0.75, "qat": False},
    "channels_25": {"channel_fraction": 0.25, "qat": False},
    "channels_50": {"channel_fraction": 0.5, "qat": False},
    "pipeline": {"channel_fraction": 0.5, "sparsity": 0.5, "qat": True},
    "channels_50_long": {"channel_fraction": 0.5, "qat": False, "epochs_per_stage": 10},
}
CACHE = os.path.expanduser("~/.cache/keras_kd/compress")


def distilled_student(seed, teacher, data, base, quick):
    """The demo's distilled student for `seed`, trained once and cached."""
    path = os.path.join(CACHE, f"student_distilled-s{seed}{'-quick' if quick else ''}.keras")
    if os.path.exists(path):
        return keras.saving.load_model(path, compile=False)
    config = training.TrainConfig(epochs=base.student_epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
    result = training.train_distilled(
        "distilled", teacher, zoo.student_cnn, data, config,
        distillation_losses=[losses.KD(base.temperature)], student_loss_weight=base.student_loss_weight,
    )  # fmt: skip
    os.makedirs(CACHE, exist_ok=True)
    partial = path + ".partial.keras"
    result.model.save(partial)
    os.replace(partial, path)
    return result.model


def run_row(row, guided, seed, student, teacher, data, epochs):
    config = compress.CompressConfig(**{"epochs_per_stage": epochs, **ROWS[row]}, guided=guided, seed=seed)
    with tempfile.TemporaryDirectory() as out:
        result = compress.compress_student(student, teacher, data, config, out)
    float_row, final = result["stages"][0], result["stages"][-1]
    int8 = {r["stage"]: r for r in result["int8"]}
    compressed = int8.get("qat_int8") or int8.get("final_ptq_int8")
    return {
        "row": row, "guided": guided, "seed": seed, "config": dataclasses.asdict(config),
        "float_accuracy": float_row["keras_accuracy"], "ptq_int8_accuracy": int8["ptq_int8"]["int8_accuracy"],
        "ptq_int8_kb": int8["ptq_int8"]["size_kb"], "ptq_int8_gzip_kb": int8["ptq_int8"]["gzip_kb"],
        "ptq_int8_ms": int8["ptq_int8"]["median_ms"], "float_params": float_row["params"], "float_macs": float_row["macs"],
        "keras_accuracy": final["keras_accuracy"], "int8_accuracy": compressed["int8_accuracy"],
        "params": final["params"], "macs": final["macs"], "sparsity": final["sparsity"],
        "int8_kb": compressed["size_kb"], "gzip_kb": compressed["gzip_kb"], "int8_ms": compressed["median_ms"],
        "train_seconds": sum(s["train_seconds"] or 0.0 for s in result["stages"]),
    }  # fmt: skip


def print_table(records):
    def mean(rows, key):
        return statistics.mean(r[key] for r in rows)

    print(f"\n{'row':12s} {'teacher':>7s} {'n':>2s} {'float %':>8s} {'PTQ int8':>9s} {'keras %':>8s} {'int8 %':>7s} "
          f"{'int8-float':>10s} {'params':>7s} {'MACs':>7s} {'KB':>6s} {'gzip KB':>8s} {'ms':>6s} {'x PTQ ms':>8s}")  # fmt: skip
    for row in ROWS:
        for guided in (True, False):
            mine = [r for r in records if r["row"] == row and r["guided"] == guided]
            if not mine:
                continue
            print(
                f"{row:12s} {'yes' if guided else 'no':>7s} {len(mine):2d} {100 * mean(mine, 'float_accuracy'):8.2f} "
                f"{100 * mean(mine, 'ptq_int8_accuracy'):9.2f} {100 * mean(mine, 'keras_accuracy'):8.2f} "
                f"{100 * mean(mine, 'int8_accuracy'):7.2f} "
                f"{100 * (mean(mine, 'int8_accuracy') - mean(mine, 'float_accuracy')):+10.2f} "
                f"{mean(mine, 'params'):7.0f} {mean(mine, 'macs') / 1e6:6.2f}M {mean(mine, 'int8_kb'):6.1f} "
                f"{mean(mine, 'gzip_kb'):8.1f} {mean(mine, 'int8_ms'):6.3f} {mean(mine, 'int8_ms') / mean(mine, 'ptq_int8_ms'):8.2f}"
            )  # fmt: skip


def main():
    parser = common.parser(__doc__.splitlines()[0], "benchmarks/results/compress.jsonl", ROWS)
    parser.add_argument("--epochs-per-stage", type=int, default=2)
    args = parser.parse_args()
    base, data = common.demo_budget(args.quick)
    epochs = 1 if args.quick else args.epochs_per_stage
    done = {(r["row"], r["guided"], r["seed"]) for r in load_records(args.results)}
    for seed in args.seeds:
        teacher, _ = demo.get_teacher(dataclasses.replace(base, seed=seed), data)
        student = distilled_student(seed, teacher, data, base, args.quick)
        for row in args.rows:
            for guided in (True, False):
                if (row, guided, seed) in done:
                    continue
                record = run_row(row, guided, seed, student, teacher, data, epochs)
                append_record(args.results, record)
                print(f"seed {seed} {row} guided={guided}: keras {100 * record['keras_accuracy']:.2f}% "
                      f"int8 {100 * record['int8_accuracy']:.2f}%", flush=True)  # fmt: skip
    print_table(load_records(args.results))


if __name__ == "__main__":
    main()
