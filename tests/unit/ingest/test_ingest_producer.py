"""The Kafka writer when Kafka is not there at all (no broker needed: a closed loopback port)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from deploy.local.broker import free_port
from services.common.kafka_settings import KafkaSettings
from services.ingest.metrics import IngestMetrics
from services.ingest.producer import KafkaUnavailable, TransactionalWriter
from services.ingest.settings import IngestSettings


async def test_without_kafka_it_starts_anyway_and_refuses_at_once(tmp_path: Path) -> None:
    settings = IngestSettings(kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),
                              keys_file=tmp_path / "keys.json", instance_id="nokafka",
                              produce_timeout_s=1.0, producer_pool_size=3)
    registry = CollectorRegistry()
    writer = TransactionalWriter(settings, IngestMetrics(registry))
    started = time.monotonic()
    await writer.start()  # does not raise: the service must come up and say 503, not crash-loop
    try:
        assert time.monotonic() - started < 3
        assert writer.states() == {"idle": 0, "busy": 0, "repairing": 3}
        assert registry.get_sample_value("ingest_kafka_producers", {"state": "repairing"}) == 3
        assert not await writer.check()

        refused_at = time.monotonic()
        with pytest.raises(KafkaUnavailable, match="no connection"):
            await writer.write([(b"26734", b"{}")])
        assert time.monotonic() - refused_at < 0.5  # not after the produce timeout
        assert registry.get_sample_value("ingest_kafka_failures_total", {"reason": "unavailable"}) == 1
    finally:
        await writer.stop()
    assert writer.states()["repairing"] == 0
