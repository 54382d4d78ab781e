"""Every notebook under examples/ runs end to end on the smoke budget (KERAS_KD_SMOKE=1)."""

import glob
import os

import pytest

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.ipynb")))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_the_notebook_runs_end_to_end(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("KERAS_KD_SMOKE", "1")  # the kernel inherits it
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("accuracy" in o.get("text", "") for o in outputs if o.output_type == "stream")


def test_every_notebook_installs_keras_kd_first_and_uses_no_local_paths():
    for path in NOTEBOOKS:
        text = open(path).read()
        assert "pip install" in text and "keras-kd" in text, path
        assert "/work/" not in text and "/root/" not in text and "../" not in text, path
