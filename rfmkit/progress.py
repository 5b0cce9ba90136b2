"""Progress of a notebook in a batch, for logs and CI (no terminal, so no progress bar).

papermill's progress bar is a tqdm bar on a terminal; in a log file it is nothing until the notebook
ends, so a 25-minute notebook looks hung. This papermill engine prints one line per finished cell
and, while one cell runs long, a line every `heartbeat` seconds.
"""

from __future__ import annotations

import sys
import threading
import time

from papermill.engines import NBClientEngine, papermill_engines

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
    """nbclient execution with a CellReporter hooked into papermill's cell callbacks."""

    reporter: CellReporter | None = None  # set by the runner around one execution

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        reporter = cls.reporter
        if reporter is None:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
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
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            reporter.stop()


papermill_engines.register(ENGINE_NAME, ProgressEngine)
