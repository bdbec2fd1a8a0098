"""Soak: a country's working day through the whole pipeline, then every figure checked against the oracle.

    python -m bench.soak                                  # the full day: 1,200,000 events in 10 minutes
    python -m bench.soak --events 200000 --minutes 4      # a shorter run

Starts its own Kafka (KRaft, in a temp dir), then ingest, one aggregator worker and one API replica
as deployed (tests/support/pipeline.py), the API's registry seeded with the same provinces. The
simulated feeds of all 34 provinces, or of `--provinces` (merged in delivery order, duplicates,
reordering, late and malformed deliveries included) are posted through ingest as NDJSON batches by
several concurrent clients, paced to spread `--events` over `--minutes`; a 503 is retried after its
Retry-After as a real sender does.

Afterwards the oracle (tests/support/oracle.py) recomputes every unit's figures from exactly the lines
answered `accepted` in a 202, and the run fails unless unit-figures and the API's answers equal
it for every unit, period and figure: each accepted event counted exactly once.

Freshness (time from a 202 to the unit's figure counting the event) is measured with probes: one
`submitted` event of a new filing for one of a few probe units goes into every batch, so a probe
unit's all_time received_total is the number of its events the figures include (the method of
bench/freshness_bench.py). The probes are part of the load and of the oracle's input.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.freshness_bench import freshness
from bench.stats import add_sender_options, keep_logs, percentile, print_rows
from services.contract.units import province_code, provinces
from services.simulator.feed import FeedConfig, generate_provinces
from services.simulator.ndjson_file import line_bytes
from tests.support.broker import running_broker
from tests.support.oracle import compare, recompute
from tests.support.pipeline import FiguresFollower, Pipeline, SendStats, send_lines

# A Friday: the day's feed runs from Thursday 17:30 to Friday 17:30 (Ho Chi Minh time), so it is
# mostly one working day's office hours; the aggregator's clock is pinned to its end, as the oracle's.
DAY_END = "2026-11-20T17:30:00+07:00"
# The whole country by default: every province's communes, wards and departments (3,321 communes).
ALL = "all"
# Lines per filing in one day's window, measured on the simulator's feed: about 1.5 (a filing
# received late in the day is still open at its end). A little less here, so that the feed is
# long enough and `--events` cuts it, near the day's end.
EVENTS_PER_FILING = 1.4
PROBE_UNITS = [f"soak-probe-{i:02d}" for i in range(16)]


def province_codes(names: str) -> list[str]:
    """`--provinces`: "all", or comma-separated official codes."""
    if names.strip().lower() == ALL:
        return [province_code(p) for p in provinces()]
    return [name.strip() for name in names.split(",") if name.strip()]


def feed_lines(events: int, provinces: list[str], seed: int) -> Iterator[bytes]:
    """About `events` lines of the provinces' feeds over the day, in delivery order."""
    end = datetime.fromisoformat(DAY_END)
    per_province = events / EVENTS_PER_FILING / len(provinces)
    config = FeedConfig(start=end - timedelta(days=1), end=end, seed=seed, filings_per_day=per_province)
    for n, item in enumerate(generate_provinces(config, provinces)):
        if n >= events:
            return
        yield line_bytes(item)


def with_probes(lines: Iterator[bytes], every: int) -> Iterator[bytes]:
    """`lines` with a probe event (a new filing of a probe unit) after every `every - 1` of them."""
    occurred = datetime.fromisoformat(DAY_END) - timedelta(minutes=1)
    for n, line in enumerate(lines):
        yield line
        if n % (every - 1) == every - 2:
            probe = n // (every - 1)
            yield orjson.dumps({
                "schema_version": 1, "event_id": f"probe-{probe}", "event_type": "submitted",
                "filing_id": f"PROBE-{probe}", "unit_code": PROBE_UNITS[probe % len(PROBE_UNITS)],
                "occurred_at": occurred.isoformat(), "source": "soak-probe", "channel": "online",
                "due_at": (occurred + timedelta(days=3)).isoformat(), "procedure_code": "1.001234"})


def probe_acks(stats: SendStats) -> dict[str, list[float]]:
    acks: dict[str, list[float]] = defaultdict(list)
    for acked, lines in stats.acked:
        for line in lines:
            if b"soak-probe-" in line:
                acks[orjson.loads(line)["unit_code"]].append(acked)
    return acks


async def api_figures(url: str, units: list[str]) -> dict[str, dict[str, Any]]:
    """Each unit's figures as the API serves them, shaped like unit-figures records."""
    out = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for unit in units:
            figures = (await http.get(f"/v1/units/{unit}")).json()["figures"]
            if figures is not None:
                out[unit] = {"unit_code": unit, **figures}
    return out


async def soak(args: argparse.Namespace, pipeline: Pipeline, workdir: Path) -> list[tuple[str, str]]:
    rate = args.events / (args.minutes * 60)
    stats = SendStats()
    follower = FiguresFollower(pipeline.kafka, keep_history=lambda unit: unit.startswith("soak-probe-"))
    load = [os.getloadavg()[0]]
    async with follower:
        async def follow() -> None:
            while True:
                await follower.poll()
                pipeline.check_alive()

        async def watch_load() -> None:
            while True:
                await asyncio.sleep(10)
                load.append(os.getloadavg()[0])

        background = [asyncio.create_task(follow()), asyncio.create_task(watch_load())]
        started = time.time()
        feed = feed_lines(args.events, province_codes(args.provinces), args.seed)
        lines = with_probes(feed, args.batch_size)
        await send_lines(pipeline.ingest_url, pipeline.key, lines, stats, args.batch_size, args.clients, rate)
        sent_s = time.time() - started
        assert stats.other == [], stats.other[:5]
        accepted_path = workdir / "accepted.ndjson"
        stats.write_accepted(accepted_path)
        last_ack = stats.acked[-1][0]
        oracle_started = time.time()
        oracle = await asyncio.to_thread(recompute, accepted_path, datetime.fromisoformat(DAY_END))
        oracle_s = time.time() - oracle_started
        expected = oracle.units
        deadline = time.monotonic() + args.drain
        while follower.latest.keys() != expected.keys() or compare(expected, follower.latest):
            if time.monotonic() > deadline:
                differences = compare(expected, follower.latest)
                raise AssertionError(f"unit-figures differ from the oracle: {len(differences)} differences, "
                                     f"first: {differences[:10]}")
            await asyncio.sleep(0.5)
        figures_equal_s = time.time() - last_ack
        for task in background:
            task.cancel()
    deadline = time.monotonic() + 60  # the API follows unit-figures a moment behind
    while api_differences := compare(expected, await api_figures(pipeline.api_url, sorted(expected))):
        assert time.monotonic() < deadline, f"API figures differ from the oracle: {api_differences[:10]}"
        await asyncio.sleep(1)

    probes = sum(len(times) for times in probe_acks(stats).values())
    seen = {u: [(t, t, n) for t, n in h] for u, h in follower.history.items()}
    fresh = freshness(probe_acks(stats), seen, {})
    filings = sum(r["periods"]["all_time"]["received_total"] for u, r in expected.items()
                  if not u.startswith("soak-probe-"))
    return [
        ("scale", f"{stats.accepted + stats.rejected - probes:,} feed lines (of {args.events:,} asked) of "
                  f"{len(province_codes(args.provinces))} provinces ({args.provinces}) + {probes:,} probes, "
                  f"over {args.minutes:g} min planned, sent in {sent_s:.0f} s"),
        ("events accepted (202) / refused inside 202s", f"{stats.accepted:,} / {stats.rejected:,} "
                                                       "(refused: the feed's deliberately malformed lines)"),
        ("filings received (oracle, all_time)", f"{filings:,} across {len(expected):,} units"),
        ("requests / 202 / 503 retried / no answer / other",
         f"{stats.requests:,} / {stats.answered_202:,} / {stats.retried_503} / {stats.transport_errors} / "
         f"{len(stats.other)}"),
        ("ingest error rate (requests not answered 202)", f"{stats.error_rate:.4%}"),
        ("FRESHNESS p50 / p99 / max (202 -> figure arrives)",
         f"{percentile(fresh.arrival, 50) * 1000:,.0f} / {percentile(fresh.arrival, 99) * 1000:,.0f} / "
         f"{max(fresh.arrival) * 1000:,.0f} ms over {len(fresh.arrival):,} probes "
         f"({fresh.never_seen} never seen)"),
        ("figures equal to the oracle (unit-figures and API)",
         f"checked {figures_equal_s:.1f} s after the last 202, of which the oracle took {oracle_s:.1f} s; "
         f"duplicates absorbed {oracle.duplicates:,}"),
        ("load average (1 min) min / max during the run", f"{min(load):.1f} / {max(load):.1f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_200_000, help="feed lines to send")
    parser.add_argument("--minutes", type=float, default=10, help="spread them over this long")
    parser.add_argument("--provinces", default=ALL,
                        help='"all" (the default: the whole country), or comma-separated province codes')
    add_sender_options(parser, clients=6, batch_size=500, batch_help="events per NDJSON request", drain=600,
                       seed=20261120)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        try:
            with running_broker(workdir / "kafka") as broker:
                pipeline = Pipeline(broker.bootstrap, workdir / "pipeline", DAY_END,
                                    partitions=args.partitions, province=args.provinces)
                try:
                    asyncio.run(pipeline.start())
                    rows = asyncio.run(soak(args, pipeline, workdir))
                finally:
                    pipeline.stop()
        finally:
            if args.keep_logs:
                keep_logs((workdir / "pipeline" / "logs").glob("*.log"), args.keep_logs)
    print(f"\nSoak ({os.cpu_count()} CPUs; broker, ingest, one aggregator worker, one API replica and the "
          f"clients on this machine): {' '.join(sys.argv[1:]) or 'defaults'}")
    print_rows(rows)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
