"""Wires the worker's parts to Faust: the packer (in a child process), the agent over packed
records, the tables that make its state durable, the timers, and the web pages. What each part
does is in its own module; nothing here decides anything."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from typing import Any

import faust
from faust.types import TP

from services.aggregator import metrics
from services.aggregator.app import make_app
from services.aggregator.behind_mode import BehindMode, LiveBatching
from services.aggregator.busy_share import WINDOW_S
from services.aggregator.commit_protocol import RECORD_EVERY_S, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.engine import Engine
from services.aggregator.filing_store import STORE_EVERY_S, FilingStore
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.pack_reader import PackReader
from services.aggregator.pack_stream import PackStream, by_partition
from services.aggregator.packer_process import PackerProcess
from services.aggregator.publisher import Publisher
from services.aggregator.rebalance import Rebalance
from services.aggregator.retention import RetentionSweep
from services.aggregator.settings import AggregatorSettings
from services.aggregator.stall_guard import StallGuard
from services.aggregator.table_writer import TableWriter
from services.aggregator.web import StatePage, add_pages
from services.common.gc_tuning import FrozenState

# Delivered packs taken at a time, and how long to wait for more.
TAKE_PACKS, TAKE_WITHIN_S = 256, 0.005


def build(settings: AggregatorSettings, partitions: int) -> faust.App:
    app = make_app(settings, partitions)
    packed = app.topic(settings.packed_topic, value_type=bytes, value_serializer="raw",
                       partitions=partitions)
    filings = app.Table("filings", key_type=bytes, value_type=bytes, partitions=partitions)
    units = app.Table("units", key_type=bytes, value_type=bytes, partitions=partitions)

    def assigned() -> list[int]:
        return [tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.packed_topic]

    async def send(topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        return await app.producer.send(topic, key, value, None, None, None)

    engine = Engine(retention_days=settings.retention_days, clock=settings.clock(),
                    filing_cache_size=settings.filing_cache_size)
    writer = TableWriter(settings, written_back=(filings,))
    reader = PackReader(settings)
    dead_letters = DeadLetterWriter(settings.kafka.dlq_topic)
    gate = PartitionGate(lambda partition: TP(settings.packed_topic, partition)
                         in app.assignor.assigned_actives())
    commits = CommitProtocol(writer, units, reader.first, engine.unit_records)
    applier = PackApplier(engine, writer, filings, units, commits, reader, dead_letters,
                          settings.kafka.events_topic, settings.apply_max_events, settings.pack_max_bytes,
                          settle=FrozenState().settle)
    stall_guard = StallGuard(settings.stall_after_s, gate, commits, applier, reader, assigned)
    stream = PackStream(gate, applier, commits, stall_guard)
    metrics.APPLYING_SHARE.set_function(stream.applying.share)
    behind_mode = BehindMode(stream.behind, LiveBatching.of(writer, app))
    behind_mode.follow()
    stream.before_applying = behind_mode.follow
    rebalance = Rebalance(engine, gate, commits, stall_guard)
    retention = RetentionSweep(engine, writer, filings, gate)
    filing_store = FilingStore(engine, writer, filings, gate, partitions)
    def scan_filings(partition: int, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The filings table's records of one unit (keys `<unit>\x1f<filing id>`), from the store."""
        for key, value in writer.read(partition, filings).items(from_key=prefix):
            if not key.startswith(prefix):
                return
            yield key, value

    publisher = Publisher(engine, send, settings.kafka.figures_topic, settings.kafka.days_topic,
                          settings.publish_interval_s, filings_topic=settings.kafka.filings_topic,
                          scan=scan_filings, filings_interval_s=settings.filings_interval_s,
                          behind=stream.behind)

    @units.on_recover
    async def recovered() -> None:
        rebalance.recovered(units.items())

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust's stub wants a `signal` kwarg
    async def on_revoked(sender: faust.App, revoked: set[Any], **_: Any) -> None:
        await rebalance.revoked(tp.partition for tp in revoked if tp.topic == settings.packed_topic)

    @app.agent(packed)
    async def aggregate(events: faust.StreamT[bytes]) -> None:
        await writer.start()
        assert writer.producer is not None
        dead_letters.use(writer.producer)
        await reader.start()
        try:
            # (`take_events` is missing from faust's StreamT stub.)
            async for batch in events.take_events(TAKE_PACKS, within=TAKE_WITHIN_S):  # type: ignore[attr-defined]
                await stream.take(by_partition(batch))
                await retention.sweep_if_due()
        finally:
            filing_store.write_changed_now()
            await reader.stop()
            await writer.stop()

    @app.timer(RECORD_EVERY_S)
    async def record_waiting_next_packs() -> None:
        await stream.record_waiting()

    @app.timer(WINDOW_S)
    async def follow_the_backlog() -> None:
        behind_mode.follow()  # also when no packs come to end a catch-up

    @app.timer(STORE_EVERY_S)
    async def store_changed_filings() -> None:
        await filing_store.write_changed()

    @app.timer(settings.stall_after_s)
    async def apply_stalled_partitions() -> None:
        await stall_guard.check()

    @app.task
    async def publish() -> None:
        await publisher.run()

    @app.timer(settings.overdue_check_interval_s)
    async def overdue_clock() -> None:
        engine.mark_clock_changes(engine.now())

    @app.task
    async def run_packer() -> None:
        # Packing starts once the agent can apply: packs made earlier would only wait, and the
        # throughput benchmark, timed from the first event applied, would not count the head start.
        await gate.wait_open()
        await PackerProcess().run()

    add_pages(app, StatePage(engine, applier, applying_share=stream.applying.share))
    return app
