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
