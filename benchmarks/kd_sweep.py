"""What makes distillation pay off on Fashion-MNIST: a small, complete sweep.

One seed, the demo's student and schedule, varying one thing at a time from
the demo's settings: temperature, student loss weight, schedule length and
teacher strength. Every setting is reported, losers included, with the
validation accuracy (the 5k held-out training images, what a user would
select on) and the test accuracy.

    python benchmarks/kd_sweep.py              # ~35 min on 2 cores
    python benchmarks/kd_sweep.py --only scratch kd-T4-w0.5   # a subset

Writes `results.json` and `table.md` under a fresh `runs/bench-sweep-*`.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_kd import demo  # noqa: E402
from keras_kd import reporting  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.datasets import fashion_mnist  # noqa: E402
from keras_kd.losses import KD  # noqa: E402

# name -> (what varies, student epochs, teacher epochs, T, student_loss_weight);
# T None means the scratch baseline.
SETTINGS = {
    "scratch": ("baseline", 10, None, None, None),
    "kd-T1-w0.5": ("temperature", 10, 12, 1.0, 0.5),
    "kd-T2-w0.5": ("temperature", 10, 12, 2.0, 0.5),
    "kd-T4-w0.5": ("temperature", 10, 12, 4.0, 0.5),
    "kd-T8-w0.5": ("temperature", 10, 12, 8.0, 0.5),
    "kd-T4-w0.1": ("loss weight", 10, 12, 4.0, 0.1),
    "kd-T4-w0.9": ("loss weight", 10, 12, 4.0, 0.9),
    "scratch-20ep": ("schedule", 20, None, None, None),
    "kd-T4-w0.5-20ep": ("schedule", 20, 12, 4.0, 0.5),
    "kd-T4-w0.5-weak-teacher": ("teacher strength", 10, 2, 4.0, 0.5),
}


def validation_accuracy(model, validation):
    return training.test_accuracy(model, *validation)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="run these settings only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-base", default="runs")
    args = parser.parse_args()

    run_dir = reporting.new_run_dir(args.runs_base, "bench-sweep")
    data = fashion_mnist.load_splits()
    teachers = {}
    rows = []
    for name in args.only or list(SETTINGS):
        varies, epochs, teacher_epochs, temperature, weight = SETTINGS[name]
        config = training.TrainConfig(epochs=epochs, seed=args.seed, verbose=2)
        if temperature is None:
            result = training.train_supervised(name, zoo.student_cnn, data, config)
            teacher_accuracy = None
        else:
            if teacher_epochs not in teachers:
                teacher_config = demo.DemoConfig(teacher_epochs=teacher_epochs, seed=args.seed, verbose=2)
                teachers[teacher_epochs] = demo.get_teacher(teacher_config, data)
            teacher, record = teachers[teacher_epochs]
            teacher_accuracy = record["test_accuracy"]
            result = training.train_distilled(
                name, teacher, zoo.student_cnn, data, config,
                distillation_losses=KD(temperature), student_loss_weight=weight,
            )  # fmt: skip
        row = {
            "setting": name, "varies": varies, "student_epochs": epochs,
            "teacher_epochs": teacher_epochs, "teacher_test_pct": None if teacher_accuracy is None else 100 * teacher_accuracy,
            "temperature": temperature, "student_loss_weight": weight,
            "val_pct": 100 * validation_accuracy(result.model, data[1]),
            "test_pct": 100 * result.test_accuracy, "train_seconds": result.train_seconds,
        }  # fmt: skip
        rows.append(row)
        print(f"{name}: val {row['val_pct']:.2f}  test {row['test_pct']:.2f}", flush=True)

    baselines = {r["student_epochs"]: r for r in rows if r["temperature"] is None}
    for row in rows:
        base = baselines.get(row["student_epochs"])
        row["test_gain"] = None if base is None or row["temperature"] is None else row["test_pct"] - base["test_pct"]
    table = reporting.format_table(rows, [
        ("setting", "setting", "{}"), ("varies", "varies", "{}"),
        ("student_epochs", "epochs", "{}"), ("teacher_test_pct", "teacher %", "{:.2f}"),
        ("val_pct", "val %", "{:.2f}"), ("test_pct", "test %", "{:.2f}"),
        ("test_gain", "vs scratch", "{:+.2f}"), ("train_seconds", "train s", "{:.0f}"),
    ])  # fmt: skip
    print("\n" + table)
    reporting.write_json(os.path.join(run_dir, "results.json"), {"seed": args.seed, "rows": rows})
    reporting.write_atomic(os.path.join(run_dir, "table.md"), lambda f: f.write(table + "\n"))
    best = max((r for r in rows if r["temperature"] is not None), key=lambda r: r["val_pct"], default=None)
    if best is not None:
        print(f"\nBest on validation: {best['setting']} (val {best['val_pct']:.2f}, test {best['test_pct']:.2f})")
    print(f"Wrote {run_dir}/results.json and table.md")


if __name__ == "__main__":
    main()
