import json
import os

import pytest

from keras_kd import cli


def test_losses_command_lists_registered_terms(capsys):
    assert cli.main(["losses"]) == 0
    assert "kd" in capsys.readouterr().out


def test_demo_refuses_a_run_dir_with_files(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    assert cli.main(["demo", "--quick", "--run-dir", str(tmp_path)]) == 2
    assert "never overwrites" in capsys.readouterr().err


def test_demo_rejects_bad_settings_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_KD_CACHE", str(tmp_path / "cache"))
    code = cli.main(["demo", "--quick", "--student-loss-weight", "2", "--run-dir", str(tmp_path / "r")])
    assert code == 2
    assert "student_loss_weight" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_KD_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    assert cli.main(["demo", "--quick", "--verbose", "2", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "distilled student" in out and "scratch student" in out
    results = json.loads((run_dir / "results.json").read_text())
    names = [row["name"] for row in results["runs"]]
    assert names == ["teacher", "scratch student", "distilled student"]
    for row in results["runs"]:
        assert 0.0 <= row["test_accuracy"] <= 1.0 and len(row["history"]["val_accuracy"]) == 2
    assert results["runs"][2]["params"] == results["runs"][1]["params"] <= 100_000
    with open(run_dir / "val_accuracy.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    assert os.path.exists(run_dir / "student_distilled.keras")
    # The second run reuses the cached teacher.
    assert cli.main(["demo", "--quick", "--verbose", "0", "--run-dir", str(tmp_path / "run2")]) == 0
    assert "Reusing the cached teacher" in capsys.readouterr().out
