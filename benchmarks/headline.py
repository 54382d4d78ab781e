"""The headline model: the best <= 100k-parameter int8 Fashion-MNIST student.

Teacher: the mixture of the demo's zoo teachers of `--teacher-seeds`
(default 0 1 2; cached by `demo.get_teacher`, shared with `patience.py`),
`methods.ensemble_teacher` at T 1; one seed is that teacher alone.
Students (`--students`): `convnet`, `zoo.student_convnet()` (97,474
parameters, 9.4M MACs; the default) and `cnn`, `zoo.student_cnn()` (90k
parameters, 1.5M MACs; `patience.py`'s student). One candidate per student,
recipe in `--recipes` and budget in `--epochs`:

    fm    `methods.function_matching`: `fashion_mixup` views, the teacher
          live on each, KL only at T 1, gradient clipping at 1.0, Adam 2e-3
          with cosine decay.
    dakd  `methods.dakd` whole, as `patience.py`'s DAKD row: step 2
          fine-tunes each teacher on `fashion_dakd`'s D1
          (2 epochs, lr 2e-4; cached), their mixture then teaches on D2
          (T 4, lambda 1), Adam 2e-3 with cosine decay.

Selection never looks at the test set: every candidate is scored on the
5k validation split (the runs are handed the validation split in place of
the test split), the best one is chosen (on a tie, the one with fewer
MACs), and only then is the test set
read, once, for the chosen student: its float accuracy, then its int8
LiteRT model's accuracy through the LiteRT interpreter, size, latency
(batch 1, 1 thread, XNNPACK), parameters and MACs.

Resumable: each finished candidate is cached (`~/.cache/keras_kd/headline`)
and recorded in `--results`; an interrupted candidate resumes from its last
finished epoch (`keras.callbacks.BackupAndRestore`), and its recorded
seconds count every epoch, those before the interruption too (`EpochClock`,
in `<candidate>-epochs.json` beside the cached model). The chosen model is
written to `benchmarks/results/fashion_mnist_student_int8.tflite` and
`.keras`, or to `--out` (created if missing); if they exist the run is
refused before any training, unless `--overwrite`.

    python benchmarks/headline.py                  # function matching, 30 and 100 epochs
    python benchmarks/headline.py --recipes fm dakd --epochs 30
    python benchmarks/headline.py --recipes dakd --epochs 100 --students cnn --teacher-seeds 0
    python benchmarks/headline.py --recipes dakd --epochs 200 --students cnn --teacher-seeds 0 --overwrite   # the shipped files
    python benchmarks/headline.py --quick          # a smoke run, 8k images, files in the cache
"""

import argparse
import dataclasses
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402
import keras  # noqa: E402
from epoch_clock import EpochClock  # noqa: E402

from keras_kd import demo  # noqa: E402
from keras_kd import profiling  # noqa: E402
from keras_kd import training  # noqa: E402
from keras_kd import zoo  # noqa: E402
from keras_kd.export import benchmark_tflite  # noqa: E402
from keras_kd.export import evaluate_tflite  # noqa: E402
from keras_kd.export import to_tflite  # noqa: E402
from keras_kd.methods import dakd  # noqa: E402
from keras_kd.methods import ensemble_teacher  # noqa: E402
from keras_kd.methods import fine_tune_teacher  # noqa: E402
from keras_kd.methods import function_matching  # noqa: E402

TEACHER_SEEDS = (0, 1, 2)
CACHE = os.path.join(demo.cache_dir(), "headline")
RECIPES = ("fm", "dakd")
STUDENTS = {"convnet": zoo.student_convnet, "cnn": zoo.student_cnn}


def teachers(base, data, seeds):
    """`{seed: the demo's zoo teacher of that seed}` and the seconds spent training those not cached."""
    models, seconds = {}, 0.0
    for seed in seeds:
        models[seed], record = demo.get_teacher(dataclasses.replace(base, seed=seed), data)
        seconds += 0.0 if record["cached"] else record["train_seconds"]
    return models, seconds


def mixture(models):
    """The teachers as one model: the model itself if there is one, else their mixture at T 1."""
    return models[0] if len(models) == 1 else ensemble_teacher(models)


def candidate_name(student, recipe, epochs, seeds, quick):
    """E.g. `student_convnet-dakd-e30` (the three teachers' mixture) or `student_cnn-dakd-e100-t0`."""
    teachers = "" if tuple(seeds) == TEACHER_SEEDS else "-t" + "".join(str(seed) for seed in seeds)
    return f"student_{student}-{recipe}-e{epochs}{teachers}" + ("-quick" if quick else "")


def save_atomically(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{os.path.basename(path)}")
    model.save(tmp)
    os.replace(tmp, path)


def d1_teachers(models, data, quick):
    """DAKD's step 2 for each teacher of `models` (cached); returns their mixture and the stage's cost in seconds."""
    tuned, seconds = [], 0.0
    for seed, model in models.items():
        path = os.path.join(CACHE, f"teacher_d1-s{seed}" + ("-quick" if quick else "") + ".keras")
        if not os.path.exists(path):
            stage = training.TrainConfig(epochs=2, learning_rate=2e-4, seed=seed, verbose=2)
            result = fine_tune_teacher(model, data, stage, views="fashion_dakd")
            record = {"val_accuracy": result.test_accuracy, "train_seconds": result.train_seconds}
            with open(path + ".json.tmp", "w") as f:
                json.dump(record, f)
            save_atomically(result.model, path)
            os.replace(path + ".json.tmp", path + ".json")
            print(f"teacher {seed} fine-tuned on D1: val {100 * record['val_accuracy']:.2f}% "
                  f"({record['train_seconds'] / 60:.1f} min)")  # fmt: skip
        with open(path + ".json") as f:
            seconds += json.load(f)["train_seconds"]  # the stage's cost, also when cached by an earlier run
        tuned.append(keras.saving.load_model(path, compile=False))
    return mixture(tuned), seconds


def candidate(name, student, recipe, epochs, models, teacher, data, quick):
    """Trains one candidate student, saves it in the cache; returns its record."""
    path = os.path.join(CACHE, name + ".keras")
    (x_train, y_train), validation, _ = data
    # The runs score on the validation split: the test split is not handed to them.
    selection_data = ((x_train, y_train), validation, validation)
    os.makedirs(CACHE, exist_ok=True)
    # The clock first (see `EpochClock`).
    callbacks = [EpochClock(os.path.join(CACHE, name + "-epochs.json")),
                 keras.callbacks.BackupAndRestore(os.path.join(CACHE, name + "-backup"))]  # fmt: skip
    config = training.TrainConfig(epochs=epochs, seed=0, verbose=2)
    teacher_seconds, teacher_val = 0.0, training.test_accuracy(teacher, *validation)
    if recipe == "fm":
        result = function_matching(teacher, STUDENTS[student], selection_data, config, callbacks=callbacks)
    else:
        teacher, teacher_seconds = d1_teachers(models, selection_data, quick)
        teacher_val = training.test_accuracy(teacher, *validation)
        result = dakd(teacher, STUDENTS[student], selection_data, config, views="fashion_dakd",
                      temperature=4.0, consistency_weight=1.0, callbacks=callbacks).student  # fmt: skip
    save_atomically(result.model, path)
    return {
        "candidate": name, "student": student, "recipe": recipe, "epochs": epochs, "teacher_seeds": list(models),
        "val_accuracy": result.test_accuracy,
        "teacher_val_accuracy": teacher_val, "teacher_stage_seconds": teacher_seconds,
        # Every epoch's seconds, also those run before an interruption (`EpochClock`).
        "train_seconds": callbacks[0].seconds + teacher_seconds,
        "seconds_per_epoch": statistics.median(callbacks[0].per_epoch("seconds")),
        "path": path,
    }  # fmt: skip


def selection_key(val_accuracy, student):
    """Validation accuracy; on a tie, the student with fewer MACs (the one a device would rather run)."""
    return val_accuracy, -profiling.count_macs(STUDENTS[student]())


def output_paths(args):
    """The chosen model's .keras and int8 .tflite paths in `--out`."""
    stem = "fashion_mnist_student" + ("-quick" if args.quick else "")
    return os.path.join(args.out, stem + ".keras"), os.path.join(args.out, stem + "_int8.tflite")


def check_output(args):
    """Before any training: creates `--out` and refuses files it would overwrite without `--overwrite`."""
    existing = [p for p in output_paths(args) if os.path.exists(p)]
    if existing and not args.overwrite:
        raise FileExistsError(f"Refusing to overwrite {existing}: the chosen model is written there. "
                              "Pass --overwrite to replace them, or --out another folder.")  # fmt: skip
    os.makedirs(args.out, exist_ok=True)


def ship(student, chosen, data, args, teacher_record):
    """Reads the test set once: float and int8 accuracy, size, latency; writes the files."""
    (x_train, _), _, (x_test, y_test) = data
    keras_path, tflite_path = output_paths(args)
    check_output(args)  # again: the files may have appeared while the candidates trained
    tmp = os.path.join(args.out, f".tmp-{os.getpid()}-{os.path.basename(keras_path)}")
    student.save(tmp)
    os.replace(tmp, keras_path)
    to_tflite(student, tflite_path, quantization="int8", representative_data=x_train[:500], overwrite=args.overwrite)
    timing = benchmark_tflite(tflite_path, threads=1, sample=x_test[0])
    summary = profiling.summarize(student)
    return {
        "chosen": chosen["candidate"], "val_accuracy": chosen["val_accuracy"],
        "float_test_accuracy": training.test_accuracy(student, x_test, y_test),
        "int8_test_accuracy": evaluate_tflite(tflite_path, x_test, y_test),
        "params": summary["params"], "macs": summary["macs"], "int8_kb": timing["size_kb"],
        "int8_median_ms": timing["median_ms"], "int8_p90_ms": timing["p90_ms"],
        "teacher_val_accuracy": teacher_record["val_accuracy"], "teacher_test_accuracy": teacher_record["test_accuracy"],
        "keras_path": keras_path, "tflite_path": tflite_path,
    }  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30, 100], help="budgets (one candidate per recipe each)")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=["fm"], help="recipes (see above); default fm")
    parser.add_argument("--students", nargs="+", choices=list(STUDENTS), default=["convnet"],
                        help="zoo students (convnet 97k parameters, cnn 90k); default convnet")  # fmt: skip
    parser.add_argument("--teacher-seeds", type=int, nargs="+", default=list(TEACHER_SEEDS),
                        help="the zoo teachers whose mixture teaches; default 0 1 2")  # fmt: skip
    parser.add_argument("--results", default=None, help="default benchmarks/results/headline.jsonl (the cache when --quick)")
    parser.add_argument("--out", default=None, help="where the chosen .keras and int8 .tflite go "
                        "(default benchmarks/results; the cache when --quick)")
    parser.add_argument("--overwrite", action="store_true", help="replace the chosen model's files")
    parser.add_argument("--quick", action="store_true", help="a smoke run: the demo's quick teachers, 8k images, 1 epoch")
    args = parser.parse_args()
    args.results = args.results or (os.path.join(CACHE, "headline-quick.jsonl") if args.quick else "benchmarks/results/headline.jsonl")
    args.out = args.out or (CACHE if args.quick else "benchmarks/results")
    check_output(args)
    start = time.perf_counter()
    base, data = common.demo_budget(args.quick)
    budgets = [1] if args.quick else args.epochs
    if len(set(args.teacher_seeds)) != len(args.teacher_seeds):
        parser.error(f"--teacher-seeds must not repeat a seed. Received: {args.teacher_seeds}")
    models, teacher_seconds = teachers(base, data, args.teacher_seeds)
    teacher = mixture(list(models.values()))
    (_, validation, (x_test, y_test)) = data
    teacher_record = {"val_accuracy": training.test_accuracy(teacher, *validation),
                      "test_accuracy": training.test_accuracy(teacher, x_test, y_test)}  # fmt: skip
    print(f"teacher (seeds {' '.join(map(str, models))}): val {100 * teacher_record['val_accuracy']:.2f}%, test "
          f"{100 * teacher_record['test_accuracy']:.2f}% ({teacher_seconds / 60:.1f} min training teachers)")  # fmt: skip
    records = {r["candidate"]: r for r in common.load_records(args.results) if "candidate" in r}
    jobs = {candidate_name(s, r, e, args.teacher_seeds, args.quick): (s, r, e)
            for s in args.students for r in args.recipes for e in budgets}  # fmt: skip
    for name, (student, recipe, epochs) in jobs.items():
        if name in records and os.path.exists(records[name]["path"]):
            continue
        records[name] = candidate(name, student, recipe, epochs, models, teacher, data, args.quick)
        common.append_record(args.results, records[name])
        print(f"{name}: val {100 * records[name]['val_accuracy']:.2f}% "
              f"({records[name]['train_seconds'] / 60:.1f} min)", flush=True)  # fmt: skip
    # The job names the student: records from before 2026-12-07 do not.
    chosen = records[max(jobs, key=lambda name: selection_key(records[name]["val_accuracy"], jobs[name][0]))]
    student = keras.saving.load_model(chosen["path"])
    shipped = ship(student, chosen, data, args, teacher_record)
    if chosen.get("recipe") == "dakd":  # its teacher was the D1-tuned mixture (cached): report it too
        tuned, _ = d1_teachers(models, (data[0], validation, validation), args.quick)
        shipped["d1_teacher_val_accuracy"] = chosen["teacher_val_accuracy"]
        shipped["d1_teacher_test_accuracy"] = training.test_accuracy(tuned, x_test, y_test)
    shipped["wall_seconds"] = time.perf_counter() - start
    common.append_record(args.results, {"shipped": shipped})
    print(f"chosen on validation: {shipped['chosen']} (val {100 * shipped['val_accuracy']:.2f}%)\n"
          f"test: float {100 * shipped['float_test_accuracy']:.2f}%, int8 LiteRT {100 * shipped['int8_test_accuracy']:.2f}%; "
          f"{shipped['params']:,} parameters, {shipped['macs'] / 1e6:.1f}M MACs, {shipped['int8_kb']:.1f} KB, "
          f"{shipped['int8_median_ms']:.3f} ms (batch 1, 1 thread)")  # fmt: skip


if __name__ == "__main__":
    main()
