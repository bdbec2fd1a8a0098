"""The aggregator's Faust app fetches with a short wait (see services/aggregator/kafka_transport.py)."""

from __future__ import annotations

from services.aggregator.app import make_app
from services.aggregator.faust_adapter import FetchWaitConsumerThread, fetch_max_wait
from services.aggregator.kafka_transport import FETCH_MAX_WAIT_MS
from services.aggregator.settings import AggregatorSettings


async def test_the_app_consumer_waits_at_most_the_short_fetch_wait() -> None:
    app = make_app(AggregatorSettings(app_id="transport-test"), partitions=4)
    thread = app.consumer._thread
    assert isinstance(thread, FetchWaitConsumerThread)
    kafka_consumer = thread._create_worker_consumer(app.transport)  # built, never started
    try:
        assert fetch_max_wait(kafka_consumer) == FETCH_MAX_WAIT_MS < 1500
    finally:
        await kafka_consumer.stop()
