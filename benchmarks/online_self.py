"""Online and self-distillation on Fashion-MNIST: DML, OKDDip, MSD, BAN, sFEED, Tf-KD.

Every row trains the demo's student architecture (`zoo.student_cnn`, 90k
parameters) with the demo's 10-epoch budget per model (Adam 2e-3, cosine),
3 seeds. No row uses the zoo teacher except the imported `kd` baseline.

    scratch      labels only; also generation 0 of ban, sfeed and tf_kd_self
    kd           KD from the zoo teacher (T 4, w 0.9), imported from
                 multi_teacher.jsonl (same student, budget and seeds)
    dml          2 peers (DML, T 1, lambda 1); the row is peer 0, both logged
    okddip       3 peers + leader, feature `features` (the 48-d hidden layer),
                 T 3, lambda ramped up over 3 of 10 epochs (the paper's 80 of
                 300, scaled); the row is the leader
    msd          exits after pool1 and pool2 (`add_exits`, conv heads), MSD
                 mode, alpha 0.3, T 3, beta 0.03 cosine-annealed to 0; the row
                 is the full network; every exit's accuracy and MACs logged
    ban          3 born-again generations from generation 0 (T 1, no labels);
                 the row is generation 3; each generation and BANE logged
    sfeed        2 generations with FEED on `block3` (beta 1, w 0.5)
    tf_kd_self   generation 0 teaches a fresh copy (T 20, alpha 0.95: the
                 recipe's defaults, the code's for MobileNetV2)
    tf_kd_reg    no teacher: Tf-KD_reg, code mode, a 0.99, tau 20, alpha 0.1,
                 multiplier 100 (the code's ResNet18 values)

Cost: `wall_seconds` is the row's whole training (every model it trains;
generation 0 excluded, since it is the scratch row's run) and
`seconds_per_epoch` that divided by the 10 epochs.

Resumable: each finished row is appended to `--results` (JSON lines) and
skipped on the next run; generation 0 is cached under
~/.cache/keras_kd/online_self.

    python benchmarks/online_self.py                  # 3 seeds, ~80 min on 2 cores
    python benchmarks/online_self.py --rows dml --seeds 0
    python benchmarks/online_self.py --quick          # smoke, a few minutes
"""

import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from common import accuracy_summary  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import Distiller  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import profiling  # noqa: E402
from keras_kd import schedules  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.methods import MultiExitDistiller  # noqa: E402
from keras_kd.methods import MutualDistiller  # noqa: E402
from keras_kd.methods import OKDDipDistiller  # noqa: E402
from keras_kd.methods import add_exits  # noqa: E402
from keras_kd.methods import born_again  # noqa: E402
from keras_kd.methods import exit_model  # noqa: E402
from keras_kd.methods import sequential_feed  # noqa: E402
from keras_kd.methods import teacher_free_self  # noqa: E402

ROWS = ("scratch", "kd", "dml", "okddip", "msd", "ban", "sfeed", "tf_kd_self", "tf_kd_reg")
CACHE = os.path.expanduser("~/.cache/keras_kd/online_self")


def generation_zero(seed, data, config, quick):
    """The scratch run of `seed`, trained once and cached (it is generation 0)."""
    path = os.path.join(CACHE, f"scratch-s{seed}{'-quick' if quick else ''}.keras")
    if os.path.exists(path):
        return keras.models.load_model(path), None
    result = training.train_supervised("scratch", zoo.student_cnn, data, config)
    os.makedirs(CACHE, exist_ok=True)
    partial = path + ".partial.keras"
    result.model.save(partial)
    os.replace(partial, path)  # atomic: a killed run leaves no half-written cache
    return result.model, result


def _steps(data, config):
    return int(np.ceil(len(data[0][0]) / config.batch_size))


def run_row(row, seed, data, config, quick):
    extra = {}
    if row == "scratch":
        model, result = generation_zero(seed, data, config, quick)
        if result is None:  # cached by an earlier, interrupted run: measure it again
            return {"test_accuracy": training.test_accuracy(model, *data[2]), "train_seconds": None}
        return {"test_accuracy": result.test_accuracy, "train_seconds": result.train_seconds}
    steps = _steps(data, config) * config.epochs
    if row == "dml":
        peers = []

        def mutual(_, student):
            peers.extend([student, zoo.student_cnn(name="peer_1")])
            return MutualDistiller(peers)

        result = training.train_distilled("dml", None, zoo.student_cnn, data, config, distiller_fn=mutual)
        extra["peer_accuracies"] = [training.test_accuracy(p, *data[2]) for p in peers]
    elif row == "okddip":
        ramp = schedules.SigmoidRampUp(max(1, round(0.3 * steps)))
        result = training.train_distilled(
            "okddip", None, zoo.student_cnn, data, config,
            distiller_fn=lambda _, leader: OKDDipDistiller(
                [zoo.student_cnn(name=f"peer_{k}") for k in range(3)] + [leader], "features", distillation_weight=ramp),
        )  # fmt: skip
    elif row == "msd":
        net = {}

        def full_network():
            net["model"] = add_exits(zoo.student_cnn(), at=["pool1", "pool2"])
            return exit_model(net["model"], -1)

        beta = keras.optimizers.schedules.CosineDecay(0.03, decay_steps=steps)
        result = training.train_distilled(
            "msd", None, full_network, data, config,
            distiller_fn=lambda _, __: MultiExitDistiller(net["model"], mode="msd", feature_weight=beta),
        )  # fmt: skip
        exits = [exit_model(net["model"], k) for k in range(3)]
        extra["exit_accuracies"] = [training.test_accuracy(m, *data[2]) for m in exits]
        extra["exit_macs"] = [profiling.count_macs(m) for m in exits]
    elif row in ("ban", "sfeed", "tf_kd_self"):
        teacher, _ = generation_zero(seed, data, config, quick)
        if row == "ban":
            chain = born_again(zoo.student_cnn, data, config, generations=3, teacher=teacher)
            extra["bane_accuracy"] = chain.ensemble_test_accuracy
        elif row == "sfeed":
            chain = sequential_feed(zoo.student_cnn, data, config, feature_layer="block3", teacher=teacher)
        else:
            chain = teacher_free_self(zoo.student_cnn, data, config, pretrained=teacher)
        runs = chain.generations[1:]
        extra["generation_accuracies"] = [r.test_accuracy for r in runs]
        return {"test_accuracy": runs[-1].test_accuracy, "train_seconds": sum(r.train_seconds for r in runs), **extra}
    elif row == "tf_kd_reg":
        term = losses.TeacherFreeRegularization(0.99, 20.0, mode="code")
        result = training.train_distilled(
            "tf_kd_reg", None, zoo.student_cnn, data, config,
            distiller_fn=lambda _, student: Distiller(None, student, term, [100.0], student_loss_weight=0.9),
        )  # fmt: skip
    else:
        raise ValueError(f"Unknown row {row!r}. Rows: {', '.join(ROWS)}.")
    return {"test_accuracy": result.test_accuracy, "train_seconds": result.train_seconds, **extra}


def _mean(values):
    return statistics.mean(values) if values else float("nan")


def print_table(records):
    by = {(r["row"], r["seed"]): r for r in records}
    seeds = sorted({r["seed"] for r in records})
    print(f"\n{'row':12s} {'test acc % (mean +- std)':>26s} {'seeds':>6s} {'vs scratch':>11s} {'vs kd':>8s} {'s/epoch':>8s}")
    for row in ROWS:
        mine, mean, std, gains = accuracy_summary(by, row, seeds)
        if not mine:
            continue
        costs = [r["seconds_per_epoch"] for r in mine if r.get("seconds_per_epoch")]
        note = ""
        for key, label in (("peer_accuracies", "peers"), ("generation_accuracies", "generations"), ("exit_accuracies", "exits")):
            if key in mine[0]:
                columns = list(zip(*[r[key] for r in mine]))
                note += f"  {label} " + " / ".join(f"{100 * _mean(list(c)):.2f}" for c in columns)
        if "bane_accuracy" in mine[0]:
            note += f"  BANE {100 * _mean([r['bane_accuracy'] for r in mine]):.2f}"
        if "exit_macs" in mine[0]:
            note += "  MACs " + " / ".join(f"{m / 1e6:.2f}M" for m in mine[0]["exit_macs"])
        print(f"{row:12s} {mean:17.2f} +- {std:4.2f} {len(mine):6d} {gains['scratch']:>11s} "
              f"{gains['kd']:>8s} {_mean(costs):8.1f}{note}")  # fmt: skip


def import_kd_rows(results, source):
    """Copies the `kd` rows of the many-teachers benchmark (same student, budget, seeds)."""
    have = {(r["row"], r["seed"]) for r in load_records(results)}
    rows = [dict(r, source=os.path.basename(source)) for r in load_records(source) if r["row"] == "kd"]
    for record in rows:
        if ("kd", record["seed"]) not in have:
            append_record(results, record)


def main():
    parser = common.parser(__doc__.splitlines()[0], "benchmarks/results/online_self.jsonl", ROWS,
                           [r for r in ROWS if r != "kd"])  # fmt: skip
    parser.add_argument("--kd-results", default="benchmarks/results/multi_teacher.jsonl")
    args = parser.parse_args()
    base, data = common.demo_budget(args.quick)
    if not args.quick and os.path.exists(args.kd_results):
        import_kd_rows(args.results, args.kd_results)
    done = {(r["row"], r["seed"]) for r in load_records(args.results)}
    for seed in args.seeds:
        config = training.TrainConfig(epochs=base.student_epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
        for row in args.rows:
            if (row, seed) in done:
                continue
            start = time.perf_counter()
            record = {"row": row, "seed": seed, **run_row(row, seed, data, config, args.quick)}
            seconds = record.pop("train_seconds")
            record["seconds_per_epoch"] = seconds / config.epochs if seconds is not None else None
            record["wall_seconds"] = round(time.perf_counter() - start, 1)
            append_record(args.results, record)
            print(f"seed {seed} {row}: {100 * record['test_accuracy']:.2f}% ({record['wall_seconds']} s)", flush=True)
    print_table(load_records(args.results))


if __name__ == "__main__":
    main()
