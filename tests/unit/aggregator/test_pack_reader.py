"""The pack reader (services/aggregator/pack_reader.py) over a fake consumer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.aggregator.pack_reader import PackReader
from services.aggregator.settings import AggregatorSettings

SETTINGS = AggregatorSettings(app_id="reader-test")


class Consumer:
    """Holds packs at offsets 10..19 of every partition, and hands them out `per_fetch` at a time."""

    def __init__(self, per_fetch: int = 3, readable: bool = True) -> None:
        self.per_fetch = per_fetch
        self.readable = readable
        self.position = 0

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 10 for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 20 for tp in tps}

    def assign(self, tps: list[TopicPartition]) -> None:
        assert [tp.topic for tp in tps] == [SETTINGS.packed_topic]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    async def getmany(self, tp: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        if not self.readable:
            return {}
        got = range(self.position, min(self.position + self.per_fetch, 20))
        self.position = got.stop
        return {tp: [SimpleNamespace(offset=o, value=b"p%d" % o) for o in got]}


def reader(consumer: Consumer, timeout_s: float = 60) -> PackReader:
    packs = PackReader(SETTINGS, read_timeout_s=timeout_s)
    packs.consumer = consumer  # type: ignore[assignment]
    return packs


async def test_first_and_end_are_the_partitions_offsets_in_kafka() -> None:
    packs = reader(Consumer())
    assert (await packs.first(3), await packs.end(3)) == (10, 20)


async def test_a_range_is_read_whole_over_several_fetches_and_nothing_past_its_end() -> None:
    assert await reader(Consumer(per_fetch=3)).read(1, 11, 16) == [(o, b"p%d" % o) for o in range(11, 16)]


async def test_an_empty_range_reads_nothing() -> None:
    assert await reader(Consumer()).read(1, 5, 5) == []


async def test_a_range_that_cannot_be_read_is_an_error_not_a_wait_for_ever() -> None:
    with pytest.raises(RuntimeError, match="not readable"):
        await reader(Consumer(readable=False), timeout_s=0.0).read(1, 11, 16)
