"""Many teachers on Fashion-MNIST: ensembles, AT/S, EnD^2, pFEED, TAKD, noisy teacher.

Three zoo teachers (seeds 0, 1, 2; the demo's budget, trained once and
cached in the demo's teacher cache) serve every student seed. For each
student seed s the rows are, all with the demo's student and 10-epoch
budget, KD at T=4 and the demo's student_loss_weight w=0.9 unless said:

    scratch          labels only
    kd               single-teacher KD from teacher s (the baseline to beat)
    ensemble_mean    KD to the mean of the 3 teachers' tempered predictions
    ensemble_entropy the same, teachers weighted per sample by confidence
                     (log K - entropy)
    ats              AT/S from teacher s (adaptive, gamma 1, T 1), no CE
                     besides its own label part (student_loss_weight 0)
    endd             EnD^2 from the 3 teachers alone (no labels), T
                     annealed 2.5 -> 1 over the first 5 epochs; also the
                     AUROC of its knowledge uncertainty for telling the
                     test images from their inverses (255 - x)
    pfeed            ensemble KD + FEED to each teacher's block3 through a
                     3x3-conv transform, lambda 1 relative to the CE (untuned)
    takd             teacher s -> assistant (student_cnn width 32) -> student
                     (two KD hops; cost = both hops)
    noisy            KD from teacher s with multiplicative logit noise,
                     sigma 0.3 on half the samples (KD_Lib's defaults; the
                     paper's were not recovered)

Resumable: every finished row is appended to `--results` (JSON lines) and
skipped when the script runs again. Prints the table (mean +- std over
seeds, paired gains over scratch and over single-teacher KD, seconds per
epoch) from whatever rows exist.

    python benchmarks/multi_teacher.py                       # 3 seeds, ~2 h on 2 cores
    python benchmarks/multi_teacher.py --rows kd ensemble_mean --seeds 0
    python benchmarks/multi_teacher.py --quick               # smoke, ~3 min
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import accuracy_summary  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import schedules  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.datasets import fashion_mnist  # noqa: E402
from keras_kd.methods import FromTeacher  # noqa: E402
from keras_kd.methods import MultiTeacherDistiller  # noqa: E402
from keras_kd.methods import distill_chain  # noqa: E402

ROWS = ("scratch", "kd", "ensemble_mean", "ensemble_entropy", "ats", "endd", "pfeed", "takd", "noisy")
TEMPERATURE = 4.0


def auroc(in_scores, out_scores):
    """P(score_out > score_in), ties counted half (the Mann-Whitney statistic)."""
    scores = np.concatenate([in_scores, out_scores])
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    n_in, n_out = len(in_scores), len(out_scores)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


def run_row(row, seed, teachers, data, config, student_config):
    w = config.student_loss_weight
    kd_weight = 1.0  # lambda 1/9 relative to the CE at w = 0.9
    teacher = teachers[seed % len(teachers)]
    common = {"student_loss_weight": w}
    extra = {}
    if row == "scratch":
        result = training.train_supervised("scratch", zoo.student_cnn, data, student_config)
    elif row == "kd":
        result = training.train_distilled("kd", teacher, zoo.student_cnn, data, student_config,
                                          distillation_losses=[losses.KD(TEMPERATURE)], **common)  # fmt: skip
    elif row in ("ensemble_mean", "ensemble_entropy", "pfeed"):
        terms, weights = [losses.KD(TEMPERATURE)], [kd_weight]
        if row == "pfeed":
            terms += [FromTeacher(losses.FEED("block3", "block3"), teacher=m) for m in range(len(teachers))]
            weights += [w / (1 - w)] * len(teachers)  # lambda 1 each, relative to the CE
        mode = "entropy" if row == "ensemble_entropy" else "mean"
        result = training.train_distilled(
            row, None, zoo.student_cnn, data, student_config,
            distiller_fn=lambda _, student: MultiTeacherDistiller(
                teachers, student, terms, weights, w, ensemble=mode, temperature=TEMPERATURE),
        )  # fmt: skip
    elif row == "ats":
        result = training.train_distilled("ats", teacher, zoo.student_cnn, data, student_config,
                                          distillation_losses=[losses.AdaptiveTeacherStudent()], student_loss_weight=0.0)  # fmt: skip
    elif row == "endd":
        term = losses.EnsembleDistributionDistillation(2.5)
        schedule = schedules.DirichletTemperatureSchedule(term, initial=2.5, minimum=1.0, decay_start=0, decay_epochs=5)
        result = training.train_distilled(
            "endd", None, zoo.student_cnn, data, student_config, callbacks=[schedule],
            distiller_fn=lambda _, student: MultiTeacherDistiller(teachers, student, term, student_loss_weight=0.0),
        )  # fmt: skip
        x_test = data[2][0]
        knowledge = [np.asarray(losses.dirichlet_uncertainties(result.model.predict(x, batch_size=512, verbose=0))["knowledge"])
                     for x in (x_test, 255.0 - x_test)]  # fmt: skip
        extra["knowledge_auroc_inverted"] = auroc(*knowledge)
    elif row == "takd":
        hops = distill_chain(teacher, [lambda: zoo.student_cnn(width=32), zoo.student_cnn], data, student_config,
                             distillation_losses=[losses.KD(TEMPERATURE)], **common)  # fmt: skip
        result = hops[-1]
        extra["assistant_accuracy"] = hops[0].test_accuracy
        extra["assistant_seconds"] = hops[0].train_seconds
    elif row == "noisy":
        noisy = losses.NoisyTeacher(losses.KD(TEMPERATURE), stddev=0.3, fraction=0.5, seed=seed)
        result = training.train_distilled("noisy", teacher, zoo.student_cnn, data, student_config,
                                          distillation_losses=[noisy], **common)  # fmt: skip
    else:
        raise ValueError(f"Unknown row {row!r}. Rows: {', '.join(ROWS)}.")
    seconds = result.train_seconds + extra.get("assistant_seconds", 0.0)
    return {"row": row, "seed": seed, "test_accuracy": result.test_accuracy,
            "seconds_per_epoch": seconds / student_config.epochs, **extra}  # fmt: skip


def print_table(records):
    by = {(r["row"], r["seed"]): r for r in records}
    seeds = sorted({r["seed"] for r in records})
    print(f"\n{'row':18s} {'test acc % (mean +- std)':>26s} {'seeds':>6s} {'vs scratch':>11s} {'vs kd':>8s} {'s/epoch':>8s}")
    for row in ROWS:
        mine, mean, std, gains = accuracy_summary(by, row, seeds)
        if not mine:
            continue
        cost = statistics.mean(r["seconds_per_epoch"] for r in mine)
        note = ""
        if row == "endd":
            note = f"  knowledge-uncertainty AUROC (inverted) {statistics.mean(r['knowledge_auroc_inverted'] for r in mine):.3f}"
        if row == "takd":
            note = f"  assistant {statistics.mean(100 * r['assistant_accuracy'] for r in mine):.2f}%"
        print(f"{row:18s} {mean:17.2f} +- {std:4.2f} {len(mine):6d} {gains['scratch']:>11s} "
              f"{gains['kd']:>8s} {cost:8.1f}{note}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--results", default="benchmarks/results/multi_teacher.jsonl")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    base = demo.DemoConfig.quick(verbose=2) if args.quick else demo.DemoConfig(verbose=2)
    data = fashion_mnist.load_splits()
    if base.train_size:
        data = ((data[0][0][: base.train_size], data[0][1][: base.train_size]), data[1], data[2])
    teachers = []
    for teacher_seed in (0, 1, 2):
        teacher, record = demo.get_teacher(demo.DemoConfig(**{**base.__dict__, "seed": teacher_seed}), data)
        print(f"teacher seed {teacher_seed}: {100 * record['test_accuracy']:.2f}%", flush=True)
        teachers.append(teacher)
    done = {(r["row"], r["seed"]) for r in load_records(args.results)}
    for seed in args.seeds:
        student_config = training.TrainConfig(epochs=base.student_epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
        for row in args.rows:
            if (row, seed) in done:
                continue
            start = time.perf_counter()
            record = run_row(row, seed, teachers, data, base, student_config)
            record["wall_seconds"] = round(time.perf_counter() - start, 1)
            append_record(args.results, record)
            print(f"seed {seed} {row}: {100 * record['test_accuracy']:.2f}% ({record['wall_seconds']} s)", flush=True)
    print_table(load_records(args.results))


if __name__ == "__main__":
    main()
