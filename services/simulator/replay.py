"""Put an NDJSON file straight onto a Kafka topic, as a direct producer would, fast.

For tests and benchmarks: `await produce_file(path, settings, topic)`, or from a shell
`python -m services.simulator.replay events.ndjson` (topic and cluster from `KAFKA_*`).
Each line becomes one record, keyed by its `unit_code` like every producer of `filing-events`;
a line that is not JSON, or has no usable `unit_code`, goes with no key so that the consumer's
validation (and its DLQ) sees it. Blank lines are skipped: NDJSON readers ignore them too.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from services.common.kafka_batches import PartitionBatcher
from services.common.kafka_settings import KafkaSettings

BATCH_BYTES = 512 * 1024  # one request per half megabyte per partition, not one per record
READ_BYTES = 4 * 1024 * 1024


def record_key(line: bytes) -> bytes | None:
    """The Kafka key of one NDJSON line: its unit_code, or None when there is none."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    code = event.get("unit_code") if isinstance(event, dict) else None
    return code.encode() if isinstance(code, str) and code else None


def _lines(path: Path) -> Any:
    with path.open("rb") as source:
        for raw in source:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield line


async def produce_file(path: str | Path, kafka_settings: KafkaSettings, topic: str) -> int:
    """Produce every line of `path` to `topic`; return the number of records Kafka acknowledged.

    Records are grouped into per-partition batches by hand, partitioned exactly as the default
    partitioner would (murmur2 of the key), because aiokafka's per-record `send` costs more than
    the broker does at these volumes.
    """
    producer = AIOKafkaProducer(**kafka_settings.client_kwargs(), acks="all", enable_idempotence=True,
                                max_batch_size=BATCH_BYTES, linger_ms=5)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        by_key: dict[bytes, int] = {}  # a few hundred unit codes: hash each once
        spread = itertools.cycle(partitions)  # keyless records take turns
        batchers = {p: PartitionBatcher(producer, topic, p) for p in partitions}
        count = 0
        for line in _lines(Path(path)):
            key = record_key(line)
            if key is None:
                partition = next(spread)
            else:
                partition = by_key.get(key, -1)
                if partition < 0:
                    partition = by_key[key] = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
            await batchers[partition].append(key, line)
            count += 1
        for batcher in batchers.values():
            await batcher.flush()
        return count
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.simulator.replay",
                                     description="Produce an NDJSON file of events to Kafka "
                                                 "(cluster and topic from the KAFKA_* environment).")
    parser.add_argument("file", type=Path)
    parser.add_argument("--topic", help="default: KAFKA_EVENTS_TOPIC or filing-events")
    args = parser.parse_args(argv)
    settings = KafkaSettings()
    topic = args.topic or settings.events_topic
    started = time.monotonic()
    count = asyncio.run(produce_file(args.file, settings, topic))
    elapsed = time.monotonic() - started
    print(f"{count:,} records to {topic} on {settings.bootstrap_servers} in {elapsed:.1f}s "
          f"({count / max(elapsed, 1e-9):,.0f}/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
