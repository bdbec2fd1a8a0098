"""Running real aggregator workers (`python -m services.aggregator`) and reading what they publish."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from deploy.local.broker import free_port
from deploy.local.service import Service
from services.common.kafka_settings import KafkaSettings
from tests.support.pipeline import FiguresFollower


class Worker(Service):
    """One aggregator worker process with its own data dir and web port, its log beside the data dir.

    Signals reach the worker alone: its packer child must notice by itself that the worker is gone.
    """

    def __init__(self, kafka: KafkaSettings, data_dir: Path, app_id: str, frozen_now: str | None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.kafka = kafka
        self.data_dir = data_dir
        self.port = free_port()
        super().__init__(data_dir.name, [sys.executable, "-m", "services.aggregator"], data_dir.parent,
                         group=False, grace_s=30, env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "KAFKA_EVENTS_TOPIC": kafka.events_topic,
            "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
            "KAFKA_FIGURES_TOPIC": kafka.figures_topic,
            "KAFKA_DAYS_TOPIC": kafka.days_topic,
            "KAFKA_FILINGS_TOPIC": kafka.filings_topic,
            "AGGREGATOR_APP_ID": app_id,
            "AGGREGATOR_DATA_DIR": str(data_dir),
            "AGGREGATOR_WEB_PORT": str(self.port),
            "AGGREGATOR_LOG_LEVEL": "warn",
            **({"AGGREGATOR_FROZEN_NOW": frozen_now} if frozen_now else {}),
            **(extra_env or {}),
        })

    def state(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/state", timeout=1.0)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None


class FiguresReader(FiguresFollower):
    """Follows `unit-figures` (or another compacted topic), keeping the latest record of each key, and
    waits for a condition on them."""

    async def wait_for(self, condition: Callable[[dict[str, dict[str, Any]]], bool], deadline_s: float,
                       workers: list[Worker] | None = None) -> bool:
        """Poll until `condition(latest)` holds; False at the deadline. Fails fast if a worker died."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            await self.poll()
            if condition(self.latest):
                return True
            for worker in workers or []:
                if worker.proc is not None and not worker.alive() and worker.proc.returncode != -9:
                    raise AssertionError(f"worker exited {worker.proc.returncode}:\n{worker.log_tail()}")
            await asyncio.sleep(0)
        return False


async def read_dlq(kafka: KafkaSettings, count: int, deadline_s: float) -> list[Any]:
    """The DLQ's `count` records, and a check that it holds no more."""
    consumer = AIOKafkaConsumer(kafka.dlq_topic, **kafka.client_kwargs(), auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + deadline_s
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        assert sum(ends.values()) == len(records), "more in the DLQ than expected"
        return records
    finally:
        await consumer.stop()
