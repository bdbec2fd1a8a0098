"""Faust's Kafka transport with a short fetch wait, so that a partition's new packs are not held up.

Faust's aiokafka driver hard-codes the consumer's `fetch_max_wait_ms` to 1,500. aiokafka keeps one
fetch request in flight per broker and leaves out of it the partitions whose records are still
buffered; that request then waits at the broker up to 1.5 s for data on the other partitions,
while new packs of the partitions left out wait for it to come back. Measured: a 1.1–1.7 s pause
with nothing applied at the end of most benchmark replays, a third of a 200,000-event run
(docs/benchmarks.md), and the same wait in live traffic's freshness. 100 ms bounds it, at the cost
of ten empty fetches a second when the topic is idle.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 100


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its fetcher when the consumer starts, after this returns.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
