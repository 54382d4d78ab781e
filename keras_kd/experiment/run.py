"""The config's commands: train the teacher, distill the student, evaluate them.

Each is a call into the library (`keras_kd.training`, `export`,
`run_report`); the CLI adds nothing. Files in `out`:

    teacher.keras        train-teacher (distill trains it first when missing)
    student.keras        distill; with results.json, export/ and report.md
    evaluation.json      evaluate

No command overwrites a file: a second `distill` into the same `out` is
refused before any training.
"""

import os

from keras_kd import files
from keras_kd import training
from keras_kd.experiment.config import build_model
from keras_kd.experiment.config import distillation_terms
from keras_kd.experiment.schema import ConfigError


def load_data(config):
    """The config's splits, the training set cut to `data.train_size`."""
    dataset = config["data"]["dataset"]
    if dataset == "fashion_mnist":
        from keras_kd.datasets import fashion_mnist

        data = fashion_mnist.load_splits()
    elif dataset.endswith(".npz"):
        from keras_kd.datasets import arrays

        data = arrays.load_splits(dataset)
    else:
        from keras_kd.datasets import folders

        data, _ = folders.load_splits(dataset, image_size=config["data"]["image_size"], color_mode=config["data"]["color_mode"])
    size = config["data"]["train_size"]
    if size:
        (x, y), validation, test = data
        data = ((x[:size], y[:size]), validation, test)
    return data


def _train_config(config, section):
    part = config[section]
    return training.TrainConfig(
        epochs=part["epochs"], batch_size=part["batch_size"], learning_rate=part["learning_rate"],
        seed=config["seed"], verbose=config["verbose"], clipnorm=part.get("clipnorm"),
    )  # fmt: skip


def _refuse_existing(config, name):
    path = os.path.join(config["out"], name)
    if os.path.exists(path):
        raise ConfigError(f"out: {path!r} exists; choose a new `out` (nothing is overwritten).")
    return path


def train_teacher(config, data=None, log=print):
    """Trains the teacher section's model on the labels; writes `out/teacher.keras`."""
    path = _refuse_existing(config, "teacher.keras")
    data = data or load_data(config)
    result = training.train_supervised("teacher", lambda: build_model(config["teacher"], "teacher"), data, _train_config(config, "teacher"))
    os.makedirs(config["out"], exist_ok=True)
    result.model.save(path)
    log(f"teacher: test accuracy {100 * result.test_accuracy:.2f}% -> {path}")
    return result


def _teacher(config, data, log):
    path = os.path.join(config["out"], "teacher.keras")
    if os.path.exists(path):
        return files.load_keras_model(path, role="teacher"), None
    if not config["teacher"]["model"].startswith("zoo:"):
        return build_model(config["teacher"], "teacher"), None
    log("No trained teacher in `out`: training it first.")
    result = train_teacher(config, data, log)
    return result.model, result


def _dakd(config, teacher, data, log):
    """DAKD whole (`methods.dakd`): step 2 saved as `out/teacher_d1.keras` (skipped with 0 epochs), then the student."""
    from keras_kd.methods import dakd_stages

    part = config["distill"]
    stage_config = None
    if part["dakd_teacher_epochs"]:
        stage_config = training.TrainConfig(
            epochs=part["dakd_teacher_epochs"], batch_size=part["batch_size"], learning_rate=part["dakd_teacher_learning_rate"],
            seed=config["seed"], verbose=config["verbose"],
        )  # fmt: skip
    outcome = dakd_stages.dakd(
        teacher, lambda: build_model(config["student"], "student"), data, _train_config(config, "distill"),
        teacher_config=stage_config, views=part["views"], temperature=part["temperature"], name="student",
    )  # fmt: skip
    if outcome.teacher is not None:
        path = os.path.join(config["out"], "teacher_d1.keras")
        os.makedirs(config["out"], exist_ok=True)
        outcome.teacher.model.save(path)
        log(f"DAKD step 2, the teacher fine-tuned on D1: test accuracy {100 * outcome.teacher.test_accuracy:.2f}% -> {path}")
    return outcome.student, outcome.teacher


def distill(config, log=print):
    """Distills the student from the teacher; exports and reports (see the module docstring)."""
    student_path = _refuse_existing(config, "student.keras")
    from keras_kd.augment import presets

    if presets.is_independent(config["distill"]["views"]) and config["distill"]["dakd_teacher_epochs"]:
        _refuse_existing(config, "teacher_d1.keras")  # before any training
    data = load_data(config)
    teacher, teacher_run = _teacher(config, data, log)
    views = config["distill"]["views"]
    stage_run = None
    if presets.is_independent(views):  # DAKD's own losses: the schema refuses terms with these views
        result, stage_run = _dakd(config, teacher, data, log)
    else:
        terms, weights = distillation_terms(config)
        options = {"distillation_losses": terms, "distillation_loss_weights": weights,
                   "student_loss_weight": config["distill"]["student_loss_weight"]}  # fmt: skip
        if views != "none":
            options["views"] = presets.get(views, seed=config["seed"])
        result = training.train_distilled(
            "student", teacher, lambda: build_model(config["student"], "student"), data, _train_config(config, "distill"), **options
        )
    result.model.save(student_path)
    log(f"student: test accuracy {100 * result.test_accuracy:.2f}% -> {student_path}")
    runs = [run.as_dict() for run in (teacher_run, stage_run) if run] + [result.as_dict()]
    results = {"config": config, "runs": runs}
    if config["export"]["modes"]:
        from keras_kd import export

        (x_train, _), _, (x_test, y_test) = data
        results["export"] = export.export_report(
            result.model, os.path.join(config["out"], "export"), x_test, y_test,
            representative_data=x_train[: config["export"]["calibration_samples"]], variants=config["export"]["modes"],
            threads=config["export"]["threads"], name="student", log=log,
        )  # fmt: skip
    files.write_json(os.path.join(config["out"], "results.json"), results)
    from keras_kd import run_report

    run_report.write_report(config["out"], x_test=data[2][0], y_test=data[2][1], log=log)
    return results


def evaluate(config, log=print):
    """Test accuracy of `out/teacher.keras` and `out/student.keras`; writes `out/evaluation.json`."""
    path = _refuse_existing(config, "evaluation.json")
    _, _, (x_test, y_test) = load_data(config)
    scores = {}
    for role in ("teacher", "student"):
        model_path = os.path.join(config["out"], f"{role}.keras")
        if os.path.exists(model_path):
            model = files.load_keras_model(model_path, role=role)
            scores[role] = training.test_accuracy(model, x_test, y_test)
            log(f"{role}: test accuracy {100 * scores[role]:.2f}%")
    if not scores:
        raise ConfigError(f"out: no teacher.keras or student.keras in {config['out']!r}; run train-teacher or distill first.")
    files.write_json(path, {"test_accuracy": scores, "config": config})
    return scores
