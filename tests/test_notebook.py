"""notebooks/quickstart.ipynb: committed clean, and it runs top to bottom (FUSION_QUICKSTART=ci)."""

import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
METRICS = ("retrieval_accuracy", "landmark_error", "temporal_ratio", "ssim")


def test_quickstart_is_committed_clean():
    """No outputs or execution counts in the committed file, and no shell: every step is a fusion function."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and notebook.metadata.kernelspec.name == "python3"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        for line in cell.source.splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("!", "%%bash", "%%sh", "%sx", "%system")), line
            assert "subprocess" not in line and "os.system" not in line, line


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
    """Executed with the test settings: no error, pictures and the metrics table out, a checkpoint in the folder."""
    from nbclient import NotebookClient

    work = tmp_path / "work"
    monkeypatch.setenv("FUSION_QUICKSTART", "ci")
    monkeypatch.setenv("FUSION_QUICKSTART_DIR", str(work))
    monkeypatch.setenv("WANDB_MODE", "offline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # raises on a cell's error
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    data = [output.get("data", {}) for output in outputs]
    assert sum("image/png" in d for d in data) >= 2
    tables = [d["text/html"] for d in data if "<table" in d.get("text/html", "")]
    assert any(all(name in table for name in METRICS) for table in tables), json.dumps(tables)[:2000]
    assert list(work.glob("train/*/checkpoints/last.ckpt"))
