"""Patience: test accuracy against epochs (and hours) for scratch, KD, function matching and DAKD.

Same student (`zoo.student_cnn`), same data (55k training images, the 5k
validation split for every choice, the 10k test images reported once per
run), Adam with cosine decay to 0 over each budget, for every row:

    scratch              labels only, no augmentation (lr 2e-3)
    kd                   the zoo teacher of the seed, KD T 4, w 0.9, no augmentation
    function_matching    `methods.function_matching`: `fashion_mixup` views, the
                         teacher live on each, KL only at T 1, clip 1.0
    dakd                 `methods.dakd` whole: step 2 fine-tunes the teacher on
                         `fashion_dakd`'s D1 (2 epochs, lr 2e-4), then DAKD (T 4, lambda 1)

DAKD's consistency weight lambda and temperature T: `--dakd-sweep 0.5:4 2:4
1:1 1:8` adds one `dakd_lambda<l>_T<t>` row per lambda:T at `--sweep-epochs`
(10) for `--seeds`, beside the main rows' lambda 1, T 4 (printed apart,
not plotted).

Budgets: `--epochs 10 30 100` (3 seeds for 10 and 30; `--long-seeds` for
the longer ones, 1 by default, said so in the table). Writes one JSON line
per finished (row, epochs, seed) to `--results` (resumable; with the
test and validation accuracy, the seconds, and the teacher's test accuracy) and, at the
end, `patience.png`: test accuracy against epochs and against training hours.
An interrupted KD, function matching or DAKD row resumes from its last
finished epoch (`keras.callbacks.BackupAndRestore`; its seconds and
validation accuracy count every epoch, `EpochClock`), so a 100-epoch row
can span sessions; a scratch row starts over.

    python benchmarks/patience.py
    python benchmarks/patience.py --rows kd function_matching --epochs 10
    python benchmarks/patience.py --dakd-sweep 0.5:4 2:4 1:1 1:8 --rows dakd --epochs 10
    python benchmarks/patience.py --quick
"""

import dataclasses
import os
import statistics

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402
import keras  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from epoch_clock import EpochClock  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import files  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.methods import dakd  # noqa: E402
from keras_kd.methods import function_matching  # noqa: E402

ROWS = ("scratch", "kd", "function_matching", "dakd")
CACHE = os.path.join(demo.cache_dir(), "patience")


def parse_sweep_point(point, parser):
    """`(lambda, T)` from "LAMBDA:T"; a clear argument error otherwise."""
    values = point.split(":")
    try:
        if len(values) == 2:
            return float(values[0]), float(values[1])
    except ValueError:
        pass
    parser.error(f"--dakd-sweep takes LAMBDA:T pairs such as 0.5:4. Received: {point!r}")


def sweep_row(consistency_weight, temperature):
    """The row name of a DAKD sweep point."""
    return f"dakd_lambda{consistency_weight:g}_T{temperature:g}"


def run_row(row, epochs, seed, teacher, data, base, key, dakd_settings=(1.0, 4.0)):
    """Trains one (row, epochs, seed); returns its record.

    The teacher-guided rows resume from their last finished epoch
    (`keras.callbacks.BackupAndRestore` and `EpochClock` under
    `~/.cache/keras_kd/patience/<key>-*`); scratch (18 min at 100 epochs) starts over.
    """
    config = training.TrainConfig(epochs=epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
    clock, callbacks = None, None
    if row != "scratch":
        stem = os.path.join(CACHE, key)
        os.makedirs(CACHE, exist_ok=True)
        clock = EpochClock(stem + "-epochs.json")
        callbacks = [clock, keras.callbacks.BackupAndRestore(stem + "-backup")]  # the clock first (see `EpochClock`)
    teacher_seconds = 0.0
    if row == "scratch":
        result = training.train_supervised(row, zoo.student_cnn, data, config)
    elif row == "kd":
        result = training.train_distilled(row, teacher, zoo.student_cnn, data, config, callbacks=callbacks,
                                          distillation_losses=[losses.KD(4.0)], student_loss_weight=0.9)  # fmt: skip
    elif row == "function_matching":
        result = function_matching(teacher, zoo.student_cnn, data, config, callbacks=callbacks)
    else:
        # Step 2 runs again on a resume: seeded, it gives the same teacher on the same machine.
        stage = training.TrainConfig(epochs=2, learning_rate=2e-4, seed=seed, verbose=0)
        consistency_weight, temperature = dakd_settings
        outcome = dakd(teacher, zoo.student_cnn, data, config, teacher_config=stage, views="fashion_dakd",
                       consistency_weight=consistency_weight, temperature=temperature, callbacks=callbacks)  # fmt: skip
        result, teacher_seconds = outcome.student, outcome.teacher.train_seconds
    # The clock holds every epoch, also those before a resume; the history only the last run's.
    val_accuracy = clock.per_epoch("val_accuracy") if clock else result.history["val_accuracy"]
    seconds = clock.seconds if clock else result.train_seconds
    if clock:  # the row is finished (its backup is gone with the fit): so is its clock
        os.remove(clock.path)
    return {
        "row": row, "epochs": epochs, "seed": seed, "test_accuracy": result.test_accuracy,
        "val_accuracy": val_accuracy[-1], "best_val_accuracy": max(val_accuracy),
        "train_seconds": seconds + teacher_seconds, "teacher_stage_seconds": teacher_seconds,
        "seconds_per_epoch": seconds / epochs,
    }  # fmt: skip


def summarize(records, rows):
    """`{(row, epochs): (mean test %, std, n, mean hours)}` of `rows`."""
    table = {}
    for row in rows:
        for epochs in sorted({r["epochs"] for r in records}):
            mine = [r for r in records if r["row"] == row and r["epochs"] == epochs]
            if mine:
                accuracies = [100 * r["test_accuracy"] for r in mine]
                std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
                hours = statistics.mean(r["train_seconds"] for r in mine) / 3600
                table[row, epochs] = (statistics.mean(accuracies), std, len(mine), hours)
    return table


def plot(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    most_seeds = max(v[2] for v in table.values())
    for row in ROWS:
        points = sorted((e, v) for (r, e), v in table.items() if r == row)
        if not points:
            continue
        epochs = [e for e, _ in points]
        means = [v[0] for _, v in points]
        errors = [v[1] for _, v in points]
        axes[0].errorbar(epochs, means, yerr=errors, marker="o", capsize=3, label=row)
        axes[1].plot([v[3] for _, v in points], means, marker="o", label=row)
        for e, (mean, _, n, hours) in points:  # points over fewer seeds say how many
            if n < most_seeds:
                for ax, x in ((axes[0], e), (axes[1], hours)):
                    ax.annotate(f"{n} seed" + ("s" if n > 1 else ""), (x, mean), textcoords="offset points",
                                xytext=(4, 4), fontsize=8)  # fmt: skip
    axes[0].set(xscale="log", xlabel="epochs", ylabel="test accuracy %", title="accuracy vs epochs")
    axes[0].set_xticks(sorted({e for _, e in table}), labels=[str(e) for e in sorted({e for _, e in table})])
    axes[0].minorticks_off()
    axes[1].set(xscale="log", xlabel="training hours (2 CPU cores)", ylabel="test accuracy %", title="accuracy vs hours")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    files.write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120), mode="wb")
    plt.close(fig)


def main():
    parser = common.parser(__doc__.splitlines()[0], "benchmarks/results/patience.jsonl", ROWS)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--long-seeds", type=int, nargs="+", default=[0], help="seeds for budgets above 30 epochs")
    parser.add_argument("--plot", default="benchmarks/results/patience.png")
    parser.add_argument("--dakd-sweep", nargs="*", default=[], metavar="LAMBDA:T", help="DAKD settings to sweep")
    parser.add_argument("--sweep-epochs", type=int, default=10)
    args = parser.parse_args()
    sweep = [parse_sweep_point(point, parser) for point in args.dakd_sweep]
    os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)  # before training, not after
    base, data = common.demo_budget(args.quick)
    budgets = [1, 2] if args.quick else args.epochs
    done = {(r["row"], r["epochs"], r["seed"]) for r in load_records(args.results)}
    # (row name, method, epochs, seed, DAKD's (lambda, T)): the main rows, then the sweep.
    jobs = [(row, row, epochs, seed, (1.0, 4.0)) for epochs in budgets
            for seed in (args.seeds if epochs <= 30 else args.long_seeds) for row in args.rows]  # fmt: skip
    sweep_epochs = 1 if args.quick else args.sweep_epochs
    jobs += [(sweep_row(*point), "dakd", sweep_epochs, seed, point) for seed in args.seeds for point in sweep]
    teachers = {}
    for name, method, epochs, seed, settings in jobs:
        if (name, epochs, seed) in done:
            continue
        if seed not in teachers:
            teachers[seed] = demo.get_teacher(dataclasses.replace(base, seed=seed), data)
        teacher, teacher_record = teachers[seed]
        key = f"{name}-e{epochs}-s{seed}" + ("-quick" if args.quick else "")
        record = {**run_row(method, epochs, seed, teacher, data, base, key, settings), "row": name,
                  "teacher_test_accuracy": teacher_record["test_accuracy"]}  # fmt: skip
        if method == "dakd":
            record.update(consistency_weight=settings[0], temperature=settings[1])
        append_record(args.results, record)
        print(f"{name} {epochs} epochs seed {seed}: test {100 * record['test_accuracy']:.2f}% "
              f"val {100 * record['val_accuracy']:.2f}% ({record['train_seconds'] / 60:.1f} min)", flush=True)  # fmt: skip
    records = load_records(args.results)
    table = summarize(records, ROWS)
    sweep_names = sorted({r["row"] for r in records if r["row"].startswith("dakd_lambda")})
    print(f"\n{'row':22s} {'epochs':>6s} {'n':>2s} {'test %':>7s} {'std':>5s} {'hours':>6s}")
    for (row, epochs), (mean, std, n, hours) in {**table, **summarize(records, sweep_names)}.items():
        print(f"{row:22s} {epochs:6d} {n:2d} {mean:7.2f} {std:5.2f} {hours:6.2f}")
    if table:
        plot(table, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
