"""The packer's per-record work, in instructions: `python -m bench.triage_bench`.

The aggregator benchmark's feed (`aggregator_bench.make_events`; 20,000 events by default) goes
through `packer.triage` (the raw check, the compact form, the bounds) as the packer's records do,
and, as the baseline on the same records in the same run, through `orjson.loads` alone (what the
bare consumer (a) of the aggregator benchmark does with each record). Each is counted with
valgrind's cachegrind: a child making two passes less one making one, so that start-up and loading
are not counted, with the garbage collector off and hashing fixed (PYTHONHASHSEED=0), so that the
count does not move between runs of the same code by more than a few hundred instructions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import cachegrind
from bench.aggregator_bench import feed_records, frozen_now_us, make_events

ROOT = Path(__file__).resolve().parents[1]
RETENTION_DAYS = 400


def child(feed: Path, work: str, passes: int) -> None:
    import gc

    import orjson

    from services.aggregator.packer import triage

    records = feed_records(feed)
    now_us = frozen_now_us()
    gc.disable()
    for _ in range(passes):
        if work == "triage":
            triage(records, now_us, RETENTION_DAYS)
        else:
            for record in records:
                orjson.loads(record.value)


def instructions(feed: Path, work: str, passes: int) -> int:
    command = [sys.executable, "-m", "bench.triage_bench", "--child", str(feed), "--work", work,
               "--passes", str(passes)]
    return cachegrind.instructions(command, {**os.environ, "PYTHONHASHSEED": "0"}, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", choices=("triage", "decode"), help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work, args.passes)
        return
    cachegrind.require_valgrind("this benchmark")
    with tempfile.TemporaryDirectory() as scratch:
        feed = Path(scratch) / "events.ndjson"
        make_events(feed, args.events)
        counted = {}
        for work in ("triage", "decode"):
            counted[work] = (instructions(feed, work, 2) - instructions(feed, work, 1)) / args.events
            print(f"  {work:7}: {counted[work]:,.0f} instructions an event", flush=True)
    ratio = counted["triage"] / counted["decode"]
    print(f"triage / orjson.loads = {ratio:.1f} (instructions, {args.events:,} events)")


if __name__ == "__main__":
    main()
