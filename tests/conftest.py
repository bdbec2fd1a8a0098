"""Shared fixtures: the suite's "now", a real local Kafka broker for the session, and uniquely named
topics per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from deploy.local.broker import LocalKafka
from services.common.clock import CLOCK_START_ENV
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support import suite_clock
from tests.support.broker import running_broker, unique_settings
from tests.support.paths import ROOT

# `make compose-test` alone runs tests/compose (minutes; it installs and starts Docker): collected only
# when named on the command line, never by the suite's `pytest`.
COMPOSE_TESTS = ROOT / "tests" / "compose"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path != COMPOSE_TESTS:
        return None
    named = (config.invocation_params.dir / arg.split("::")[0] for arg in config.args)
    return not any(COMPOSE_TESTS in (path.resolve(), *path.resolve().parents) for path in named) or None


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
    with running_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture
async def kafka_settings(kafka_broker: LocalKafka) -> AsyncIterator[KafkaSettings]:
    """Settings naming fresh topics on the session broker, already created."""
    settings = unique_settings(kafka_broker.bootstrap)
    await ensure_topics(settings)
    yield settings


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker for one test alone, for tests that stop and restart it."""
    with running_broker(tmp_path / "kafka") as broker:
        yield broker
