import json
import struct

import keras
import numpy as np
import pytest

from keras_kd import cli
from keras_kd import export
from keras_kd import run_report


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def run_dir(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    student = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    student.save(tmp_path / "student_distilled.keras")
    rng = np.random.default_rng(0)
    x_test, y_test = rng.uniform(size=(32, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 32)
    report = export.export_report(student, str(tmp_path / "export"), x_test, y_test, representative_data=x_test,
                                  variants=["float32", "int8"], name="student_distilled", log=lambda *_: None)  # fmt: skip
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]}
    distilled = {**history, "student_loss": [0.8, 0.4], "distillation_loss": [30.0, 20.0], "distill/kd": [30.0, 20.0]}
    results = {"runs": [{"name": "scratch", "history": history}, {"name": "distilled", "history": distilled}],
               "table": "a table", "export": report}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(results))
    return tmp_path, x_test, y_test


def test_the_report_writes_every_figure_at_its_size(run_dir):
    path, x_test, y_test = run_dir
    written = run_report.write_report(str(path), x_test=x_test, y_test=y_test, log=lambda *_: None)
    assert set(written) == {"curves", "terms", "pareto", "confusion", "report"}
    for name in ("curves", "terms", "pareto", "confusion"):
        assert _png_size(written[name]) == (1000, 600)
        assert (path / f"{name}.png").stat().st_size > 5000  # drawn, not blank
    text = (path / "report.md").read_text()
    assert "![pareto](pareto.png)" in text and "a table" in text


def test_the_confusion_matrix_counts_true_against_predicted():
    matrix = run_report.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_the_report_command_and_a_directory_without_results(run_dir, tmp_path_factory, capsys):
    path, _, _ = run_dir
    assert cli.main(["report", str(path)]) == 0
    assert (path / "curves.png").exists() and not (path / "confusion.png").exists()  # no --data: no confusion
    empty = tmp_path_factory.mktemp("empty")
    assert cli.main(["report", str(empty)]) == 2
    assert "no results.json" in capsys.readouterr().err
