"""Two runs share the workspace's MLflow registry: one run's promote → rollback demo must not move
what the other serves, and the registry must be consistent when both finish."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from rfmkit import tracking
from rfmkit.churn.registry import MlflowRegistry
from rfmkit.config import RunConfig
from rfmkit.locking import exclusive

DEMO = textwrap.dedent("""
    import sys, time
    from rfmkit import tracking
    from rfmkit.churn.registry import MlflowRegistry
    from rfmkit.config import RunConfig
    from rfmkit.serving.deploy import _RegistryDeployer

    class Recorder(_RegistryDeployer):  # serves nothing: records what it would serve
        endpoints = {"production": "production"}
        def _serves(self, endpoint, version): return False
        def _serve(self, endpoint, version): pass
        def _remove(self, endpoint): pass

    tracking.use_store(RunConfig(run_dir=sys.argv[1]))
    deployer = Recorder()
    deployer.registry = MlflowRegistry("rfmkit-test-shared")
    with deployer.exclusive() as before:
        print("holding", time.time(), flush=True)
        deployer.promote(sys.argv[2])
        time.sleep(2.0)
        deployer.rollback()
    print("released", time.time(), before, flush=True)
""")


@pytest.fixture
def shared_store(tmp_path):
    """Three versions that passed the gate (plain registry entries: no model files needed), 1 approved."""
    run = RunConfig(run_dir=tmp_path / "runs" / "a")
    tracking.use_store(run)
    registry = MlflowRegistry("rfmkit-test-shared")
    registry.client.create_registered_model(registry.name)
    for _ in range(3):
        version = registry.client.create_model_version(registry.name, source=str(tmp_path)).version
        registry.client.set_model_version_tag(registry.name, version, "quality_gate", "passed")
    registry.client.set_registered_model_alias(registry.name, "candidate", "3")
    registry.approve("1")
    return run, registry


def test_another_runs_approval_waits_for_the_demo_and_both_changes_survive(shared_store):
    run, registry = shared_store
    demo = subprocess.Popen([sys.executable, "-c", DEMO, str(run.run_dir), "2"], stdout=subprocess.PIPE, text=True)
    holding = demo.stdout.readline()
    assert holding.startswith("holding"), holding
    registry.approve("3")  # the other run: blocks until the demo has restored the aliases
    approved_at = time.time()
    released = demo.stdout.readline().split()
    assert demo.wait(timeout=600) == 0  # a hang guard
    assert approved_at >= float(released[1])  # it waited for the demo instead of interleaving
    assert released[2] == "1"  # the demo found production 1 ...
    # ... and the other run's approval came after the demo had put everything back
    assert registry.snapshot() == {"candidate": "3", "production": "3", "previous-production": "1"}


def test_restore_puts_every_alias_back_even_after_a_failure(shared_store):
    _, registry = shared_store
    found = registry.snapshot()
    with pytest.raises(RuntimeError), registry.lock():
        registry.approve("2")
        registry.client.delete_registered_model_alias(registry.name, "candidate")
        registry.restore(found)
        raise RuntimeError("the demo failed half-way")
    assert registry.snapshot() == found == {"candidate": "3", "production": "1", "previous-production": None}


def test_the_lock_is_reentrant_in_a_process_and_exclusive_across_processes(tmp_path):
    path = tmp_path / "store.lock"
    with exclusive(path), exclusive(path):  # re-entrant: no deadlock
        probe = subprocess.run(
            [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
             "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(path)], capture_output=True, text=True)
        assert probe.returncode != 0 and "BlockingIOError" in probe.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(path)], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
