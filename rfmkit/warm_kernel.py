"""The next notebooks' kernels, started and warmed while the current notebook runs.

A batch runs each notebook in a fresh kernel. Starting one and importing what the notebook
imports (pandas, scikit-learn, MLflow, matplotlib, rfmkit) takes 2-4 s of one core on an idle
machine, and the notebooks spend much of their time on one core. So while notebook N runs, the
runner starts the kernels of the next notebooks and imports their modules in them; each then
begins at its first cell.

Only `sys.modules` changes in what the notebook sees: the modules are imported with importlib and
no name is bound in the notebook's namespace, so a notebook that forgets an import still fails in
the batch as it would in JupyterLab. The warm-up is silent and stores no history (execution counts
start at 1), and a module that fails to import is left for the notebook's own cell to report.
It also changes how the kernel ends (see SHUTDOWN_LEAVING_TRACKERS and EXIT_WITHOUT_TEARDOWN):
seconds per notebook that ipykernel and Python spent waiting and tearing down.
"""

from __future__ import annotations

import ast
import json
import queue
import subprocess
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

SHUTDOWN_GRACE = 2.5  # seconds before the next step: jupyter_client's shutdown_wait_time / 2
WARM_UP_PATIENCE = 600.0  # seconds without an answer before papermill gets the kernel anyway


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


def declared_modules(notebook: Path, key: str) -> list[str]:
    """Modules the notebook's metadata lists under `"rfmkit": {key: [...]}`:
    `warm_modules`, what rfmkit imports only when a function needs it (MLflow, skops,
    pymc-marketing: seconds each), and `warm_workers`, what joblib's worker processes import
    for notebooks whose searches run on every core."""
    metadata = json.loads(notebook.read_text()).get("metadata", {}).get("rfmkit", {})
    return [str(name) for name in metadata.get(key, [])]


# Inside the warm-up function: a kernel asked to shut down first stops joblib's worker pool, and
# leaves the resource trackers (multiprocessing's and loky's) out of the children it terminates.
# ipykernel sends its children SIGTERM with growing pauses (0.01 ... 3 s) before it replies, and
# the trackers ignore SIGTERM, so a notebook that ran a search kept its kernel alive until
# jupyter_client's own SIGTERM 2.5 s later; the trackers were then killed with it and joblib's
# memmapping folders stayed in /dev/shm. Left alone, a tracker sees the kernel's exit handlers
# unregister those folders, then the end of its pipe when the kernel exits, and ends by itself.
SHUTDOWN_LEAVING_TRACKERS = (
    "    import os, sys\n"
    "    kernel = getattr(get_ipython(), 'kernel', None)\n"
    "    if kernel is not None and hasattr(kernel, '_process_children'):\n"
    "        shutdown, children = kernel.do_shutdown, kernel._process_children\n"
    "        def trackers():\n"
    "            found = set()\n"
    "            for name in ('joblib.externals.loky.backend.resource_tracker', 'multiprocessing.resource_tracker'):\n"
    "                found.add(getattr(getattr(sys.modules.get(name), '_resource_tracker', None), '_pid', None))\n"
    "            return found - {None}\n"
    "        def children_but_trackers():\n"
    "            leave = trackers()\n"
    "            return [child for child in children() if child.pid not in leave]\n"
    "        def do_shutdown(restart):\n"
    "            try:\n"
    "                pool = getattr(sys.modules.get('joblib.externals.loky.reusable_executor'), '_executor', None)\n"
    "                if pool is not None:\n"
    "                    pool.shutdown(wait=True, kill_workers=True)\n"
    "            except Exception:  # never in the way of the shutdown itself\n"
    "                pass\n"
    "            return shutdown(restart)\n"
    "        kernel.do_shutdown, kernel._process_children = do_shutdown, children_but_trackers\n")

# Also inside it: the kernel's last exit handler. The notebook's own handlers (registered later,
# so they run earlier) and IPython's (clearing the namespace, so that every object's finaliser
# runs, e.g. a warehouse connection's close; ending the history session) all run; then the process
# ends without tearing its modules down one by one, which took 0.5-1 s of CPU for each of
# pymc-marketing, MLflow and scikit-learn after the notebooks that import them.
EXIT_WITHOUT_TEARDOWN = (
    "    import atexit\n"
    "    def exit_without_teardown():\n"
    "        shell = get_ipython()\n"
    "        if shell is not None:\n"
    "            shell.atexit_operations()\n"
    "        sys.__stdout__.flush()\n"
    "        sys.__stderr__.flush()\n"
    "        os._exit(0)\n"
    "    atexit.register(exit_without_teardown)\n")


def warm_up_code(modules: list[str], workers: list[str] | None = None) -> str:
    """Imports `modules` through importlib inside a function, leaving no names behind. With
    `workers`, also starts joblib's worker processes (the pool a notebook's `n_jobs=-1` calls
    reuse: same size, same environment) with those modules imported: 4 s of both cores otherwise
    spent inside the notebook's first search."""
    code = (
        "def __rfmkit_warm_up(names, workers):\n"
        "    import importlib\n"
        "    import importlib.util\n"
        "    for name in names:\n"
        "        try:\n"
        "            if importlib.util.find_spec(name) is not None:\n"
        "                importlib.import_module(name)\n"
        "        except Exception:  # not a module (an attribute), or broken: the notebook says\n"
        "            pass\n"
        "    if workers:\n"
        "        import os, time\n"
        "        from joblib import Parallel, delayed\n"
        "        def prepare(names):\n"
        "            for name in names:\n"
        "                importlib.import_module(name)\n"
        "            time.sleep(0.5)  # hold this worker so that the next task goes to another\n"
        "        Parallel(n_jobs=-1)(delayed(prepare)(workers) for _ in range(os.cpu_count() or 1))\n"
        + SHUTDOWN_LEAVING_TRACKERS + EXIT_WITHOUT_TEARDOWN +
        "try:\n"
        f"    __rfmkit_warm_up({modules!r}, {list(workers or [])!r})\n"
        "finally:\n"
        "    del __rfmkit_warm_up\n")
    return code


class WarmKernel:
    """A kernel started now for `notebook`, with its imports done before papermill takes it.

    papermill (nbclient) accepts a running kernel manager as `km`; it then waits for the kernel
    to answer, which it does once the warm-up has finished."""

    def __init__(self, notebook: Path, *, kernel_name: str, cwd: Path, kernel_log: Path):
        self.notebook = notebook
        kernel_log.parent.mkdir(parents=True, exist_ok=True)
        self._log = kernel_log.open("a")  # the kernel's stderr, as the progress engine keeps it
        self._client = None
        # the asynchronous manager, as nbclient's own; started here through jupyter_core's loop
        self.manager = AsyncKernelManager(kernel_name=kernel_name)
        try:
            run_sync(self.manager.start_kernel)(cwd=str(cwd), stderr=self._log)
            self._client = self.manager.blocking_client()
            self._client.start_channels()
            # queued now, run as soon as the kernel is up; nbclient's first request waits for it
            modules = imported_modules(notebook) + declared_modules(notebook, "warm_modules")
            self._warm_up = self._client.execute(
                warm_up_code(modules, declared_modules(notebook, "warm_workers")),
                silent=True, store_history=False)
        except BaseException:
            self.stop()
            raise

    def hand_over(self) -> AsyncKernelManager:
        """The kernel manager for papermill's `km`, once the warm-up has run; our client lets go
        of the kernel. Waiting costs nothing (the notebook's first cell would queue behind the
        warm-up), and a client closed earlier can drop the warm-up while the kernel is still
        starting."""
        process = self.manager.provisioner.process
        waited = 0.0
        while process.poll() is None and waited < WARM_UP_PATIENCE:
            try:
                reply = self._client.get_shell_msg(timeout=1.0)
            except queue.Empty:
                waited += 1.0
                continue
            if reply["parent_header"].get("msg_id") == self._warm_up:
                break
        self._client.stop_channels()
        self._client = None
        return self.manager

    def stop(self) -> None:
        """Stop the kernel if it still runs, and wait until its process has exited: a kernel
        never handed over (the batch stopped early), or one papermill failed to start on. After
        its notebook, nbclient has already stopped it (progress.py passes cleanup_kc).

        jupyter_client's escalation, as nbclient does it: a shutdown request, so that the kernel's
        exit handlers run; SIGTERM after SHUTDOWN_GRACE seconds, SIGKILL after as many again.
        Through a blocking client and the process itself: nbclient's event loop may hold tasks an
        interrupt left behind, and must not be run again."""
        process = getattr(self.manager.provisioner, "process", None)
        try:
            if self._client is not None:
                self._client.stop_channels()
            if process is not None and process.poll() is None:
                control = self.manager.blocking_client()
                control.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
                try:
                    control.shutdown()
                    for escalate in (process.terminate, process.kill):
                        try:
                            process.wait(timeout=SHUTDOWN_GRACE)
                            break
                        except subprocess.TimeoutExpired:
                            escalate()
                finally:
                    control.stop_channels()
        finally:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
            self.manager.cleanup_connection_file()
            self._log.close()
