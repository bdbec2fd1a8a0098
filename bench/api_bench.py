"""How fast the figures API answers: `python -m bench.api_bench [--rate 500 --seconds 20 --units 10000]`.

Starts its own Kafka (KRaft, in a temp dir) and the API as deployed (`python -m services.api`, its
own process), fills `unit-figures` with one record for each of 10,000 units (the real units of Hải
Phòng, province 31, and synthetic ones registered under a synthetic country root `VN` in 33 more
provinces), waits until the API's view holds them all, then measures over HTTP:

  (a) latency at a fixed arrival rate (open loop: request i is due at start + i/rate whatever the
      earlier answers did, and its latency counts from when it was due, so a stalled server is not
      hidden by a client that waits for it): a unit's figures (`/v1/units/{code}`, a random unit),
      the province rollup (`/v1/units/31/rollup`, the province's 132 units; served from the rollup
      cache, so measured again while 100 new unit records a second arrive), and `/healthz` as the
      baseline: the cost of HTTP and the framework with no work, measured the same way; then, in this
      process, what a rollup costs when it is computed (a cache miss), for the province and the
      country (`VN`, all 10,000 units);
  (b) one `/metrics` scrape with every unit in the view (all seven periods: a one-province
      deployment's defaults, every figure of every unit), and the same on a second API process with a
      national deployment's defaults (`API_SEED_PROVINCE=all`: every figure over the country and
      each province, four figure:period pairs per unit; docs/operations.md);
  (c) in this process, on the same 10,000 records and three periods: rendering the per-unit gauges
      against the textbook way, a prometheus_client Collector yielding GaugeMetricFamily objects
      through `generate_latest` (what the API did first).

Everything runs on one machine: broker, API and this load generator share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from bench.raw_http import Connection
from bench.stats import percentile
from deploy.local.broker import free_port
from deploy.local.service import Service
from services.api.figure_metrics import FIGURE_METRICS, UnitRow, render_unit_figures, unit_rows
from services.api.queries import State, subtree_rollup
from services.api.registry import encode_unit, seed_units
from services.api.targets import TargetBook
from services.api.tree import UnitInfo, UnitTree
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.figures import COUNTERS, PERIODS, rates
from tests.support.broker import scratch_broker

PROVINCE = "31"
COUNTRY = "VN"
OTHER_PROVINCES = 33
NARROW_PERIODS = '["today","month_to_date","year_to_date"]'


def synthetic_units(total: int, real: list[UnitInfo]) -> list[UnitInfo]:
    """A country root over the real province and made-up ones, to `total` units with the real ones."""
    units = [UnitInfo(COUNTRY, "Việt Nam", "country", None)]
    units += [UnitInfo(u.code, u.name, u.level, u.parent_code or COUNTRY) for u in real]
    provinces = [UnitInfo(f"P{i:02d}", f"Tỉnh {i}", "province", COUNTRY) for i in range(OTHER_PROVINCES)]
    units += provinces
    for i in range(total - len(units)):
        province = provinces[i % len(provinces)].code
        units.append(UnitInfo(f"{province}.{i:05d}", f"Xã {i}", "commune", province))
    return units


def figures_record(code: str, rng: random.Random) -> dict[str, Any]:
    """A plausible unit-figures record: counts growing with the length of the period."""
    periods = {}
    for scale, name in enumerate(PERIODS, start=1):
        counts: dict[str, Any] = {c: rng.randrange(0, 40 * scale) for c in COUNTERS}
        counts["received_total"] = sum(counts[f"received_{c}"] for c in ("online", "in_person", "postal"))
        counts["resolved_total"] = sum(counts[f"resolved_{v}"] for v in ("early", "on_time", "late"))
        counts["returned_total"] = sum(counts[f"returned_{r}"]
                                       for r in ("rejected", "supplement_requested", "withdrawn"))
        counts["pending_within_due"] = rng.randrange(0, 30)
        counts["pending_overdue"] = rng.randrange(0, 5)
        # Every snapshot the aggregator publishes: the textbook collector reads each figure of a record.
        counts["portal_pending_on_time"] = rng.randrange(0, 30)
        counts["portal_pending_overdue"] = rng.randrange(0, 5)
        periods[name] = {**counts, **rates(counts)}
    return {"unit_code": code, "as_of": "2026-11-23T14:05:00.123+07:00", "day": "2026-11-23",
            "periods": periods}


async def fill(kafka: KafkaSettings, registry_topic: str, units: list[UnitInfo]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=5)
    await producer.start()
    try:
        rng = random.Random(1)
        sent = [await producer.send(registry_topic, encode_unit(u), key=u.code.encode()) for u in units]
        sent += [await producer.send(kafka.figures_topic, orjson.dumps(figures_record(u.code, rng)),
                                     key=u.code.encode()) for u in units]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def wait_for_view(url: str, root: str, units: int, within_s: float = 120) -> None:
    """Until the API at `url` holds figures of `units` units under `root`."""
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while time.monotonic() < deadline:
            answer = await http.get(f"/v1/units/{root}/rollup")
            if answer.status_code == 200 and answer.json()["units_with_figures"] >= units:
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the API's view did not reach {units} units in {within_s} s")


@dataclass
class Run:
    latencies: list[float]  # seconds from when each request was due to its answer
    statuses: Counter[int]
    errors: int
    span: float  # seconds from the first request due to the last answer
    late_max: float  # how long a request waited for a free connection, at most

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def row(self, label: str) -> str:
        ms = [x * 1000 for x in self.latencies]
        achieved = len(self.latencies) / self.span if self.span else 0
        bad = sum(n for status, n in self.statuses.items() if status != 200) + self.errors
        return (f"{label:<34} p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms  "
                f"mean {statistics.fmean(ms):7.2f} ms  max {max(ms):7.1f} ms  "
                f"{achieved:5.0f} req/s  not 200: {bad}  waited for a connection up to "
                f"{self.late_max * 1000:.0f} ms")


async def open_loop(url: str, paths: list[str], rate: float, seconds: float, connections: int) -> Run:
    """`rate` requests a second for `seconds`: request i is due at start + i/rate and goes out on the
    next free connection; its latency counts from when it was due, so time spent waiting for a free
    connection (a slow server) is in it."""
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    count = int(rate * seconds)
    due: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    late_max = 0.0

    async def worker() -> None:
        nonlocal errors, late_max
        connection = Connection(host, int(port))
        try:
            while (item := await due.get())[0] >= 0:
                i, when = item
                late_max = max(late_max, loop.time() - when)
                try:
                    statuses[await connection.get(paths[i % len(paths)])] += 1
                except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
                    errors += 1
                    connection.close()
                    connection = Connection(host, int(port))
                latencies.append(loop.time() - when)
        finally:
            connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = loop.time() + 0.05
    for i in range(count):
        when = start + i / rate
        await asyncio.sleep(when - loop.time())
        due.put_nowait((i, when))
    for _ in workers:
        due.put_nowait((-1, 0.0))
    await asyncio.gather(*workers)
    return Run(latencies, statuses, errors, loop.time() - start, late_max)


async def churn(kafka: KafkaSettings, codes: list[str], per_second: float) -> None:
    """New figures for random units of `codes`, `per_second`, until cancelled: a live province."""
    producer = AIOKafkaProducer(**kafka.client_kwargs(), linger_ms=5)
    await producer.start()
    rng = random.Random(3)
    try:
        while True:
            code = rng.choice(codes)
            record = orjson.dumps(figures_record(code, rng))
            await producer.send(kafka.figures_topic, record, key=code.encode())
            await asyncio.sleep(1 / per_second)
    finally:
        await producer.stop()


async def latency(url: str, args: argparse.Namespace, units: list[UnitInfo],
                  kafka: KafkaSettings) -> list[str]:
    rng = random.Random(2)
    unit_paths = [f"/v1/units/{rng.choice(units).code}" for _ in range(1000)]
    province = [u.code for u in seed_units(PROVINCE)]
    cases = [("/healthz (baseline)", ["/healthz"], 0.0), ("a unit's figures", unit_paths, 0.0),
             (f"province rollup ({PROVINCE})", [f"/v1/units/{PROVINCE}/rollup"], 0.0),
             (f"  same, {args.churn:.0f} new unit records/s", [f"/v1/units/{PROVINCE}/rollup"], args.churn)]
    rows = []
    runs: dict[str, Run] = {}
    for label, paths, changes in cases:
        live = asyncio.create_task(churn(kafka, province, changes)) if changes else None
        try:
            await open_loop(url, paths, args.rate, args.warmup, args.connections)  # code paths warm
            runs[label] = await open_loop(url, paths, args.rate, args.seconds, args.connections)
        finally:
            if live is not None:
                live.cancel()
                await asyncio.gather(live, return_exceptions=True)
        rows.append(runs[label].row(label))
        say(rows[-1])
    base = runs[cases[0][0]]
    for label, *_ in cases[1:]:
        run = runs[label]
        rows.append(f"  {label.strip()}: p50 {run.p(50) / base.p(50):.1f}x and p99 "
                    f"{run.p(99) / base.p(99):.1f}x the baseline's")
    return rows


def rollup_cost(units: list[UnitInfo], repeat: int) -> list[str]:
    """One rollup computed in this process, as on a cache miss (queries.subtree_rollup)."""
    rng = random.Random(1)
    records = {u.code: figures_record(u.code, rng) for u in units}
    state = State(UnitTree(units), records, TargetBook())
    rows = []
    for code in (PROVINCE, COUNTRY):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subtree_rollup(state, code)
            times.append(time.perf_counter() - started)
        rows.append(f"rollup computed (a cache miss), {code}: {len(state.tree.subtree(code)):,} units, "
                    f"median {statistics.median(times) * 1000:.1f} ms")
    return rows


async def scrape_times(url: str, scrapes: int) -> tuple[list[float], int, int]:
    """Seconds per scrape (one after another), the body's bytes and its samples."""
    times = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await http.get("/metrics")
        for _ in range(scrapes):
            started = time.perf_counter()
            answer = await http.get("/metrics")
            times.append(time.perf_counter() - started)
    samples = sum(len(f.samples) for f in text_string_to_metric_families(answer.text))
    return times, len(answer.content), samples


async def metrics(urls: dict[str, str], scrapes: int) -> list[str]:
    rows = []
    medians = {}
    for label, url in urls.items():
        times, size, samples = await scrape_times(url, scrapes)
        medians[label] = statistics.median(times)
        rows.append(f"/metrics, {label:<22} median {medians[label] * 1000:7.0f} ms  "
                    f"min {min(times) * 1000:7.0f} ms  max {max(times) * 1000:7.0f} ms  "
                    f"{size / 1e6:6.1f} MB  {samples:,} samples  "
                    f"{medians[label] / samples * 1e6:.2f} µs a sample")
    first, second = list(medians)
    rows.append(f"  {second} / {first}: {medians[second] / medians[first]:.2f}x the time")
    return rows


def say(text: str) -> None:
    """Progress, on stderr: the results are printed together at the end."""
    print(text, file=sys.stderr, flush=True)


class TextbookCollector(Collector):
    """The per-unit gauges the textbook way: a Collector yielding GaugeMetricFamily objects, rendered by
    prometheus_client's generate_latest. The baseline of render_unit_figures."""

    def __init__(self, rows: list[UnitRow], periods: tuple[str, ...]) -> None:
        self.rows, self.periods = rows, periods

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = [(field, scale, GaugeMetricFamily(name, help_, labels=["unit", "level", "period"]))
                    for field, name, help_, scale in FIGURE_METRICS]
        for code, level, periods in self.rows:
            for period in self.periods:
                for field, scale, family in families:
                    value = periods[period][field]
                    if value is not None:
                        family.add_metric([code, level, period], value * scale)
        for _, _, family in families:
            yield family


def textbook_vs_render(units: list[UnitInfo]) -> list[str]:
    rng = random.Random(1)
    records = {u.code: figures_record(u.code, rng) for u in units}
    rows = unit_rows(records, UnitTree(units))
    periods = tuple(orjson.loads(NARROW_PERIODS))
    registry = CollectorRegistry()
    registry.register(TextbookCollector(rows, periods))
    started = time.perf_counter()
    textbook = generate_latest(registry)
    middle = time.perf_counter()
    ours = render_unit_figures(rows, periods)
    ended = time.perf_counter()
    assert len(ours) > 0.5 * len(textbook)
    return [f"in process, {len(rows):,} units × {len(periods)} periods: prometheus_client Collector "
            f"{middle - started:.2f} s ({len(textbook) / 1e6:.0f} MB), render_unit_figures "
            f"{ended - middle:.2f} s ({len(ours) / 1e6:.0f} MB): "
            f"{(middle - started) / (ended - middle):.1f}x faster"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3, help="seconds at the same rate before each")
    parser.add_argument("--units", type=int, default=10_000, help="units in the view")
    parser.add_argument("--connections", type=int, default=32, help="HTTP connections of the load generator")
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--churn", type=float, default=100, help="new unit records/s in the live rollup run")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))

    with scratch_broker("api-bench-") as (workdir, broker):
        started: list[Service] = []
        try:
            suffix = uuid.uuid4().hex[:6]
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_topic=f"api-events-{suffix}",
                                  dlq_topic=f"api-dlq-{suffix}", figures_topic=f"api-figures-{suffix}")
            asyncio.run(ensure_topics(kafka))
            units = synthetic_units(args.units, seed_units(PROVINCE))
            base = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                    "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
                    "KAFKA_FIGURES_TOPIC": kafka.figures_topic,
                    "API_REGISTRY_TOPIC": f"api-registry-{suffix}",
                    "API_TARGETS_TOPIC": f"api-targets-{suffix}", "API_SEED_REGISTRY": "false",
                    "PYTHONUNBUFFERED": "1"}
            urls = {}
            apis: tuple[tuple[str, dict[str, str]], ...] = (
                ("all 7 periods", {}), ("national defaults", {"API_SEED_PROVINCE": "all"}))
            for label, extra in apis:
                port = free_port()
                urls[label] = f"http://127.0.0.1:{port}"
                env = base | {"API_PORT": str(port)} | extra
                service = Service(f"api-{len(started)}", [sys.executable, "-m", "services.api"], workdir,
                                  f"{urls[label]}/readyz")
                started.append(service.start(env))
            deadline = time.monotonic() + 90
            for service in started:
                service.wait_ready(deadline)
            asyncio.run(fill(kafka, base["API_REGISTRY_TOPIC"], units))
            for url in urls.values():
                asyncio.run(wait_for_view(url, COUNTRY, len(units)))
            say(f"both API processes hold {len(units):,} units")
            load_before = os.getloadavg()[0]
            main_url = urls["all 7 periods"]
            rows = [f"{len(units):,} units in the view; open loop at {args.rate:.0f} requests/s, "
                    f"{args.seconds:.0f} s each after {args.warmup:.0f} s of warm-up, "
                    f"{args.connections} connections"]
            rows += asyncio.run(latency(main_url, args, units, kafka))
            rows += rollup_cost(units, args.scrapes)
            rows += asyncio.run(metrics(urls, args.scrapes))
            rows += textbook_vs_render(units)
            rows.append(f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
            for service in started:
                service.check_alive()
        finally:
            for service in reversed(started):
                service.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
