"""`make lab` starts JupyterLab on 127.0.0.1 and prints its URL with the token, for root too (most
data-science containers run as root, and JupyterLab refuses root without --allow-root)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from rfmkit.paths import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not (PROJECT_ROOT / ".venv" / "bin" / "jupyter").exists() or shutil.which("make") is None,
                    reason="needs make and the project's .venv (make test creates it)")
def test_make_lab_starts_and_prints_its_url_with_the_token(tmp_path):
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    lab = subprocess.Popen(["make", "-s", "lab", f"ARGS=--no-browser --port={port} --ServerApp.port_retries=0"],
                           cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        url, seen, deadline = None, [], time.monotonic() + 180
        while url is None and time.monotonic() < deadline and lab.poll() is None:
            line = lab.stdout.readline()
            seen.append(line)
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", line)
            url = found.group(0) if found else None
        assert url, "".join(seen)[-3000:]
        assert not any("Running as root is not recommended" in line for line in seen)
        token = url.split("token=")[1]
        status, deadline = None, time.monotonic() + 60
        while status is None and time.monotonic() < deadline:  # the URL is printed just before it listens
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=30) as answer:
                    status = answer.status
            except urllib.error.URLError:
                time.sleep(0.5)
        assert status == 200
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=60)
