"""Files written atomically, and plain-text tables: shared by the demo, export and compression.

Files go to a temporary name in the same directory, then are renamed into
place, so a crash never leaves a half-written file.
"""

import json
import os
import tempfile


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


def load_keras_model(path, *, role="model", compile=False):
    """`keras.saving.load_model(path)`, with errors that say what was expected and what was found.

    Keras reports "File not found" for a file that exists but is not a
    `.keras` zip archive (a truncated download, a SavedModel directory, an
    `.h5` renamed); this names the problem instead.
    """
    import zipfile

    import keras

    if not os.path.exists(path):
        raise FileNotFoundError(f"No {role} at {path!r}. Pass a .keras file saved with model.save('name.keras').")
    if os.path.isdir(path):
        raise ValueError(
            f"The {role} at {path!r} is a directory (a TensorFlow SavedModel?). Keras 3 loads .keras files: "
            f"load it in the Keras that made it and save it with model.save('name.keras')."
        )
    if path.endswith(".h5"):
        return keras.saving.load_model(path, compile=compile)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(8)
        raise ValueError(
            f"The {role} at {path!r} is not a .keras archive: a .keras file is a zip file, and this "
            f"one starts with {head!r} ({os.path.getsize(path)} bytes). It may be truncated or another "
            f"format; save the model again with model.save('name.keras')."
        )
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    if "config.json" not in names:
        raise ValueError(
            f"The {role} at {path!r} is a zip file but not a Keras model: it holds no config.json "
            f"(found {sorted(names)[:5]}). Save the model with model.save('name.keras')."
        )
    return keras.saving.load_model(path, compile=compile)
