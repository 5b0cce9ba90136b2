"""docs/PERFORMANCE.md: each benchmark owns one section between its begin/end markers."""

from __future__ import annotations

from pathlib import Path

DOCUMENTED = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"
REPORT = DOCUMENTED


def use_report(path: Path) -> None:
    """Write sections into `path` instead of docs/PERFORMANCE.md (quick runs must not overwrite
    the documented figures); it starts as a copy of the documented report."""
    global REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.resolve() != DOCUMENTED.resolve():
        path.write_text(DOCUMENTED.read_text())
    REPORT = path


def write_section(begin: str, end: str, heading: str, lines: list[str]) -> None:
    """Replace the text between `begin` and `end` (markers kept), or append it under `heading`."""
    block = "\n".join([begin, *lines, end])
    text = REPORT.read_text() if REPORT.exists() else "# Performance\n\n"
    if begin in text:
        text = text.split(begin)[0] + block + text.split(end, 1)[1]
    else:
        text += f"\n## {heading}\n\n{block}\n"
    REPORT.write_text(text)
    print(f"wrote {REPORT}")


def machine(*libraries: str) -> str:
    """This machine and the versions that matter for a benchmark, for the report's first line."""
    import importlib.metadata as md
    import os
    import platform

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(f"{name} {md.version(name)}" for name in libraries)
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GB RAM, "
            f"Python {platform.python_version()}" + (f", {versions}" if versions else ""))
