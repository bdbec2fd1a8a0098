"""Aggregator throughput: ours against a bare consumer and textbook Faust, in one run.

`python -m bench.aggregator_bench [--events N]` (or `make bench`) starts its own broker, writes a
simulated event file, produces it to a fresh topic, and consumes it three ways on this machine:
(a) the ceiling, a bare aiokafka loop that decodes each record with orjson and bumps a dict counter;
(b) textbook Faust, one agent with group_by(unit) and a Table updated per event;
(c) our aggregator worker (`python -m services.aggregator`), packer and agent, with a RocksDB store.
Each is timed from its first event to its last, so start-up and rebalancing are not counted.
(a) and (c) run in `--repeat` pairs, (a) then (c) (a fresh consumer group or app id every time; 5
by default), after one uncounted warm-up run of each on the fresh broker; the ratio reported is the
median of the pairs' ratios: this shared 2-core machine's speed drifts over minutes, and moves both
runs of a pair alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from deploy.local.broker import free_port
from deploy.local.service import Service
from services.aggregator.compiled import running_compiled
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from services.simulator.replay import produce_file
from tests.support.broker import scratch_broker

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
ROOT = Path(__file__).resolve().parents[1]


def make_events(path: Path, events: int) -> None:
    now = datetime.fromisoformat(FROZEN_NOW)
    # Duplicates, reordering and late deliveries as in life; no malformed records, which textbook
    # Faust would only log.
    rates = DeliveryRates(duplicate=0.01, reorder=0.05, late=0.005, repeat=0.005, malformed=0.0)
    config = FeedConfig(start=now - timedelta(days=120), end=now, seed=1, filings_per_day=6000,
                        delivery=rates)
    write_file(generate(config), path, limit=events)


def feed_records(path: Path) -> list[SimpleNamespace]:
    """The event file's lines as records with a value and an offset, as the packer reads them."""
    with path.open("rb") as lines:
        return [SimpleNamespace(value=line.rstrip(b"\n"), offset=offset) for offset, line in enumerate(lines)]


def frozen_now_us() -> int:
    return round(datetime.fromisoformat(FROZEN_NOW).timestamp() * 1_000_000)


async def bare_consumer(kafka: KafkaSettings, events: int) -> float:
    consumer = AIOKafkaConsumer(kafka.events_topic, **kafka.client_kwargs(), group_id=uuid.uuid4().hex,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    counts: Counter[str] = Counter()
    seen, started = 0, 0.0
    try:
        while seen < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if batches and not started:
                started = time.perf_counter()
            for records in batches.values():
                for record in records:
                    counts[orjson.loads(record.value)["unit_code"]] += 1
                seen += len(records)
        return events / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def textbook_faust(kafka: KafkaSettings, events: int, partitions: int, workdir: Path) -> float:
    result = workdir / "textbook.result"
    env = {**os.environ, "BENCH_BROKER": kafka.bootstrap_servers, "BENCH_TOPIC": kafka.events_topic,
           "BENCH_EXPECTED": str(events), "BENCH_RESULT": str(result), "BENCH_PARTITIONS": str(partitions),
           "BENCH_DATADIR": str(workdir / "textbook-data"), "PYTHONPATH": str(ROOT)}
    with (workdir / "textbook.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "textbook_faust.py"), "worker",
                                 "-l", "warn"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 1800
        while not result.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"textbook Faust failed; see {workdir / 'textbook.log'}")
            time.sleep(0.5)
        count, seconds = result.read_text().split()
        return int(count) / float(seconds)
    finally:
        proc.terminate()
        proc.wait(30)


def our_aggregator(kafka: KafkaSettings, events: int, workdir: Path) -> float:
    port = free_port()
    app_id = f"bench-{uuid.uuid4().hex[:8]}"  # a new app: it packs and applies the topic afresh
    worker = Service(app_id, [sys.executable, "-m", "services.aggregator"], workdir, grace_s=30, env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
        "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "AGGREGATOR_APP_ID": app_id,
        "AGGREGATOR_DATA_DIR": str(workdir / app_id), "AGGREGATOR_WEB_PORT": str(port),
        "AGGREGATOR_FROZEN_NOW": FROZEN_NOW, "AGGREGATOR_LOG_LEVEL": "warn"}).start()
    try:
        # Timed from the first event applied (seen by polling often while the worker starts) to
        # the last (the worker's own clock, from /state), polling rarely meanwhile: the polls
        # share the two cores with the run, and (a) pays for none.
        started, deadline = 0.0, time.monotonic() + 1800
        while time.monotonic() < deadline:
            worker.check_alive()
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/state", timeout=1).json()
            except (httpx.HTTPError, ValueError):
                state = {"applied": 0}
            if state["applied"] and not started:
                started = time.time()
            if state["applied"] >= events:
                return events / (state["last_applied_at"] - started)
            time.sleep(0.25 if started else 0.02)
        raise RuntimeError("aggregator did not finish in time")
    finally:
        worker.stop()


def paired_runs(runs: int, ceiling: Callable[[], float],
                ours: Callable[[], float]) -> list[tuple[float, float]]:
    """`runs` pairs of (a) then (c), each printed as it comes. Paired, not all of (a) then all of
    (c): this machine's speed drifts by tens of percent over minutes (shared cores), and a ratio
    is only fair between runs made under the same conditions."""
    pairs = []
    for run in range(runs):
        pairs.append((ceiling(), ours()))
        a, c = pairs[-1]
        print(f"      pair {run + 1} of {runs}: (a) {a:10,.0f}   (c) {c:10,.0f} events/s   "
              f"(c)/(a) {c / a:.3f}", flush=True)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--skip-textbook", action="store_true", help="textbook Faust takes minutes")
    parser.add_argument("--repeat", type=int, default=5, help="pairs of runs of (a) and (c)")
    args = parser.parse_args()
    with scratch_broker("aggbench-") as (workdir, broker):
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_partitions=args.partitions,
                              events_topic=f"bench-events-{uuid.uuid4().hex[:6]}",
                              figures_topic=f"bench-figures-{uuid.uuid4().hex[:6]}")
        asyncio.run(ensure_topics(kafka))
        make_events(workdir / "events.ndjson", args.events)
        asyncio.run(produce_file(workdir / "events.ndjson", kafka, kafka.events_topic))
        print(f"{args.events} events on {args.partitions} partitions, one broker, {os.cpu_count()} cores; "
              f"the engine {'compiled' if running_compiled() else 'as Python'} (compiled.py)")
        measure_ceiling = lambda: asyncio.run(bare_consumer(kafka, args.events))  # noqa: E731
        # The broker's first reads of the file run on a cold JIT and page cache, and its first
        # produce and group paths on a cold JIT too: its compiler threads took 1.1 s of CPU in the
        # first (c) on a fresh broker, then 1.1 and 0.5 s in the next two, against under 0.1 s in
        # an (a) after the first. Not counted; a broker in service has compiled them long before.
        print(f"      warm-up (a), not counted: {measure_ceiling():10,.0f} events/s", flush=True)
        warm_ours = our_aggregator(kafka, args.events, workdir)
        print(f"      warm-up (c), not counted: {warm_ours:10,.0f} events/s", flush=True)
        textbook = None
        if not args.skip_textbook:
            textbook = textbook_faust(kafka, args.events, args.partitions, workdir)
            print(f"(b) textbook Faust                : {textbook:10,.0f} events/s")
        pairs = paired_runs(args.repeat, measure_ceiling,
                            lambda: our_aggregator(kafka, args.events, workdir))
        ceiling = statistics.median(a for a, _ in pairs)
        ours = statistics.median(c for _, c in pairs)
        print(f"(a) bare aiokafka + orjson + dict : {ceiling:10,.0f} events/s (median)")
        print(f"(c) our aggregator                : {ours:10,.0f} events/s (median)")
        ratios = f"(c)/(a) = {statistics.median(c / a for a, c in pairs):.3f} (median of the pairs)"
        if textbook:
            ratios += f"   (c)/(b) = {ours / textbook:.1f}"
        print(ratios)


if __name__ == "__main__":
    main()
