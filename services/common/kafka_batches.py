"""Sending many records to one partition as whole Kafka batches.

aiokafka's per-record `send()` costs more Python time than the broker spends on the record; when
a caller already knows the partition of thousands of records (a table's changelog, a replayed
file), filling `BatchBuilder`s by hand and sending each full one costs a fraction of that.

A full batch is handed to aiokafka in the background, not awaited by the caller: aiokafka takes a
partition's next batch only once the one before it has gone out in a request, and it has one
request at a time in flight to a broker, so awaiting each hand-over held the caller for a round
trip to the broker per batch (the aggregator's agent waited for its changelog batches so). The
hand-overs run in order, each after the one before it; at most `max_queued` wait at a time, and
`handed_over` waits for all of them, and `flush` for Kafka's acknowledgements too. `checkpoint`
marks what was added so far without waiting, for `acknowledged` to wait on while records added
after it keep going out behind it, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

# Batches handed over in the background, at most, per partition: with aiokafka's batches of up to
# 1 MiB, a few MiB of records waiting ahead of the broker.
MAX_QUEUED_BATCHES = 8
# Hand-overs of batches, in order, each giving the future of Kafka's acknowledgement of its batch.
Checkpoint = list[asyncio.Future[asyncio.Future[Any]]]


@dataclass(eq=False)
class PartitionBatcher:
    """Appends records for one (topic, partition) and ships each batch when it fills."""

    producer: AIOKafkaProducer
    topic: str
    partition: int
    max_queued: int = MAX_QUEUED_BATCHES
    builder: BatchBuilder = field(init=False)
    # The hand-overs not yet awaited, oldest first; each awaits the one before it, and gives Kafka's
    # acknowledgement of its batch.
    _handing_over: deque[asyncio.Future[asyncio.Future[Any]]] = field(default_factory=deque)
    # Every hand-over since the last checkpoint, in order.
    _unchecked: Checkpoint = field(default_factory=list)

    def __post_init__(self) -> None:
        self.builder = self.producer.create_batch()

    def add(self, key: bytes | None, value: bytes | None) -> bool:
        """Append to the current batch if it has room (False: it is full, call `append`). Callers
        adding thousands of records call this first: it costs no coroutine."""
        return self.builder.append(key=key, value=value, timestamp=None) is not None

    async def append(self, key: bytes | None, value: bytes | None) -> None:
        if self.add(key, value):
            return
        await self.ship()  # full: send it and start the next one
        if self.builder.append(key=key, value=value, timestamp=None) is None:
            raise ValueError(f"a record of {len(value or b'')} bytes does not fit in a Kafka batch")

    async def ship(self) -> None:
        """Hand the current batch over to the producer, in the background after those before it."""
        self._start_hand_over()
        while self._handing_over and self._handing_over[0].done():
            await self._handing_over.popleft()  # raises what failed
        while len(self._handing_over) > self.max_queued:
            await self._handing_over.popleft()

    def _start_hand_over(self) -> None:
        if self.builder.record_count():
            previous = self._handing_over[-1] if self._handing_over else None
            handing_over = asyncio.ensure_future(self._hand_over(self.builder, previous))
            self._handing_over.append(handing_over)
            self._unchecked.append(handing_over)
            self.builder = self.producer.create_batch()

    async def _hand_over(self, builder: BatchBuilder,
                         previous: asyncio.Future[asyncio.Future[Any]] | None) -> asyncio.Future[Any]:
        if previous is not None:
            await previous  # in order: a failure before it fails this one too
        return await self.producer.send_batch(builder, self.topic, partition=self.partition)

    def checkpoint(self) -> Checkpoint:
        """Hand over what was added so far, without waiting: the hand-overs since the last
        checkpoint, for `acknowledged`. Records added later go out after these, in order."""
        self._start_hand_over()
        checked, self._unchecked = self._unchecked, []
        return checked

    @staticmethod
    async def handed_over_by(checkpoint: Checkpoint) -> list[asyncio.Future[Any]]:
        """Wait until the checkpoint's batches are handed over to the producer, and take the futures
        of their acknowledgements (for the caller to await), raising what failed."""
        outcomes = await asyncio.gather(*checkpoint, return_exceptions=True)
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            raise failed[0]
        return list(outcomes)  # type: ignore[arg-type]  # (no exceptions among them)

    @classmethod
    async def acknowledged(cls, checkpoint: Checkpoint) -> list[Any]:
        """Wait for Kafka to acknowledge every batch of the checkpoint."""
        return list(await asyncio.gather(*await cls.handed_over_by(checkpoint)))

    async def handed_over(self) -> list[asyncio.Future[Any]]:
        """Ship what is left, wait until every batch is handed over to the producer, and take the
        futures of their acknowledgements (for the caller to await), raising what failed."""
        return await self.handed_over_by(self.checkpoint())

    async def flush(self) -> list[Any]:
        """Ship what is left and wait for Kafka to acknowledge every batch."""
        return await self.acknowledged(self.checkpoint())
