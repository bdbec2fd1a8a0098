"""Freshness of the live figures: `python -m bench.freshness_bench [--rate 2000 --seconds 30] [--stages]`.

The requirement: at 2,000 events/s, p50 and p99 of the time from ingest's acknowledgement to the
figure on `unit-figures`; issue 17 aims at a p99 under 500 ms.

Starts its own Kafka (KRaft, in a temp dir) with fresh topics, then the ingest service and ONE
aggregator worker as deployed (`python -m services.ingest`, `python -m services.aggregator`, each
its own process, on the real clock, the publish interval from AGGREGATOR_PUBLISH_INTERVAL_S or its
0.25 s default). Once both are ready and a few warm-up events have come out as figures, it posts
`submitted` events for ~200 units at a steady rate, as small NDJSON batches from several concurrent
clients (first `--warmup` seconds unmeasured), while it follows `unit-figures` from the start.

Every event is a filing of its own, so a unit's `periods.all_time.received_total` is the number of
its events that its figures include. For the k-th accepted event of unit u, in the order the 202s
arrived, freshness = (arrival here of the first record of u with received_total >= k) - (arrival
of that event's 202). It can be slightly negative: a figure may count an event whose 202 is still
on its way. The same with the record's timestamp (when the aggregator sent it) in place of its
arrival splits the time into aggregation and delivery; `--stages` splits it further (StageFollower).

Everything runs on one machine: broker, services and this client share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from bench.raw_http import Connection
from bench.stats import add_sender_options, keep_logs, percentile, print_rows
from deploy.local.broker import LocalKafka, free_port
from deploy.local.service import Service
from services.aggregator.pack_format import decode_pack
from services.aggregator.settings import AggregatorSettings
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.broker import running_broker

ROOT = Path(__file__).resolve().parents[1]
HCM = timezone(timedelta(hours=7))
WARM_UNITS = [f"warm-{i:02d}" for i in range(24)]  # enough keys to reach every partition
WINDOW_S = 5.0  # freshness over time, by the 202's arrival


def log_problems(service: Service) -> list[str]:
    """Lines of the service's log that report a warning, an error or a traceback."""
    log = service.log_path
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b", line)]


def new_key(keys_file: Path) -> str:
    """One key for every unit, issued with the operators' CLI (which prints it once)."""
    done = subprocess.run([sys.executable, "-m", "services.ingest.keys", "new", "--units", "*",
                           "--note", "freshness bench", "--file", str(keys_file)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


async def figures_batches(kafka: KafkaSettings,
                          started: asyncio.Event) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """`unit-figures` from its start, each fetch's records as they arrive (at most 100 ms apart);
    `started` is set once the consumer is up."""
    consumer = AIOKafkaConsumer(kafka.figures_topic, **kafka.client_kwargs(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    started.set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            yield [record for records in batches.values() for record in records]
    finally:
        await consumer.stop()


ALL_TIME = b'"all_time":{"received_total":'


def all_time_received(value: bytes) -> int:
    """A figures record's `periods.all_time.received_total`, read without decoding the whole record
    (tens of kilobytes; this client shares the machine's cores with what it measures)."""
    at = value.find(ALL_TIME)
    if at < 0:
        return int(orjson.loads(value)["periods"]["all_time"]["received_total"])
    start = at + len(ALL_TIME)
    end = start
    while value[end:end + 1].isdigit():
        end += 1
    return int(value[start:end])


class Follower:
    """Follows `unit-figures` from the start.

    Keeps, per unit, every record's (arrival here, record timestamp, all_time received_total).
    """

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.records: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        self.latest: dict[str, int] = {}
        self.started = asyncio.Event()

    async def run(self) -> None:
        async for records in figures_batches(self.kafka, self.started):
            arrived = time.time()
            for record in records:
                assert record.key is not None and record.value is not None
                unit = record.key.decode()
                total = all_time_received(record.value)
                self.records[unit].append((arrived, record.timestamp / 1000, total))
                self.latest[unit] = max(self.latest.get(unit, 0), total)

    async def wait_for(self, expected: dict[str, int], within_s: float, services: Sequence[Service]) -> bool:
        """Until every unit's figures count at least its expected events; False at the deadline."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if all(self.latest.get(unit, 0) >= n for unit, n in expected.items()):
                return True
            for service in services:
                service.check_alive()
            await asyncio.sleep(0.05)
        return False


class StageFollower:
    """Where an event's time goes before its figure: follows the events topic as the packer reads it
    (committed records only), the packed topic and the worker's filings changelog, keeping per event
    id when it became readable here, when its pack was sent and when that pack became readable here
    (the pack record's timestamp and arrival), and when the worker applied it (the timestamp of its
    filing's changelog record, sent right after the engine applied its pack)."""

    def __init__(self, kafka: KafkaSettings, packed_topic: str, filings_changelog: str) -> None:
        self.kafka = kafka
        self.packed_topic = packed_topic
        self.filings_changelog = filings_changelog
        self.readable: dict[str, float] = {}
        self.pack_sent: dict[str, float] = {}
        self.pack_readable: dict[str, float] = {}
        self.applied: dict[str, float] = {}
        self.started = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(self.kafka.events_topic, self.packed_topic, self.filings_changelog,
                                    **self.kafka.client_kwargs(),
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    isolation_level="read_committed", fetch_max_wait_ms=100)
        await consumer.start()
        self.started.set()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=100)
                arrived = time.time()
                for tp, records in batches.items():
                    for record in records:
                        assert record.value is not None
                        if tp.topic == self.packed_topic:
                            for row in decode_pack(record.value):
                                self.pack_sent[row[3]] = record.timestamp / 1000
                                self.pack_readable[row[3]] = arrived
                        elif tp.topic == self.filings_changelog:
                            assert record.key is not None  # b"<unit>\x1fF.<event id>" (submitted())
                            event_id = record.key.split(b"\x1f", 1)[1][2:].decode()
                            self.applied.setdefault(event_id, record.timestamp / 1000)
                        else:
                            self.readable[orjson.loads(record.value)["event_id"]] = arrived
        finally:
            await consumer.stop()

    def stage_rows(self, acked_ids: dict[str, float]) -> list[tuple[str, str]]:
        """p50/p99 from the 202 to each stage, over the measured events."""
        stages = [("202 -> event readable (ingest's transaction committed)", self.readable),
                  ("202 -> its pack sent (packer's record timestamp)", self.pack_sent),
                  ("202 -> its pack readable", self.pack_readable),
                  ("202 -> applied (its filing's changelog record timestamp)", self.applied)]
        return [summary_row(f"  {label}", [seen[event_id] - acked for event_id, acked in acked_ids.items()
                                            if event_id in seen])
                for label, seen in stages]


class StateSampler:
    """Samples the aggregator's `/state` (events applied so far) twice a second."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, int]] = []
        self.shares: list[tuple[float, float]] = []  # (when, share of the last second spent applying)
        self.http: httpx.AsyncClient | None = None

    async def run(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(0.5)

    async def sample_once(self) -> None:
        try:
            if self.http is None:
                self.http = httpx.AsyncClient(timeout=2)  # one for all samples: a client costs an SSL context
            state = (await self.http.get(self.url)).json()
            self.samples.append((time.time(), state["applied"]))
            self.shares.append((time.time(), state["applying_share"]))
        except (httpx.HTTPError, ValueError, KeyError):
            pass

    def applied_at(self, when: float) -> tuple[float, int]:
        """The last sample at or before `when` (or the first one)."""
        before = [sample for sample in self.samples if sample[0] <= when]
        return before[-1] if before else self.samples[0]


@dataclass
class Sent:
    acks: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # unit -> 202 times
    acked_ids: dict[str, float] = field(default_factory=dict)  # event id -> its 202's time
    latencies: list[float] = field(default_factory=list)  # request sent -> 202, seconds
    accepted: int = 0
    refused: int = 0  # events rejected inside a 202 (there should be none)
    failed: list[str] = field(default_factory=list)  # requests without a 202
    first_sent: float = 0.0
    last_ack: float = 0.0
    late_max: float = 0.0  # how far behind its schedule the pacing got, seconds
    queue_max: int = 0  # batches waiting for a free client, at most


def submitted(event_id: str, unit: str, now: datetime) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": event_id, "event_type": "submitted",
            "filing_id": f"F.{event_id}", "unit_code": unit,
            "occurred_at": now.isoformat(timespec="microseconds"), "source": "bench-freshness",
            "channel": "online", "due_at": (now + timedelta(days=3)).isoformat(timespec="seconds"),
            "procedure_code": "1.001234"}


async def post_paced(url: str, key: str, units: Sequence[str], rate: float, seconds: float,
                     batch_size: int, clients: int, seed: int | None) -> Sent:
    """`rate` events/s for `seconds`, a batch every batch_size/rate s, each posted by the next free client.

    Units are drawn at random (seeded), or in turn when `seed` is None.
    """
    sent = Sent()
    queue: asyncio.Queue[tuple[bytes, list[str], list[str]] | None] = asyncio.Queue()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80

    async def client() -> None:
        connection = Connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                body, batch_units, batch_ids = item
                started = time.time()
                sent.first_sent = sent.first_sent or started
                try:
                    status, answer = await connection.request("POST", "/v1/events", body, headers)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    sent.failed.append(repr(exc))
                    connection.close()
                    connection = Connection(host, port)
                    continue
                acked = time.time()
                if status != 202:
                    sent.failed.append(f"{status} {answer[:200]!r}")
                    continue
                sent.latencies.append(acked - started)
                sent.last_ack = acked
                for result, unit, event_id in zip(orjson.loads(answer)["results"], batch_units, batch_ids,
                                                  strict=True):
                    if result["status"] == "accepted":
                        sent.acks[unit].append(acked)
                        sent.acked_ids[event_id] = acked
                        sent.accepted += 1
                    else:
                        sent.refused += 1
        finally:
            connection.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    interval = batch_size / rate
    start = time.monotonic()
    seq = 0
    for i in range(max(1, round(rate * seconds / batch_size))):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            sent.late_max = max(sent.late_max, -delay)
        now = datetime.now(HCM)
        batch_units = [units[(seq + n) % len(units)] if seed is None else rng.choice(units)
                       for n in range(batch_size)]
        events = [submitted(f"fresh-{run}-{seq + n}", unit, now) for n, unit in enumerate(batch_units)]
        seq += batch_size
        queue.put_nowait((b"".join(orjson.dumps(e) + b"\n" for e in events), batch_units,
                          [e["event_id"] for e in events]))
        sent.queue_max = max(sent.queue_max, queue.qsize())
        if any(task.done() for task in tasks):
            break  # a client failed: gather below raises its error
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return sent


@dataclass
class Freshness:
    arrival: list[float] = field(default_factory=list)  # 202 -> record arrives here
    published: list[float] = field(default_factory=list)  # 202 -> record's timestamp (aggregator sends)
    acked_at: list[float] = field(default_factory=list)  # the 202's time, same order
    never_seen: int = 0


def freshness(acks: dict[str, list[float]], records: dict[str, list[tuple[float, float, int]]],
              before: dict[str, int]) -> Freshness:
    """`before`: each unit's events accepted before the measured ones (the warm-up's)."""
    out = Freshness()
    for unit, times in acks.items():
        times.sort()
        seen = records.get(unit, [])
        j = 0
        for k, acked in enumerate(times, before.get(unit, 0) + 1):
            # Records before j count fewer than k-1 events, so none of them counts k.
            while j < len(seen) and seen[j][2] < k:
                j += 1
            if j == len(seen):
                out.never_seen += len(times) - (k - before.get(unit, 0)) + 1
                break
            out.arrival.append(seen[j][0] - acked)
            out.published.append(seen[j][1] - acked)
            out.acked_at.append(acked)
    return out


async def scrape(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Prometheus samples by family name: (sample name, labels, value)."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(url)).text
    return {family.name: [(s.name, s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(text)}


def lag_histogram(metrics: dict[str, list[tuple[str, dict[str, str], float]]]) -> str:
    """The aggregator's occurred_at -> apply lag (one sample per pack) as cumulative shares."""
    samples = metrics.get("aggregator_event_lag_seconds", [])
    buckets = [(float(labels["le"]), value) for name, labels, value in samples if name.endswith("_bucket")]
    total = max((value for _, value in buckets), default=0)
    if not total:
        return "no packs"
    return ", ".join(f"<={le:g}s {value / total:.1%}" for le, value in buckets if le <= 5) + \
        f" ({total:.0f} packs)"


def share_row(sampler: StateSampler, sent: Sent) -> str:
    """The worker's applying share (busy_share.py) while the measured events were sent: at 0.5 or
    more it counts as behind, and holds its figures to a share of its time."""
    shares = [share for when, share in sampler.shares if sent.first_sent <= when <= sent.last_ack]
    return f"{percentile(shares, 50):.2f} / {max(shares):.2f}" if shares else "-"


def seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def summary_row(label: str, values: Sequence[float]) -> tuple[str, str]:
    if not values:
        return label, "none"
    return label, (f"n={len(values):,}  p50 {seconds(percentile(values, 50))}  "
                   f"p90 {seconds(percentile(values, 90))}  p99 {seconds(percentile(values, 99))}  "
                   f"max {seconds(max(values))}  min {seconds(min(values))}")


async def measure(args: argparse.Namespace, kafka: KafkaSettings, app_id: str, ingest: Service,
                  aggregator: Service, key: str, ingest_url: str, agg_url: str) -> list[tuple[str, str]]:
    load_before = os.getloadavg()[0]
    follower, sampler = Follower(kafka), StateSampler(f"{agg_url}/state")
    packed_topic = AggregatorSettings(app_id=app_id, kafka=kafka).packed_topic
    # Following the stages costs this client a core's tenth more, which the services then lack.
    stages = StageFollower(kafka, packed_topic, f"{app_id}-filings-changelog") if args.stages else None
    background = [asyncio.create_task(follower.run()), asyncio.create_task(sampler.run()),
                  *([asyncio.create_task(stages.run())] if stages else [])]
    services = [ingest, aggregator]
    try:
        await asyncio.wait_for(follower.started.wait(), 30)
        if stages:
            await asyncio.wait_for(stages.started.wait(), 30)
        # Warm-up: one event per warm-up unit, through the whole pipeline, so that the measured
        # events do not pay for the worker's first rebalance and the clients' first connections.
        warm = await post_paced(ingest_url, key, WARM_UNITS, rate=len(WARM_UNITS) * 10, seconds=0.1,
                                batch_size=len(WARM_UNITS), clients=1, seed=None)
        if not await follower.wait_for({u: len(t) for u, t in warm.acks.items()}, 120, services):
            raise RuntimeError(f"warm-up events never came out as figures:\n{aggregator.log_tail()}")

        units = [f"u{i:04d}" for i in range(args.units)]
        # Then the load itself, unmeasured, for --warmup seconds: a broker just started spends more CPU
        # per event while the JVM compiles its hot code (its C2 compiler thread still took 12% of a
        # core 30-50 s after start on a 2-core machine, 6% at 60-80 s), and the worker's first
        # seconds of load run slower too; 15 s left the first 5 s measured at a p99 half again
        # as long as the rest.
        warmed = await post_paced(ingest_url, key, units, args.rate, args.warmup, args.batch_size,
                                  args.clients, args.seed) if args.warmup > 0 else Sent()
        before = {unit: len(times) for unit, times in warmed.acks.items()}
        sent = await post_paced(ingest_url, key, units, args.rate,
                                args.seconds, args.batch_size, args.clients, args.seed)
        expected_counts = {u: before.get(u, 0) + len(t) for u, t in sent.acks.items()}
        complete = await follower.wait_for(expected_counts, args.drain, services)
        drained = time.time() - sent.last_ack
        await sampler.sample_once()
        if sampler.http is not None:
            await sampler.http.aclose()
    finally:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    result = freshness(sent.acks, follower.records, before)
    agg_metrics = await scrape(f"{agg_url}/metrics")
    ingest_metrics = await scrape(f"{ingest_url}/metrics")
    grouped = {name.rsplit("_", 1)[1]: value
               for name, _, value in ingest_metrics.get("ingest_kafka_transaction_requests", [])}
    published = sum(value for name, _, value in agg_metrics.get("aggregator_figures_published", [])
                    if name.endswith("_total"))
    span = sent.last_ack - sent.first_sent
    # The aggregator's pace: events applied while the events were sent, behind at the end, after.
    t0, applied0 = sampler.applied_at(sent.first_sent)
    t1, applied1 = sampler.applied_at(sent.last_ack)
    t2, applied2 = sampler.samples[-1]
    expected = sum(len(t) for t in warm.acks.values()) + warmed.accepted + sent.accepted
    packs = sum(value for name, _, value in agg_metrics.get("aggregator_event_lag_seconds", [])
                if name.endswith("_count"))
    rows = [
        ("sent", f"{sent.accepted + sent.refused:,} events in {span:.1f} s = "
                 f"{sent.accepted / span:,.0f} events/s accepted (target {args.rate:,.0f})"),
        ("refused events / failed requests", f"{sent.refused} / {len(sent.failed)}"),
        ("load average (1 min) before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"),
        ("pacing: most behind schedule / most batches queued",
         f"{seconds(sent.late_max)} / {sent.queue_max}"),
        summary_row("request -> 202 (this client)", sent.latencies),
        ("ingest: requests per Kafka transaction (warm-up included)",
         f"{grouped.get('sum', 0) / max(grouped.get('count', 0), 1):.1f}"),
        summary_row("FRESHNESS: 202 -> figure arrives here", result.arrival),
        *(stages.stage_rows(sent.acked_ids) if stages else []),
        summary_row("  202 -> figure sent (record timestamp)", result.published),
        ("never seen", f"{result.never_seen:,} (all seen {drained:.1f} s after the last 202)" if complete
         else f"{result.never_seen:,} (gave up {args.drain:.0f} s after the last 202)"),
        ("unit-figures records for the measured units",
         f"{sum(len(follower.records[u]) for u in units):,} ({published:,.0f} published in all)"),
        ("aggregator: events applied while sending / after",
         f"{(applied1 - applied0) / max(t1 - t0, 1e-9):,.0f} / "
         f"{(applied2 - applied1) / max(t2 - t1, 1e-9):,.0f} events/s"),
        ("aggregator: behind at the last 202 / at the end",
         f"{expected - applied1:,} / {expected - applied2:,} events not applied yet"),
        ("aggregator: packs applied, events per pack", f"{packs:,.0f}, {applied2 / max(packs, 1):.1f}"),
        ("aggregator: share of its time applying, median / max", share_row(sampler, sent)),
        ("aggregator: occurred_at -> apply, per pack", lag_histogram(agg_metrics)),
    ]
    if result.arrival:
        first_ack = min(result.acked_at)
        windows: dict[int, list[float]] = defaultdict(list)
        for acked, value in zip(result.acked_at, result.arrival, strict=True):
            windows[int((acked - first_ack) // WINDOW_S)].append(value)
        rows.append((f"freshness p50 / p99 by {WINDOW_S:g} s of 202s",
                     "  ".join(f"{seconds(percentile(v, 50))}/{seconds(percentile(v, 99))}"
                               for _, v in sorted(windows.items()))))
    for line in sent.failed[:5]:
        rows.append(("  failed request", line))
    return rows


def run(args: argparse.Namespace, workdir: Path, broker: LocalKafka) -> list[tuple[str, str]]:
    """Ingest and one aggregator worker on fresh topics of `broker`, measured, then stopped."""
    suffix = uuid.uuid4().hex[:6]
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_partitions=args.partitions,
                          events_topic=f"fresh-events-{suffix}", dlq_topic=f"fresh-dlq-{suffix}",
                          figures_topic=f"fresh-figures-{suffix}")
    asyncio.run(ensure_topics(kafka))
    keys_file = workdir / "keys.json"
    key = new_key(keys_file)
    base = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_FROZEN_NOW"} | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "KAFKA_EVENTS_TOPIC": kafka.events_topic,
        "KAFKA_DLQ_TOPIC": kafka.dlq_topic, "KAFKA_FIGURES_TOPIC": kafka.figures_topic,
        "PYTHONUNBUFFERED": "1"}
    ingest_port, agg_port = free_port(), free_port()
    ingest_url, agg_url = f"http://127.0.0.1:{ingest_port}", f"http://127.0.0.1:{agg_port}"
    ingest = Service("ingest", [sys.executable, "-m", "services.ingest"], workdir, f"{ingest_url}/readyz", {
        "INGEST_PORT": str(ingest_port), "INGEST_KEYS_FILE": str(keys_file),
        "INGEST_INSTANCE_ID": f"fresh-{suffix}",
        # The load comes from one key: measure freshness, not ingest's flood guard.
        "INGEST_RATE_PER_KEY_PER_S": "1000000", "INGEST_RATE_BURST_PER_KEY": "1000000"})
    aggregator = Service("aggregator", [sys.executable, "-m", "services.aggregator"], workdir,
                         f"{agg_url}/state", {
                             "AGGREGATOR_APP_ID": f"fresh-{suffix}",
                             "AGGREGATOR_DATA_DIR": str(workdir / "aggregator"),
                             "AGGREGATOR_WEB_PORT": str(agg_port), "AGGREGATOR_LOG_LEVEL": "warn"})
    started: list[Service] = []
    try:
        for service in (ingest, aggregator):
            started.append(service.start(base))
        deadline = time.monotonic() + 90
        for service in started:
            service.wait_ready(deadline)
        rows = asyncio.run(measure(args, kafka, f"fresh-{suffix}", ingest, aggregator, key, ingest_url,
                                   agg_url))
        for service in started:
            problems = log_problems(service)
            rows.append((f"{service.name} log: warnings/errors", str(len(problems))))
            rows.extend(("  " + service.name, line[:160]) for line in problems[:5])
        return rows
    finally:
        for service in reversed(started):
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness_bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=2000, help="events per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long to send")
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=30,
                        help="seconds of the same load before the measured ones (0: none)")
    parser.add_argument("--stages", action="store_true",
                        help="also follow the events, packed and filings-changelog topics, and say "
                             "where an event's time goes before its figure")
    add_sender_options(parser, clients=8, batch_size=20, batch_help="events per request", drain=60, seed=1)
    args = parser.parse_args()
    # SIGTERM stops everything in order, as Ctrl-C does (asyncio.run turns SIGINT into a clean cancel).
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    interval = os.environ.get("AGGREGATOR_PUBLISH_INTERVAL_S",
                              AggregatorSettings.model_fields["publish_interval_s"].default)

    with tempfile.TemporaryDirectory(prefix="freshness-bench-") as tmp:
        workdir = Path(tmp)
        try:
            with running_broker(workdir / "kafka") as broker:
                rows = run(args, workdir, broker)
        finally:
            if args.keep_logs:
                keep_logs([*workdir.glob("*.log"), *(workdir / "kafka").glob("*.log")], args.keep_logs)

    print(f"\nFreshness benchmark ({os.cpu_count()} CPUs; broker, ingest, one aggregator worker and this "
          f"client on this machine)")
    print(f"  {args.units} units, NDJSON batches of {args.batch_size} from {args.clients} clients, "
          f"publish interval {interval} s, {args.partitions} partitions, {args.warmup:g} s of the load "
          f"as warm-up, then {args.seconds:g} s measured")
    print_rows(rows)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # everything was stopped on the way out
