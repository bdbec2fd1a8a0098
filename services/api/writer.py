"""Admin writes to the registry and targets topics: acknowledged by every in-sync replica, once."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.common.kafka_settings import KafkaSettings

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not take the write in time; nothing is known to be written."""


class Writer:
    def __init__(self, kafka: KafkaSettings, timeout_s: float) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(**self.kafka.client_kwargs(), acks="all", enable_idempotence=True,
                                    client_id="onestop-api-admin",
                                    request_timeout_ms=int(self.timeout_s * 1000))
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # close the sockets of a half-started producer before retrying
            raise
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def write(self, topic: str, records: list[tuple[str, bytes | None]]) -> list[tuple[int, int]]:
        """Send the records (value None: tombstone); their (partition, offset) once Kafka has them all."""
        if self.producer is None:
            raise KafkaUnavailable("not connected to Kafka yet")
        try:
            async with asyncio.timeout(self.timeout_s):
                sent = [await self.producer.send(topic, value, key=key.encode()) for key, value in records]
                done = await asyncio.gather(*sent)
        except (KafkaError, TimeoutError) as exc:
            log.warning("admin write to %s failed: %r", topic, exc)
            raise KafkaUnavailable(f"Kafka did not acknowledge the write: {type(exc).__name__}") from None
        return [(meta.partition, meta.offset) for meta in done]
