import json
import os

import numpy as np
import pytest

from keras_kd import cli


def test_losses_command_lists_registered_terms(capsys):
    assert cli.main(["losses"]) == 0
    assert "kd" in capsys.readouterr().out


def test_methods_command_lists_registered_methods(capsys):
    assert cli.main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "multi_teacher" in out and "MultiTeacherDistiller" in out and "takd" in out


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
    int8 = results["export"]["variants"][-1]
    assert int8["variant"] == "int8" and int8["tensor_dtypes"]["input"] == "int8"
    assert os.path.exists(int8["path"]) and "int8 / int8->int8" in out
    # The second run reuses the cached teacher.
    assert cli.main(["demo", "--quick", "--verbose", "0", "--no-export", "--augment", "dakd", "--run-dir", str(tmp_path / "run2")]) == 0
    assert json.loads((tmp_path / "run2" / "results.json").read_text())["config"]["augment"] == "dakd"
    assert "Reusing the cached teacher" in capsys.readouterr().out


def _export_data(tmp_path, *, train, test):
    """An .npz of random 28x28x1 pixels for `keras-kd export --data`."""
    rng = np.random.default_rng(0)
    path = str(tmp_path / "data.npz")
    np.savez(path, x_train=rng.uniform(0, 255, (train, 28, 28, 1)).astype("float32"),
             x_test=rng.uniform(0, 255, (test, 28, 28, 1)).astype("float32"), y_test=rng.integers(0, 10, test))
    return path


def test_export_command_reports_every_variant(tmp_path, capsys):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model_path = str(tmp_path / "tiny.keras")
    model.save(model_path)
    data = _export_data(tmp_path, train=64, test=32)
    assert cli.main(["export", model_path, "--quantization", "int8", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "float32" in out and "int8" in out and "int8 / int8->int8" in out
    report = json.loads((tmp_path / "tiny_export" / "export_report.json").read_text())
    assert [v["variant"] for v in report["variants"]] == ["float32", "int8"]
    # Running again refuses to overwrite the .tflite files.
    assert cli.main(["export", model_path, "--quantization", "int8", "--data", data]) == 2
    assert "overwrite" in capsys.readouterr().err


def test_export_command_explains_bad_data(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "missing.keras")]) == 2
    assert "No model at" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--calibration-samples", "--threads"])
@pytest.mark.parametrize("value", ["-5", "0", "two"])
def test_export_command_refuses_non_positive_counts_before_converting(tmp_path, capsys, flag, value):
    model_path = tmp_path / "tiny.keras"
    model_path.write_bytes(b"")  # never read: the flags are refused first
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(model_path), flag, value, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_demo_rejects_an_unknown_augment_preset(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--augment", "heavy"])
    assert "invalid choice" in capsys.readouterr().err


def test_demo_config_knows_every_preset():
    from keras_kd import demo
    from keras_kd.augment import presets

    for name in presets.PRESETS:
        assert demo.DemoConfig(augment=name).augment == name
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        demo.DemoConfig(augment="heavy")


def _captured_demo_config(monkeypatch):
    from keras_kd import demo

    seen = {}
    monkeypatch.setattr(demo, "run_demo", lambda config, **kwargs: seen.setdefault("config", config))
    return seen


def test_demo_terms_from_flags_and_config_file(tmp_path, monkeypatch):
    from keras_kd import losses

    seen = _captured_demo_config(monkeypatch)
    flags = ["--term", "kd", "--term", "at:teacher_layer_name=block2,student_layer_name=block2,weight=100"]
    assert cli.main(["demo", "--quick", *flags]) == 0
    terms, weights = seen.pop("config").distillation_terms()
    assert [type(t) for t in terms] == [losses.KD, losses.AttentionTransfer] and weights == [1.0, 100.0]
    assert terms[0].temperature == 4.0 and terms[1].teacher_layer_name == "block2"

    config = tmp_path / "run.json"
    config.write_text(json.dumps({"student_epochs": 3, "temperature": 2.0, "terms": [
        "kd", {"name": "rkd", "teacher_layer_name": "features", "student_layer_name": "features", "weight": 1}]}))
    assert cli.main(["demo", "--config", str(config), "--student-epochs", "5"]) == 0
    loaded = seen.pop("config")
    assert loaded.student_epochs == 5 and loaded.temperature == 2.0  # the flag wins over the file
    terms, weights = loaded.distillation_terms()
    assert [type(t) for t in terms] == [losses.KD, losses.RKD] and terms[0].temperature == 2.0


@pytest.mark.parametrize("argv, match", [
    (["--term", "nope"], "Unknown distillation term 'nope'"),
    (["--term", "kd:temprature=2"], "takes no argument 'temprature'"),
    (["--term", "kd", "--augment", "dakd"], "takes no `terms`"),
])
def test_demo_rejects_bad_terms_before_training(tmp_path, capsys, monkeypatch, argv, match):
    monkeypatch.setenv("KERAS_KD_CACHE", str(tmp_path / "cache"))
    assert cli.main(["demo", "--quick", "--run-dir", str(tmp_path / "r"), *argv]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "r").exists()


def test_demo_config_file_errors(tmp_path, capsys):
    bad_field = tmp_path / "a.json"
    bad_field.write_text(json.dumps({"epochs": 3}))
    assert cli.main(["demo", "--config", str(bad_field)]) == 2
    assert "unknown fields ['epochs']" in capsys.readouterr().err
    not_json = tmp_path / "b.json"
    not_json.write_text("student_epochs: 3")
    assert cli.main(["demo", "--config", str(not_json)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_export_command_exports_a_saved_distillers_student(tmp_path, capsys):
    import keras

    import keras_kd

    def tiny(width, name):
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Conv2D(width, 3, strides=4, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)), name=name)

    distiller = keras_kd.Distiller(tiny(4, "teacher"), tiny(2, "tiny_student"))
    model_path = str(tmp_path / "distiller.keras")
    distiller.save(model_path)
    data = _export_data(tmp_path, train=16, test=16)
    assert cli.main(["export", model_path, "--quantization", "float32", "--data", data]) == 0
    assert "holds a distiller; exporting its student 'tiny_student'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [(b"hello, not a model", r"not a \.keras archive.*starts with b'hello, n'"), (None, "is a directory")],
)
def test_export_command_explains_a_file_that_is_not_a_keras_model(tmp_path, capsys, content, message):
    import re

    path = tmp_path / "student.keras"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert cli.main(["export", str(path)]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_zip_without_a_keras_config_is_named(tmp_path):
    import zipfile

    from keras_kd import files

    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match=r"holds no config.json \(found \['readme.txt'\]\)"):
        files.load_keras_model(str(path), role="teacher")
