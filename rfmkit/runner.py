"""Batch execution of the workshop notebooks with papermill (`python -m rfmkit run`).

Every notebook gets the run's backend and run folder; user parameters go to the notebooks that
declare them (a parameter no notebook declares is an error, not a silent no-op). Each executed
copy is saved, even on failure, and a summary.json records timings, including the orchestration
overhead (wall time minus the time spent inside cells).
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rfmkit.paths import NOTEBOOKS_DIR, link_latest, new_run_dir
from rfmkit.warm_kernel import WarmKernel

NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_[\w-]+\.ipynb$")
KERNEL_NAME = "python3"  # pinned: notebook CI breaks on kernel-name mismatches
# Kernels started ahead of their notebook (warm_kernel.py). Two, because a warm-up competes for
# the cores with the notebook running: one notebook's time was not always enough for it.
WARM_AHEAD = 2


class RunnerError(RuntimeError):
    """The batch could not run or a notebook failed; the message names notebook and cell."""


@dataclass
class NotebookResult:
    name: str
    status: str = "pending"
    seconds: float = 0.0
    cell_seconds: float = 0.0
    output: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunSummary:
    run_dir: str
    backend: str
    started: str
    status: str = "running"
    seconds: float = 0.0
    cell_seconds: float = 0.0
    notebooks: list[NotebookResult] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def overhead_share(self) -> float:
        """Orchestration overhead as a share of in-cell compute."""
        return (self.seconds - self.cell_seconds) / self.cell_seconds if self.cell_seconds else 0.0

    def write(self, path: Path) -> None:
        data = asdict(self)
        data["overhead_share"] = round(self.overhead_share, 3)
        path.write_text(json.dumps(data, indent=2, default=str))


def discover(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (00_setup.ipynb, 01_...), in run order."""
    return sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))


CLEANUP_FROM = 90  # 90-99 remove what the run created: they run only when --only or --from names them


def select(notebooks: list[Path], only: list[str] | None = None,
           start_from: str | None = None) -> list[Path]:
    """Filter by --only (numbers or names) and --from (a number or name to start at). Cleanup
    notebooks (99_cleanup) are left out unless named, so a batch never deletes what it built."""
    def matches(path: Path, token: str) -> bool:
        token = token.strip().removesuffix(".ipynb")
        if token.isdigit():  # a number names one notebook: 1 is 01, never 10
            return path.stem.split("_", 1)[0] == token.zfill(2)
        return path.stem == token or path.stem.startswith(token)

    chosen = notebooks
    if start_from:
        starts = [i for i, p in enumerate(notebooks) if matches(p, start_from)]
        if not starts:
            raise RunnerError(f"--from {start_from}: no such notebook; have "
                              f"{', '.join(p.stem for p in notebooks)}")
        chosen = notebooks[starts[0]:]
    if only:
        unknown = [t for t in only if not any(matches(p, t) for p in notebooks)]
        if unknown:
            raise RunnerError(f"--only {', '.join(unknown)}: no such notebook; have "
                              f"{', '.join(p.stem for p in notebooks)}")
        chosen = [p for p in chosen if any(matches(p, t) for t in only)]
    else:
        chosen = [p for p in chosen if int(p.stem[:2]) < CLEANUP_FROM
                  or (start_from is not None and matches(p, start_from))]
    if not chosen:
        raise RunnerError("no notebooks selected")
    return chosen


def declared_parameters(path: Path) -> dict[str, Any]:
    """Names and defaults of a notebook's `parameters` cell."""
    import papermill

    return {name: info["default"] for name, info in papermill.inspect_notebook(str(path)).items()}


class RunInterrupted(RunnerError):
    """Ctrl-C: the run stopped; summary.json says `interrupted` and the next run resumes."""


def check_parameters(parameters: dict[str, Any], declared: dict[Path, dict[str, Any]],
                     base: Path) -> dict[str, Any]:
    """User parameters checked against every selected notebook's declared defaults, before any
    notebook runs: unknown names and values of the wrong type are errors naming the parameter.
    Relative paths are made absolute against `base` (where the user ran the command)."""
    from rfmkit.parameters import ParameterError, coerce, default_value, missing_paths, resolve_paths

    for reserved in ("backend", "run_dir"):
        if reserved in parameters:
            raise RunnerError(f"-p {reserved}=... is set by the runner; use --{reserved.replace('_', '-')}")
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise RunnerError(f"parameter(s) {unknown} are not declared by any selected notebook; "
                          f"known: {sorted(known - {'backend', 'run_dir'})}")
    checked = dict(parameters)
    defaults: dict[str, Any] = {}
    try:
        for path, names in declared.items():
            for name in set(parameters) & set(names):
                default = default_value(names[name])
                checked[name] = coerce(name, checked[name], default, path.stem)
                defaults.setdefault(name, default)
    except ParameterError as error:
        raise RunnerError(str(error)) from None
    resolved = resolve_paths(checked, defaults, base)
    missing = missing_paths(resolved, defaults)
    if missing:
        raise RunnerError("; ".join(missing))
    return resolved


def _previous_results(folder: Path) -> dict[str, NotebookResult]:
    """Notebooks an interrupted or failed run into `folder` finished, by name (for resuming)."""
    path = folder / "summary.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if data.get("status") not in ("interrupted", "failed"):
        return {}
    fields_ = set(NotebookResult.__dataclass_fields__)
    return {n["name"]: NotebookResult(**{k: v for k, v in n.items() if k in fields_})
            for n in data.get("notebooks", []) if n.get("status") == "ok"}


def run(
    backend: str = "local",
    parameters: dict[str, Any] | None = None,
    *,
    only: list[str] | None = None,
    start_from: str | None = None,
    run_dir: str | Path | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    progress: bool | None = None,
    resume: bool = True,
    cwd: Path | None = None,
    dry_run: bool = False,
    out=None,
) -> RunSummary:
    """Execute the selected notebooks in order into a run folder; raise RunnerError on failure.

    Notebooks run with the caller's working directory (`cwd`, default the current one), so that
    relative paths in parameters mean what they mean in the user's shell. When the folder holds an
    interrupted or failed run, notebooks that finished there with the same parameters are kept
    and not run again (`resume=False` runs everything). `dry_run` checks everything (notebooks,
    parameters and their types, paths, the backend's preflight) and prints the plan, running nothing.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from rfmkit import environment
    from rfmkit import progress as cell_progress

    out = out or sys.stdout
    base = Path(cwd or Path.cwd()).resolve()
    notebooks = select(discover(notebooks_dir), only, start_from)
    declared = {p: declared_parameters(p) for p in notebooks}
    parameters = check_parameters(dict(parameters or {}), declared, base)
    missing = environment.preflight(backend, parameters)
    if missing:
        raise RunnerError(f"--backend {backend}: " + "; ".join(missing))

    folder = (Path(run_dir) if run_dir else new_run_dir()).expanduser()
    if not folder.is_absolute():
        folder = base / folder
    if dry_run:
        return _plan(backend, notebooks, declared, parameters, folder.resolve(), out)
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    latest = link_latest(folder)
    done_before = _previous_results(folder) if resume else {}
    summary = RunSummary(run_dir=str(folder), backend=backend,
                         started=datetime.now().isoformat(timespec="seconds"),
                         machine=_machine())
    show_bars = sys.stderr.isatty() if progress is None else progress
    t_run = time.perf_counter()
    print(f"rfmkit run: {len(notebooks)} notebook(s), backend={backend}, into {folder}", file=out)
    warm: dict[Path, WarmKernel] = {}  # the next notebooks' kernels, started while one runs
    try:
        for index, path in enumerate(notebooks, start=1):
            given = {"backend": backend, "run_dir": str(folder), **parameters}
            injected = {k: v for k, v in given.items() if k in declared[path]}
            output = folder / "notebooks" / path.name
            label = f"[{index}/{len(notebooks)}] {path.stem}"
            earlier = done_before.pop(path.stem, None)
            if earlier is not None and earlier.parameters == injected and output.exists():
                summary.notebooks.append(earlier)
                print(f"{label} done in the interrupted run, kept (--no-resume runs it again)",
                      file=out, flush=True)
                continue
            done_before.clear()  # once one notebook runs again, the ones after it must too
            result = NotebookResult(name=path.stem, output=str(output), parameters=injected)
            summary.notebooks.append(result)
            print(f"{label} ...", file=out, flush=True)
            cell_progress.ProgressEngine.reporter = None if show_bars else \
                cell_progress.CellReporter(label, out)
            t0 = time.perf_counter()
            kernel = warm.pop(path, None) or _warm_kernel(path, base, output)
            try:
                for upcoming in notebooks[index:index + WARM_AHEAD]:
                    if upcoming not in warm:
                        warm[upcoming] = _warm_kernel(upcoming, base,
                                                      folder / "notebooks" / upcoming.name)
                papermill.execute_notebook(
                    str(path), str(output), parameters=injected, kernel_name=KERNEL_NAME,
                    cwd=str(base), progress_bar=show_bars, log_output=False,
                    engine_name=cell_progress.ENGINE_NAME, km=kernel.hand_over())
                result.status = "ok"
            except KeyboardInterrupt:
                result.status = "interrupted"
            except PapermillExecutionError as exc:
                result.status = "interrupted" if exc.ename == "KeyboardInterrupt" else "failed"
                result.error = (f"{path.name} failed in cell {exc.cell_index} "
                                f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}")
            except Exception as exc:  # kernel died, bad notebook, ...
                result.status = "failed"
                result.error = f"{path.name} could not run: {type(exc).__name__}: {exc}"
            finally:
                cell_progress.ProgressEngine.reporter = None
                kernel.stop()
            result.seconds = time.perf_counter() - t0
            result.cell_seconds = _cell_seconds(output)
            if result.status == "interrupted":
                summary.status = "interrupted"
                raise RunInterrupted(f"interrupted in {path.stem} after {result.seconds:.0f} s; "
                                     f"run the same command with --run-dir {folder} to resume")
            print(f"{label} {result.status} in {result.seconds:.1f} s "
                  f"(cells {result.cell_seconds:.1f} s)", file=out, flush=True)
            if result.status != "ok":
                summary.status = "failed"
                raise RunnerError(f"{result.error}\nExecuted copy (with the traceback): {output}")
        summary.status = "ok"
    except KeyboardInterrupt:  # between notebooks, or while papermill was writing
        summary.status = "interrupted"
        for result in summary.notebooks:
            if result.status == "pending":
                result.status = "interrupted"
        raise RunInterrupted(f"interrupted; run the same command with --run-dir {folder} "
                             f"to resume") from None
    finally:
        for kernel in warm.values():  # the batch stopped early
            kernel.stop()
        summary.seconds = time.perf_counter() - t_run
        summary.cell_seconds = sum(n.cell_seconds for n in summary.notebooks)
        summary.tables = _table_counts(folder) if (folder / "warehouse.duckdb").exists() else {}
        summary.write(folder / "summary.json")
    print(f"done in {summary.seconds:.1f} s (in cells {summary.cell_seconds:.1f} s, "
          f"orchestration overhead {summary.overhead_share:.0%} of compute)", file=out)
    print(where_to_look(folder, summary), file=out)
    if latest is not None:
        print(f"  ({latest} points here)", file=out)
    return summary


def _warm_kernel(notebook: Path, cwd: Path, output: Path) -> WarmKernel:
    """A kernel for `notebook`, its imports under way (stderr to the executed copy's kernel log,
    where the progress engine keeps it)."""
    return WarmKernel(notebook, kernel_name=KERNEL_NAME, cwd=cwd,
                      kernel_log=output.with_suffix(".kernel.log"))


def _plan(backend: str, notebooks: list[Path], declared: dict[Path, dict[str, Any]],
          parameters: dict[str, Any], folder: Path, out) -> RunSummary:
    """What a run would do (--dry-run): every notebook and the parameters it would get."""
    summary = RunSummary(run_dir=str(folder), backend=backend, status="dry-run",
                         started=datetime.now().isoformat(timespec="seconds"), machine=_machine())
    print(f"rfmkit run --dry-run: {len(notebooks)} notebook(s), backend={backend}, into {folder} "
          f"(nothing is run)", file=out)
    for index, path in enumerate(notebooks, start=1):
        given = {k: v for k, v in parameters.items() if k in declared[path]}
        summary.notebooks.append(NotebookResult(name=path.stem, status="planned", parameters=given))
        shown = ", ".join(f"{k}={v!r}" for k, v in given.items()) or "defaults"
        print(f"[{index}/{len(notebooks)}] {path.stem}: {shown}", file=out)
    return summary


def where_to_look(folder: Path, summary: RunSummary) -> str:
    """The run folder's contents worth opening, only those this run produced."""
    entries = [("notebooks/", "executed notebooks")]
    if (folder / "warehouse.duckdb").exists():
        entries.append(("warehouse.duckdb", f"every table ({len(summary.tables)})"))
    for name, what in (("dashboard.html", "the dashboard (opens offline)"),
                       ("manifests/", "QuickSight manifests and model schemas"),
                       ("exports/", "CSV exports for dashboards"),
                       ("models/", "model.tar.gz files (python -m rfmkit serve --model NAME=PATH)"),
                       ("figures/", "figures")):
        if (folder / name.rstrip("/")).exists():
            entries.append((name, what))
    entries.append(("summary.json", "timings and row counts"))
    return f"look in {folder}:\n" + "\n".join(f"  {name:17} {what}" for name, what in entries)


def _cell_seconds(path: Path) -> float:
    if not path.exists():
        return 0.0
    notebook = json.loads(path.read_text())
    return float(sum((c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
                     for c in notebook.get("cells", [])))


def _table_counts(folder: Path) -> dict[str, int]:
    path = folder / "warehouse.duckdb"
    if not path.exists():
        return {}
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "ORDER BY table_name").fetchall()]
            return {n: con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    except duckdb.Error:
        return {}


def _machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count()}
