"""Small statistics, report and command-line helpers shared by the benchmarks."""

from __future__ import annotations

import argparse
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


def add_sender_options(parser: argparse.ArgumentParser, clients: int, batch_size: int, batch_help: str,
                       drain: float, seed: int) -> None:
    """The options of a benchmark that posts through ingest and waits for the figures: clients, batch
    size, partitions, how long to wait for the last figures, the seed, where to keep the logs."""
    parser.add_argument("--clients", type=int, default=clients, help="concurrent HTTP clients")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=batch_help)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--drain", type=float, default=drain, help="seconds to wait for the last figures")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--keep-logs", type=Path, help="copy the services' and broker's logs here")
