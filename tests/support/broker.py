"""A local broker around a block, and uniquely named topics on it."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy.local.broker import LocalKafka
from services.common.kafka_settings import KafkaSettings


@contextmanager
def running_broker(data_dir: Path, **options: Any) -> Iterator[LocalKafka]:
    """A real Apache Kafka (KRaft) on free loopback ports, stopped when the block ends."""
    broker = LocalKafka(data_dir, **options)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@contextmanager
def scratch_broker(prefix: str) -> Iterator[tuple[Path, LocalKafka]]:
    """A temporary folder and a broker whose data lives in it: (folder, broker). Both go at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, running_broker(Path(tmp) / "kafka") as broker:
        yield Path(tmp), broker


def unique_settings(bootstrap: str, partitions: int = 4) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        events_topic=f"filing-events-{suffix}",
        dlq_topic=f"filing-events-dlq-{suffix}",
        figures_topic=f"unit-figures-{suffix}",
        days_topic=f"unit-days-{suffix}",
        filings_topic=f"unit-filings-{suffix}",
        agencies_topic=f"unit-agencies-{suffix}",
        events_partitions=partitions,
    )
