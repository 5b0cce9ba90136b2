"""Where the kit's files live: the project root, its sql/ and notebooks/, and run folders."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("RFMKIT_ROOT", Path(__file__).resolve().parents[1]))
SQL_DIR = PROJECT_ROOT / "sql"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RUNS_DIR = Path(os.environ.get("RFMKIT_RUNS_DIR", PROJECT_ROOT / "runs"))
DATA_DIR = PROJECT_ROOT / "data"
# Interactive (JupyterLab) sessions share one stable folder so notebook 02 finds what 01 wrote.
WORKSHOP_RUN = "workshop"
# A link to the newest batch run, so that commands can name its files without its timestamp.
LATEST_RUN = "latest"


def new_run_dir(now: datetime | None = None) -> Path:
    """A fresh, timestamped run folder under runs/ (suffixed if one already exists)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = RUNS_DIR / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = RUNS_DIR / f"{stamp}-{n}"
    return candidate


def resolve_run_dir(run_dir: str | os.PathLike | None) -> Path:
    """The run folder a notebook should use.

    Explicit value (papermill passes one) > $RFMKIT_RUN_DIR (tests) > runs/workshop (JupyterLab).
    """
    if run_dir:
        return Path(run_dir).expanduser().resolve()
    env = os.environ.get("RFMKIT_RUN_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (RUNS_DIR / WORKSHOP_RUN).resolve()


def link_latest(run_dir: Path) -> Path | None:
    """Point runs/latest at `run_dir` (a relative symlink, replaced atomically); None when the run
    is not under runs/ or the file system has no symlinks."""
    run_dir = Path(run_dir).resolve()
    runs = run_dir.parent
    link = runs / LATEST_RUN
    if run_dir.name == LATEST_RUN or (link.exists() and not link.is_symlink()):
        return None
    temporary = runs / f".{LATEST_RUN}-{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(temporary, link)
    except OSError:
        return None
    return link
