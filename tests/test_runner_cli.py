"""The batch runner as a user meets it, on a small stand-in project (RFMKIT_ROOT): parameters
checked before anything runs, one-line errors, Ctrl-C and resume, progress in a log, relative paths
from the user's directory, and the AWS preflight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from rfmkit.paths import PROJECT_ROOT


def notebook(path: Path, parameters: str, body: str) -> None:
    cell = new_code_cell(parameters, metadata={"tags": ["parameters"]})
    book = new_notebook(cells=[cell, new_code_cell(body)],
                        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(book, path)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    notebook(root / "notebooks" / "00_fast.ipynb", 'backend = "local"\nrun_dir = ""\nscale = 1.0\nsource = "synthetic"',
             "import os\nprint('cwd', os.getcwd())\nprint('source', source)")
    notebook(root / "notebooks" / "01_slow.ipynb", 'backend = "local"\nrun_dir = ""\npause = 0.0',
             "import time\ntime.sleep(pause)\nprint('slept')")
    return root


def rfmkit(project: Path, *args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "RFMKIT_ROOT": str(project), "PYTHONPATH": str(PROJECT_ROOT),
           "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.Popen([sys.executable, "-m", "rfmkit", "run", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=1800)
    return process.returncode, out, err


@pytest.mark.parametrize("argument, expected", [
    ("scale=abc", "-p scale='abc': 00_fast declares scale = 1.0, so it expects a number, not text"),
    ("pause=[1]", "-p pause=[1]: 01_slow declares pause = 0.0, so it expects a number, not a list, e.g. [a, b]"),
    ("source=true", "-p source=True: 00_fast declares source = 'synthetic', so it expects text, not true/false"),
])
def test_a_parameter_of_the_wrong_type_fails_before_any_notebook_runs(project, tmp_path, argument, expected):
    code, out, err = finish(rfmkit(project, "-p", argument, "--run-dir", "run", cwd=tmp_path))
    assert code == 1 and err.strip() == f"error: {expected}"
    assert not (tmp_path / "run").exists() and "[1/2]" not in out


@pytest.mark.parametrize("argument, expected", [
    ("log_columns={customer: [1, 2}", "-p log_columns: not valid YAML (line 1, column 17: expected ','"),
    ("x=[1, 2", "-p x: not valid YAML (line 1, column 6"),
])
def test_malformed_yaml_in_a_parameter_is_one_line_with_line_and_column(project, tmp_path, argument, expected):
    code, _, err = finish(rfmkit(project, "-p", argument, cwd=tmp_path))
    assert code == 2 and expected in err and "not valid YAML" in err and "Traceback" not in err


def test_a_malformed_params_file_names_the_file_line_and_column(project, tmp_path):
    (tmp_path / "my_run.yaml").write_text("scale: 0.1\nsource: [unclosed\npause: 1\n")
    code, _, err = finish(rfmkit(project, "--params", "my_run.yaml", cwd=tmp_path))
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: --params my_run.yaml: not valid YAML (line 3, column 6")


def test_relative_paths_resolve_against_the_users_directory_and_progress_reaches_a_log(project, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.zip").write_bytes(b"")
    code, out, err = finish(rfmkit(project, "-p", "source=data/x.zip", "--run-dir", "run", cwd=tmp_path))
    assert code == 0, err
    executed = (tmp_path / "run" / "notebooks" / "00_fast.ipynb").read_text()
    assert f"source {tmp_path / 'data' / 'x.zip'}" in executed and f"cwd {tmp_path}" in executed
    # stdout is a pipe here, as in a log file or CI: one line per finished cell
    assert "[1/2] 00_fast: cell 1/3 done in" in out and "[2/2] 01_slow: cell 3/3 done in" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["notebooks"][0]["parameters"]["source"] == str(tmp_path / "data" / "x.zip")


def test_ctrl_c_stops_with_one_line_records_interrupted_and_the_next_run_resumes(project, tmp_path):
    process = rfmkit(project, "-p", "pause=60", "--run-dir", "run", cwd=tmp_path, start_new_session=True)
    for line in process.stdout:  # wait until the slow notebook is under way
        if line.startswith("[2/2] 01_slow: cell 1/3 done"):
            break
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole group
    code, _, err = finish(process)
    assert code == 130
    assert err.strip().count("\n") == 0 and err.startswith("stopped: interrupted in 01_slow"), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert [n["status"] for n in summary["notebooks"]] == ["ok", "interrupted"]

    code, out, err = finish(rfmkit(project, "-p", "pause=0", "--run-dir", "run", cwd=tmp_path))
    assert code == 0, err
    assert "[1/2] 00_fast done in the interrupted run, kept" in out and "[2/2] 01_slow ok" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "ok" and [n["status"] for n in summary["notebooks"]] == ["ok", "ok"]


def test_aws_without_credentials_or_region_names_what_is_missing(project, tmp_path):
    env_cleared = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                   "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION")}
    os_env = {**os.environ, **env_cleared, "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
              "AWS_CONFIG_FILE": str(tmp_path / "none")}
    for key in env_cleared:
        os_env.pop(key)
    process = subprocess.Popen(
        [sys.executable, "-m", "rfmkit", "run", "--backend", "aws"], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os_env, "RFMKIT_ROOT": str(project), "PYTHONPATH": str(PROJECT_ROOT),
             "AWS_EC2_METADATA_DISABLED": "true"})
    code, out, err = finish(process)
    assert code == 1 and "AssertionError" not in err and "[1/2]" not in out
    assert err.startswith("error: --backend aws: AWS credentials: none (configure credentials")
    assert "AWS region: none (set AWS_REGION" in err
