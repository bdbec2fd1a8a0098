"""`make run` keeps its broker's data and the aggregator's store under `.run/`, stamped with the
aggregator's state format (services/aggregator/state_format.py). State of another format would not be
read right by this version: packs and filing records of an older layout go to the DLQ, and the
figures miss them. Such state is set aside, whole, under `.run/previous/`, and the run starts afresh."""

from __future__ import annotations

import logging
import time
from pathlib import Path

STAMP = "state-format"
STATE_DIRS = ("kafka", "aggregator")  # what holds the events, the packs, the tables and changelogs
UNSTAMPED = 1  # state from before the stamp

log = logging.getLogger(__name__)


def stamped_format(run_dir: Path) -> int | None:
    """The format of the state under `run_dir`; None when it holds none."""
    if not any((run_dir / name).exists() for name in STATE_DIRS):
        return None
    try:
        return int((run_dir / STAMP).read_text().strip())
    except (FileNotFoundError, ValueError):
        return UNSTAMPED


def keep_state_of_format(run_dir: Path, state_format: int, now: float | None = None) -> Path | None:
    """Make the state under `run_dir` of `state_format`: state of another format is moved to
    `run_dir/previous/<when>-format-<n>/`, which is returned; None when nothing was moved."""
    found = stamped_format(run_dir)
    moved_to = None
    if found is not None and found != state_format:
        when = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
        moved_to = run_dir / "previous" / f"{when}-format-{found}"
        again = 1
        while moved_to.exists():  # set aside twice within a second
            again += 1
            moved_to = run_dir / "previous" / f"{when}-format-{found}-{again}"
        moved_to.mkdir(parents=True)
        for name in STATE_DIRS:
            if (run_dir / name).exists():
                (run_dir / name).rename(moved_to / name)
        log.warning("the state in %s was written in format %d, this version keeps format %d: it is "
                    "set aside in %s, and the run starts afresh", run_dir, found, state_format, moved_to)
    (run_dir / STAMP).write_text(f"{state_format}\n")
    return moved_to
