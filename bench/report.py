"""docs/PERFORMANCE.md: each benchmark owns one section between its begin/end markers."""

from __future__ import annotations

from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"


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
