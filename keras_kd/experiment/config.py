"""The experiment config: one YAML (or JSON) file for train-teacher, distill and evaluate.

    seed: 0
    out: runs/kd-fashion               # must not hold files (nothing is overwritten)
    data: {dataset: fashion_mnist}     # or an .npz (x_train, y_train, x_test, y_test), or images in
                                       # root/{train,val,test}/<class>/ with image_size, color_mode
    teacher: {model: zoo:teacher_cnn, epochs: 12}
    student: {model: zoo:student_cnn, options: {width: 16}}
    distill:
      terms: [kd, "hint:teacher_layer_name=block3,student_layer_name=block3,weight=100"]
      student_loss_weight: 0.9
      views: none                      # a keras_kd.augment preset; independent ones (fashion_dakd, dakd)
                                       # run DAKD whole: teacher stage, then DAKDDistiller
    export: {modes: [float32, int8]}

`load_config(path, overrides=(), smoke=False)` reads it, applies `--set
key.path=value` overrides and the `--smoke` budget, and checks every key
(kinds, ranges, names in the registries, model files, and that each term's
layers exist in the teacher and the student) before any data is loaded.
Models are `zoo:<function>` (with `options` passed to it) or a `.keras` path.
"""

import copy
import json
import os

from keras_kd.experiment.schema import ConfigError
from keras_kd.experiment.schema import Field
from keras_kd.experiment.schema import set_value
from keras_kd.experiment.schema import validate

ZOO_MODELS = ("teacher_cnn", "student_cnn", "segmenter")
SMOKE = {
    "teacher.epochs": 1, "distill.epochs": 1, "distill.dakd_teacher_epochs": 1, "data.train_size": 512,
    "export.calibration_samples": 32,
}  # fmt: skip


def _presets():
    from keras_kd.augment import presets

    return presets.PRESETS


def _modes():
    from keras_kd.export import modes

    return tuple(modes.MODES)


def schema():
    """The config's sections and keys (`schema.Field`s)."""
    model = {
        "model": Field("str", doc="zoo:<teacher_cnn|student_cnn|segmenter> or a .keras path"),
        "options": Field("any", None, doc="keyword arguments for a zoo model"),
    }
    return {
        "seed": Field("int0", 0, doc="seeds weights, shuffling and views"),
        "out": Field("str", required=True, doc="the run directory; it must not hold files"),
        "verbose": Field("choice", 2, choices=(0, 1, 2), doc="Keras's progress display"),
        "data": Field("section", fields={
            "dataset": Field("str", "fashion_mnist", doc="'fashion_mnist', an .npz path, or an image folder"),
            "train_size": Field("int+", None, doc="training samples used (all when unset)"),
            "image_size": Field("list", [28, 28], doc="(height, width) for image folders"),
            "color_mode": Field("choice", "grayscale", choices=("grayscale", "rgb", "rgba")),
        }),
        "teacher": Field("section", fields={
            **model, "model": Field("str", "zoo:teacher_cnn", doc=model["model"].doc),
            "epochs": Field("int+", 12), "learning_rate": Field("float+", 2e-3), "batch_size": Field("int+", 128),
        }),
        "student": Field("section", fields={**model, "model": Field("str", "zoo:student_cnn", doc=model["model"].doc)}),
        "distill": Field("section", fields={
            "terms": Field("list", None, doc="term specs (keras-kd losses); none: Hinton's KD"),
            "temperature": Field("float+", 4.0, doc="for terms that take one and do not set it"),
            "student_loss_weight": Field("unit", 0.9),
            "views": Field("choice", "none", choices=_presets()),
            "epochs": Field("int+", 10), "learning_rate": Field("float+", 2e-3), "batch_size": Field("int+", 128),
            "clipnorm": Field("float+", None, doc="global gradient-norm clip (function matching: 1.0)"),
            "dakd_teacher_epochs": Field("int0", 2, doc="DAKD step 2: epochs fine-tuning the teacher on D1 (0 skips)"),
            "dakd_teacher_learning_rate": Field("float+", 2e-4, doc="DAKD step 2's peak learning rate"),
        }),
        "export": Field("section", fields={
            "modes": Field("list", ["float32", "int8"], doc=f"any of {', '.join(_modes())}"),
            "calibration_samples": Field("int+", 500), "threads": Field("int+", 1),
        }),
    }  # fmt: skip


def read_file(path):
    """The raw mapping of a `.yaml`/`.yml` or `.json` file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No config file at {path!r}.")
    with open(path) as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e}).") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e}); YAML files end in .yaml or .yml.") from None


def load_config(path, overrides=(), *, smoke=False):
    """The checked config (a dict of sections), see the module docstring."""
    raw = copy.deepcopy(read_file(path)) or {}
    for assignment in overrides:
        set_value(raw, assignment)
    if smoke:
        for key_path, value in SMOKE.items():
            section, key = key_path.split(".")
            current = (raw.get(section) or {}).get(key)
            raw.setdefault(section, {})[key] = value if current is None else min(current, value)
    config = validate(raw, schema())
    _check_names(config)
    return config


def _check_names(config):
    """The checks that need the registries and the models (no data)."""
    modes = _modes()
    for i, mode in enumerate(config["export"]["modes"]):
        if mode not in modes:
            raise ConfigError(f"export.modes[{i}]: unknown mode {mode!r}. Valid: {', '.join(modes)}.")
    dataset = config["data"]["dataset"]
    if dataset != "fashion_mnist" and not (dataset.endswith(".npz") and os.path.isfile(dataset)):
        if not os.path.isdir(os.path.join(dataset, "train")) or not os.path.isdir(os.path.join(dataset, "test")):
            raise ConfigError(
                f"data.dataset: expected 'fashion_mnist', an existing .npz file, or a folder with train/ and "
                f"test/ class folders, got {dataset!r}."
            )
    teacher, student = (build_model(config[role], role) for role in ("teacher", "student"))
    terms, _ = distillation_terms(config)
    for i, term in enumerate(terms):
        try:
            term.validate_model_compatibility(teacher, student)
        except ValueError as e:
            raise ConfigError(f"distill.terms[{i}]: {e}") from None
    from keras_kd.augment import presets

    views = config["distill"]["views"]
    if presets.is_independent(views) and config["distill"]["terms"]:
        raise ConfigError(f"distill.terms: views {views!r} trains with DAKDDistiller's own consistency loss; drop the terms.")


def build_model(section, role):
    """The model a `teacher` / `student` section names (built, untrained for zoo models)."""
    spec, options = section["model"], section["options"] or {}
    if spec.startswith("zoo:"):
        from keras_kd import zoo

        name = spec[len("zoo:"):]
        if name not in ZOO_MODELS:
            raise ConfigError(f"{role}.model: unknown zoo model {name!r}. Valid: {', '.join('zoo:' + n for n in ZOO_MODELS)}.")
        if not isinstance(options, dict):
            raise ConfigError(f"{role}.options: expected a mapping of keyword arguments, got {options!r}.")
        try:
            return getattr(zoo, name)(**options)
        except TypeError as e:
            raise ConfigError(f"{role}.options: {e}") from None
    if section["options"]:
        raise ConfigError(f"{role}.options: only zoo models take options; {spec!r} is a file.")
    from keras_kd import files

    try:
        return files.load_keras_model(spec, role=role)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"{role}.model: {e}") from None


def distillation_terms(config):
    """`(terms, weights)` of the distill section (Hinton's KD when no terms are given)."""
    from keras_kd import losses

    distill = config["distill"]
    if not distill["terms"]:
        return [losses.KD(distill["temperature"])], [1.0]
    terms, weights = [], []
    for i, spec in enumerate(distill["terms"]):
        try:
            (term,), (weight,) = losses.from_specs([spec], defaults={"temperature": distill["temperature"]})
        except (ValueError, TypeError) as e:
            raise ConfigError(f"distill.terms[{i}]: {e}") from None
        terms.append(term)
        weights.append(weight)
    return terms, weights
