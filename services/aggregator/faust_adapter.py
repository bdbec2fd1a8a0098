"""Every use of a private attribute of faust-streaming or aiokafka, and nowhere else.

The aggregator reaches under the public API of its stream library in four places, each for a
reason given where it is used; they are gathered here so that an upgrade that renames one fails in
`tests/unit/aggregator/test_faust_adapter.py`, loudly, instead of silently changing behaviour:

- `Store._db_for_partition` (faust's RocksDB store): the database of one partition of a table, so
  that packs are read and written by partition, also outside any event (faust-streaming 0.15.3);
- `Store.set_persisted_offset`: the changelog offset a table's recovery resumes from, set after
  writing the changelog ourselves, as Faust's own callback would;
- `Store._dbs`: the partitions' databases open now, to flush them on a clean stop without opening
  the ones a rebalance closed;
- `AIOKafkaConsumer._fetch_max_wait_ms` (aiokafka 0.14), set through faust's
  `Consumer._new_consumer_thread` and `AIOKafkaConsumerThread._create_worker_consumer`: Faust
  hard-codes the consumer's fetch wait (see kafka_transport.py for why it is cut);
- `AIOKafkaProducer._message_accumulator._compression_type`, `._batch_size` and
  `AIOKafkaProducer._COMPRESSORS` (aiokafka 0.14), and Faust's `Producer._producer`: the codec and
  the size of a producer's next batches, which aiokafka otherwise takes only in its constructor;
  they differ live and behind a backlog (behind_mode.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiokafka import AIOKafkaProducer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


def partition_store(table: Any, partition: int) -> Any:
    """The RocksDB database (a `rocksdict.Rdict`) of one partition of a Faust table.

    Faust's own store methods pick the partition from the event being processed; the packs of a
    partition are also applied outside any event (a stalled partition), so every read and write of
    the runtime names its partition.
    """
    return table.data._db_for_partition(partition)


def open_partition_store(table: Any, partition: int) -> Any | None:
    """The partition's RocksDB database if the table's store has it open (None: never opened, or
    closed since, as a rebalance closes the partitions it takes away)."""
    return table.data._dbs.get(partition)


def set_changelog_offset(table: Any, tp: TP, offset: int) -> None:
    """Record that the table's store holds its changelog `tp` up to `offset`, so that recovery after
    a restart reads that changelog from there on."""
    table.data.set_persisted_offset(tp, offset)


def set_fetch_max_wait(consumer: Any, wait_ms: int) -> None:
    """Set an aiokafka consumer's fetch wait before it starts (it hands the value to its fetcher in
    `start()`; the constructor argument is the only public way, and Faust fixes that one)."""
    consumer._fetch_max_wait_ms = wait_ms


def fetch_max_wait(consumer: Any) -> int:
    return int(consumer._fetch_max_wait_ms)


def set_lz4(producer: AIOKafkaProducer, on: bool) -> None:
    """Make the producer's next batches with lz4, or uncompressed. A batch names its own codec, so
    the batches made before keep theirs and a consumer reads both."""
    producer._message_accumulator._compression_type = AIOKafkaProducer._COMPRESSORS["lz4"][1] if on else 0


def compression_codec(producer: AIOKafkaProducer) -> int:
    return int(producer._message_accumulator._compression_type)


def set_batch_size(producer: AIOKafkaProducer, max_bytes: int) -> None:
    """The size of the producer's next batches (a record larger than that has a batch of its own)."""
    producer._message_accumulator._batch_size = max_bytes


def batch_size(producer: AIOKafkaProducer) -> int:
    return int(producer._message_accumulator._batch_size)


def app_producer(app: Any) -> AIOKafkaProducer | None:
    """The aiokafka producer under a Faust app's producer (None until it starts)."""
    return app.producer._producer


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, building its aiokafka consumer with the transport's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        set_fetch_max_wait(consumer, transport.fetch_max_wait_ms)
        return consumer


class FetchWaitConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport whose worker consumer waits at most `fetch_max_wait_ms` per fetch
    (a subclass sets it; 1,500 is Faust's own value)."""

    Consumer = FetchWaitConsumer
    fetch_max_wait_ms: ClassVar[int] = 1500
