"""The export report: every variant's size, accuracy vs Keras, latency, dtypes."""

import os

import numpy as np

from keras_kd import files
from keras_kd import validation
from keras_kd.export import litert
from keras_kd.export import modes
from keras_kd.export.tflite import to_tflite

VARIANTS = tuple(modes.MODES)

TABLE_COLUMNS = [
    ("variant", "variant", "{}"),
    ("size_kb", "size KB", "{:,.1f}"),
    ("size_ratio", "x fp32", "{:.2f}"),
    ("accuracy_pct", "acc %", "{:.2f}"),
    ("accuracy_delta_points", "vs Keras", "{:+.2f}"),
    ("agreement_pct", "agree %", "{:.2f}"),
    ("median_ms", "median ms", "{:.3f}"),
    ("p90_ms", "p90 ms", "{:.3f}"),
    ("dtypes", "weights / activations / io", "{}"),
]


def _dtype_summary(dtypes):
    weights = "+".join(sorted(dtypes["weights"]))
    activations = "+".join(sorted(dtypes["activations"]))
    summary = f"{weights} / {activations} / {dtypes['input']}->{dtypes['output']}"
    if dtypes.get("shape"):
        summary += f" (+{sum(dtypes['shape'].values())} int32 shape)"
    return summary


def export_report(
    model,
    out_dir,
    x_test,
    y_test,
    *,
    representative_data=None,
    variants=VARIANTS,
    threads=1,
    xnnpack=True,
    name="student",
    overwrite=False,
    log=print,
):
    """Exports `model` in each variant and measures it against Keras.

    Args:
        model: the Keras model that ships (for a Distiller, its `student`).
        out_dir: where the `.tflite` files and `export_report.json` go.
        x_test, y_test: evaluation inputs (preprocessed as in training) and
            integer labels.
        representative_data: calibration inputs for `"int8"`. Defaults to
            `None`.
        variants: names from `VARIANTS`. Defaults to all four.
        threads: interpreter threads for latency. Defaults to 1.
        xnnpack: time with the XNNPACK delegate. Defaults to `True`.
        name: file name prefix. Defaults to `"student"`.
        overwrite: replace existing files. Defaults to `False`.
        log: where the table goes. Defaults to `print`.

    Returns:
        `{"keras_accuracy", "threads", "xnnpack", "variants": [...], "table"}`;
        the same dict is written to `out_dir/export_report.json`.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown export variants {unknown}. Valid: {', '.join(VARIANTS)}.")
    from keras_kd.export.tflite import plain_model

    model = plain_model(model, owner="export_report")
    # Every argument is checked before the first conversion writes a file.
    validation.check_positive_int("threads", threads, owner="export_report")
    labels = litert.check_labels(x_test, y_test, owner="export_report")
    paths = [os.path.join(out_dir, f"{name}_{variant}.tflite") for variant in variants]
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(f"export_report: refusing to overwrite {existing}. Pass overwrite=True, or choose another out_dir.")
    os.makedirs(out_dir, exist_ok=True)
    keras_logits = model.predict(x_test, batch_size=512, verbose=0)
    keras_pred = np.argmax(keras_logits, axis=-1)
    keras_accuracy = float(np.mean(keras_pred == labels))
    rows = []
    for variant, path in zip(variants, paths):
        to_tflite(
            model, path, quantization=variant,
            representative_data=representative_data if modes.get(variant).needs_data else None,
            overwrite=overwrite,
        )  # fmt: skip
        predictions = litert.predict_tflite(path, x_test)
        accuracy = float(np.mean(np.argmax(predictions, -1) == labels))
        timing = litert.benchmark_tflite(path, threads=threads, xnnpack=xnnpack, sample=x_test[0])
        dtypes = litert.tensor_dtypes(path)
        rows.append({
            "variant": variant, "path": path, "size_kb": timing["size_kb"],
            "accuracy_pct": 100 * accuracy,
            "accuracy_delta_points": 100 * (accuracy - keras_accuracy),
            "agreement_pct": 100 * float(np.mean(np.argmax(predictions, -1) == keras_pred)),
            "median_ms": timing["median_ms"], "p90_ms": timing["p90_ms"],
            "tensor_dtypes": dtypes, "dtypes": _dtype_summary(dtypes),
        })  # fmt: skip
    base = next((r["size_kb"] for r in rows if r["variant"] == "float32"), None)
    for row in rows:
        row["size_ratio"] = None if base is None else row["size_kb"] / base
    table = files.format_table(rows, TABLE_COLUMNS)
    header = (
        f"Export of {model.name!r}: Keras accuracy {100 * keras_accuracy:.2f}% on "
        f"{len(x_test)} samples; latency per sample at batch 1, {threads} thread(s), "
        f"XNNPACK {'on' if xnnpack else 'off'}"
    )
    report = {
        "model": model.name, "keras_accuracy": keras_accuracy, "threads": threads,
        "xnnpack": xnnpack, "variants": rows, "table": header + "\n" + table,
    }  # fmt: skip
    files.write_json(os.path.join(out_dir, "export_report.json"), report)
    log(report["table"])
    return report
