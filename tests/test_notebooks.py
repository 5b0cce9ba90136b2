"""Notebooks are committed clean, declare offline defaults, and execute (nbval, lax mode)."""

import ast
import os
import subprocess
import sys

import nbformat
import pytest

from rfmkit.paths import PROJECT_ROOT
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


@pytest.mark.notebooks
def test_notebooks_execute_with_defaults(tmp_path):
    """Every notebook runs top to bottom with its offline defaults, as an attendee would in JupyterLab."""
    env = {**os.environ, "RFMKIT_RUN_DIR": str(tmp_path / "run")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", "--no-header",
         *[str(p) for p in NOTEBOOKS]],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"{sum(1 for p in NOTEBOOKS for c in nbformat.read(p, 4).cells if c.cell_type == 'code')} passed" \
        in result.stdout
    assert (tmp_path / "run" / "warehouse.duckdb").exists()
