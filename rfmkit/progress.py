"""How a batch notebook runs: progress for logs and CI, and the kernel's own chatter kept out.

papermill's progress bar is a tqdm bar on a terminal; in a log file it is nothing until the notebook
ends, so a 25-minute notebook looks hung. This papermill engine prints one line per finished cell
and, while one cell runs long, a line every `heartbeat` seconds.

The kernel process's stderr (ipykernel's "Kernel is running over TCP without encryption" warning,
its tracebacks when Ctrl-C reaches it) goes to `<executed notebook>.kernel.log` beside the executed
copy instead of the user's terminal: the notebook's own output is unaffected.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, logger, papermill_engines
from papermill.utils import merge_kwargs, remove_args

ENGINE_NAME = "rfmkit-progress"


class CellReporter:
    """Prints `[i/n] notebook: cell k/m ...` lines to `out`."""

    def __init__(self, label: str, out=None, heartbeat: float = 60.0):
        self.label, self.out, self.heartbeat = label, out or sys.stdout, heartbeat
        self._code_cells = 0
        self._done = 0
        self._current: tuple[int, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, code_cells: int) -> None:
        self._code_cells = code_cells
        self._thread = threading.Thread(target=self._beat, name="rfmkit-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def cell_started(self, index: int) -> None:
        self._current = (index, time.monotonic())

    def cell_finished(self, index: int) -> None:
        started = self._current[1] if self._current else time.monotonic()
        self._current = None
        self._done += 1
        self._print(f"cell {self._done}/{self._code_cells} done in {time.monotonic() - started:.1f} s")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            current = self._current
            if current is not None:
                minutes = (time.monotonic() - current[1]) / 60
                self._print(f"cell {self._done + 1}/{self._code_cells} still running "
                            f"({minutes:.0f} min so far)")

    def _print(self, text: str) -> None:
        print(f"{self.label}: {text}", file=self.out, flush=True)


class ProgressEngine(NBClientEngine):
    """nbclient execution with a CellReporter hooked into papermill's cell callbacks and the
    kernel's stderr written to a log file."""

    reporter: CellReporter | None = None  # set by the runner around one execution

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
        if cls.reporter is not None:
            cls._report_cells(nb_man, cls.reporter)
        # NBClientEngine's own argument handling, then execute(stderr=...) for the kernel process.
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
            startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
            log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        log_path = Path(str(nb_man.output_path)).with_suffix(".kernel.log") \
            if nb_man.output_path and "://" not in str(nb_man.output_path) else None
        with (log_path.open("a") if log_path else open(os.devnull, "w")) as kernel_log:
            try:
                # cleanup_kc: nbclient stops the kernel and its own client also when the runner
                # started the kernel (warm_kernel.py), in its event loop, as it always did
                return PapermillNotebookClient(nb_man, **final_kwargs).execute(
                    stderr=kernel_log, cleanup_kc=True)
            finally:
                if cls.reporter is not None:
                    cls.reporter.stop()

    @staticmethod
    def _report_cells(nb_man, reporter: CellReporter) -> None:
        started, completed = nb_man.cell_start, nb_man.cell_complete

        def cell_start(cell, cell_index=None, **kw):
            if cell.cell_type == "code":
                reporter.cell_started(cell_index)
            return started(cell, cell_index, **kw)

        def cell_complete(cell, cell_index=None, **kw):
            if cell.cell_type == "code":
                reporter.cell_finished(cell_index)
            return completed(cell, cell_index, **kw)

        nb_man.cell_start, nb_man.cell_complete = cell_start, cell_complete
        reporter.start(sum(1 for c in nb_man.nb.cells if c.cell_type == "code"))


papermill_engines.register(ENGINE_NAME, ProgressEngine)
