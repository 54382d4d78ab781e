"""Run directories, atomic writes, tables and plots.

Nothing a user made is overwritten: run directories are created fresh, and
files are written to a temporary name in the same directory, then renamed
into place, so a crash never leaves a half-written file.
"""

import datetime
import json
import os
import tempfile


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


def write_atomic(path, write_fn, mode="w"):
    """Calls `write_fn(file)` on a temporary file, then renames it to `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
        # mkstemp creates 0600; give the file the permissions open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_json(path, obj):
    """Writes `obj` as indented JSON, atomically."""
    return write_atomic(path, lambda f: json.dump(obj, f, indent=2, sort_keys=False))


def format_table(rows, columns):
    """A plain-text table. `columns` is a list of `(key, header, format)`."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for i, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
