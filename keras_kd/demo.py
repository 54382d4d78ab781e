"""The main job: teacher, scratch student and distilled student on Fashion-MNIST.

`keras-kd demo` (or `run_demo(DemoConfig())`) does, on 2 CPU cores:

1. trains the reference teacher, or reuses the one cached by an earlier run
   with the same settings (`$KERAS_KD_CACHE`, default `~/.cache/keras_kd`);
2. trains the reference student from scratch on labels alone;
3. distills the same student architecture from the teacher with the same
   epochs, batch size, schedule and seed;
4. prints a table (test accuracy, parameters, size, train time) and writes
   `results.json`, `val_accuracy.png` and both students under a fresh run
   directory;
5. exports the distilled student to LiteRT in four variants and prints the
   export table (size, accuracy vs Keras, latency, dtypes).

The defaults are the settings our sweep found to pay off (see
`benchmarks/fashion_mnist.py` and the README).
"""

import dataclasses
import json
import os

import keras

from keras_kd import validation
from keras_kd import reporting
from keras_kd import training
from keras_kd import zoo
from keras_kd.datasets import fashion_mnist
from keras_kd import losses
from keras_kd.losses import KD


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """The demo's budget and distillation settings.

    Args:
        teacher_epochs: defaults to 12.
        student_epochs: epochs of both students. Defaults to 10.
        temperature: KD temperature. Defaults to 4.0.
        student_loss_weight: weight of the label loss. Defaults to 0.9, the
            best of the sweep on the validation split (benchmarks/kd_sweep.py).
        learning_rate: peak Adam learning rate (cosine decay). Defaults
            to 2e-3.
        train_size: training images used (`None` = all 55k after the 5k
            validation split). Defaults to `None`.
        seed: defaults to 0.
        verbose: Keras progress display. Defaults to 1 (bars).
        export: export the distilled student to LiteRT (float32, float16,
            dynamic, int8) and print the export table. Defaults to `True`.
        augment: a `keras_kd.augment.presets` name for the distilled
            student's views (`"dakd"` uses `DAKDDistiller`). Defaults to
            `"none"`.
        terms: the distilled student's terms, as `keras_kd.losses.from_specs`
            reads them: strings `"name[:key=value,...]"` or dicts, each with
            an optional `weight`; terms that take a `temperature` and do not
            set it get the demo's. The zoo's layers are `block1`, `block2`,
            `block3` and `features` in both models. Defaults to `None`
            (Hinton's KD alone).
    """

    teacher_epochs: int = 12
    student_epochs: int = 10
    temperature: float = 4.0
    student_loss_weight: float = 0.9
    learning_rate: float = 2e-3
    train_size: int = None
    seed: int = 0
    verbose: int = 1
    export: bool = True
    augment: str = "none"
    terms: tuple = None

    def __post_init__(self):
        # Fail before any training, not after the teacher's ten minutes.
        owner = "DemoConfig"
        for name in ("teacher_epochs", "student_epochs"):
            validation.check_positive_int(name, getattr(self, name), owner=owner)
        validation.check_positive_int("train_size", self.train_size, owner=owner, allow_none=True)
        validation.check_positive_number("temperature", self.temperature, owner=owner)
        validation.check_unit_interval("student_loss_weight", self.student_loss_weight, owner=owner)
        validation.check_positive_number("learning_rate", self.learning_rate, owner=owner)
        from keras_kd.augment import presets

        if self.augment not in presets.PRESETS:
            raise ValueError(
                f"{owner}: unknown augmentation preset. Received: augment={self.augment!r}. "
                f"Available: {', '.join(presets.PRESETS)}."
            )
        if self.terms is not None:
            if isinstance(self.terms, (str, dict)):
                raise ValueError(f"{owner}: `terms` is a list of term specs. Received: terms={self.terms!r}.")
            object.__setattr__(self, "terms", tuple(self.terms))
            if self.augment == "dakd":
                raise ValueError(
                    f"{owner}: augment='dakd' trains with DAKDDistiller's own consistency loss, so it "
                    f"takes no `terms`. Received: terms={list(self.terms)!r}. Drop `terms`, or pick "
                    f"another preset."
                )
            self.distillation_terms()  # Builds them once: a bad spec fails here.

    def distillation_terms(self):
        """`(terms, weights)` of the distilled student."""
        if self.terms is None:
            return [KD(self.temperature)], [1.0]
        return losses.from_specs(list(self.terms), defaults={"temperature": self.temperature})

    @classmethod
    def quick(cls, **overrides):
        """A one-minute version: 8k images, 2 teacher and 2 student epochs."""
        return cls(**{"teacher_epochs": 2, "student_epochs": 2, "train_size": 8000, **overrides})

    def teacher_key(self):
        """Names the cached teacher: every setting that changes it."""
        size = self.train_size or "all"
        return f"teacher_cnn-e{self.teacher_epochs}-lr{self.learning_rate:g}-n{size}-s{self.seed}"


def cache_dir():
    return os.environ.get("KERAS_KD_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_kd"
    )


def _subset(data, train_size):
    (x_train, y_train), validation, test = data
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    return (x_train, y_train), validation, test


def get_teacher(config, data, *, log=print):
    """Returns `(teacher, record)`, training and caching the teacher if needed."""
    directory = os.path.join(cache_dir(), "teachers")
    model_path = os.path.join(directory, config.teacher_key() + ".keras")
    record_path = model_path[: -len(".keras")] + ".json"
    if os.path.exists(model_path) and os.path.exists(record_path):
        log(f"Reusing the cached teacher {model_path}")
        with open(record_path) as f:
            record = json.load(f)
        record["cached"] = True
        return keras.saving.load_model(model_path), record
    log(f"Training the teacher ({config.teacher_epochs} epochs); it will be cached at {model_path}")
    result = training.train_supervised(
        "teacher",
        zoo.teacher_cnn,
        data,
        training.TrainConfig(
            epochs=config.teacher_epochs, learning_rate=config.learning_rate,
            seed=config.seed, verbose=config.verbose,
        ),  # fmt: skip
    )
    os.makedirs(directory, exist_ok=True)
    # Save beside the target, then rename: a crash leaves no broken cache.
    tmp_path = os.path.join(directory, f".tmp-{os.getpid()}-" + os.path.basename(model_path))
    result.model.save(tmp_path)
    os.replace(tmp_path, model_path)
    record = result.as_dict()
    reporting.write_json(record_path, record)
    record["cached"] = False
    return result.model, record


def _augmentation(config):
    """`train_distilled` arguments for the configured preset."""
    from keras_kd.augment import presets

    if config.augment == "none":
        return {}
    if presets.is_independent(config.augment):
        from keras_kd.methods import DAKDDistiller

        return {
            "distiller_fn": lambda teacher, student: DAKDDistiller(
                teacher, student, views=presets.get(config.augment, seed=config.seed),
                temperature=config.temperature, consistency_weight=1.0,
            )
        }  # fmt: skip
    return {"views": presets.get(config.augment, seed=config.seed)}


TABLE_COLUMNS = [
    ("name", "model", "{}"),
    ("test_accuracy_pct", "test acc %", "{:.2f}"),
    ("params", "params", "{:,}"),
    ("macs", "MACs", "{:,}"),
    ("float32_kb", "size KB (fp32)", "{:,.1f}"),
    ("train_seconds", "train s", "{:.0f}"),
]


def run_demo(config=None, *, run_dir=None, runs_base="runs", log=print):
    """Runs the demo and returns the results dict written to `results.json`.

    Args:
        config: a `DemoConfig`. Defaults to `DemoConfig()`.
        run_dir: where to write; must be new or empty. Defaults to a fresh
            `runs/demo-<timestamp>`.
        runs_base: parent of generated run directories. Defaults to `"runs"`.
        log: where progress lines go. Defaults to `print`.
    """
    config = config or DemoConfig()
    run_dir = reporting.new_run_dir(runs_base, "demo", run_dir)
    log(f"Run directory: {run_dir}")
    data = _subset(fashion_mnist.load_splits(), config.train_size)
    log(f"Fashion-MNIST: {len(data[0][0])} train, {len(data[1][0])} validation, {len(data[2][0])} test images")

    teacher, teacher_record = get_teacher(config, data, log=log)
    student_config = training.TrainConfig(
        epochs=config.student_epochs, learning_rate=config.learning_rate,
        seed=config.seed, verbose=config.verbose,
    )  # fmt: skip
    log(f"Training the student from scratch ({config.student_epochs} epochs)")
    scratch = training.train_supervised("scratch student", zoo.student_cnn, data, student_config)
    terms, weights = config.distillation_terms()
    described = ", ".join(f"{w:g} x {t!r}" for t, w in zip(terms, weights))
    log(
        f"Distilling into the same student ({described}; "
        f"student_loss_weight={config.student_loss_weight:g}, {config.student_epochs} epochs, "
        f"augmentation {config.augment!r})"
    )
    distilled = training.train_distilled(
        "distilled student", teacher, zoo.student_cnn, data, student_config,
        distillation_losses=terms, distillation_loss_weights=weights,
        student_loss_weight=config.student_loss_weight,
        **_augmentation(config),
    )  # fmt: skip

    scratch.model.save(os.path.join(run_dir, "student_scratch.keras"))
    distilled.model.save(os.path.join(run_dir, "student_distilled.keras"))
    rows = [dict(teacher_record, name="teacher"), scratch.as_dict(), distilled.as_dict()]
    for row in rows:
        row["test_accuracy_pct"] = 100 * row["test_accuracy"]
    table = reporting.format_table(rows, TABLE_COLUMNS)
    gain = 100 * (distilled.test_accuracy - scratch.test_accuracy)
    results = {
        "config": dataclasses.asdict(config),
        "runs": rows,
        "distillation_gain_points": gain,
        "table": table,
    }
    reporting.write_json(os.path.join(run_dir, "results.json"), results)
    reporting.plot_curves(
        os.path.join(run_dir, "val_accuracy.png"),
        {row["name"]: row["history"]["val_accuracy"] for row in rows},
        title="Fashion-MNIST: validation accuracy per epoch",
    )
    log("")
    log(table)
    log(f"\nDistilled - scratch: {gain:+.2f} points of test accuracy")
    log(f"Wrote {run_dir}/results.json, val_accuracy.png and both students (.keras)")
    if config.export:
        from keras_kd import export

        log("\nExporting the distilled student to LiteRT")
        (x_train, _), _, (x_test, y_test) = data
        results["export"] = export.export_report(
            distilled.model, os.path.join(run_dir, "export"), x_test, y_test,
            representative_data=x_train[:500], name="student_distilled", log=log,
        )  # fmt: skip
        reporting.write_json(os.path.join(run_dir, "results.json"), results)
    from keras_kd import run_report

    results["report"] = run_report.write_report(run_dir, x_test=data[2][0], y_test=data[2][1], log=log)
    results["run_dir"] = run_dir
    return results
