"""Faults during a live stream, each ending with figures equal to the oracle.

The whole pipeline runs as deployed (ingest, one aggregator worker, one API replica, each its own
process; tests/support/pipeline.py) and a simulated province's feed is posted through ingest as NDJSON
batches by concurrent clients that retry a 503 after its Retry-After, as a real sender does. While
it streams: (a) the broker is stopped and started again on the same data dir and ports; (b) the
aggregator is SIGKILLed three times in a row and restarted; (c) the API replica is restarted and
must answer /readyz 503 until it has caught up. Each ends when the figures (on unit-figures, and
for (c) the API's answers) equal the oracle's recomputation over exactly the events answered 202.

Recovery times are printed (`pytest -s`) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.broker import LocalKafka
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from tests.support.oracle import compare, recompute
from tests.support.pipeline import FiguresFollower, Pipeline, SendStats, send_lines

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-20T17:30:00+07:00"
EVENTS = 24_000
RATE = 1_000.0  # events/s: the stream lasts about 24 s, so each fault happens well inside it
BATCH = 100
CLIENTS = 3
SETTLE_S = 150


@pytest.fixture(scope="module")
def feed_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A province's feed (duplicates, reordering, late and malformed deliveries) as NDJSON lines."""
    path = tmp_path_factory.mktemp("feed") / "feed.ndjson"
    now = datetime.fromisoformat(FROZEN_NOW)
    tally = write_file(generate(FeedConfig(start=now - timedelta(days=20), end=now, seed=6,
                                           filings_per_day=800)), path, limit=EVENTS)
    assert tally.lines == EVENTS
    return path.read_bytes().splitlines()


def report(name: str, seconds: dict[str, float], stats: SendStats) -> None:
    print(f"\nFAULT {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
          + f"; {stats.requests} requests, {stats.retried_503} answered 503, {stats.transport_errors} "
          f"unanswered, {stats.accepted} events accepted")


async def stream_with_fault(pipeline: Pipeline, lines: list[bytes], tmp_path: Path,
                            fault: Callable[[SendStats], Awaitable[dict[str, float]]],
                            ) -> tuple[SendStats, dict[str, dict[str, Any]], dict[str, float]]:
    """Stream `lines` through ingest while `fault` runs; then the oracle over what was answered 202.

    Returns the send statistics, the oracle's records and the fault's own measurements.
    """
    stats = SendStats()
    sending = asyncio.create_task(send_lines(pipeline.ingest_url, pipeline.key, lines, stats, BATCH,
                                             CLIENTS, RATE))
    measured = await fault(stats)
    await sending
    assert stats.other == [], stats.other[:5]
    accepted = tmp_path / "accepted.ndjson"
    assert stats.write_accepted(accepted) == stats.accepted
    assert stats.accepted + stats.rejected == len(lines)
    oracle = await asyncio.to_thread(recompute, accepted, datetime.fromisoformat(FROZEN_NOW))
    assert oracle.accepted == stats.accepted  # ingest's verdicts and the oracle's agree line by line
    return stats, oracle.units, measured


async def until_accepted(stats: SendStats, count: int, pipeline: Pipeline, *down: Any) -> None:
    while stats.accepted < count:
        pipeline.check_alive(*down)
        await asyncio.sleep(0.05)


async def figures_settle(pipeline: Pipeline, expected: dict[str, dict[str, Any]], since: float) -> float:
    """Seconds from `since` until every unit's latest record on unit-figures equals the oracle's."""
    async with FiguresFollower(pipeline.kafka) as follower:
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            await follower.poll()
            if follower.latest.keys() == expected.keys() and not compare(expected, follower.latest):
                return time.time() - since
            pipeline.check_alive()
        differences = compare(expected, follower.latest)
        want, got = (sum(r["periods"]["all_time"]["received_total"] for r in records.values())
                     for records in (expected, follower.latest))
    async with httpx.AsyncClient(timeout=5) as http:
        state = (await http.get(f"{pipeline.aggregator_url}/state")).text
    raise AssertionError(f"unit-figures differ from the oracle: {len(differences)} differences, "
                         f"first: {differences[:10]}; all_time received_total: expected {want}, got {got}; "
                         f"aggregator state {state[:500]}\n{pipeline.aggregator.log_tail()}")


async def test_broker_restart_mid_stream(own_broker: LocalKafka, feed_lines: list[bytes],
                                         tmp_path: Path) -> None:
    pipeline = Pipeline(own_broker.bootstrap, tmp_path / "pipeline", FROZEN_NOW)
    await pipeline.start()
    try:
        async def restart_broker(stats: SendStats) -> dict[str, float]:
            await until_accepted(stats, EVENTS // 4, pipeline)
            stopped = time.time()
            await asyncio.to_thread(own_broker.stop)
            # An outage, not a blip that ingest's produce timeout absorbs: down until a sender was
            # answered 503 (or got no answer).
            deadline = time.monotonic() + 60
            while stats.retried_503 + stats.transport_errors == 0:
                pipeline.check_alive()
                assert time.monotonic() < deadline, "no sender saw the broker's outage in 60 s"
                await asyncio.sleep(0.05)
            await asyncio.to_thread(own_broker.start)
            up = time.time()
            acked_before = stats.answered_202
            while stats.answered_202 == acked_before:
                pipeline.check_alive()
                await asyncio.sleep(0.05)
            return {"broker down": up - stopped, "broker up -> next 202": time.time() - up}

        stats, expected, measured = await stream_with_fault(pipeline, feed_lines, tmp_path, restart_broker)
        measured["last 202 -> figures equal"] = await figures_settle(pipeline, expected, stats.acked[-1][0])
        report("broker restart", measured, stats)
    finally:
        pipeline.stop()


async def test_aggregator_sigkilled_three_times(kafka_broker: LocalKafka, feed_lines: list[bytes],
                                                tmp_path: Path) -> None:
    pipeline = Pipeline(kafka_broker.bootstrap, tmp_path / "pipeline", FROZEN_NOW)
    await pipeline.start()
    try:
        async def kill_three_times(stats: SendStats) -> dict[str, float]:
            measured = {}
            for n, share in enumerate((0.2, 0.4, 0.6), 1):
                await until_accepted(stats, int(EVENTS * share), pipeline)
                pipeline.aggregator.kill()
                killed = time.time()
                await pipeline.restart(pipeline.aggregator)
                measured[f"kill {n} -> serving"] = time.time() - killed
            return measured

        stats, expected, measured = await stream_with_fault(pipeline, feed_lines, tmp_path, kill_three_times)
        measured["last 202 -> figures equal"] = await figures_settle(pipeline, expected, stats.acked[-1][0])
        report("aggregator SIGKILL x3", measured, stats)
    finally:
        pipeline.stop()


async def api_figures(http: httpx.AsyncClient, units: list[str]) -> dict[str, dict[str, Any]]:
    """Each unit's figures as the API serves them, shaped like unit-figures records."""
    out = {}
    for unit in units:
        figures = (await http.get(f"/v1/units/{unit}")).json()["figures"]
        if figures is not None:
            out[unit] = {"unit_code": unit, **figures}
    return out


async def test_api_replica_restart_mid_stream(kafka_broker: LocalKafka, feed_lines: list[bytes],
                                              tmp_path: Path) -> None:
    pipeline = Pipeline(kafka_broker.bootstrap, tmp_path / "pipeline", FROZEN_NOW)
    await pipeline.start()
    try:
        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=10) as http:
            async def restart_api(stats: SendStats) -> dict[str, float]:
                await until_accepted(stats, EVENTS // 2, pipeline)
                # What unit-figures held before the restart: once ready, the API must serve at least this.
                async with FiguresFollower(pipeline.kafka) as follower:
                    await follower.read_to_end()
                before = {u: r["periods"]["all_time"]["received_total"] for u, r in follower.latest.items()}
                assert before, "no figures published before the restart"
                pipeline.api.stop()
                restarted = time.time()
                pipeline.api.start(pipeline.env)
                statuses: list[int] = []
                while True:
                    pipeline.check_alive()
                    try:
                        status = (await http.get("/readyz")).status_code
                    except httpx.TransportError:
                        status = 0  # not listening yet
                    if not statuses or statuses[-1] != status:
                        statuses.append(status)
                    if status == 200:
                        break
                    assert status in (0, 503), status
                    assert time.time() - restarted < 60, "the API was not ready within 60 s"
                    await asyncio.sleep(0.02)
                ready = time.time() - restarted
                served = await api_figures(http, sorted(before))
                behind = [u for u, total in before.items() if u not in served
                          or served[u]["periods"]["all_time"]["received_total"] < total]
                assert not behind, f"ready, but behind the topic for units {behind[:10]}"
                print(f"\nAPI /readyz after the restart: {statuses}")
                return {"restart -> /readyz 200": ready}

            stats, expected, measured = await stream_with_fault(pipeline, feed_lines, tmp_path, restart_api)
            last_ack = stats.acked[-1][0]
            deadline = time.monotonic() + SETTLE_S
            while (differences := compare(expected, await api_figures(http, sorted(expected)))):
                pipeline.check_alive()
                assert time.monotonic() < deadline, f"API figures differ: {differences[:10]}"
                await asyncio.sleep(0.5)
            measured["last 202 -> API figures equal"] = time.time() - last_ack
            report("API replica restart", measured, stats)
    finally:
        pipeline.stop()

