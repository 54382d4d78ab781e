"""Teacher, scratch student and distilled students on Fashion-MNIST over seeds.

Each seed trains (or reuses from the demo's cache) its own teacher, then the
scratch student and one distilled student per method, all with the demo's
budget (`keras_kd.demo.DemoConfig`), and reports mean ± std test accuracy.

Methods (`--methods`, default `kd`): every row keeps the demo's
student_loss_weight w (0.9) and states its terms' weights lambda relative to
the cross-entropy, so that

    total = w * (CE + sum_i lambda_i * term_i)

(the Distiller's weight for term i is lambda_i * w / (1 - w)). The lambdas
of the feature and relation rows are the ones Tian et al. (CRD, ICLR 2020)
used for every baseline in their comparison on CIFAR-100, whose loss
definitions ours follow (mean-reduced); no row was tuned here:

    kd       Hinton KD at the demo's temperature, lambda (1 - w) / w = 1/9
    hint     FitNets hint on block3 (1x1-conv + BN connector), lambda 100
    at       attention transfer on block2 and block3 (code mode), 1000 each
    rkd      RKD distance 25 + angle 50 on the penultimate features, 1
    sp       similarity-preserving on block3, lambda 3000
    pkt      PKT on the penultimate features, lambda 30000
    dkd      DKD (alpha 1, beta 8, T 4; Zhao et al.'s CIFAR setting), 1,
             ramped up linearly over 2 epochs (the paper: 20 of 240)
    kd+hint  the kd row's KD plus the hint row's hint

Augmentation rows (`--augment`): KD with the demo's settings and a preset's
views (`keras_kd.augment.presets`, any of them); an independent preset
(`fashion_dakd`, `dakd`) uses `DAKDDistiller` (its own loss: CE on D2 +
1.0 * KL consistency at the demo's temperature). For Fashion-MNIST:

    fashion_shift      consistent views: flip + 2 px shifts
    fashion_erase      + random erasing
    fashion_mixup      + MixUp, ratio ~ U[0, 1]
    fashion_dakd       fashion_erase drawn per side + consistency loss

    python benchmarks/fashion_mnist.py --methods --augment fashion_shift fashion_erase fashion_mixup fashion_dakd

    python benchmarks/fashion_mnist.py                 # 3 seeds, KD: ~45 min on 2 cores
    python benchmarks/fashion_mnist.py --methods hint at rkd sp pkt dkd kd+hint   # ~75 min
    python benchmarks/fashion_mnist.py --seeds 0       # one seed
    python benchmarks/fashion_mnist.py --quick         # smoke test, ~2 min

Resumable: each finished (row, seed) is appended to `--results`
(`benchmarks/results/fashion_mnist.jsonl`) with the budget it was trained
at (student epochs, T, w); a rerun at the same budget trains only the rows
that file lacks. At the end it writes `results.json` and `table.md` (mean
± std, per seed, minutes per seed) under a fresh `runs/bench-fmnist-*`.
"""

import argparse
import os
import statistics

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import reporting  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.datasets import fashion_mnist  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import schedules  # noqa: E402
from keras_kd.augment import presets  # noqa: E402
from keras_kd.methods import DAKDDistiller  # noqa: E402


def method_terms(method, config):
    """`(terms, weights)` for one benchmark row, weights as the Distiller takes them."""
    kd = losses.KD(config.temperature)
    hint = losses.Hint("block3", "block3")
    w = config.student_loss_weight
    kd_lambda = (1.0 - w) / w
    table = {
        "kd": ([kd], [kd_lambda]),
        "hint": ([hint], [100.0]),
        "at": ([losses.AttentionTransfer("block2", "block2", name="at2"),
                losses.AttentionTransfer("block3", "block3", name="at3")], [1000.0, 1000.0]),
        "rkd": ([losses.RKD(teacher_layer_name="features", student_layer_name="features")], [1.0]),
        "sp": ([losses.SimilarityPreserving(teacher_layer_name="block3", student_layer_name="block3")], [3000.0]),
        "pkt": ([losses.PKT(teacher_layer_name="features", student_layer_name="features")], [30000.0]),
        "dkd": ([losses.DKD()], [1.0]),
        "kd+hint": ([kd, hint], [kd_lambda, 100.0]),
    }  # fmt: skip
    terms, lambdas = table[method]
    return terms, [lam * w / (1.0 - w) for lam in lambdas]


METHODS = ("kd", "hint", "at", "rkd", "sp", "pkt", "dkd", "kd+hint")


def mean_std(values):
    values = [100 * v for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std


def train_row(row, seed, teacher, config, data):
    """Trains one student row of one seed; returns its `TrainResult`."""
    student_config = training.TrainConfig(
        epochs=config.student_epochs, learning_rate=config.learning_rate, seed=seed, verbose=2
    )
    if row == "scratch":
        return training.train_supervised("scratch student", zoo.student_cnn, data, student_config)
    if not row.startswith("kd+") or row == "kd+hint":
        terms, weights = method_terms(row, config)
        callbacks = [schedules.LinearWarmup(["dkd"], warmup_epochs=2)] if row == "dkd" else None
        return training.train_distilled(
            f"{row} student", teacher, zoo.student_cnn, data, student_config,
            distillation_losses=terms, distillation_loss_weights=weights,
            student_loss_weight=config.student_loss_weight, callbacks=callbacks,
        )  # fmt: skip
    preset = row[len("kd+"):]
    kwargs = {}
    if presets.is_independent(preset):  # different views: DAKD's consistency loss joins KD
        kwargs["distiller_fn"] = lambda t, s: DAKDDistiller(
            t, s, views=presets.get(preset, seed=seed), temperature=config.temperature, consistency_weight=1.0
        )  # fmt: skip
    return training.train_distilled(
        f"{row} student", teacher, zoo.student_cnn, data, student_config,
        distillation_losses=[losses.KD(config.temperature)], student_loss_weight=config.student_loss_weight,
        views=presets.get(preset, seed=seed), **kwargs,
    )  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["kd"], choices=METHODS)
    parser.add_argument("--augment", nargs="*", default=[], choices=presets.PRESETS)
    parser.add_argument("--results", default=None, help="finished rows, one JSON line each; rows found there "
                        "are not trained again (default benchmarks/results/fashion_mnist.jsonl; "
                        "a fresh file in the run folder when --quick)")  # fmt: skip
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs-base", default="runs")
    args = parser.parse_args()

    base = demo.DemoConfig.quick(verbose=2) if args.quick else demo.DemoConfig(verbose=2)
    run_dir = reporting.new_run_dir(args.runs_base, "bench-fmnist")
    default_results = os.path.join(run_dir, "rows.jsonl") if args.quick else "benchmarks/results/fashion_mnist.jsonl"
    args.results = args.results or default_results
    data = fashion_mnist.load_splits()
    if base.train_size:
        data = ((data[0][0][: base.train_size], data[0][1][: base.train_size]), data[1], data[2])

    students = ["scratch", *args.methods, *(f"kd+{a}" for a in args.augment)]
    budget = {"student_epochs": base.student_epochs, "temperature": base.temperature,
              "student_loss_weight": base.student_loss_weight}  # fmt: skip
    # A row is reused only if it was trained at this budget: (row, seed) -> record.
    done = {(r["row"], r["seed"]): r for r in common.load_records(args.results) if r.get("budget") == budget}
    records = []
    for seed in args.seeds:
        config = demo.DemoConfig(**{**base.__dict__, "seed": seed})
        teacher, teacher_record = demo.get_teacher(config, data)
        record = {"seed": seed, "teacher": {k: teacher_record[k] for k in ("test_accuracy", "train_seconds", "params")}}
        for row in students:
            if (row, seed) not in done:
                result = train_row(row, seed, teacher, config, data)
                done[row, seed] = {"row": row, "seed": seed, "budget": budget, **result.as_dict()}
                common.append_record(args.results, done[row, seed])
                print(f"seed {seed}: {row} {100 * result.test_accuracy:.2f} ({result.train_seconds / 60:.1f} min)",
                      flush=True)  # fmt: skip
            record[row] = done[row, seed]
        records.append(record)

    rows = {"teacher": [r["teacher"]["test_accuracy"] for r in records]}
    rows.update({f"{row} student": [r[row]["test_accuracy"] for r in records] for row in students})
    lines = [
        f"Fashion-MNIST test accuracy (%), {len(args.seeds)} seeds {args.seeds}, "
        f"students {base.student_epochs} epochs, student_loss_weight={base.student_loss_weight:g}, "
        f"KD T={base.temperature:g}",
        "",
        "| model | mean ± std | per seed | minutes per seed |",
        "|---|---:|---|---:|",
    ]
    for name, values in rows.items():
        mean, std = mean_std(values)
        key = "teacher" if name == "teacher" else name[: -len(" student")]
        seconds = [r[key]["train_seconds"] for r in records]
        lines.append(f"| {name} | {mean:.2f} ± {std:.2f} | {', '.join(f'{100 * v:.2f}' for v in values)} "
                     f"| {statistics.mean(seconds) / 60:.1f} |")  # fmt: skip
    lines.append("")
    for row in students[1:]:
        gain = [k - s for k, s in zip(rows[f"{row} student"], rows["scratch student"])]
        mean_gain, std_gain = mean_std(gain)
        lines.append(f"{row} - scratch: {mean_gain:+.2f} ± {std_gain:.2f} points (paired by seed)")
    table = "\n".join(lines)
    print("\n" + table)
    reporting.write_json(os.path.join(run_dir, "results.json"), {"config": base.__dict__, "seeds": records})
    reporting.write_atomic(os.path.join(run_dir, "table.md"), lambda f: f.write(table + "\n"))
    print(f"\nWrote {run_dir}/results.json and table.md (rows: {args.results})")


if __name__ == "__main__":
    main()
