"""AFD, KSANC and QuEST on Fashion-MNIST, against scratch and KD.

The demo's student (`zoo.student_cnn`) and 10-epoch budget (Adam 2e-3,
cosine) for every row and seed; `scratch` and `kd` are imported from
`multi_teacher.jsonl` (same student, budget and seeds; KD from the zoo
teacher of the seed, T 4, w 0.9).

    afd     2 student networks (AFD, T 3, least-squares discriminators on
            `block3` maps, generator and discriminator Adam 2e-5); the row is
            network 0, both logged
    ksanc   teacher s -> the student: logit discriminator (Adam 1e-4, l1 = l2 =
            1e-5, dropout 0.5 adversarial samples), L_b on logits and squeezed
            descriptors of `block2` and `block3`; every weight 1, no student CE
            (the paper's loss)
    quest   teacher s's `block3` (7x7x128) quantized into 1024 words (k-means
            on 2000 training images, 98k vectors), the student's `block3`
            predicting the soft assignment (beta 5, lambda 1), labels weight 1

Resumable: each finished (row, seed) is appended to `--results`.

    python benchmarks/adversarial_codebook.py
    python benchmarks/adversarial_codebook.py --quick
"""

import dataclasses
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import common  # noqa: E402
from common import accuracy_summary  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.methods import AFDDistiller  # noqa: E402
from keras_kd.methods import KSANCDistiller  # noqa: E402
from keras_kd.methods import QuESTDistiller  # noqa: E402

ROWS = ("scratch", "kd", "afd", "ksanc", "quest")


def run_row(row, seed, data, config, base):
    extra = {}
    start = time.perf_counter()
    if row == "afd":
        nets = []

        def make(_, network):
            nets.extend([network, zoo.student_cnn(name="network_1")])
            return AFDDistiller(nets, "block3")

        result = training.train_distilled("afd", None, zoo.student_cnn, data, config, distiller_fn=make)
        extra["network_accuracies"] = [training.test_accuracy(n, *data[2]) for n in nets]
    elif row == "ksanc":
        teacher, _ = demo.get_teacher(dataclasses.replace(base, seed=seed), data)

        def make(teacher, student):
            return KSANCDistiller(teacher, student, [("block2", "block2"), ("block3", "block3")], seed=seed)

        result = training.train_distilled("ksanc", teacher, zoo.student_cnn, data, config, distiller_fn=make)
    elif row == "quest":
        teacher, _ = demo.get_teacher(dataclasses.replace(base, seed=seed), data)

        def make(teacher, student):
            quest = QuESTDistiller(teacher, student, "block3", "block3", num_words=1024)
            return quest.fit_codebook(data[0][0][:2000], seed=seed)

        result = training.train_distilled("quest", teacher, zoo.student_cnn, data, config, distiller_fn=make)
    else:
        raise ValueError(f"Row {row!r} is imported from multi_teacher.jsonl, not run here.")
    wall = time.perf_counter() - start
    return {"row": row, "seed": seed, "test_accuracy": result.test_accuracy,
            "seconds_per_epoch": result.train_seconds / config.epochs, "wall_seconds": round(wall, 1), **extra}  # fmt: skip


def main():
    parser = common.parser(__doc__.splitlines()[0], "benchmarks/results/adversarial_codebook.jsonl", ROWS[2:])
    parser.add_argument("--baselines", default="benchmarks/results/multi_teacher.jsonl")
    args = parser.parse_args()
    base, data = common.demo_budget(args.quick)
    done = {(r["row"], r["seed"]) for r in load_records(args.results)}
    for record in load_records(args.baselines) if not args.quick else []:
        if record["row"] in ("scratch", "kd") and (record["row"], record["seed"]) not in done:
            append_record(args.results, dict(record, source=os.path.basename(args.baselines)))
    for seed in args.seeds:
        config = training.TrainConfig(epochs=base.student_epochs, learning_rate=base.learning_rate, seed=seed, verbose=0)
        for row in args.rows:
            if (row, seed) not in done:
                record = run_row(row, seed, data, config, base)
                append_record(args.results, record)
                print(f"seed {seed} {row}: {100 * record['test_accuracy']:.2f}%", flush=True)
    records = load_records(args.results)
    by = {(r["row"], r["seed"]): r for r in records}
    seeds = sorted({r["seed"] for r in records})
    for row in ROWS:
        mine, mean, std, gains = accuracy_summary(by, row, seeds)
        if mine:
            print(f"{row:8s} {mean:6.2f} +- {std:4.2f} ({len(mine)} seeds)  vs scratch {gains['scratch'] or '-':>6s}  "
                  f"vs kd {gains['kd'] or '-':>6s}  s/epoch {sum(r['seconds_per_epoch'] for r in mine) / len(mine):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
