"""Ingest's copy of the agency → unit mapping: the compacted `unit-agencies` topic, mirrored.

Started with the app; until the mirror has read the topic to the end it had at start, `ready` is
false and the sync answers 503 (a dossier must never be refused as unmapped because the mapping has
not been read yet). Kafka away at start: it keeps trying in the background.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.kafka_settings import KafkaSettings
from services.common.topic_mirror import TopicMirror
from services.common.topics import ensure_topics
from services.contract.agencies import AgencyBook

log = logging.getLogger(__name__)
RETRY_S = (0.5, 10.0)  # first and longest pause between attempts to reach Kafka


class AgencyDirectory:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.book = AgencyBook()
        self.mirror = TopicMirror(kafka, kafka.agencies_topic, self.book.apply,
                                  client_prefix="onestop-ingest")
        self._task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def ready(self) -> bool:
        return self.mirror.caught_up.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._boot(), name="agency directory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._started:
            await self.mirror.stop()

    async def _boot(self) -> None:
        pause, longest = RETRY_S
        while True:
            try:
                await ensure_topics(self.kafka)
                await self.mirror.start(await self._partitions())
                self._started = True
                return
            except (KafkaError, OSError) as exc:
                log.warning("the agency codes wait for Kafka (%r); retrying in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)

    async def _partitions(self) -> int:
        admin = AIOKafkaAdminClient(**self.kafka.client_kwargs())
        try:
            await admin.start()
            [described] = await admin.describe_topics([self.kafka.agencies_topic])
        finally:
            await admin.close()
        if described["error_code"] or not described["partitions"]:
            raise KafkaError(f"topic {self.kafka.agencies_topic} not found (yet)")
        return len(described["partitions"])
