"""The next notebook's kernel, started and warmed while the current notebook runs.

A batch runs each notebook in a fresh kernel. Starting one and importing what the notebook
imports (pandas, scikit-learn, MLflow, matplotlib, rfmkit) takes 4-7 s of one core, and the
notebooks spend much of their time on one core. So while notebook N runs, the runner starts
N+1's kernel and imports N+1's modules in it; N+1 then begins at its first cell.

Only `sys.modules` changes: the modules are imported with importlib and no name is bound in the
notebook's namespace, so a notebook that forgets an import still fails in the batch as it would
in JupyterLab. The warm-up is silent and stores no history (execution counts start at 1), and a
module that fails to import is left for the notebook's own cell to report.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync


def imported_modules(notebook: Path) -> list[str]:
    """Modules the notebook's code cells import at top level, in order, without duplicates.
    `from package import name` lists `package.name` (a submodule, if it is one) and `package`."""
    cells = json.loads(notebook.read_text()).get("cells", [])
    names: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: the notebook itself will say what is wrong
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names += [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
    return list(dict.fromkeys(names))


def warm_up_code(modules: list[str]) -> str:
    """Imports `modules` through importlib inside a function, leaving no names behind."""
    return (
        "def __rfmkit_warm_up(names):\n"
        "    import importlib\n"
        "    import importlib.util\n"
        "    for name in names:\n"
        "        try:\n"
        "            if importlib.util.find_spec(name) is not None:\n"
        "                importlib.import_module(name)\n"
        "        except Exception:  # not a module (an attribute), or broken: the notebook says\n"
        "            pass\n"
        f"__rfmkit_warm_up({modules!r})\n"
        "del __rfmkit_warm_up\n")


class WarmKernel:
    """A kernel started now for `notebook`, with its imports done before papermill takes it.

    papermill (nbclient) accepts a running kernel manager as `km`; it then waits for the kernel
    to answer, which it does once the warm-up has finished, and leaves shutting it down to us."""

    def __init__(self, notebook: Path, *, kernel_name: str, cwd: Path, kernel_log: Path):
        self.notebook = notebook
        kernel_log.parent.mkdir(parents=True, exist_ok=True)
        self._log = kernel_log.open("a")  # the kernel's stderr, as the progress engine keeps it
        # the asynchronous manager nbclient itself uses: on Ctrl-C nbclient shuts it down in its
        # event loop (a blocking manager's shutdown cannot run there)
        self.manager = AsyncKernelManager(kernel_name=kernel_name)
        try:
            run_sync(self.manager.start_kernel)(cwd=str(cwd), stderr=self._log)
            self._client = self.manager.blocking_client()
            self._client.start_channels()
            # queued now, run as soon as the kernel is up; nbclient's first request waits for it
            self._client.execute(warm_up_code(imported_modules(notebook)), silent=True,
                                 store_history=False)
        except Exception:
            self.shutdown()
            raise

    def hand_over(self) -> AsyncKernelManager:
        """The kernel manager for papermill's `km`; our client lets go of the kernel."""
        self._client.stop_channels()
        return self.manager

    def shutdown(self) -> None:
        """Stop the kernel if it is still running: unused when the batch stopped early, or left
        by papermill failing before it ran a cell. nbclient stops it after its notebook. The
        process is killed directly: jupyter_client's shutdown would run the event loop that an
        interrupted nbclient left tasks on (a Ctrl-C would come back out of it)."""
        try:
            if getattr(self, "_client", None) is not None:
                self._client.stop_channels()
            process = getattr(self.manager.provisioner, "process", None)
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            self.manager.cleanup_connection_file()
        finally:
            self._log.close()
