import glob
import json
import os
import re

import numpy as np
import pytest
import yaml

from keras_kd import cli
from keras_kd import experiment

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "configs", "*.yaml")))


def _write(tmp_path, config, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "tiny.npz")
    np.savez(path, x_train=rng.uniform(0, 255, (64, 28, 28, 1)).astype("float32"), y_train=rng.integers(0, 10, 64),
             x_test=rng.uniform(0, 255, (32, 28, 28, 1)).astype("float32"), y_test=rng.integers(0, 10, 32))  # fmt: skip
    return path


BAD = [
    ({"out": "o", "verbose": "loud"}, r"^verbose: expected one of 0, 1, 2, got 'loud'"),
    ({"out": "o", "distill": {"epochs": "ten"}}, r"^distill\.epochs: expected a positive integer, got 'ten' \(a str\)"),
    ({"out": "o", "distill": {"epochs": 0}}, r"^distill\.epochs: expected a positive integer"),
    ({"out": "o", "distill": {"termz": ["kd"]}}, r"^distill\.termz: unknown key\. Did you mean 'terms'\?"),
    ({"out": "o", "distill": {"student_loss_weight": 1.5}}, r"^distill\.student_loss_weight: expected a number in \[0, 1\]"),
    ({"out": "o", "distill": {"views": "heavy"}}, r"^distill\.views: expected one of .*'light'"),
    ({"out": "o", "distill": {"terms": ["nope"]}}, r"^distill\.terms\[0\]: .*nope"),
    ({"out": "o", "distill": {"terms": ["kd", "hint:teacher_layer_name=block9,student_layer_name=block3"]}},
     r"^distill\.terms\[1\]: .*block9"),
    ({"out": "o", "export": {"modes": ["int8", "int4"]}}, r"^export\.modes\[1\]: unknown mode 'int4'"),
    ({"out": "o", "teacher": {"model": "zoo:resnet"}}, r"^teacher\.model: unknown zoo model 'resnet'"),
    ({"out": "o", "student": {"model": "/nowhere/student.keras"}}, r"^student\.model: No student at"),
    ({"out": "o", "student": {"options": {"depth": 3}}}, r"^student\.options: .*depth"),
    ({"out": "o", "data": {"dataset": "mnist"}}, r"^data\.dataset: expected .fashion_mnist., an existing \.npz file, or a folder"),
    ({"distill": {}}, r"^out: required"),
    ({"out": "o", "distill": {"views": "dakd", "terms": ["kd"]}}, r"^distill\.terms: views 'dakd'"),
    (["not", "a", "mapping"], r"^the config: expected a mapping"),
]


@pytest.mark.parametrize("config, message", BAD)
def test_a_bad_config_is_refused_with_the_keys_path(tmp_path, config, message):
    with pytest.raises((experiment.ConfigError, FileNotFoundError)) as error:
        experiment.load_config(_write(tmp_path, config))
    assert re.search(message, str(error.value)), str(error.value)


def test_smoke_and_set_change_the_budget(tmp_path):
    path = _write(tmp_path, {"out": "o", "distill": {"epochs": 30}})
    config = experiment.load_config(path, ["distill.student_loss_weight=0.5", "distill.terms=[kd, dkd]"], smoke=True)
    assert config["distill"]["epochs"] == 1 and config["teacher"]["epochs"] == 1 and config["data"]["train_size"] == 512
    assert config["distill"]["student_loss_weight"] == 0.5 and config["distill"]["terms"] == ["kd", "dkd"]
    with pytest.raises(experiment.ConfigError, match="expected key.path=value"):
        experiment.load_config(path, ["distill.epochs"])


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_config_is_valid(path):
    config = experiment.load_config(path, smoke=True)
    assert config["out"].startswith("runs/")


def test_the_commands_train_distill_export_and_evaluate_a_tiny_config(tmp_path, capsys):
    out = tmp_path / "run"
    path = _write(tmp_path, {
        "out": str(out), "verbose": 0, "data": {"dataset": _tiny_npz(tmp_path)},
        "teacher": {"epochs": 1}, "distill": {"epochs": 1, "terms": ["kd"]},
        "export": {"modes": ["float32", "int8"], "calibration_samples": 16},
    })  # fmt: skip
    assert cli.main(["train-teacher", path]) == 0
    assert (out / "teacher.keras").exists()
    assert cli.main(["distill", path]) == 0
    assert {"student.keras", "results.json", "report.md", "curves.png", "confusion.png"} <= set(os.listdir(out))
    assert [v["variant"] for v in json.loads((out / "results.json").read_text())["export"]["variants"]] == ["float32", "int8"]
    assert cli.main(["evaluate", path]) == 0
    assert set(json.loads((out / "evaluation.json").read_text())["test_accuracy"]) == {"teacher", "student"}
    assert cli.main(["distill", path]) == 2  # student.keras exists: nothing is overwritten
    assert "nothing is overwritten" in capsys.readouterr().err


def test_distill_with_independent_views_runs_dakd_whole(tmp_path):
    out = tmp_path / "run"
    path = _write(tmp_path, {
        "out": str(out), "verbose": 0, "data": {"dataset": _tiny_npz(tmp_path)}, "teacher": {"epochs": 1},
        "distill": {"epochs": 1, "views": "fashion_dakd", "dakd_teacher_epochs": 1, "clipnorm": 1.0}, "export": {"modes": []},
    })  # fmt: skip
    assert cli.main(["distill", path]) == 0
    assert {"teacher.keras", "teacher_d1.keras", "student.keras"} <= set(os.listdir(out))
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [run["name"] for run in runs] == ["teacher", "teacher_d1", "student"]
    with pytest.raises(experiment.ConfigError, match="distill.terms: views 'fashion_dakd'"):
        experiment.load_config(path, ["distill.terms=[kd]"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kd.yaml", "feature_relation.yaml"])
def test_an_example_config_runs_end_to_end_on_the_smoke_budget(tmp_path, name):
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "configs", name)
    assert cli.main(["distill", path, "--smoke", "--set", f"out={tmp_path / 'run'}", "--set", "verbose=0"]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert 0.0 <= results["runs"][-1]["test_accuracy"] <= 1.0  # a smoke run checks the path, not the accuracy
    assert {"teacher.keras", "student.keras", "report.md"} <= set(os.listdir(tmp_path / "run"))
