"""`python -m services.aggregator`: one Faust worker. Start more for more throughput."""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.aggregator.compiled import BUILD_DIR, running_compiled
from services.aggregator.settings import AggregatorSettings
from services.aggregator.worker import build
from services.common.gc_tuning import tune_gc
from services.common.malloc_tuning import keep_freed_memory
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
    if running_compiled():
        log.info("the engine's hot modules run compiled (%s)", BUILD_DIR)
    else:  # correct all the same, with about 40% more instructions an event (docs/benchmarks.md)
        log.warning("the engine's hot modules run as Python: no current build in %s "
                    "(make compiled builds it; AGGREGATOR_COMPILED=0 asks for Python)", BUILD_DIR)
    partitions = asyncio.run(prepare_topics(settings))
    app = build(settings, partitions)
    tune_gc()
    keep_freed_memory()
    make_worker(app, settings.log_level).execute_from_commandline()


def make_worker(app: faust.App, log_level: str) -> faust.Worker:
    worker = faust.Worker(app, loglevel=log_level, quiet=True)
    # No terminal spinner: at a level of warn or above Faust gives it a handler on the root logger and
    # sets the root to DEBUG so that every record turns it, and then each of aiokafka's and Faust's
    # debug calls makes a LogRecord (about 5% of a busy worker's time) only for the spinner.
    worker.spinner = None
    return worker


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
