"""The whole local stack on a broker that demands SASL: every client logs in from the KAFKA_* settings
alone, Faust's included, and figures flow from the simulated feed to the API. A wrong password fails."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka.errors import KafkaError

from deploy.local.broker import LocalKafka, free_port
from deploy.local.run import RunSettings, Stack, check_alive, plan_stack, start_stack
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

USER, PASSWORD = "onestop", "a-password-for-this-test"


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "kafka", sasl_users={USER: PASSWORD})
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def sasl_env(broker: LocalKafka, password: str) -> dict[str, str]:
    return {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": USER, "KAFKA_SASL_PASSWORD": password}


def units_with_figures(stack: Stack) -> float:
    check_alive(stack)  # a service that died fails the test with its log, not with a timeout
    for line in httpx.get(f"{stack.api_url}/metrics", timeout=5).text.splitlines():
        if line.startswith("api_view_units "):
            return float(line.split()[1])
    return 0.0


def test_every_service_logs_in_with_sasl_from_the_environment(sasl_broker: LocalKafka,
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in sasl_env(sasl_broker, "wrong").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(KafkaError):  # the broker refuses a wrong password
        asyncio.run(asyncio.wait_for(ensure_topics(KafkaSettings()), 30))
    env = {**os.environ, **sasl_env(sasl_broker, PASSWORD), "PYTHONUNBUFFERED": "1"}
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    asyncio.run(ensure_topics(KafkaSettings()))  # the topics job's code path
    settings = RunSettings(ingest_port=free_port(), api_port=free_port(), aggregator_port=free_port(),
                           feed_backfill_days=0)
    (tmp_path / "run").mkdir()
    stack = plan_stack(settings, tmp_path / "run", sys.executable)
    try:
        start_stack(stack, env, settings.start_timeout)  # ingest, aggregator (Faust), API all ready
        started = time.monotonic()
        # Events went feed → ingest → Kafka → aggregator → unit-figures → the API's view, all over SASL.
        wait_until(lambda: units_with_figures(stack) > 0, 60, "figures in the API's view", every=0.5)
        assert time.monotonic() - started < 60
    finally:
        for service in reversed(stack.services):
            service.stop()
