"""A real server that speaks the Kinesis API on 127.0.0.1, started by the kit for offline runs.

It is moto's server (`python -m moto.server`) in its own process: boto3's Kinesis client talks to
it over HTTP exactly as to AWS (PutRecords, GetShardIterator, GetRecords, ...), shard iterators and
sequence numbers included, and a consumer that stops and starts again finds the records where it
left them. moto was chosen over kinesalite because it is maintained, in Python (no Node.js), and
its dependencies (Flask, Werkzeug) are already the kit's through MLflow. Records live in the
server's memory: they last as long as the server, like a stream's retention period.

The server's process is noted in the run folder (serving/kinesis-<port>.json), so that notebook 99
stops it even when the notebook that started it is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rfmkit.serving.background import free_port

HOST = "127.0.0.1"
RECORDS = "serving/kinesis-*.json"
LOCAL_REGION = "us-east-1"


class LocalKinesis:
    def __init__(self, run_dir: Path, port: int = 0):
        self.run_dir, self.port = Path(run_dir), port or free_port(HOST)
        self.process: subprocess.Popen | None = None
        self.record: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 60.0) -> LocalKinesis:
        log = self.run_dir / "serving" / f"kinesis-{self.port}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.record = self.run_dir / RECORDS.replace("*", str(self.port))
        self.record.write_text(json.dumps({"url": self.url, "pid": self.process.pid}))
        client, deadline = self.client(), time.monotonic() + timeout
        while True:
            try:
                client.list_streams()
                return self
            except Exception as exc:  # noqa: BLE001 - not listening yet: retry until the deadline
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the local Kinesis server did not start on {self.url} "
                                       f"(see {log}): {exc}") from None
                time.sleep(0.2)

    def client(self):
        return kinesis_client(self.url)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def __enter__(self) -> LocalKinesis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def kinesis_client(endpoint_url: str | None = None, region: str | None = None, session=None):
    """boto3's Kinesis client; with an endpoint URL it talks to a local server (dummy credentials
    only when none are configured: the local server does not check them)."""
    import boto3

    if endpoint_url is None:
        return (session or boto3.Session(region_name=region)).client("kinesis")
    session = boto3.Session(region_name=region or LOCAL_REGION)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=session.region_name, aws_access_key_id="local",
                                aws_secret_access_key="local")
    return session.client("kinesis", endpoint_url=endpoint_url)


def stop_recorded(run_dir: Path) -> list[str]:
    """Stop every local Kinesis server noted in the run folder (notebook 99); returns their URLs."""
    import signal

    stopped = []
    for path in Path(run_dir).glob(RECORDS):
        try:
            record = json.loads(path.read_text())
            pid = int(record["pid"])
            if _is_kinesis_server(pid):  # a recycled process id is left alone
                os.kill(pid, signal.SIGTERM)
                stopped.append(record["url"])
        except (OSError, ValueError, KeyError):
            pass  # already gone
        path.unlink(missing_ok=True)
    return stopped


def _is_kinesis_server(pid: int) -> bool:
    try:
        return b"moto.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return sys.platform != "linux"  # no /proc to ask: trust the record
