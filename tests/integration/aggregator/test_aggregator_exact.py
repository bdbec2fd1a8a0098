"""The aggregator's published figures equal an independent batch recomputation, exactly.

200,000 simulated events (duplicates, reordering, late deliveries, returns, malformed records and
events too old to count) go through a real broker to real Faust workers; every unit's record on
`unit-figures` must equal the oracle's, for every period and figure. Then the same with a worker
SIGKILLed mid-stream and restarted, and with two workers of which one dies.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local.broker import LocalKafka
from services.aggregator.late_filings import LIST_BOUND
from services.common.topics import ensure_topics
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from services.simulator.replay import produce_file
from tests.support.aggregator import FiguresReader, Worker
from tests.support.broker import unique_settings
from tests.support.oracle import OracleResult, compare, compare_days, compare_filings, recompute

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
EVENTS = 200_000
TOO_OLD = 50  # events 500 days old: past the 400-day retention, so they must go to the DLQ
DEADLINE_S = 240


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.ndjson"
    now = datetime.fromisoformat(FROZEN_NOW)
    config = FeedConfig(start=now - timedelta(days=75), end=now, seed=20261123, filings_per_day=4000,
                        delivery=DeliveryRates(duplicate=0.02, reorder=0.05, late=0.01, repeat=0.01,
                                               malformed=0.002, not_json=True))
    tally = write_file(generate(config), path, limit=EVENTS - TOO_OLD)
    assert tally.lines == EVENTS - TOO_OLD
    old = now - timedelta(days=500)
    with path.open("ab") as out:
        for i in range(TOO_OLD):
            out.write(orjson.dumps({
                "event_id": f"old-{i}", "event_type": "submitted", "filing_id": f"OLD-{i}",
                "unit_code": "OLD.1", "occurred_at": old.isoformat(), "source": "archive",
                "channel": "online", "due_at": (old + timedelta(days=3)).isoformat(),
                "procedure_code": "1.000001"}) + b"\n")
    return path


@pytest.fixture(scope="module")
def oracle(event_log: Path) -> OracleResult:
    result = recompute(event_log, datetime.fromisoformat(FROZEN_NOW))
    assert len(result.units) > 50
    assert result.skipped["too_late"] == TOO_OLD and result.skipped["not_json"] > 0
    return result


@pytest.fixture(scope="module")
def expected(oracle: OracleResult) -> dict[str, dict[str, Any]]:
    return oracle.units


async def dlq_reasons(settings: Any, count: int, deadline_s: float = 60) -> Counter[str]:
    """The reason headers of the first `count` DLQ records."""
    consumer = AIOKafkaConsumer(settings.dlq_topic, **settings.client_kwargs(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    reasons: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + deadline_s
        while sum(reasons.values()) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    reason = dict(record.headers)["dlq.reason"].decode()
                    reasons[reason.split(":")[0]] += 1
        return reasons
    finally:
        await consumer.stop()


async def start_topics(broker: LocalKafka, event_log: Path | None, partitions: int = 6) -> Any:
    settings = unique_settings(broker.bootstrap, partitions=partitions)
    await ensure_topics(settings)
    if event_log is not None:
        produced = await produce_file(event_log, settings, settings.events_topic)
        assert produced == EVENTS
    return settings


def halves(event_log: Path, tmp_path: Path) -> tuple[Path, Path]:
    lines = event_log.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    return first, second


def matches(expected: dict[str, dict[str, Any]]) -> Any:
    def condition(latest: dict[str, dict[str, Any]]) -> bool:
        return latest.keys() == expected.keys() and not compare(expected, latest)
    return condition


async def assert_settles(reader: FiguresReader, expected: dict[str, dict[str, Any]],
                         workers: list[Worker]) -> None:
    if not await reader.wait_for(matches(expected), DEADLINE_S, workers):
        differences = compare(expected, reader.latest)
        missing = sorted(expected.keys() - reader.latest.keys())[:10]
        raise AssertionError(f"figures differ from the oracle: missing units {missing}; "
                             f"{len(differences)} differences, first: {differences[:10]}")


async def assert_days_settle(settings: Any, oracle: OracleResult, workers: list[Worker]) -> None:
    """Every unit's every day on `unit-days` equals the oracle's counters of that day."""
    async with FiguresReader(settings, settings.days_topic) as days:
        if not await days.wait_for(lambda latest: not compare_days(oracle.days, latest), 60, workers):
            differences = compare_days(oracle.days, days.latest)
            raise AssertionError(f"unit-days differ from the oracle: {len(differences)} differences, "
                                 f"first: {differences[:10]}")


async def assert_filings_settle(settings: Any, oracle: OracleResult, workers: list[Worker]) -> None:
    """Every unit's lists on `unit-filings` equal the oracle's, filing by filing."""
    async with FiguresReader(settings, settings.filings_topic) as filings:
        if not await filings.wait_for(lambda latest: not compare_filings(oracle.filings, latest, LIST_BOUND),
                                      60, workers):
            differences = compare_filings(oracle.filings, filings.latest, LIST_BOUND)
            raise AssertionError(f"unit-filings differ from the oracle: {len(differences)} differences, "
                                 f"first: {differences[:10]}")


async def test_figures_equal_the_oracle(kafka_broker: LocalKafka, event_log: Path, oracle: OracleResult,
                                        expected: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    settings = await start_topics(kafka_broker, event_log)
    worker = Worker(settings, tmp_path / "w1", f"agg-{settings.events_topic}", FROZEN_NOW).start()
    try:
        async with FiguresReader(settings) as reader:
            await assert_settles(reader, expected, [worker])
            assert all(record["as_of"].startswith("2026-11-23T12:00:00") for record in reader.latest.values())
        await assert_days_settle(settings, oracle, [worker])
        await assert_filings_settle(settings, oracle, [worker])
        # Every record the oracle skipped is in the DLQ with its reason, and nothing else is.
        reasons = await dlq_reasons(settings, sum(oracle.skipped.values()) + 1, deadline_s=10)
        assert reasons == {"not_json": oracle.skipped["not_json"], "schema": oracle.skipped["invalid"],
                           "too_late": TOO_OLD}
    finally:
        worker.stop()


async def wait_progress(worker: Worker, at_least: int, deadline_s: float = 120) -> None:
    for _ in range(int(deadline_s * 10)):
        state = worker.state()
        if state and state["applied"] >= at_least:
            return
        assert worker.alive(), worker.log_tail()
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker made no progress to {at_least}:\n{worker.log_tail()}")


async def test_sigkill_mid_stream_then_restart(kafka_broker: LocalKafka, event_log: Path,
                                               oracle: OracleResult, expected: dict[str, dict[str, Any]],
                                               tmp_path: Path) -> None:
    settings = await start_topics(kafka_broker, event_log)
    app_id = f"agg-{settings.events_topic}"
    # A filing cache far smaller than the feed's filings: changed filings leave it, and their
    # written-back records are read from the store, all the time; the SIGKILL then loses the store's
    # writes since RocksDB last flushed, which recovery restores from the changelog.
    small_cache = {"AGGREGATOR_FILING_CACHE_SIZE": "5000"}
    worker = Worker(settings, tmp_path / "w1", app_id, FROZEN_NOW, small_cache).start()
    restarted = None
    try:
        await wait_progress(worker, EVENTS // 3)
        worker.kill()
        restarted = Worker(settings, tmp_path / "w1", app_id, FROZEN_NOW, small_cache).start()
        async with FiguresReader(settings) as reader:
            await assert_settles(reader, expected, [restarted])
        # The restarted worker rebuilt its units' ledgers from the filings table.
        await assert_filings_settle(settings, oracle, [restarted])
    finally:
        worker.kill()
        if restarted is not None:
            restarted.stop()


async def test_takeover_when_one_of_two_workers_dies(kafka_broker: LocalKafka, event_log: Path,
                                                     oracle: OracleResult,
                                                     expected: dict[str, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    # The second half is produced only after the first worker died, so the survivor must count
    # it on top of the state it restored from the dead worker's changelogs.
    settings = await start_topics(kafka_broker, None)
    first_half, second_half = halves(event_log, tmp_path)
    await produce_file(first_half, settings, settings.events_topic)
    app_id = f"agg-{settings.events_topic}"
    first = Worker(settings, tmp_path / "w1", app_id, FROZEN_NOW).start()
    second = Worker(settings, tmp_path / "w2", app_id, FROZEN_NOW).start()
    try:
        await wait_progress(first, 1)
        await wait_progress(second, 1)
        first.kill()
        await produce_file(second_half, settings, settings.events_topic)
        async with FiguresReader(settings) as reader:
            await assert_settles(reader, expected, [second])
        await assert_days_settle(settings, oracle, [second])
        await assert_filings_settle(settings, oracle, [second])
    finally:
        first.kill()
        second.stop()
