"""Create the product's topics: one idempotent command, `python -m services.common.topics`.

`filing-events` (keyed by unit code), `filing-events-dlq`, and the compacted `unit-figures`,
`unit-days` and `unit-agencies`.
Existing topics are left as they are, so running it again is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.kafka_settings import KafkaSettings

log = logging.getLogger(__name__)


def topic_specs(settings: KafkaSettings, replication_factor: int = 1) -> list[NewTopic]:
    return [
        NewTopic(settings.events_topic, settings.events_partitions, replication_factor),
        NewTopic(settings.dlq_topic, 3, replication_factor),
        NewTopic(
            settings.figures_topic, settings.events_partitions, replication_factor,
            # Compacted: the latest figures of each unit are all a new API replica needs.
            topic_configs={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1",
                           "segment.ms": "600000"},
        ),
        NewTopic(
            # Compacted too, keyed `<unit>|<day>`: the latest counters of every unit's every day.
            settings.days_topic, settings.events_partitions, replication_factor,
            topic_configs={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1",
                           "segment.ms": "600000"},
        ),
        NewTopic(
            # Compacted, keyed by unit: the latest lists of its overdue, late and due-soon filings.
            settings.filings_topic, settings.events_partitions, replication_factor,
            topic_configs={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1",
                           "segment.ms": "600000"},
        ),
        NewTopic(
            # Compacted, keyed by agency code: the latest unit each agency's dossiers count for.
            settings.agencies_topic, 3, replication_factor,
            topic_configs={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"},
        ),
    ]


async def ensure_topics(settings: KafkaSettings, replication_factor: int = 1) -> list[str]:
    """Create the topics that are missing; return the names created."""
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_specs(settings, replication_factor) if t.name not in existing]
        if missing:
            # Another process may create them between our look and our create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = KafkaSettings()
    created = asyncio.run(ensure_topics(settings))
    log.info("topics on %s: created %s", settings.bootstrap_servers, created or "none (all existed)")


if __name__ == "__main__":
    main()
