"""The engine alone, compiled against its Python sources, in one run: `python -m bench.engine_bench`.

The aggregator benchmark's feed (`aggregator_bench.make_events`, 200,000 events by default) is
triaged and packed as the packer does it (`packer.triage`, `packs_of`), then applied pack by pack
with `Engine.apply_pack` over in-memory tables, with the worker's garbage-collector settings, in two
child processes: one running the compiled modules (services/aggregator/compiled.py) and one with
AGGREGATOR_COMPILED=0, alternated `--repeat` times. Each child reports the CPU time (process_time)
an event of its best pass; decoding the packs is not counted. No Kafka, no Faust: this is the
share of the worker that compiling changes.

CPU time on a shared virtual machine moves by tens of percent from run to run; `--instructions`
counts instructions instead (valgrind's cachegrind, about five minutes): deterministic, the same on
every run of the same code. Each child then makes one pass, less one that only loads the packs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench import cachegrind
from bench.aggregator_bench import FROZEN_NOW, feed_records, frozen_now_us, make_events

ROOT = Path(__file__).resolve().parents[1]
RETENTION_DAYS = 400
PACK_EVENTS = 5_000


def write_packs(events: int, path: Path) -> None:
    from services.aggregator.packer import packs_of, triage

    feed = path.with_suffix(".ndjson")
    make_events(feed, events)
    rows, _refused = triage(feed_records(feed), frozen_now_us(), RETENTION_DAYS)
    path.write_bytes(pickle.dumps(packs_of(rows, PACK_EVENTS, 1 << 30)))


def child(packs_path: Path, passes: int, load_only: bool) -> None:
    """Apply the packs `passes` times, each to a new engine; print the best µs an event."""
    from services.aggregator.compiled import running_compiled
    from services.aggregator.engine import Engine
    from services.aggregator.pack_format import decode_pack
    from services.common.gc_tuning import FrozenState, tune_gc

    now = datetime.fromisoformat(FROZEN_NOW).timestamp()
    packs = [decode_pack(pack) for pack in pickle.loads(packs_path.read_bytes())]
    tune_gc()
    frozen = FrozenState()
    best = float("inf")
    for _ in range(passes):
        engine = Engine(RETENTION_DAYS, clock=lambda: now)
        filings: dict[bytes, bytes] = {}
        units: dict[bytes, bytes] = {}
        applied = 0
        began = time.process_time()
        for rows in packs:
            if not load_only:
                engine.apply_pack(0, rows, filings.get, units.get)
            applied += len(rows)
            frozen.settle()
        best = min(best, (time.process_time() - began) / applied * 1e6)
    print(f"{running_compiled()} {applied} {best:.3f}")


def run_child(packs_path: Path, compiled: bool, passes: int) -> tuple[bool, int, float]:
    env = {**os.environ, "AGGREGATOR_COMPILED": "1" if compiled else "0"}
    out = subprocess.run([sys.executable, "-m", "bench.engine_bench", "--child", str(packs_path),
                          "--passes", str(passes)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0] == "True", int(out[1]), float(out[2])


def instructions(packs_path: Path, compiled: bool, load_only: bool) -> int:
    """Instructions of one child making one pass, counted by cachegrind."""
    env = {**os.environ, "AGGREGATOR_COMPILED": "1" if compiled else "0"}
    return cachegrind.instructions([sys.executable, "-m", "bench.engine_bench", "--child", str(packs_path),
                                    "--passes", "1", *(["--load-only"] if load_only else [])], env, ROOT)


def count_instructions(packs_path: Path, events: int) -> None:
    cachegrind.require_valgrind("--instructions")
    counted = {}
    for compiled in (True, False):
        name = "compiled" if compiled else "Python"
        applying, loading = (instructions(packs_path, compiled, load_only) for load_only in (False, True))
        counted[compiled] = (applying - loading) / events
        print(f"  {name:8}: {counted[compiled]:,.0f} instructions an event", flush=True)
    print(f"compiled / Python = {counted[True] / counted[False]:.3f} (instructions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternated pairs of child processes")
    parser.add_argument("--passes", type=int, default=2, help="passes over the packs in each child")
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.passes, args.load_only)
        return
    with tempfile.TemporaryDirectory() as scratch:
        packs_path = Path(scratch) / "packs.pickle"
        print(f"packing {args.events:,} events of the aggregator benchmark's feed", flush=True)
        write_packs(args.events, packs_path)
        if args.instructions:
            count_instructions(packs_path, args.events)
            return
        results: dict[bool, list[float]] = {True: [], False: []}
        for pair in range(args.repeat):
            for compiled in (True, False):
                ran_compiled, applied, us = run_child(packs_path, compiled, args.passes)
                if ran_compiled != compiled:
                    sys.exit("the compiled modules are not built for these sources: run make compiled")
                results[compiled].append(us)
                print(f"  pair {pair + 1} of {args.repeat}: {'compiled' if compiled else 'Python  '} "
                      f"{us:6.2f} µs of CPU an event ({applied:,} events)", flush=True)
    best_compiled, best_python = min(results[True]), min(results[False])
    print(f"compiled {best_compiled:.2f} µs an event, Python {best_python:.2f} (the best of each)")
    print(f"compiled / Python = {best_compiled / best_python:.3f}")


if __name__ == "__main__":
    main()
