"""Small statistics and report helpers shared by the benchmarks."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_rows(rows: Sequence[tuple[str, str]], value_width: int = 0) -> None:
    """A benchmark's result rows, labels in one column and values (right-aligned to `value_width`)."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>{value_width}}")


def keep_logs(logs: Iterable[Path], to: Path) -> None:
    """Copy the runs' logs out of their temp dir before it goes."""
    to.mkdir(parents=True, exist_ok=True)
    for log in logs:
        shutil.copy(log, to / log.name)
