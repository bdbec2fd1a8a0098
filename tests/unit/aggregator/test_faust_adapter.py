"""Every private attribute of faust-streaming and aiokafka the aggregator uses
(services/aggregator/faust_adapter.py) still exists on the installed versions, and does what the
runtime relies on. An upgrade that renames or changes one fails here, not silently in production."""

from __future__ import annotations

import inspect
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.record.default_records import DefaultRecordBatch
from faust.stores import rocksdb as faust_rocksdb
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from services.aggregator.faust_adapter import (
    FetchWaitConsumerThread,
    FetchWaitTransport,
    app_producer,
    compression_codec,
    fetch_max_wait,
    open_partition_store,
    partition_store,
    set_changelog_offset,
    set_fetch_max_wait,
    set_lz4,
)


def test_the_private_attributes_exist_on_the_installed_versions() -> None:
    assert callable(faust_rocksdb.Store._db_for_partition)
    assert list(inspect.signature(faust_rocksdb.Store._db_for_partition).parameters) == ["self", "partition"]
    assert list(inspect.signature(
        faust_rocksdb.Store.set_persisted_offset).parameters) == ["self", "tp", "offset"]
    assert list(inspect.signature(
        faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer).parameters) == ["self", "transport"]
    assert list(inspect.signature(faust_aiokafka.Consumer._new_consumer_thread).parameters) == ["self"]
    # aiokafka reads its fetch wait from this attribute when it starts, after construction.
    assert "self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


async def test_the_fetch_wait_reaches_the_consumer() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=1500)
    try:
        set_fetch_max_wait(consumer, 100)
        assert fetch_max_wait(consumer) == 100
    finally:
        await consumer.stop()


async def test_the_transport_builds_its_worker_consumer_with_its_fetch_wait() -> None:
    class Transport(FetchWaitTransport):
        fetch_max_wait_ms = 42

    app = faust.App("adapter-test", broker="kafka://127.0.0.1:1")
    app.transport = Transport(app.conf.broker_consumer, app)
    thread = app.consumer._thread
    assert isinstance(thread, FetchWaitConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert fetch_max_wait(consumer) == 42
    finally:
        await consumer.stop()


def test_a_tables_partition_store_is_its_rocksdb_and_takes_the_changelog_offset(tmp_path: Path) -> None:
    app = faust.App("adapter-test", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = app.Table("t", key_type=bytes, value_type=bytes, partitions=2)
    assert open_partition_store(table, 1) is None  # not opened yet
    store = partition_store(table, 1)
    assert open_partition_store(table, 1) is store and open_partition_store(table, 0) is None
    store[b"k"] = b"v"
    assert partition_store(table, 1).get(b"k") == b"v" and partition_store(table, 0).get(b"k") is None
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    set_changelog_offset(table, tp, 17)
    assert table.data.persisted_offset(tp) == 17


def batch_codec(producer: AIOKafkaProducer) -> int:
    """The codec of a batch the producer would make now, read back from its bytes."""
    builder = producer._message_accumulator.create_builder()
    builder.append(timestamp=None, key=b"k", value=b"v" * 1000)
    return int(DefaultRecordBatch(bytes(builder._build())).compression_type)


async def test_a_producers_next_batches_take_the_codec_set() -> None:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    try:
        assert compression_codec(producer) == 0
        set_lz4(producer, True)
        assert compression_codec(producer) == AIOKafkaProducer._COMPRESSORS["lz4"][1] != 0
        # The accumulator stamps its codec on each batch it makes, when it makes it.
        assert batch_codec(producer) == DefaultRecordBatch.CODEC_LZ4
        set_lz4(producer, False)
        assert batch_codec(producer) == DefaultRecordBatch.CODEC_NONE
    finally:
        await producer.stop()


def test_the_apps_aiokafka_producer_is_there_once_started() -> None:
    app = faust.App("adapter-test", broker="kafka://127.0.0.1:1")
    assert app_producer(app) is None  # made in Producer.on_start, as this reads it
    assert "self._producer = self._new_producer()" in inspect.getsource(faust_aiokafka.Producer.on_start)
    assert "self._batch_size" in inspect.getsource(MessageAccumulator.create_builder)
