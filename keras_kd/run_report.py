"""`report.md` and its plots for a run directory (`keras-kd report RUN_DIR`).

Reads `RUN_DIR/results.json` (the demo writes it; any run can, with the
same keys: `runs`, each with a `name` and a Keras `history`, and optionally
`export` from `keras_kd.export.export_report`) and writes, headless:

- `curves.png`: every run's training curves, one panel per logged quantity
  (train solid, validation dashed);
- `terms.png`: each run's loss terms before their weights, on a log scale
  (a term orders of magnitude above the others, once weighted, dominates);
- `pareto.png`: the exported variants' accuracy against their size, the
  marker area showing latency (when the run was exported);
- `confusion.png`: the confusion matrices of the Keras student and of its
  int8 model side by side (when test data is given and an int8 file exists);
- `report.md`: the tables and the figures.

Every figure is 1000 x 600 pixels (10 x 6 in at 100 dpi).
"""

import json
import os

import numpy as np

from keras_kd import files

SIZE_INCHES, DPI = (10, 6), 100
TERM_KEYS = ("student_loss", "distillation_loss")


def _figure(rows=1, columns=1):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(rows, columns, figsize=SIZE_INCHES, dpi=DPI, squeeze=False)
    return plt, fig, axes.ravel()


def _save(plt, fig, path):
    fig.tight_layout()
    files.write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=DPI), mode="wb")
    plt.close(fig)
    return path


def plot_curves(runs, path):
    """One panel per quantity (loss, accuracy, each term), every run in each."""
    keys = sorted({k for r in runs for k in r.get("history", {}) if not k.startswith("val_")})
    columns = min(3, max(1, len(keys)))
    plt, fig, axes = _figure(int(np.ceil(len(keys) / columns)) or 1, columns)
    for ax, key in zip(axes, keys):
        for i, run in enumerate(runs):
            history = run.get("history", {})
            color = f"C{i}"
            if key in history:
                ax.plot(range(1, len(history[key]) + 1), history[key], color=color, label=run["name"])
            if f"val_{key}" in history:
                ax.plot(range(1, len(history[f"val_{key}"]) + 1), history[f"val_{key}"], color=color, linestyle="--")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys):]:
        ax.axis("off")
    if keys:
        axes[0].legend(fontsize=7)
    return _save(plt, fig, path)


def plot_terms(runs, path):
    """Each run's loss terms (student loss, distillation loss, distill/<name>) on a log scale."""
    plt, fig, axes = _figure()
    ax = axes[0]
    for i, run in enumerate(runs):
        history = run.get("history", {})
        for j, key in enumerate(k for k in history if k in TERM_KEYS or k.startswith("distill/")):
            values = np.maximum(np.asarray(history[key], float), 1e-12)
            ax.plot(range(1, len(values) + 1), values, color=f"C{(i * 5 + j) % 10}", label=f"{run['name']}: {key}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("Loss terms per epoch, before their weights (compare with the weights in the config)")
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_pareto(export, path):
    """Accuracy against size of each exported variant; marker area grows with latency."""
    plt, fig, axes = _figure()
    ax = axes[0]
    variants = export["variants"]
    latencies = np.array([v["median_ms"] for v in variants], float)
    areas = 60 + 600 * latencies / max(latencies.max(), 1e-9)
    for variant, area in zip(variants, areas):
        ax.scatter(variant["size_kb"], variant["accuracy_pct"], s=area, alpha=0.6)
        ax.annotate(f"{variant['variant']}\n{variant['median_ms']:.3f} ms", (variant["size_kb"], variant["accuracy_pct"]), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("model size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Exported variants: accuracy vs size (marker area: latency)")
    ax.grid(alpha=0.3, which="both")
    return _save(plt, fig, path)


def confusion_matrix(labels, predictions, num_classes):
    """Counts `[true, predicted]`."""
    matrix = np.zeros((num_classes, num_classes), int)
    np.add.at(matrix, (np.asarray(labels).reshape(-1), np.asarray(predictions).reshape(-1)), 1)
    return matrix


def plot_confusions(matrices, path):
    """Row-normalized confusion matrices side by side, `{title: matrix}`."""
    plt, fig, axes = _figure(1, len(matrices))
    for ax, (title, matrix) in zip(axes, matrices.items()):
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"{title}: accuracy {np.trace(matrix) / max(matrix.sum(), 1):.2%}", fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    return _save(plt, fig, path)


def write_report(run_dir, *, x_test=None, y_test=None, log=print):
    """Writes the plots and `report.md` for `run_dir`; returns the paths written."""
    results_path = os.path.join(run_dir, "results.json")
    if not os.path.isfile(results_path):
        raise FileNotFoundError(f"report: no results.json in {run_dir!r}. Point it at a run directory (e.g. runs/demo-...).")
    with open(results_path) as f:
        results = json.load(f)
    runs = results.get("runs") or []
    if not runs:
        raise ValueError(f"report: {results_path} lists no runs.")
    written = {"curves": plot_curves(runs, os.path.join(run_dir, "curves.png")),
               "terms": plot_terms(runs, os.path.join(run_dir, "terms.png"))}  # fmt: skip
    export = results.get("export")
    if export:
        written["pareto"] = plot_pareto(export, os.path.join(run_dir, "pareto.png"))
        int8 = next((v for v in export["variants"] if v["variant"] == "int8"), None)
        # The demo saves student_distilled.keras, `keras-kd distill` student.keras.
        candidates = [os.path.join(run_dir, n) for n in ("student_distilled.keras", "student.keras")]
        student = next((c for c in candidates if os.path.exists(c)), None)
        if x_test is not None and int8 and os.path.exists(int8["path"]) and student is not None:
            from keras_kd.export import litert

            model = files.load_keras_model(student, role="student")
            classes = int(model.outputs[0].shape[-1])
            matrices = {
                "Keras student": confusion_matrix(y_test, model.predict(x_test, verbose=0).argmax(-1), classes),
                "int8 LiteRT": confusion_matrix(y_test, litert.predict_tflite(int8["path"], x_test).argmax(-1), classes),
            }
            written["confusion"] = plot_confusions(matrices, os.path.join(run_dir, "confusion.png"))
    lines = [f"# Run report: {os.path.basename(os.path.abspath(run_dir))}", ""]
    if results.get("table"):
        lines += ["```", results["table"], "```", ""]
    if export and export.get("table"):
        lines += ["## Export", "", "```", export["table"], "```", ""]
    for name, path in written.items():
        lines += [f"## {name.capitalize()}", "", f"![{name}]({os.path.basename(path)})", ""]
    written["report"] = files.write_atomic(os.path.join(run_dir, "report.md"), lambda f: f.write("\n".join(lines)))
    log(f"Wrote {run_dir}/report.md and {len(written) - 1} figures")
    return written
