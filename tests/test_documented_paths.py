"""The three paths the README documents beyond the defaults, each on a fresh run folder with
parameters only, through the real CLI: the Kaggle download as a folder, notebook 04 on the user's
own labelled CSV, and a whitespace-separated log without a header through notebook 02."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from test_churn import bank_csv
from test_transaction_log import cdnow_file

pytestmark = pytest.mark.notebooks


def rfmkit_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rfmkit", "run", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=3600)


def printed(run_dir: Path, notebook: str) -> str:
    book = nbformat.read(run_dir / "notebooks" / f"{notebook}.ipynb", as_version=4)
    return "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/markdown", ""))
                   for c in book.cells if c.cell_type == "code" for o in c.outputs)


def test_a_folder_source_works_on_a_fresh_run_folder(small_olist, tmp_path):
    folder = next(iter(small_olist.values())).parent  # the three Kaggle CSVs, as downloaded
    done = rfmkit_run("--only", "01,02", "-p", f"source={folder}", "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["tables"]["rfm_scores"] > 0 and summary["tables"]["olist_orders"] > 1000
    assert (tmp_path / "run" / "data" / "payments_with_errors.csv").exists()  # the rejects demo ran


def test_notebook_04_on_a_users_csv_succeeds_alone_on_a_fresh_run_folder(tmp_path):
    csv = bank_csv(tmp_path, n=600)
    done = rfmkit_run("--only", "04", "-p", f"churn_data={csv.name}", "-p", "label_column=Attrition_Flag",
                      "-p", "positive_label=Attrited Customer", "-p", "id_columns=[CLIENTNUM]",
                      "-p", "search_budget=1", "-p", "cv_folds=3", "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    text = printed(tmp_path / "run", "04_churn_model")
    assert "skipped: this warehouse has no fct_orders, rfm_scores (run 02_rfm_scoring" in text
    rate = (pd.read_csv(csv)["Attrition_Flag"] == "Attrited Customer").mean()
    assert f"**bank**: {rate:.1%} of 600 customers churned" in text  # this file's facts, not Olist's
    assert "out-of-fold on the training part" in text and "Brier score" in text
    assert "Model choice:" in text and "about 97" not in text
    book = (tmp_path / "run" / "notebooks" / "04_churn_model.ipynb").read_text()
    # a fresh workspace store: MLflow's INFO lines and ipykernel's TCP warning stay out of the notebook
    assert "Creating initial MLflow database tables" not in book and "without encryption" not in book
    assert "without encryption" not in done.stderr and (tmp_path / "mlflow.db").exists()
    assert (tmp_path / "run" / "models" / "churn-bank" / "model.tar.gz").exists()


def test_a_whitespace_log_without_header_goes_through_notebook_02(tmp_path):
    cdnow_file(tmp_path)
    done = rfmkit_run("--only", "02", "-p", "transaction_log=CDNOW_master.txt", "-p", "log_header=false",
                      "-p", 'log_columns={"customer": 1, "timestamp": 2, "amount": 4}',
                      "-p", "log_time_format=YYYYMMDD", "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["tables"]["rfm_scores"] == 4
    text = printed(tmp_path / "run", "02_rfm_scoring")
    assert "read 7 = loaded 7 + rejected 0" in text
    assert "In this data 75.0% of 4 customers bought exactly once" in text
