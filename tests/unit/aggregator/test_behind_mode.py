"""Behind a backlog the agent's thread keeps the GIL ten times Python's default and the producers
batch as aiokafka does by default; live, Python's default, lz4 and large batches for publishing:
following the agent's state as it changes."""

from __future__ import annotations

import sys

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatch

from services.aggregator.behind_mode import (
    BEHIND_S,
    LIVE_S,
    PUBLISH_BATCH_BEHIND,
    PUBLISH_BATCH_LIVE,
    BehindMode,
    LiveBatching,
)
from services.aggregator.faust_adapter import batch_size, compression_codec


def test_the_mode_follows_the_agents_state() -> None:
    behind = [False]
    holds: list[float] = []
    live: list[bool] = []
    mode = BehindMode(lambda: behind[0], live.append, holds.append)
    mode.follow()
    behind[0] = True
    mode.follow()
    mode.follow()  # unchanged: not set again
    behind[0] = False
    mode.follow()
    assert holds == [LIVE_S, BEHIND_S, LIVE_S]
    assert live == [True, False, True]
    assert LIVE_S == 0.005  # Python's default
    assert BEHIND_S >= 10 * LIVE_S


def test_it_sets_pythons_switch_interval() -> None:
    default = sys.getswitchinterval()
    try:
        BehindMode(lambda: True).follow()
        assert sys.getswitchinterval() == pytest.approx(BEHIND_S)  # kept in microseconds
    finally:
        sys.setswitchinterval(default)


async def test_live_changelogs_and_published_records_are_compressed_and_published_in_large_batches() -> None:
    publishing = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    changelogs: list[bool] = []
    batching = LiveBatching(changelogs.append, lambda: publishing)
    try:
        batching(True)
        assert compression_codec(publishing) == DefaultRecordBatch.CODEC_LZ4
        assert batch_size(publishing) == PUBLISH_BATCH_LIVE
        batching(False)
        assert compression_codec(publishing) == DefaultRecordBatch.CODEC_NONE
        assert batch_size(publishing) == PUBLISH_BATCH_BEHIND
        assert changelogs == [True, False]
    finally:
        await publishing.stop()


def test_a_publishing_producer_not_started_yet_is_left_as_it_is() -> None:
    changelogs: list[bool] = []
    LiveBatching(changelogs.append, lambda: None)(False)
    assert changelogs == [False]
