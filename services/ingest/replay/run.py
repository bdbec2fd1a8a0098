"""The replay's loop: read the file in chunks, examine them, produce the records, move the position.

Records are produced by an idempotent producer (acks=all) in whole Kafka batches per partition, the
partition chosen as the default partitioner chooses it for the unit_code key (murmur2), exactly as
ingest's producer places the same record. Every `ack_every` lines (or events, if more: a sync line
holds many) the batches are shipped and the lines so far become a segment; at most `in_flight`
segments wait for Kafka at once, which bounds the memory (a few segments of records) however large
the file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from services.common.kafka_batches import PartitionBatcher
from services.ingest.replay.examine import Examiner, Line
from services.ingest.replay.position import Position, Segment, Segments, save
from services.ingest.replay.progress import ProgressReporter
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

CHUNK_LINES = 1000  # examined together: one check_events call, one clock reading
BATCH_BYTES = 512 * 1024
READ_BUFFER = 4 * 1024 * 1024


@dataclass
class ReplayFiles:
    source: Path
    position: Path
    rejects: Path


def _chunks(source: BinaryIO, first_line: int, offset: int) -> Iterator[tuple[list[Line], int, int]]:
    """(non-blank lines with their numbers, byte offset after the chunk, last line number) per chunk
    of CHUNK_LINES lines; the last chunk may be shorter, or empty if the file ends in blank lines."""
    chunk: list[Line] = []
    number = first_line
    read = 0
    for raw in source:
        number += 1
        read += len(raw)
        line = raw.rstrip(b"\r\n")
        if line.strip():
            chunk.append((number, line))
        if read >= CHUNK_LINES * 256 or len(chunk) >= CHUNK_LINES:
            yield chunk, offset + read, number
            offset, read, chunk = offset + read, 0, []
    yield chunk, offset + read, number


async def replay(files: ReplayFiles, start: Position, examiner: Examiner, settings: IngestSettings,
                 topic: str, ack_every: int = 20_000, in_flight: int = 4,
                 progress: ProgressReporter | None = None,
                 on_position: Callable[[Position], None] | None = None) -> Position:
    """Replay `files.source` from `start` to its end; return the finished position. `on_position` is
    called after each position saved (tests interrupt the replay from it)."""
    clock = settings.now.clock()
    position = start
    counts = start.counts.copy()
    producer = AIOKafkaProducer(**settings.kafka.client_kwargs(), client_id="onestop-ingest-replay",
                                acks="all", enable_idempotence=True, max_batch_size=BATCH_BYTES,
                                max_request_size=max(BATCH_BYTES, 1024 * 1024), linger_ms=5,
                                request_timeout_ms=int(settings.produce_timeout_s * 1000))
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic) or ())
        if not partitions:
            raise RuntimeError(f"topic {topic} not found on {settings.kafka.bootstrap_servers}")
        batchers = {p: PartitionBatcher(producer, topic, p) for p in partitions}
        by_key: dict[bytes, int] = {}
        segments = Segments(in_flight)

        def advance() -> None:
            nonlocal position
            done = segments.acknowledged()
            if done is None:
                return
            position = Position(start.file, start.format, start.topic, done.offset, done.line,
                                done.rejects_bytes, done.counts)
            save(position, files.position)
            if on_position is not None:
                on_position(position)

        async def close_segment(offset: int, line: int) -> None:
            deliveries = [d for batcher in batchers.values() for d in await batcher.handed_over()]
            rejects.flush()
            segments.add(Segment(offset, line, rejects.tell(), counts.copy(), deliveries))
            while segments.full:
                await segments.wait_oldest()
                advance()
            advance()

        with files.source.open("rb", buffering=READ_BUFFER) as source, files.rejects.open("ab") as rejects:
            if rejects.seek(0, os.SEEK_END) > start.rejects_bytes:
                rejects.truncate(start.rejects_bytes)  # what a crashed run wrote after its position goes
            source.seek(start.offset)
            since_segment = 0
            offset, line = start.offset, start.line
            for chunk, offset, line in _chunks(source, start.line, start.offset):
                examined = examiner.examine(chunk, round(clock() * 1_000_000), counts)
                if examined.rejects:
                    rejects.write(b"".join(orjson.dumps(r) + b"\n" for r in examined.rejects))
                for key, value in examined.records:
                    partition = by_key.get(key, -1)
                    if partition < 0:
                        partition = by_key[key] = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
                    batcher = batchers[partition]
                    if not batcher.add(key, value):
                        await batcher.append(key, value)
                since_segment += max(len(chunk), len(examined.records))
                if since_segment >= ack_every:
                    await close_segment(offset, line)
                    since_segment = 0
                if progress is not None:
                    progress.update(offset, counts.events)
            await close_segment(offset, line)
            while segments.pending:
                await segments.wait_oldest()
                advance()
        position.finished = True
        save(position, files.position)
        if on_position is not None:
            on_position(position)
        return position
    finally:
        started = time.monotonic()
        await producer.stop()
        log.debug("producer stopped in %.1f s", time.monotonic() - started)
