"""Every command in the README, extracted from its ```bash and ```python blocks and run as written
in a stand-in for a fresh clone after `make run`.

The stand-in links the project's files into a temporary folder whose runs/ holds one real batch run
with the defaults (conftest's batch_run) as `runs/latest`, the way `make run` leaves it. HOME points
at a folder holding stand-ins for the user's downloads the README names (~/Downloads/..., ~/data/...).
Commands that start a batch (`make run`, `rfmkit run ...`) run with RFMKIT_DRY_RUN=1: everything is
checked (notebooks, parameter names and types, paths, the backend's preflight) but no notebook
executes; the notebooks themselves are executed once, by conftest's batch_run. Servers
(`rfmkit serve`, `mlflow ui`, `make lab`) are started, used by the block's next commands, and stopped.
`make test` is not run from inside the test suite.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rfmkit.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
VENV = PROJECT_ROOT / ".venv"
SERVERS = {"rfmkit serve": "http://127.0.0.1:{port}/ping", "mlflow ui": "http://127.0.0.1:5000/",
           "make lab": None, "rfmkit contact-center": None}

pytestmark = [pytest.mark.notebooks,
              pytest.mark.skipif(not (VENV / "bin" / "python").exists(), reason="needs the project's .venv")]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def commands(block: str) -> list[str]:
    """One entry per command: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            found.append(line)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def clone(batch_run) -> Path:
    """A stand-in for a fresh clone after `make run` (conftest's batch_run)."""
    assert batch_run.result.returncode == 0, batch_run.result.stderr[-3000:]
    assert (batch_run.root / "runs" / "latest" / "models" / "kmeans" / "model.tar.gz").exists()
    return batch_run.root


@pytest.fixture(scope="module")
def home(tmp_path_factory, clone) -> Path:
    """Stand-ins for the files the README's examples name under ~."""
    home = tmp_path_factory.mktemp("home")
    (home / "Downloads").mkdir()
    data = clone / "runs" / "latest" / "data"
    with zipfile.ZipFile(home / "Downloads" / "brazilian-ecommerce.zip", "w") as archive:
        for csv in data.glob("olist_*.csv"):
            archive.write(csv, csv.name)
    (home / "data").mkdir()
    (home / "data" / "online_retail.csv").write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085,United Kingdom\n")
    (home / "data" / "CDNOW_master.txt").write_bytes(b"  00001 19970101  1  11.77\r\n")
    (home / "data" / "CDNOW_sample.txt").write_bytes(b" 00004 0001 19970101  2   29.33\r\n")
    (home / "data" / "BankChurners.csv").write_text("CLIENTNUM,Attrition_Flag,Customer_Age\n1,Existing Customer,40\n")
    return home


def environment(home: Path) -> dict[str, str]:
    """The user's environment: HOME with the stand-in downloads, no AWS account configured."""
    # ... and no make state from a `make test` around the suite (MAKEFLAGS carries its ARGS=... into
    # the README's own make commands)
    aws = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
           "AWS_REGION", "AWS_DEFAULT_REGION", "RFMKIT_RUN_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    return {**{k: v for k, v in os.environ.items() if k not in aws}, "HOME": str(home), "RFMKIT_DRY_RUN": "1",
            "BROWSER": "true", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"), "AWS_CONFIG_FILE": str(home / "none")}


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"nothing answered at {url} within {seconds:.0f} s")


def run_block(block: list[str], clone: Path, env: dict[str, str]) -> list[tuple[str, subprocess.CompletedProcess]]:
    """Run a block's commands in one shell session (so `export` carries over); a server command
    is started in the background and stopped after the block."""
    results, servers, exports = [], [], []
    try:
        for command in block:
            if command.startswith("export "):
                exports.append(command)
                continue
            kind = next((k for k in SERVERS if k in command), None)
            script = "\n".join([*exports, command])
            if kind is None:
                done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True,
                                      timeout=3600)
                results.append((command, done))
                continue
            server = subprocess.Popen(["bash", "-c", script], cwd=clone, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, start_new_session=True)
            servers.append(server)
            if kind in ("make lab", "rfmkit contact-center"):
                line, deadline = "", time.monotonic() + 180
                while "token=" not in line and time.monotonic() < deadline and server.poll() is None:
                    line = server.stdout.readline()
                assert "token=" in line, f"{command}: no URL with a token"
                if kind == "rfmkit contact-center":  # the page it printed opens, and its token works
                    page = re.search(r"(http://127\.0\.0\.1:\d+)/agent#token=(\S+)", line)
                    listing = urllib.request.Request(page.group(1) + "/contacts",
                                                     headers={"Authorization": f"Bearer {page.group(2)}"})
                    with urllib.request.urlopen(listing, timeout=30) as answer:
                        assert "active" in json.loads(answer.read())
            else:
                port = re.search(r"--port (\d+)", command)
                wait_for(SERVERS[kind].format(port=port.group(1) if port else ""))
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    return results


EXPECTED_FAILURES = {
    # Documented: --backend aws needs credentials and a region; without them it says which is missing.
    "--backend aws": "error: --backend aws: AWS credentials: none",
}


def test_every_readme_command_runs_as_written(clone, home):
    env = environment(home)
    (clone / "my_run.yaml").write_text("scale: 0.1\n")  # the README's example parameters file
    # A block with a server or an `export` runs in order in one shell; other commands are
    # independent and run side by side (each is a process of its own), which halves the wall time.
    tasks = []
    for block in blocks("bash"):
        lines = [c for c in commands(block) if not c.startswith("make test")]  # the suite does not run itself
        if any(k in c for c in lines for k in SERVERS) or any(c.startswith("export ") for c in lines):
            tasks.append(lines)
        else:
            tasks += [[line] for line in lines]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = [r for done in pool.map(lambda lines: run_block(lines, clone, env), tasks) for r in done]
    problems = []
    for command, done in results:
        expected = next((msg for key, msg in EXPECTED_FAILURES.items() if key in command), None)
        if expected:
            if done.returncode == 0 or expected not in done.stderr:
                problems.append(f"{command}: expected the failure {expected!r}, got {done.stderr[-500:]}")
        elif done.returncode != 0:
            problems.append(f"{command}: exit {done.returncode}: {(done.stderr or done.stdout)[-800:]}")
    assert len(results) >= 15 and not problems, "\n\n".join(problems)


def test_every_readme_python_snippet_runs(clone, home):
    for snippet in blocks("python"):
        done = subprocess.run([str(VENV / "bin" / "python"), "-c", snippet], cwd=clone, env=environment(home),
                              capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, snippet + "\n" + done.stderr[-2000:]
        assert re.search(r"read ([\d,]+) = loaded \1 \+ rejected 0", done.stdout), done.stdout


def test_the_serve_example_answers_what_the_readme_shows(clone, home):
    block = next(b for b in blocks("bash") if "rfmkit serve" in b)
    results = dict(run_block(commands(block), clone, environment(home)))
    curl = next(done for command, done in results.items() if command.startswith("curl"))
    assert '"closest_cluster"' in curl.stdout and curl.stdout.count("closest_cluster") == 2
    boto = next(done for command, done in results.items() if "boto3" in command)
    assert "closest_cluster" in boto.stdout, boto.stderr


def test_the_readme_notebook_table_lists_every_notebook():
    text = README.read_text(encoding="utf-8")
    table = re.search(r"## The notebooks\n\n(\|.*?\n)\n", text, flags=re.S).group(1)
    rows = re.findall(r"^\| (\d\d) \|", table, flags=re.M)
    books = sorted(p.stem[:2] for p in (PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert rows == books
