"""Notebooks are committed clean, declare offline defaults, and each one executes top to bottom."""

import ast
import json

import nbformat
import pytest

from rfmkit import runner
from rfmkit.runner import declared_parameters, discover

NOTEBOOKS = discover()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_with_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = {t.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    # papermill must see every assignment (a comment it cannot parse hides a parameter).
    assert set(declared_parameters(path)) == assigned
    assert {"backend", "run_dir"} <= assigned and declared_parameters(path)["backend"].strip("'\"") == "local"


HANG_GUARD_SECONDS = 3600  # per cell: catches a hang, never a slow machine
BATCH = runner.select(NOTEBOOKS)


def printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.notebooks
@pytest.mark.parametrize("path", BATCH, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_with_its_defaults(path, batch_run):
    """Each batch notebook, in order, with its offline defaults, as `make run` runs it (conftest's
    batch_run executes them once; this reads each one's executed copy)."""
    summary = json.loads((batch_run.run_dir / "summary.json").read_text())
    entry = next(n for n in summary["notebooks"] if n["name"] == path.stem)
    assert entry["status"] == "ok", entry.get("error") or batch_run.result.stderr[-3000:]
    nb = nbformat.read(entry["output"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")  # no cell skipped
    if path.stem == "06_deploy_endpoint":  # the challenger was staged, promoted and rolled back
        assert "production: version 1 → promote → 2 → rollback → 1" in printed(nb)


@pytest.mark.notebooks
def test_cleanup_notebook_runs_as_jupyterlab_runs_it_on_a_finished_run(batch_run, monkeypatch):
    """99_cleanup (never part of a batch) in a fresh kernel started in notebooks/, with no
    parameters injected: run_dir empty resolves through RFMKIT_RUN_DIR, as for an attendee."""
    from nbclient import NotebookClient

    path = next(p for p in NOTEBOOKS if p.stem == "99_cleanup")
    monkeypatch.setenv("RFMKIT_RUN_DIR", str(batch_run.run_dir))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=HANG_GUARD_SECONDS, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    shown = str([o for c in nb.cells if c.cell_type == "code" for o in c.outputs])
    assert "none running" in shown  # notebook 06 stopped its server and removed its note
    assert (batch_run.run_dir / "warehouse.duckdb").exists()  # remove_run_folder defaults to False
