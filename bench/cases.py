"""Running benchmark cases: each in a fresh Python process, so its peak RSS is its own.

A case module prints one JSON line last (its measurements); `median_of` repeats a case and keeps
the median of every timing and memory figure.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIAN_KEYS = ("seconds", "read_seconds", "compute_seconds", "peak_mb")


def peak_mb() -> float:
    """This process's peak resident memory so far: VmHWM, which starts afresh at exec.
    (ru_maxrss does not: Linux carries it over from the forking parent, so a case started by a
    parent holding 500 MB would report at least 500 MB.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def report(**figures) -> None:
    """A case's last line: its figures plus the process's peak memory."""
    print(json.dumps({**figures, "peak_mb": peak_mb()}), flush=True)


def run_case(module: str, *args: object, timeout: float | None = None) -> dict:
    done = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"bench case `{module} {' '.join(map(str, args))}` failed:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(module: str, *args: object, repeat: int) -> dict:
    """Run a case `repeat` times; timings and peak memory are medians, the rest from the last run."""
    runs = [run_case(module, *args) for _ in range(repeat)]
    out = dict(runs[-1])
    for key in MEDIAN_KEYS:
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = repeat
    return out


def paired(module: str, ours: tuple[str, str], baseline: tuple[str, str], customers: int, *,
           repeat: int) -> dict:
    """The kit's case and its baseline at one size, in the same run, printed side by side.
    ours/baseline: (case kind, label)."""
    results = {side: median_of(module, kind, customers, repeat=repeat)
               for side, (kind, _) in (("ours", ours), ("baseline", baseline))}
    shown = ", ".join(f"{label} {results[side]['seconds']:.1f} s ({results[side]['peak_mb']:.0f} MB)"
                      for side, (_, label) in (("ours", ours), ("baseline", baseline)))
    print(f"{customers:>12,} customers: {shown}", flush=True)
    return {"customers": customers, **results}
