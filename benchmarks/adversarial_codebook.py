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

Resumable: each finished (row, seed) is appended to `--results`. The
seconds per epoch of those rows were measured wherever other jobs shared
the cores; `--timing` measures every row's cost again, interleaved in one
process (100 steps of 128 per row and round, scaled to the 55k images), so
the ratios between rows hold whatever else the machine does.

    python benchmarks/adversarial_codebook.py
    python benchmarks/adversarial_codebook.py --timing --seeds 2
    python benchmarks/adversarial_codebook.py --quick
"""

import dataclasses
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import keras  # noqa: E402

import common  # noqa: E402
from common import accuracy_summary  # noqa: E402
from common import append_record  # noqa: E402
from common import load_records  # noqa: E402
from keras_kd import Distiller  # noqa: E402
from keras_kd import demo  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.methods import AFDDistiller  # noqa: E402
from keras_kd.methods import KSANCDistiller  # noqa: E402
from keras_kd.methods import QuESTDistiller  # noqa: E402

ROWS = ("scratch", "kd", "afd", "ksanc", "quest")


def distiller_factory(row, seed, data, networks):
    """`(teacher, student) -> the row's Distiller`; AFD's networks are appended to `networks`."""
    if row == "afd":

        def make(_, network):
            networks.extend([network, zoo.student_cnn(name="network_1")])
            return AFDDistiller(networks, "block3")

    elif row == "ksanc":

        def make(teacher, student):
            return KSANCDistiller(teacher, student, [("block2", "block2"), ("block3", "block3")], seed=seed)

    elif row == "quest":

        def make(teacher, student):
            quest = QuESTDistiller(teacher, student, "block3", "block3", num_words=1024)
            return quest.fit_codebook(data[0][0][:2000], seed=seed)

    elif row == "kd":

        def make(teacher, student):
            return Distiller(teacher, student, losses.KD(4.0), student_loss_weight=0.9)

    else:
        raise ValueError(f"Unknown row {row!r}.")
    return make


def run_row(row, seed, data, config, base):
    if row not in ("afd", "ksanc", "quest"):
        raise ValueError(f"Row {row!r} is imported from multi_teacher.jsonl, not run here.")
    start = time.perf_counter()
    teacher = None if row == "afd" else demo.get_teacher(dataclasses.replace(base, seed=seed), data)[0]
    networks = []
    make = distiller_factory(row, seed, data, networks)
    result = training.train_distilled(row, teacher, zoo.student_cnn, data, config, distiller_fn=make)
    extra = {"network_accuracies": [training.test_accuracy(n, *data[2]) for n in networks]} if networks else {}
    wall = time.perf_counter() - start
    return {"row": row, "seed": seed, "test_accuracy": result.test_accuracy,
            "seconds_per_epoch": result.train_seconds / config.epochs, "wall_seconds": round(wall, 1), **extra}  # fmt: skip


def timing(seed, data, base, rounds, samples):
    """Every row's seconds per epoch, measured interleaved in one process (`common.interleaved_timing`)."""
    (x, y), _, _ = data
    teacher = demo.get_teacher(dataclasses.replace(base, seed=seed), data)[0]
    runs = {}
    for row in ROWS:
        keras.utils.set_random_seed(seed)
        student = zoo.student_cnn()
        trainer = student if row == "scratch" else distiller_factory(row, seed, data, [])(teacher, student)
        trainer.compile(keras.optimizers.Adam(base.learning_rate),
                        keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        runs[row] = (trainer, x, y)
    epochs = common.interleaved_timing(runs, rounds=rounds, samples=samples)
    medians = common.print_timing(epochs, "scratch")
    return {"timing": {"seed": seed, "rounds": rounds, "samples": samples, "median_seconds_per_epoch": medians,
                       "seconds_per_epoch": epochs}}  # fmt: skip


def main():
    parser = common.parser(__doc__.splitlines()[0], "benchmarks/results/adversarial_codebook.jsonl", ROWS[2:])
    parser.add_argument("--baselines", default="benchmarks/results/multi_teacher.jsonl")
    parser.add_argument("--timing", action="store_true", help="only time every row, interleaved (teacher of --seeds[0])")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base, data = common.demo_budget(args.quick)
    if args.timing:
        append_record(args.results, timing(args.seeds[0], data, base, args.rounds, 1024 if args.quick else 12800))
        return
    done = {(r["row"], r["seed"]) for r in load_records(args.results) if "row" in r}
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
    records = common.print_timing_records(records)
    by = {(r["row"], r["seed"]): r for r in records}
    seeds = sorted({r["seed"] for r in records})
    for row in ROWS:
        mine, mean, std, gains = accuracy_summary(by, row, seeds)
        if mine:
            print(f"{row:8s} {mean:6.2f} +- {std:4.2f} ({len(mine)} seeds)  vs scratch {gains['scratch'] or '-':>6s}  "
                  f"vs kd {gains['kd'] or '-':>6s}  s/epoch {sum(r['seconds_per_epoch'] for r in mine) / len(mine):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
