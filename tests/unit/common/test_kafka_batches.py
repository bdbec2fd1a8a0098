"""PartitionBatcher: full batches are handed to the producer in the background, in order, at most
`max_queued` waiting at a time, and `flush` waits for every acknowledgement or raises what failed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.common.kafka_batches import PartitionBatcher


class Builder:
    """Holds up to `room` records, as aiokafka's BatchBuilder holds up to its size."""

    def __init__(self, room: int) -> None:
        self.room, self.records = room, []

    def append(self, key: bytes | None, value: bytes | None, timestamp: None) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.records)


class Producer:
    """Takes a batch only once the one before it has gone out (aiokafka's accumulator): the test
    lets each go out, and acknowledges it, when it chooses."""

    def __init__(self, room: int = 2) -> None:
        self.room = room
        self.taken: list[list[Any]] = []
        self.went_out = asyncio.Event()
        self.acks: list[asyncio.Future[Any]] = []
        self.fail_next: Exception | None = None

    def create_batch(self) -> Builder:
        return Builder(self.room)

    async def send_batch(self, builder: Builder, topic: str, partition: int) -> asyncio.Future[Any]:
        if self.taken:
            await self.went_out.wait()  # the previous batch must go out first
            self.went_out.clear()
        if self.fail_next is not None:
            raise self.fail_next
        self.taken.append(builder.records)
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]

    def let_out(self) -> None:
        self.went_out.set()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_batches_go_out_in_order_without_holding_the_caller() -> None:
    producer = Producer(room=2)
    batcher = PartitionBatcher(producer, "t", 0, max_queued=8)  # type: ignore[arg-type]
    for value in range(7):  # three full batches and one of a single record
        await batcher.append(b"k", bytes([value]))  # never waits for a batch to go out
    await batcher.ship()
    await settle()
    assert producer.taken == [[b"\x00", b"\x01"]]  # the rest wait their turn, in the background
    flushed = asyncio.ensure_future(batcher.flush())
    for _ in range(3):
        producer.let_out()
        await settle()
    assert producer.taken == [[b"\x00", b"\x01"], [b"\x02", b"\x03"], [b"\x04", b"\x05"], [b"\x06"]]
    assert not flushed.done()  # until Kafka acknowledges every batch
    for index, ack in enumerate(producer.acks):
        ack.set_result(index)
    assert await flushed == [0, 1, 2, 3]


async def test_no_more_than_max_queued_batches_wait() -> None:
    producer = Producer(room=1)
    batcher = PartitionBatcher(producer, "t", 0, max_queued=1)  # type: ignore[arg-type]
    await batcher.append(b"k", b"1")
    await batcher.append(b"k", b"2")  # ships [1], which goes out at once
    await settle()
    await batcher.append(b"k", b"3")  # ships [2], which waits for [1] to go out: one waiting
    await settle()
    held = asyncio.ensure_future(batcher.append(b"k", b"4"))  # ships [3]: one too many waiting
    await settle()
    assert not held.done()
    producer.let_out()  # [1] went out: [2] is taken, and [3] may wait
    await settle()
    assert held.done() and producer.taken == [[b"1"], [b"2"]]


async def test_a_failed_hand_over_fails_the_flush() -> None:
    producer = Producer(room=1)
    batcher = PartitionBatcher(producer, "t", 0)  # type: ignore[arg-type]
    await batcher.append(b"k", b"a")
    await batcher.append(b"k", b"b")  # ships [a]
    producer.fail_next = RuntimeError("broker gone")
    producer.let_out()
    with pytest.raises(RuntimeError, match="broker gone"):
        await batcher.flush()


async def test_a_checkpoint_waits_for_the_batches_before_it_while_later_ones_go_out_behind_them() -> None:
    producer = Producer(room=2)
    batcher = PartitionBatcher(producer, "t", 0)  # type: ignore[arg-type]
    for value in (b"1", b"2", b"3"):
        await batcher.append(b"k", value)
    checkpoint = batcher.checkpoint()  # [1, 2] and [3]: what was added so far, without waiting
    acknowledged = asyncio.ensure_future(PartitionBatcher.acknowledged(checkpoint))
    for value in (b"4", b"5"):  # added after the checkpoint
        await batcher.append(b"k", value)
    await batcher.ship()
    for _ in range(3):
        producer.let_out()
        await settle()
    assert producer.taken == [[b"1", b"2"], [b"3"], [b"4", b"5"]]  # in order, the later behind
    producer.acks[0].set_result("ack 1")
    producer.acks[1].set_result("ack 2")
    await settle()
    assert await acknowledged == ["ack 1", "ack 2"]  # not waiting for [4, 5]'s acknowledgement
    assert not producer.acks[2].done()
    producer.acks[2].set_result("ack 3")
    assert await batcher.flush() == ["ack 3"]  # the next checkpoint has what came after
