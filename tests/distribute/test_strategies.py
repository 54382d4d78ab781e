"""The Distiller under tf.distribute gives the single-device numbers.

Each run is a subprocess: logical devices and TF_CONFIG must be set before
TensorFlow starts.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def test_mirrored_strategy_on_two_cpus_matches_one_device_to_1e_5():
    # KD; KD + a hint with a dense connector; views with MixUp (a fixed draw
    # that pairs the same samples however the batch is split); DAKD.
    run = subprocess.run(
        [sys.executable, "-m", "tests.distribute.mirrored_cases"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    for case in ("kd", "kd+hint", "mixup_views", "dakd"):
        result = report[case]
        assert result["single"].keys() == result["mirrored"].keys(), case
        assert result["logs_rel_diff"] <= 1e-5, (case, result)
        assert result["weights_rel_diff"] <= 1e-5, (case, result)
        assert {"loss", "total_loss", "student_loss", "distillation_loss"} <= set(result["single"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_with_two_local_workers(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    command = [sys.executable, "-m", "tests.distribute.multi_worker"]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            command + [str(tmp_path / f"worker{index}.json")], cwd=ROOT, env=_env(TF_CONFIG=tf_config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    reference = subprocess.run(
        command + [str(tmp_path / "single.json"), "--single"], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr[-3000:]
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=600)
        finally:
            process.kill()
        assert process.returncode == 0, stderr[-3000:]
    single = json.loads((tmp_path / "single.json").read_text())
    for index in range(2):
        worker = json.loads((tmp_path / f"worker{index}.json").read_text())
        assert worker["replicas"] == 2
        for key, value in single["logs"].items():
            np.testing.assert_allclose(worker["logs"][key], value, rtol=1e-5, err_msg=key)
        for got, want in zip(worker["weights"], single["weights"]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
