import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from rfmkit import cli, runner
from rfmkit.paths import NOTEBOOKS_DIR, PROJECT_ROOT


def test_select_by_number_name_and_from():
    books = runner.discover()
    assert [p.stem for p in books][:2] == ["00_setup", "01_load_data"]
    assert [p.stem for p in runner.select(books, only=["1"])] == ["01_load_data"]
    assert runner.select(books, start_from="01_load_data")[0].stem == "01_load_data"
    with pytest.raises(runner.RunnerError, match="--only 42: no such notebook"):
        runner.select(books, only=["42"])
    # a batch never runs the cleanup notebook unless it is named
    assert books[-1].stem == "99_cleanup" and books[-1] not in runner.select(books)
    assert books[-1] not in runner.select(books, start_from="05")
    assert [p.stem for p in runner.select(books, only=["99"])] == ["99_cleanup"]
    assert [p.stem for p in runner.select(books, start_from="99")] == ["99_cleanup"]


def test_unknown_parameter_is_an_error_not_a_silent_no_op(tmp_path):
    with pytest.raises(runner.RunnerError, match=r"parameter\(s\) \['scael'\] are not declared"):
        runner.run(parameters={"scael": 1}, run_dir=tmp_path)


def test_cli_parses_typed_parameters():
    args = cli.build_parser().parse_args(["run", "-p", "scale=0.5", "-p", "source=synthetic", "-p", "x=true",
                                          "--only", "01"])
    assert dict(args.param) == {"scale": 0.5, "source": "synthetic", "x": True}
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "-p", "noequals"])


@pytest.mark.notebooks
def test_run_all_notebooks_as_make_run_does(batch_run):
    """The papermill batch, as `make run` does it, through the real CLI (conftest's batch_run)."""
    run_dir, result, tmp_path = batch_run.run_dir, batch_run.result, batch_run.run_dir.parent
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dashboard.html" in result.stdout and "manifests/" in result.stdout  # says where to look
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
    batch = runner.select(runner.discover())
    assert f"[2/{len(batch)}] 01_load_data ok" in result.stdout and str(run_dir.resolve()) in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert [n["status"] for n in summary["notebooks"]] == ["ok"] * len(batch)
    assert "99_cleanup" not in result.stdout
    assert summary["tables"]["olist_orders"] == pytest.approx(99_500, rel=0.02)  # the default scale
    for name in summary["notebooks"]:
        executed = nbformat.read(name["output"], as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors
    assert (run_dir / "warehouse.duckdb").exists()
    # notebook 02: rfm_scores built and exported, and its printed result agrees with the table
    scored = summary["tables"]["rfm_scores"]
    assert 90_000 < scored < summary["tables"]["olist_orders"]
    exported = run_dir / "exports" / "rfm_scores_000.csv"
    assert sum(1 for _ in exported.open()) == scored + 1
    rfm_book = nbformat.read(run_dir / "notebooks" / "02_rfm_scoring.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in rfm_book.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert f"rfm_scores: {scored:,} customers scored at snapshot 2018-" in printed
    # notebook 03: every scored customer has a cluster; export, model, profiles, figures, MLflow run
    assert summary["tables"]["customer_segments"] == scored
    assert sum(1 for _ in (run_dir / "exports" / "customer_segments_000.csv").open()) == scored + 1
    from rfmkit.segmentation import model as kmeans_model

    assert kmeans_model.load(run_dir / "models" / "kmeans" / "model.tar.gz").k == 5
    assert len(pd.read_csv(run_dir / "segmentation" / "cluster_profiles.csv")) == 5
    assert {p.name for p in (run_dir / "figures").glob("03_*.png")} == {
        "03_features.png", "03_k_selection.png", "03_cluster_sizes.png", "03_snake_plot.png", "03_projection.png"}
    assert (tmp_path / "mlflow.db").exists()  # the workspace store beside the run folder
    # notebook 04: both data sets trained, evaluated (SageMaker layout) and registered
    for name in ("contact_center", "transactions"):
        folder = run_dir / "models" / f"churn-{name}"
        assert (folder / "model.tar.gz").exists()
        metrics = json.loads((folder / "evaluation.json").read_text())["binary_classification_metrics"]
        assert 0 <= metrics["auc"]["value"] <= 1 and set(metrics["confusion_matrix"]) == {"0", "1"}
        assert (run_dir / "figures" / f"04_evaluation_{name}.png").exists()
    assert summary["tables"]["churn_features"] > 0
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    # notebook 06: the challenger was staged, promoted and rolled back: production is still version 1;
    # notebook 10's alarm retrained version 3, which waits on staging as the candidate
    assert str(client.get_model_version_by_alias("rfmkit-churn-contact_center", "production").version) == "1"
    assert str(client.get_model_version_by_alias("rfmkit-churn-contact_center", "candidate").version) == "3"
    serve_book = nbformat.read(run_dir / "notebooks" / "06_deploy_endpoint.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in serve_book.cells if c.cell_type == "code" for o in c.outputs)
    assert "production: version 1 → promote → 2 → rollback → 1" in printed and ", 0 failed" in printed
    # the challenger is 04's unchosen model with the settings 04's search found for it: no search
    assert "(settings given, 5 folds, no search)" in printed and "settings × " not in printed
    assert "should not be" not in printed and printed.count("ValidationError") == 3
    # every customer scored once, written back and exported; the approval flag tells the truth
    assert summary["tables"]["customer_scores"] == scored
    scores = pd.read_csv(run_dir / "exports" / "customer_scores_000.csv")
    assert len(scores) == scored and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all() and scores["cluster"].notna().all()
    # notebook 05: churn risk of these (transaction) customers is 1 - P(alive), not the classifier's
    assert summary["tables"]["customer_value"] == scored
    assert set(scores["churn_model"]) == {"MBG/NBD + Gamma-Gamma"} and scores["churn_model_approved"].all()
    assert np.allclose(scores["churn_probability"], 1 - scores["p_alive"])
    assert scores["p_alive"].between(0, 1).all() and scores["p_alive"].nunique() > 1000
    assert 0 < scores["churn_label"].mean() < 0.5  # not everyone flagged
    assert (scores["clv"] > 0).all() and np.allclose(scores["value_at_risk"], scores["clv"] * (1 - scores["p_alive"]))
    validated = json.loads((run_dir / "customer_value" / "validation.json").read_text())
    assert abs(validated["errors"]["total_error_pct"]) < 10  # hold-out repeat purchases
    # generated data: the generator's truth lies in the fit's 99 % likelihood-ratio region
    # (2·ΔLL < 13.28, χ² with 4 d.f.); with 3 % repeat buyers single parameters are loose
    assert validated["truth"] and validated["truth"][0]["ratio_test"] < 13.28
    assert (run_dir / "figures" / "05_validation.png").exists()
    reproduction = run_dir / "customer_value" / "cdnow_reproduction.csv"
    if reproduction.exists():  # absent only when PyPI was unreachable for the CDNOW sample
        table = pd.read_csv(reproduction)
        assert len(table) == 14 and (table["gap_pct"] < 1.0).all(), table
    # notebook 08: the alert list mailed to the local sink once; the re-run sent nothing
    alerts_book = nbformat.read(run_dir / "notebooks" / "08_churn_alerts.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in alerts_book.cells if c.cell_type == "code" for o in c.outputs)
    assert "message(s) by smtp" in printed and "already sent for" in printed
    assert len(list((run_dir / "mail").glob("*.eml"))) == 2
    assert (run_dir / "figures" / "08_churn_alerts.png").exists()
    assert {"06_latency.png", "06_scores_by_segment.png"} <= {p.name for p in (run_dir / "figures").glob("06_*")}
    # notebook 09: simulated calls scored through the endpoint, none lost, none predicted twice; the
    # call-time features went back to the offline store and never into an earlier label's row
    center_book = nbformat.read(run_dir / "notebooks" / "09_contact_center.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in center_book.cells if c.cell_type == "code" for o in c.outputs)
    assert "6 calls, 48 sentiment events" in printed and "lost 0, duplicate predictions 0" in printed
    assert "serves rfmkit-churn-contact_center version 1, approved (production)" in printed
    assert "5,000 profiles" in printed and "0 with a feature newer than its label" in printed
    assert "#token=" not in printed  # the page's token stays in its file
    assert {"09_call_trajectories.png", "09_event_latency.png"} <= {p.name for p in (run_dir / "figures").glob("09_*")}
    assert summary["tables"]["cc_feature_history"] > 5_000 and summary["tables"]["cc_training_set"] == 5_000
    # notebook 10: the planted drift caught in the window where it starts and nowhere before it, no
    # false alarm in 200 quiet windows, a candidate retrained, gated and staged (promotion left to a
    # person); the stream consumer died once and still lost and repeated nothing
    monitor_book = nbformat.read(run_dir / "notebooks" / "10_monitoring.ipynb", as_version=4)
    shown = "".join(o.get("text", "") + o.get("data", {}).get("text/markdown", "")
                    for c in monitor_book.cells if c.cell_type == "code" for o in c.outputs)
    assert "first alarm in window 4 (Day_Mins), the same window." in shown and "false alarms" not in shown
    assert "0 of 200 windows of 500 rows" in shown
    assert "lost 0, answered twice 0, errors 0" in shown and "Lambda handler: 5 of 5 scores identical" in shown
    reports = run_dir / "monitoring" / "reports"
    assert (reports / "index.html").exists() and (reports / "plotly.min.js").exists()
    from rfmkit.monitoring.actions import ActionLog

    entries = ActionLog(run_dir / "monitoring").entries()
    started = entries[(entries["step"] == "retrain") & (entries["outcome"] == "started")]
    # production's own recipe refitted on the new rows (its model and hyperparameters), no search
    from rfmkit.churn import artifact, experiment

    _, production = artifact.load(run_dir / "models" / "churn-contact_center" / "model.tar.gz")
    assert len(started) == 1 and started["settings"].iloc[0] == experiment.recipe(production)
    steps = entries.set_index("step")["outcome"]
    assert steps["register"] == "passed the gate" and steps["stage"].startswith("staging serves")
    assert steps["approve"].startswith("waiting for a person")
    assert {"10_drift_timeline.png", "10_detection_power.png"} <= {p.name for p in (run_dir / "figures").glob("10_*")}
    # notebook 07: a valid manifest per export, both model schemas, the offline dashboard
    from rfmkit import manifests

    for table in manifests.EXPORTED_TABLES:
        doc = manifests.check_file(run_dir / "manifests" / f"{table}.json", manifests.MANIFEST_SCHEMA)
        assert doc["fileLocations"][0]["URIs"] == [f"s3://your-bucket/rfmkit/exports/{table}_000.csv"]
    kmeans_schema = manifests.check_file(run_dir / "manifests" / "kmeans.schema.json", manifests.MODEL_SCHEMA)
    assert [f["name"] for f in kmeans_schema["input"]] == ["recency_days", "frequency", "monetary"]
    churn_schema = manifests.check_file(run_dir / "manifests" / "churn.schema.json", manifests.MODEL_SCHEMA)
    assert [f["name"] for f in churn_schema["output"]] == ["churn_probability", "churn_label"]
    page = (run_dir / "dashboard.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and "customer_scores_000.csv" in page
    assert all(f'id="{panel}"' in page for panel in ("segment-sizes", "churn-risk", "cluster-profiles",
                                                     "p-alive", "value-at-risk", "churn-alerts"))
    assert 'id="kpi-value-at-risk"' in page and 'id="kpi-contact"' in page


@pytest.mark.notebooks
def test_failing_notebook_names_notebook_and_cell_and_keeps_copy(tmp_path):
    books = tmp_path / "notebooks"
    books.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("backend = 'local'\nrun_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, books / "00_broken.ipynb")
    with pytest.raises(runner.RunnerError, match=r"00_broken.ipynb failed in cell \d+ .*ValueError: boom") as info:
        runner.run(run_dir=tmp_path / "run", notebooks_dir=books, progress=False)
    assert "Executed copy" in str(info.value)
    assert (tmp_path / "run" / "notebooks" / "00_broken.ipynb").exists()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


def test_cli_exit_code_on_failure(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rfmkit", "run", "--only", "42"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 1 and "--only 42: no such notebook" in result.stderr
    assert Path(NOTEBOOKS_DIR).exists()


@pytest.mark.notebooks
def test_the_alerts_command_for_cron_on_a_finished_run(batch_run):
    """`python -m rfmkit alerts` on the shared run, after notebook 08 sent today's lists: the list
    is rebuilt and reported, and neither a review nor --send mails anything again for this data
    day (writing messages without --send is tested in test_alerts)."""
    def alerts(*args):
        return subprocess.run([sys.executable, "-m", "rfmkit", "alerts", "--run-dir",
                               str(batch_run.run_dir), *args], capture_output=True, text=True,
                              timeout=600, cwd=batch_run.root)

    before = len(list((batch_run.run_dir / "mail").glob("*.eml")))
    review = alerts("-p", "cooldown_days=7")
    assert review.returncode == 0, review.stderr[-2000:]
    assert "need contacting" in review.stdout and "already sent for" in review.stdout
    again = alerts("--send")
    assert again.returncode == 0 and "already sent for" in again.stdout
    assert len(list((batch_run.run_dir / "mail").glob("*.eml"))) == before
    bad = alerts("-p", "bogus=1")
    assert bad.returncode == 2 and "not an alert setting" in bad.stderr
    assert alerts("--smtp", "nope").returncode == 2


def _book(folder: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("backend = 'local'\nrun_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return folder / name


def test_imported_modules_lists_what_the_cells_import_at_top_level(tmp_path):
    from rfmkit.warm_kernel import imported_modules

    path = _book(tmp_path, "00_x.ipynb", "import pandas as pd\nimport os.path",
                 "from rfmkit import backends, plots\nfrom . import local\nx = 1",
                 "%time x\nimport json", "def f():\n    import wave")
    assert imported_modules(path) == ["pandas", "os.path", "rfmkit.backends", "rfmkit.plots", "rfmkit"]


@pytest.mark.slow
def test_the_next_kernel_starts_and_imports_while_the_current_notebook_runs(tmp_path):
    """Notebook 01's kernel exists before 00 ends and has 01's imports done, yet 01 sees no name
    it did not import itself, counts its cells from 1, and the batch leaves no kernel behind."""
    import psutil

    books = tmp_path / "notebooks"
    books.mkdir()
    marks = tmp_path / "marks"
    _book(books, "00_first.ipynb",
          f"import time\ntime.sleep(3)\nopen({str(marks)!r} + '-00', 'w').write(repr(time.time()))",
          f"import atexit, os\natexit.register(lambda: open({str(marks)!r} + '-exit', 'w').write('ran'))\n"
          f"open({str(marks)!r} + '-pid', 'w').write(str(os.getpid()))",
          # an object left in the namespace is finalised at exit (a warehouse connection closes)
          f"class Finalised:\n    def __del__(self):\n        open({str(marks)!r} + '-del', 'w').write('ran')\n"
          "left = Finalised()")
    _book(books, "01_second.ipynb",
          "import sys, psutil\n"
          f"open({str(marks)!r} + '-01', 'w').write(repr(psutil.Process().create_time()))\n"
          "assert 'wave' in sys.modules and 'wave' not in globals(), (list(globals()))",
          "import wave\nprint(wave.__name__)",
          # the first kernel has exited (its warehouse lock and ports released) before this runs
          f"assert not psutil.pid_exists(int(open({str(marks)!r} + '-pid').read()))")
    summary = runner.run(run_dir=tmp_path / "run", notebooks_dir=books, progress=False)
    assert [n.status for n in summary.notebooks] == ["ok", "ok"]
    assert float(Path(f"{marks}-01").read_text()) < float(Path(f"{marks}-00").read_text())
    second = nbformat.read(tmp_path / "run" / "notebooks" / "01_second.ipynb", as_version=4)
    assert [c.execution_count for c in second.cells] == [1, 2, 3, 4, 5]  # with papermill's injected cell
    assert second.cells[-2].outputs[0]["text"] == "wave\n"
    assert Path(f"{marks}-exit").read_text() == "ran"  # shut down as JupyterLab does: exit handlers ran
    assert Path(f"{marks}-del").read_text() == "ran"
    assert not [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_a_failing_notebook_stops_the_kernel_already_started_for_the_next(tmp_path):
    import psutil

    books = tmp_path / "notebooks"
    books.mkdir()
    _book(books, "00_broken.ipynb", "raise ValueError('boom')")
    _book(books, "01_never.ipynb", "import wave")
    with pytest.raises(runner.RunnerError, match="ValueError: boom"):
        runner.run(run_dir=tmp_path / "run", notebooks_dir=books, progress=False)
    assert not (tmp_path / "run" / "notebooks" / "01_never.ipynb").exists()
    assert not [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_modules_and_worker_processes_declared_in_the_metadata_are_warmed(tmp_path):
    """A notebook's `rfmkit.warm_modules` are imported in its kernel, and its `warm_workers` in
    joblib's worker pool, before the notebook runs; its n_jobs=-1 calls reuse that pool."""
    books = tmp_path / "notebooks"
    books.mkdir()
    _book(books, "00_first.ipynb", "x = 1")
    path = _book(books, "01_parallel.ipynb",
                 "import sys\nfrom joblib import Parallel, delayed\n"
                 "print(Parallel(n_jobs=-1)(delayed(lambda: 'wave' in sys.modules)() for _ in range(4)))",
                 "print('colorsys' in sys.modules)")
    book = nbformat.read(path, as_version=4)
    book.metadata["rfmkit"] = {"warm_workers": ["wave"], "warm_modules": ["colorsys"]}
    nbformat.write(book, path)
    runner.run(run_dir=tmp_path / "run", notebooks_dir=books, progress=False)
    ran = nbformat.read(tmp_path / "run" / "notebooks" / "01_parallel.ipynb", as_version=4)
    assert ran.cells[-2].outputs[0]["text"] == "[True, True, True, True]\n"
    assert ran.cells[-1].outputs[0]["text"] == "True\n"  # a module rfmkit would import lazily


@pytest.mark.slow
def test_a_kernel_asked_to_shut_down_lets_its_resource_trackers_end_their_own_way(tmp_path):
    """ipykernel answers a shutdown request by sending SIGTERM to its children, which the
    resource trackers ignore, for 14 s before SIGKILL. A warm kernel stops joblib's pool and leaves
    the trackers out, so each ends its own way once the kernel has exited: a shared-memory block the
    notebook leaked is removed (a killed tracker leaves it in /dev/shm), and so are joblib's folders."""
    from rfmkit.warm_kernel import WarmKernel

    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm on this system: shared memory is not a file to look for")
    kernel = WarmKernel(_book(tmp_path, "00_x.ipynb", "x = 1"), kernel_name="python3", cwd=tmp_path,
                        kernel_log=tmp_path / "kernel.log")
    try:
        manager = kernel.hand_over()
        client, printed = manager.blocking_client(), []
        client.start_channels()
        client.execute_interactive(
            "import os, numpy as np\n"
            "from joblib import Parallel, delayed\n"
            "big = np.ones((2000, 200))  # over joblib's 1 MB threshold: shared through /dev/shm\n"
            "assert Parallel(n_jobs=2)(delayed(np.sum)(big) for _ in range(2)) == [400000.0] * 2\n"
            "print(os.getpid())\n"
            "from multiprocessing import shared_memory\n"
            "block = shared_memory.SharedMemory(create=True, size=64)\n"
            "block.close()\n"
            "print(block.name)",
            timeout=300, output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        pid, name = "".join(printed).split()
        leaked = Path("/dev/shm") / name.lstrip("/")
        assert leaked.exists(), printed
        client.shutdown()
        client.stop_channels()
        assert manager.provisioner.process.wait(timeout=600) == 0  # a hang guard, not a speed limit
        for _ in range(600):  # the trackers end once they see the kernel gone (a hang guard)
            if not leaked.exists() and not list(Path("/dev/shm").glob(f"joblib_memmapping_folder_{pid}_*")):
                break
            time.sleep(0.1)
        assert not leaked.exists()
        assert not list(Path("/dev/shm").glob(f"joblib_memmapping_folder_{pid}_*"))
        assert "leaked folder" not in (tmp_path / "kernel.log").read_text()
    finally:
        kernel.stop()
