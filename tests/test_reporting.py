import json
import os

import pytest

from keras_kd import reporting


def test_new_run_dir_never_reuses_a_directory_with_files(tmp_path):
    first = reporting.new_run_dir(str(tmp_path), "demo")
    second = reporting.new_run_dir(str(tmp_path), "demo")
    assert first != second and os.path.isdir(first) and os.path.isdir(second)
    explicit = tmp_path / "mine"
    explicit.mkdir()
    (explicit / "results.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds files.*never overwrites"):
        reporting.new_run_dir(run_dir=str(explicit))
    assert (explicit / "results.json").read_text() == "{}"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "results.json"
    reporting.write_json(str(path), {"a": 1})

    def explode(f):
        f.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        reporting.write_atomic(str(path), explode)
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["results.json"]


def test_format_table_aligns_columns():
    table = reporting.format_table(
        [{"name": "teacher", "acc": 93.456}, {"name": "student", "acc": None}],
        [("name", "model", "{}"), ("acc", "acc %", "{:.2f}")],
    )
    lines = table.splitlines()
    assert lines[0].split() == ["model", "acc", "%"] and "93.46" in lines[2] and lines[3].endswith("-")
    assert len({len(line) for line in lines}) == 1


def test_plot_curves_writes_a_png(tmp_path):
    path = reporting.plot_curves(str(tmp_path / "p.png"), {"a": [0.5, 0.7], "b": [0.6, 0.8]}, title="t")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_written_files_get_the_usual_permissions(tmp_path):
    path = reporting.write_json(str(tmp_path / "r.json"), {})
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
