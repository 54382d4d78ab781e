"""Run directories and plots (atomic writes and tables live in `files.py`).

Nothing a user made is overwritten: run directories are created fresh, and
files are written atomically (`files.write_atomic`).
"""

import datetime
import os

from keras_kd.files import format_table  # noqa: F401 (the demo's tables)
from keras_kd.files import write_atomic
from keras_kd.files import write_json  # noqa: F401 (the demo's records)


def new_run_dir(base="runs", prefix="run", run_dir=None):
    """Creates and returns a fresh run directory.

    Args:
        base: parent of generated directories. Defaults to `"runs"`.
        prefix: generated names are `{prefix}-YYYYmmdd-HHMMSS`. Defaults to
            `"run"`.
        run_dir: an explicit directory. It must not exist or be empty.

    Returns:
        The directory's path.
    """
    if run_dir is not None:
        if os.path.isdir(run_dir) and os.listdir(run_dir):
            raise FileExistsError(
                f"The run directory already holds files. Received: "
                f"run_dir={run_dir!r}. Pick a new directory, or move the old "
                f"results away first; keras_kd never overwrites them."
            )
        os.makedirs(run_dir, exist_ok=True)
        return run_dir
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(base, f"{prefix}-{stamp}")
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(base, f"{prefix}-{stamp}-{suffix}")
    os.makedirs(path)
    return path


def plot_curves(path, curves, *, title, ylabel="validation accuracy"):
    """Plots `{label: [value per epoch]}` to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"), mode="wb")
    plt.close(fig)
    return path
