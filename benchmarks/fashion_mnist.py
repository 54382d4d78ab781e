"""Teacher, scratch student and KD student on Fashion-MNIST over seeds.

Each seed trains (or reuses from the demo's cache) its own teacher, then the
scratch student and the distilled student with the demo's budget and
settings (`keras_kd.demo.DemoConfig`), and reports mean ± std test accuracy.

    python benchmarks/fashion_mnist.py                 # 3 seeds, ~45 min on 2 cores
    python benchmarks/fashion_mnist.py --seeds 0       # one seed
    python benchmarks/fashion_mnist.py --quick         # smoke test, ~2 min

Writes `results.json` and `table.md` under a fresh `runs/bench-fmnist-*`.
"""

import argparse
import os
import statistics

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_kd import demo  # noqa: E402
from keras_kd import reporting  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.datasets import fashion_mnist  # noqa: E402
from keras_kd.losses import KD  # noqa: E402


def mean_std(values):
    values = [100 * v for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs-base", default="runs")
    args = parser.parse_args()

    base = demo.DemoConfig.quick(verbose=2) if args.quick else demo.DemoConfig(verbose=2)
    run_dir = reporting.new_run_dir(args.runs_base, "bench-fmnist")
    data = fashion_mnist.load_splits()
    if base.train_size:
        data = ((data[0][0][: base.train_size], data[0][1][: base.train_size]), data[1], data[2])

    rows = {"teacher": [], "scratch student": [], "KD student": []}
    records = []
    for seed in args.seeds:
        config = demo.DemoConfig(**{**base.__dict__, "seed": seed})
        teacher, teacher_record = demo.get_teacher(config, data)
        student_config = training.TrainConfig(
            epochs=config.student_epochs, learning_rate=config.learning_rate, seed=seed, verbose=2
        )
        scratch = training.train_supervised("scratch student", zoo.student_cnn, data, student_config)
        distilled = training.train_distilled(
            "KD student", teacher, zoo.student_cnn, data, student_config,
            distillation_losses=KD(config.temperature),
            student_loss_weight=config.student_loss_weight,
        )  # fmt: skip
        rows["teacher"].append(teacher_record["test_accuracy"])
        rows["scratch student"].append(scratch.test_accuracy)
        rows["KD student"].append(distilled.test_accuracy)
        records.append({
            "seed": seed,
            "teacher": {k: teacher_record[k] for k in ("test_accuracy", "train_seconds", "params")},
            "scratch": scratch.as_dict(),
            "kd": distilled.as_dict(),
        })  # fmt: skip
        print(f"seed {seed}: teacher {100 * rows['teacher'][-1]:.2f}  scratch "
              f"{100 * scratch.test_accuracy:.2f}  KD {100 * distilled.test_accuracy:.2f}", flush=True)

    lines = [
        f"Fashion-MNIST test accuracy (%), {len(args.seeds)} seeds {args.seeds}, "
        f"students {base.student_epochs} epochs, KD T={base.temperature:g}, "
        f"student_loss_weight={base.student_loss_weight:g}",
        "",
        "| model | mean ± std | per seed |",
        "|---|---:|---|",
    ]
    for name, values in rows.items():
        mean, std = mean_std(values)
        lines.append(f"| {name} | {mean:.2f} ± {std:.2f} | {', '.join(f'{100 * v:.2f}' for v in values)} |")
    gain = [k - s for k, s in zip(rows["KD student"], rows["scratch student"])]
    mean_gain, std_gain = mean_std(gain)
    lines.append(f"\nKD - scratch: {mean_gain:+.2f} ± {std_gain:.2f} points (paired by seed)")
    table = "\n".join(lines)
    print("\n" + table)
    reporting.write_json(os.path.join(run_dir, "results.json"), {"config": base.__dict__, "seeds": records})
    reporting.write_atomic(os.path.join(run_dir, "table.md"), lambda f: f.write(table + "\n"))
    print(f"\nWrote {run_dir}/results.json and table.md")


if __name__ == "__main__":
    main()
