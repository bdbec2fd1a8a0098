"""The local broker and the topics command, against a real Kafka."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.local.broker import LocalKafka
from services.common.topics import ensure_topics
from tests.support.broker import unique_settings

pytestmark = pytest.mark.integration


async def test_topics_command_is_idempotent_and_compacts_figures(kafka_broker: LocalKafka) -> None:
    settings = unique_settings(kafka_broker.bootstrap, partitions=5)
    first = await ensure_topics(settings)
    again = await ensure_topics(settings)
    assert sorted(first) == sorted([settings.events_topic, settings.dlq_topic, settings.figures_topic,
                                    settings.days_topic, settings.filings_topic, settings.agencies_topic])
    assert again == []

    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics([settings.events_topic])
        assert len(described[0]["partitions"]) == 5
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.figures_topic)])
        entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_broker_keeps_records_across_a_restart(own_broker: LocalKafka) -> None:
    settings = unique_settings(own_broker.bootstrap, partitions=1)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(**settings.client_kwargs(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(settings.events_topic, b"kept", key=b"u1")
    finally:
        await producer.stop()

    own_broker.stop()
    own_broker.start()

    consumer = AIOKafkaConsumer(settings.events_topic, **settings.client_kwargs(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        values = [r.value for records in batch.values() for r in records]
        assert values == [b"kept"]
    finally:
        await consumer.stop()
