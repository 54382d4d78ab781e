import json
import re

import keras
import numpy as np
import pytest

from keras_kd import cli
from keras_kd import compress
from keras_kd.export import litert
from tests.compress.test_quantize import _cnn
from tests.compress.test_quantize import _data


@pytest.fixture(scope="module")
def models_and_data():
    keras.utils.set_random_seed(0)
    x, y = _data(256)
    trained = []
    for name in ("teacher", "student"):
        model = _cnn(name)
        model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=4, batch_size=32, verbose=0)
        trained.append(model)
    return trained[0], trained[1], ((x, y), (x[:64], y[:64]), (x, y))


def test_the_pipeline_measures_every_stage_and_keeps_the_zeros_through_qat(models_and_data, tmp_path):
    teacher, student, data = models_and_data
    before = [w.copy() for w in student.get_weights()]
    config = compress.CompressConfig(channel_fraction=0.25, sparsity=0.5, epochs_per_stage=1, batch_size=32)
    result = compress.compress_student(student, teacher, data, config, str(tmp_path))
    stages = {row["stage"]: row for row in result["stages"]}
    assert list(stages) == ["float", "channels_pruned", "channels_recovered", "magnitude_pruned", "qat"]
    assert stages["channels_pruned"]["params"] < stages["float"]["params"]
    assert stages["channels_pruned"]["macs"] < stages["float"]["macs"]
    assert stages["qat"]["macs"] == stages["channels_recovered"]["macs"]
    assert stages["magnitude_pruned"]["sparsity"] == pytest.approx(0.5, abs=0.02)
    assert stages["qat"]["sparsity"] >= stages["magnitude_pruned"]["sparsity"] - 1e-9  # zeros survive QAT
    rows = {row["stage"]: row for row in result["int8"]}
    assert set(rows) == {"ptq_int8", "qat_int8"}
    dtypes = litert.tensor_dtypes(rows["qat_int8"]["path"])
    assert set(dtypes["activations"]) == {"int8"} and set(dtypes["weights"]) <= {"int8", "int32"}
    assert rows["qat_int8"]["gzip_kb"] < rows["qat_int8"]["size_kb"]
    for b, a in zip(before, student.get_weights()):
        np.testing.assert_array_equal(b, a)  # the user's student is untouched


def _write(tmp_path, models_and_data, **overrides):
    teacher, student, data = models_and_data
    teacher.save(tmp_path / "teacher.keras")
    student.save(tmp_path / "student.keras")
    (x, y), _, (x_test, y_test) = data
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    config = {
        "student": str(tmp_path / "student.keras"), "teacher": str(tmp_path / "teacher.keras"),
        "data": str(tmp_path / "data.npz"), "out": str(tmp_path / "out"),
        "channel_fraction": 0.25, "epochs_per_stage": 1, "batch_size": 32, **overrides,
    }  # fmt: skip
    path = tmp_path / "compress.json"
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))
    return str(path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": 3}, r"unknown keys \['epochs'\]"),
        ({"epochs_per_stage": "two"}, "epochs_per_stage"),
        ({"channel_fraction": 1.5}, r"channel_fraction.*\[0, 1\)"),
        ({"qat": "yes"}, "qat"),
        ({"teacher": "/nowhere/teacher.keras"}, "`teacher` names no file"),
        ({"data": "mnist"}, "`data` must be 'fashion_mnist' or an existing .npz"),
        ({"out": None}, r"missing keys \['out'\]"),
    ],
)
def test_bad_compress_configs_are_refused_before_loading_anything(tmp_path, models_and_data, capsys, overrides, message):
    path = _write(tmp_path, models_and_data, **overrides)
    assert cli.main(["compress", path]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_the_compress_command_writes_its_report_and_refuses_a_used_directory(tmp_path, models_and_data, capsys):
    path = _write(tmp_path, models_and_data)
    assert cli.main(["compress", path]) == 0
    report = json.loads((tmp_path / "out" / "compress_report.json").read_text())
    assert [row["stage"] for row in report["int8"]] == ["ptq_int8", "qat_int8"]
    assert (tmp_path / "out" / "student_compressed.keras").exists()
    assert cli.main(["compress", path]) == 2
    assert "already holds files" in capsys.readouterr().err
