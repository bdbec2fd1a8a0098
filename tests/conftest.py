"""Shared fixtures: the suite's "now", a real local Kafka broker for the session, and uniquely named
topics per test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from deploy.local.broker import LocalKafka
from services.common.clock import CLOCK_START_ENV
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests import suite_clock


@pytest.fixture(scope="module", autouse=True)
def _suite_now_for_module() -> Iterator[None]:
    """The suite's "now" for the services a module-scoped fixture starts (they start before
    `suite_now`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CLOCK_START_ENV, suite_clock.now().isoformat())
        yield


@pytest.fixture(autouse=True)
def suite_now(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The test's "now", in every service it starts, here or in a child process (they read
    ONESTOP_CLOCK_START): the instant of `suite_clock.at_each_instant`, else the suite's running clock."""
    now: datetime = getattr(request, "param", None) or suite_clock.now()
    monkeypatch.setenv(CLOCK_START_ENV, now.isoformat())
    return now


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """One real Apache Kafka (KRaft) for the whole test session, on free loopback ports."""
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def unique_settings(bootstrap: str, partitions: int = 4) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        events_topic=f"filing-events-{suffix}",
        dlq_topic=f"filing-events-dlq-{suffix}",
        figures_topic=f"unit-figures-{suffix}",
        days_topic=f"unit-days-{suffix}",
        events_partitions=partitions,
    )


@pytest.fixture
async def kafka_settings(kafka_broker: LocalKafka) -> AsyncIterator[KafkaSettings]:
    """Settings naming fresh topics on the session broker, already created."""
    settings = unique_settings(kafka_broker.bootstrap)
    await ensure_topics(settings)
    yield settings


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll `condition` until it holds or `timeout` seconds pass (then fail naming `what`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def async_wait_until(condition: Callable[[], bool], deadline_s: float, what: str,
                           every: float = 0.05) -> None:
    """Like `wait_until`, without blocking the event loop."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker for one test alone, for tests that stop and restart it."""
    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
