"""History in minutes: a province-year replayed into the product by `python -m services.ingest.replay`.

    python -m bench.replay_bench                      # Hà Nội's simulated year: 16,000,000 lines
    python -m bench.replay_bench --events 2000000     # the year's first 2,000,000 lines

The file (bench/replay_feed.py) is generated once into `--cache-dir` and reused. The benchmark
starts its own broker (12 partitions, the deployment's default) and one aggregator worker as
deployed (`python -m services.aggregator`, clock frozen at the year's end), then:

- **baseline**: the raw producer (`services/simulator/replay.py`: bytes to Kafka keyed by unit, no
  checks) puts the same file on a topic of its own: the ceiling of getting the bytes onto Kafka;
- **the replay**: the command, as an operator runs it, onto the events topic the worker consumes;
  timed to its exit, and to the moment the worker has applied every event it produced (its `/state`);
- **the oracle** on a sample of units: their lines filtered out of the file while streaming it,
  recomputed by tests/support/oracle.py, compared figure by figure with the worker's last record of
  each on `unit-figures`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.replay_feed import END, PROVINCE, feed_file
from bench.scaling_bench import group_stable
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.units import province_units
from services.ingest.replay.position import load
from services.simulator.replay import produce_file
from tests.support.aggregator import Worker
from tests.support.broker import scratch_broker, unique_settings
from tests.support.oracle import compare, recompute
from tests.support.paths import ROOT

UNIT = re.compile(rb'"unit_code":"([^"]*)"')


class SampleFigures:
    """Follows `unit-figures` in a thread while the run goes on, keeping the last record of each
    sampled unit (undecoded): at the end only the topic's tail is left to read, not the whole of it."""

    def __init__(self, kafka: KafkaSettings, units: set[str]) -> None:
        self.kafka = kafka
        self.keys = {u.encode() for u in units}
        self.latest: dict[str, bytes] = {}
        self.caught_up_to: float = 0.0  # the instant the tail was last read up to
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._follow()), daemon=True)
        self.thread.start()

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(self.kafka.figures_topic, **self.kafka.client_kwargs(),
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    max_partition_fetch_bytes=8 * 1024 * 1024)
        await consumer.start()
        try:
            while not self.stop.is_set():
                asked = time.time()
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        if record.key in self.keys and record.value is not None:
                            self.latest[record.key.decode()] = record.value
                assignment = consumer.assignment()
                if assignment and not batches:
                    ends = await consumer.end_offsets(list(assignment))
                    if all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                        self.caught_up_to = asked
        finally:
            await consumer.stop()

    def figures(self, after: float, deadline_s: float) -> dict[str, dict[str, Any]]:
        """The sampled units' last records, read to the topic's end as of some time after `after`."""
        deadline = time.monotonic() + deadline_s
        while self.caught_up_to < after:
            assert time.monotonic() < deadline, "unit-figures not read to its end in time"
            time.sleep(0.5)
        return {unit: orjson.loads(value) for unit, value in self.latest.items()}


def sample_lines(path: Path, units: set[str], out: Path) -> int:
    """Copy the lines of `units` (and every line naming no unit_code the simple way: the oracle skips
    what it cannot read) from `path` to `out`; return how many."""
    wanted = {u.encode() for u in units}
    kept = 0
    with path.open("rb") as source, out.open("wb") as sink:
        for line in source:
            found = UNIT.search(line)
            if found is not None and found[1] in wanted:
                sink.write(line)
                kept += 1
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=16_000_000, help="lines of the year to replay")
    parser.add_argument("--sample-units", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "bench")
    parser.add_argument("--deadline-min", type=float, default=120, help="give up waiting for the worker")
    parser.add_argument("--workers", type=int, default=1, help="aggregator workers, one consumer group")
    args = parser.parse_args()
    # SIGTERM stops everything in order, as Ctrl-C does: the replay, the workers, then the broker.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    load_start = os.getloadavg()
    path, generated_s = feed_file(args.cache_dir, args.events)
    size = path.stat().st_size
    print(f"file {path} ({size / 1e9:.2f} GB): " + (f"generated in {generated_s / 60:.1f} min"
                                                     if generated_s is not None else "reused"), flush=True)
    with scratch_broker("replaybench-") as (workdir, broker):
        kafka = unique_settings(broker.bootstrap, partitions=args.partitions)
        baseline = unique_settings(broker.bootstrap, partitions=args.partitions)
        asyncio.run(ensure_topics(kafka))
        asyncio.run(ensure_topics(baseline))

        started = time.monotonic()
        raw = asyncio.run(produce_file(path, baseline, baseline.events_topic))
        baseline_s = time.monotonic() - started
        print(f"baseline, raw producer: {raw:,} records in {baseline_s:.0f} s ({raw / baseline_s:,.0f}/s)",
              flush=True)

        units = sorted(u.code for u in province_units(PROVINCE))
        sample = set(random.Random(7).sample(units, min(args.sample_units, len(units))))
        follower = SampleFigures(kafka, sample)
        app_id = f"replaybench-{kafka.events_topic}"
        workers = [Worker(kafka, workdir / f"worker{i}", app_id, END).start() for i in range(args.workers)]
        try:
            deadline = time.monotonic() + 120
            # Every worker up, and the partitions shared out before the first event: none moves mid-way.
            while any(w.state() is None for w in workers) or (
                    len(workers) > 1 and not asyncio.run(group_stable(kafka, app_id, len(workers)))):
                for worker in workers:
                    worker.check_alive()
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.2)
            env = {**os.environ, "PYTHONPATH": str(ROOT), "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                   "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
                   "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "KAFKA_DAYS_TOPIC": kafka.days_topic,
                   "KAFKA_FILINGS_TOPIC": kafka.filings_topic, "KAFKA_AGENCIES_TOPIC": kafka.agencies_topic,
                   "KAFKA_EVENTS_PARTITIONS": str(args.partitions), "ONESTOP_CLOCK_START": END}
            position_file = workdir / "replay.position.json"
            command = [sys.executable, "-m", "services.ingest.replay", str(path), "--position",
                       str(position_file), "--rejects", str(workdir / "replay.rejects.ndjson")]
            print("replay: " + " ".join(["python", *command[1:]]), flush=True)
            started = time.monotonic()
            subprocess.run(command, env=env, cwd=ROOT, check=True)
            replay_s = time.monotonic() - started
            done = load(position_file)
            assert done is not None and done.finished
            events = done.counts.events
            applied = 0
            deadline = time.monotonic() + args.deadline_min * 60
            last: dict[int, int] = {}
            while applied < events:
                for index, worker in enumerate(workers):
                    worker.check_alive()
                    state = worker.state()
                    last[index] = state["applied"] if state else last.get(index, 0)
                applied = sum(last.values())
                assert time.monotonic() < deadline, f"the workers applied {applied:,} of {events:,}"
                time.sleep(1)
            all_applied_s = time.monotonic() - started
            print(f"replay {events / replay_s:,.0f} events/s ({replay_s / 60:.1f} min); all {events:,} "
                  f"applied {all_applied_s / 60:.1f} min after the replay started", flush=True)
            # The worker publishes a unit's last figures within its publish interval (0.5 s) of the
            # last event applied; the follower then reads the topic to its end.
            time.sleep(3)
            served = follower.figures(after=time.time(), deadline_s=900)
        finally:
            follower.stop.set()
            load_end = os.getloadavg()
            worker_log = "\n".join(worker.log_tail(2000) for worker in workers)
            for worker in workers:
                worker.stop()

        oracle_started = time.monotonic()
        sampled = sample_lines(path, sample, workdir / "sample.ndjson")
        expected = recompute(workdir / "sample.ndjson", datetime.fromisoformat(END)).units
        oracle_s = time.monotonic() - oracle_started
        differences = compare(expected, {u: f for u, f in served.items() if u in expected})
    equal = not differences
    rows = [
        ("file", f"{path.name}: {done.counts.lines:,} lines, {size / 1e9:.2f} GB"),
        ("events produced", f"{events:,} ({done.counts.refused:,} lines refused, in the rejects file)"),
        ("baseline (raw producer)", f"{raw / baseline_s:,.0f} lines/s, {baseline_s / 60:.1f} min"),
        ("replay command", f"{events / replay_s:,.0f} events/s, {replay_s / 60:.1f} min"),
        ("ours / baseline", f"{(events / replay_s) / (raw / baseline_s):.2f}"),
        ("time to all applied", f"{all_applied_s / 60:.1f} min (from the replay's start to the workers' "
                                f"/state applied = {events:,})"),
        ("equal to the oracle", f"{'yes' if equal else 'NO'}: {len(sample)} units sampled ({len(expected)} "
                                f"with events), {sampled:,} of their lines (oracle {oracle_s:.0f} s)"),
        ("load average (1 min)", f"{load_start[0]:.1f} at start, {load_end[0]:.1f} at the end"),
    ]
    workers_text = "one aggregator worker" if args.workers == 1 else f"{args.workers} aggregator workers"
    print(f"\nReplay of a province-year ({os.cpu_count()} CPUs; broker, {workers_text} and the replay "
          "on this machine)")
    for name, value in rows:
        print(f"  {name:<26}{value}")
    if not equal:
        print(f"first differences: {differences[:10]}\nworker log tail:\n{worker_log}")
        sys.exit(1)


if __name__ == "__main__":
    main()
