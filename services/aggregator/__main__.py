"""`python -m services.aggregator`: one Faust worker. Start more for more throughput."""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.aggregator.settings import AggregatorSettings
from services.aggregator.worker import build
from services.common.gc_tuning import tune_gc
from services.common.topics import ensure_topics

log = logging.getLogger(__name__)


async def prepare_topics(settings: AggregatorSettings) -> int:
    """Ensure the product's topics and the packed topic; return the events topic's partitions."""
    await ensure_topics(settings.kafka, settings.replication_factor)
    admin = AIOKafkaAdminClient(**settings.kafka.client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics([settings.kafka.events_topic])
        partitions = len(described[0]["partitions"])
        if settings.packed_topic not in await admin.list_topics():
            await admin.create_topics(
                [NewTopic(settings.packed_topic, partitions, settings.replication_factor)])
        return partitions
    finally:
        await admin.close()


def main() -> None:
    settings = AggregatorSettings()
    partitions = asyncio.run(prepare_topics(settings))
    app = build(settings, partitions)
    tune_gc()
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
