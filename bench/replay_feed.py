"""The province-year file of bench/replay_bench.py: Hà Nội's simulated year, generated once and cached."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file

END = "2026-11-23T12:00:00+07:00"  # the aggregator's frozen clock, and the oracle's as_of
PROVINCE = "01"  # Hà Nội
# Filings on a working day, the whole province. The simulator's year has about 0.77 working days' worth
# of filings per calendar day and 3.2 events per filing (its duplicates, late and malformed deliveries
# included), so a year of 17,500 is about 4.9 million filings and 16 million events.
FILINGS_PER_WORKING_DAY = 17_500
SEED = 2026


def feed_file(cache_dir: Path, events: int) -> tuple[Path, float | None]:
    """The cached file of the year's first `events` lines, and how long generating it took (None:
    reused)."""
    path = cache_dir / f"replay-{PROVINCE}-{events}.ndjson"
    if path.exists():
        return path, None
    cache_dir.mkdir(parents=True, exist_ok=True)
    end = datetime.fromisoformat(END)
    config = FeedConfig(start=end - timedelta(days=365), end=end, seed=SEED, province=PROVINCE,
                        filings_per_day=FILINGS_PER_WORKING_DAY)
    partial = path.with_suffix(".partial")
    started = time.monotonic()
    tally = write_file(generate(config), partial, limit=events,
                       progress=lambda text: print(f"  generating: {text}", file=sys.stderr, flush=True),
                       every_s=15)
    partial.rename(path)
    elapsed = time.monotonic() - started
    print(f"  generated {tally.lines:,} lines in {elapsed / 60:.1f} min", file=sys.stderr)
    return path, elapsed


if __name__ == "__main__":
    feed_file(Path(sys.argv[1]), int(sys.argv[2]))
