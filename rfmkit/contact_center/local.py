"""The local backend's contact center: SQLite stores in the run folder; the API and the agent's
page on 127.0.0.1 in a process of their own (`python -m rfmkit contact-center`), as the functions
run apart from the endpoint on AWS. In the notebook's process they would share one interpreter
lock with the endpoint and the call simulator, and every event would wait on the others."""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rfmkit.contact_center.online import SqliteOnlineFeatures
from rfmkit.contact_center.store import SqliteContactStore

RECORDS = "serving/contact-center-*.json"
START_TIMEOUT_SECONDS = 120  # a hang guard: imports on a cold, busy machine take a few seconds


class LocalContactCenter:
    """What `LocalBackend.contact_center()` hands out (protocols.ContactCenter)."""

    def __init__(self, run_dir: Path, *, port: int = 0):
        folder = Path(run_dir) / "contact_center"
        self.run_dir, self.port = Path(run_dir), port
        self.store = SqliteContactStore(folder / "contact_center.sqlite")
        self.features = SqliteOnlineFeatures(folder / "online_features.sqlite")
        self.server = None      # a ContactCenterServer in this process (the CLI's)
        self.process = None     # or the API's own process (deploy)
        self._address: tuple[str, str] | None = None

    def describe(self) -> dict[str, str]:
        return {"profiles, contacts, prompts": self.store.description,
                "online features": self.features.description}

    def prepare_feature_store(self, columns: list[str], progress=print) -> str:
        return f"online features in {self.features.description} (created on first use)"

    def serve_here(self, endpoint: str, runtime) -> dict[str, str]:
        """Serve the API in this process (what `python -m rfmkit contact-center` runs)."""
        from rfmkit.contact_center.handlers import EndpointScorer, Services
        from rfmkit.contact_center.server import ContactCenterServer

        self.close()
        services = Services(self.store, self.features, EndpointScorer(runtime, endpoint))
        self.server = ContactCenterServer(services, port=self.port).start()
        self.server.record(self.run_dir, pid=os.getpid())
        self._address = (self.server.url, self.server.token)
        return self._addresses()

    def deploy(self, endpoint: str, runtime, progress=print) -> dict[str, str]:
        """Start the API and the page in their own process; the handlers score through
        `endpoint` at the runtime client's address (the kit's local endpoint server)."""
        self.close()
        log = self.run_dir / "serving" / "contact-center.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "rfmkit", "contact-center", "--run-dir", str(self.run_dir),
                   "--endpoint-url", runtime.meta.endpoint_url, "--endpoint", endpoint,
                   "--port", str(self.port)]
        log.unlink(missing_ok=True)
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it shows the token
        with os.fdopen(descriptor, "w") as output:  # the API's messages: a file, never a full pipe
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        atexit.register(self.close)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while (record := self._record()) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the contact-center API did not start; its log {log}:\n"
                                   f"{log.read_text()[-2000:]}")
            time.sleep(0.1)
        self._address = (record["url"], record["token"])
        return self._addresses()

    def _record(self) -> dict | None:
        for path in self.run_dir.glob(RECORDS):
            record = json.loads(path.read_text())
            if record.get("pid") == self.process.pid:
                return record
        return None

    def _addresses(self) -> dict[str, str]:
        url, token = self._address
        record = next(p for p in self.run_dir.glob(RECORDS) if json.loads(p.read_text())["url"] == url)
        # The page's full address holds the token: kept in a file only you can read, not printed.
        return {"api": url, "page": f"{url}/agent", "page address with its token": str(record),
                "token": token}

    @property
    def page_url(self) -> str:
        url, token = self._address
        return f"{url}/agent#token={token}"

    def api_client(self):
        """A client of the running API (one per simulated call: it holds a connection)."""
        from rfmkit.contact_center.simulator import HttpApi

        if self._address is None:
            raise RuntimeError("the contact-center API is not running: call deploy() first")
        return HttpApi(*self._address)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.process is not None:
            stop_process(self.process.pid, self.process)
            self.process = None
        self._address = None


def stop_process(pid: int, process: subprocess.Popen | None = None, timeout: float = 15.0) -> bool:
    """SIGTERM (the API stops gracefully and removes its record), then SIGKILL after `timeout`;
    False when it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if process is not None:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return True
