"""`keras-kd compress CONFIG`: the pipeline from a JSON config file.

    {
      "student": "runs/demo-.../student_distilled.keras",
      "teacher": "~/.cache/keras_kd/teachers/teacher_cnn-....keras",
      "data": "fashion_mnist",                 (or an .npz with x_train, y_train, x_test, y_test)
      "out": "runs/compress-1",
      "channel_fraction": 0.5, "sparsity": 0.5, "qat": true, "epochs_per_stage": 2
    }

Every key other than `student`, `teacher`, `data` and `out` is a field of
`CompressConfig`. The whole file is checked (unknown keys, types, values,
that the model files exist and `out` holds no files) before any model or
data is loaded. Writes `out/compress_report.json`, the `.tflite` files and
`out/student_compressed.keras`.
"""

import dataclasses
import json
import os

from keras_kd import files
from keras_kd.compress.pipeline import CompressConfig

PATH_KEYS = ("student", "teacher", "data", "out")


def read_config(path):
    """`(paths, CompressConfig)` from a JSON file, every key checked first."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"No compress config at {path!r}.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the config must be a JSON object. Received: {type(raw).__name__}.")
    fields = {f.name for f in dataclasses.fields(CompressConfig)}
    unknown = sorted(set(raw) - fields - set(PATH_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}. Valid: {sorted(PATH_KEYS) + sorted(fields)}.")
    missing = [key for key in PATH_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{path}: missing keys {missing} (the models, the data and the output directory).")
    for key in PATH_KEYS:
        if not isinstance(raw[key], str):
            raise ValueError(f"{path}: `{key}` must be a string path or name. Received: {raw[key]!r}.")
    paths = {key: os.path.expanduser(raw[key]) for key in PATH_KEYS}
    for key in ("student", "teacher"):
        if not os.path.isfile(paths[key]):
            raise FileNotFoundError(f"{path}: `{key}` names no file: {paths[key]!r}.")
    if paths["data"] != "fashion_mnist" and not (paths["data"].endswith(".npz") and os.path.isfile(paths["data"])):
        raise ValueError(f"{path}: `data` must be 'fashion_mnist' or an existing .npz file. Received: {paths['data']!r}.")
    if os.path.isdir(paths["out"]) and os.listdir(paths["out"]):
        raise FileExistsError(f"{path}: `out` ({paths['out']!r}) already holds files; choose a new directory.")
    try:
        config = CompressConfig(**{k: v for k, v in raw.items() if k in fields})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
    return paths, config


def load_data(name):
    """`((x_train, y_train), (x_val, y_val) or None, (x_test, y_test))`."""
    if name == "fashion_mnist":
        from keras_kd.datasets import fashion_mnist

        return fashion_mnist.load_splits()
    from keras_kd.datasets import arrays

    return arrays.load_splits(name)


def run(config_path, log=print):
    """Runs the pipeline a config file describes; returns the report dict."""
    from keras_kd.compress.pipeline import compress_student

    paths, config = read_config(config_path)
    student = files.load_keras_model(paths["student"], role="student")
    teacher = files.load_keras_model(paths["teacher"], role="teacher")
    for role in ("student", "teacher"):
        model = student if role == "student" else teacher
        if hasattr(model, "student") and hasattr(model, "teacher"):
            raise ValueError(f"`{role}` ({paths[role]}) holds a distiller; save and pass its student.")
    result = compress_student(student, teacher, load_data(paths["data"]), config, paths["out"])
    result["model"].save(os.path.join(paths["out"], "student_compressed.keras"))
    report = {"config": dataclasses.asdict(config), **paths, "stages": result["stages"], "int8": result["int8"]}
    files.write_json(os.path.join(paths["out"], "compress_report.json"), report)
    columns = [("stage", "stage", "{}"), ("keras_accuracy", "acc %", "{:.4f}"), ("params", "params", "{:,}"),
               ("macs", "MACs", "{:,}"), ("sparsity", "zeros", "{:.2f}")]  # fmt: skip
    log(files.format_table(result["stages"], columns))
    log(files.format_table(result["int8"], [("stage", "int8 model", "{}"), ("int8_accuracy", "acc", "{:.4f}"),
                                            ("size_kb", "KB", "{:.1f}"), ("gzip_kb", "gzip KB", "{:.1f}"),
                                            ("median_ms", "ms", "{:.3f}")]))  # fmt: skip
    return report
