"""Overdue now moves with the clock: a pending filing turns overdue on the published figures
when its due time passes, with no new event (the product promises within 60 s). At a Sunday, the
first of a month and 1 January (tests/support/suite_clock.py): the worker's clock is the suite's."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.broker import LocalKafka
from services.common.clock import running_from
from services.common.topics import ensure_topics
from tests.support.aggregator import FiguresReader, Worker
from tests.support.broker import unique_settings
from tests.support.suite_clock import at_each_instant

pytestmark = pytest.mark.integration


@at_each_instant
async def test_a_pending_filing_turns_overdue_when_its_due_time_passes(kafka_broker: LocalKafka,
                                                                      tmp_path: Path,
                                                                      suite_now: datetime) -> None:
    clock = running_from(suite_now)  # the worker's clock, started a moment later, is a little behind
    settings = unique_settings(kafka_broker.bootstrap, partitions=2)
    await ensure_topics(settings)
    worker = Worker(settings, tmp_path / "w", f"agg-{settings.events_topic}", frozen_now=None).start()
    now = datetime.fromtimestamp(clock(), suite_now.tzinfo)
    due = now + timedelta(seconds=20)
    event = {"event_id": "clock-1", "event_type": "submitted", "filing_id": "HS-CLOCK",
             "unit_code": "CLOCK.1", "occurred_at": now.isoformat(), "source": "test", "channel": "postal",
             "due_at": due.isoformat(), "procedure_code": "1.000001"}
    producer = AIOKafkaProducer(**settings.client_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(settings.events_topic, orjson.dumps(event), key=b"CLOCK.1")
    finally:
        await producer.stop()

    def pending(latest: dict, within: int, overdue: int) -> bool:
        today = latest.get("CLOCK.1", {}).get("periods", {}).get("today", {})
        return today.get("pending_within_due") == within and today.get("pending_overdue") == overdue

    try:
        async with FiguresReader(settings) as reader:
            assert await reader.wait_for(lambda latest: pending(latest, 1, 0), 60, [worker]), reader.latest
            assert clock() < due.timestamp(), "the machine was too slow to see the filing before its due"
            assert await reader.wait_for(lambda latest: pending(latest, 0, 1), 60, [worker]), reader.latest
            seen_at = clock()
        assert due.timestamp() < seen_at < due.timestamp() + 60
    finally:
        worker.stop()
