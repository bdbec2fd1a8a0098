"""Aggregator scaling: one worker against two on the same machine, and how long rebalances take.

`python -m bench.scaling_bench [--events N] [--rate R]` starts its own broker and measures:
1. throughput with one worker and with two (same app id, so they share the partitions): the
   workers are started on empty topics and left to form their group, then the event file is
   produced; timed from the first event applied to the last;
2. a worker joining: one worker applies a live feed of R events/s; a second is started. Reported:
   how long the newcomer takes to apply its first pack, and the longest pause in the group's
   progress meanwhile;
3. a worker dying: two workers apply the feed; one is SIGKILLed. Reported: how long until the
   survivor holds every unit (the dead worker's partitions moved and their tables restored), which
   includes the session timeout (`AGGREGATOR_SESSION_TIMEOUT_S`, 10 s) that detects the death.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.aggregator_bench import FROZEN_NOW, make_events
from deploy.local.broker import LocalKafka, free_port
from deploy.local.service import Service
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.event_validation import Valid, default_validator
from services.simulator.replay import produce_file
from tests.support.broker import scratch_broker
from tests.support.waiting import wait_until


class Worker:
    """An aggregator worker as deployed, run as `make run` runs its services, with its /state."""

    def __init__(self, kafka: KafkaSettings, app_id: str, workdir: Path, name: str) -> None:
        self.port = free_port()
        self.service = Service(name, [sys.executable, "-m", "services.aggregator"], workdir, env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "KAFKA_EVENTS_TOPIC": kafka.events_topic,
            "KAFKA_DLQ_TOPIC": kafka.dlq_topic, "KAFKA_FIGURES_TOPIC": kafka.figures_topic,
            "KAFKA_DAYS_TOPIC": kafka.days_topic, "AGGREGATOR_APP_ID": app_id,
            "AGGREGATOR_DATA_DIR": str(workdir / name), "AGGREGATOR_WEB_PORT": str(self.port),
            "AGGREGATOR_FROZEN_NOW": FROZEN_NOW, "AGGREGATOR_LOG_LEVEL": "warn"})
        self.service.start()
        self.started = time.monotonic()

    def state(self) -> dict[str, int]:
        if not self.service.alive():
            raise RuntimeError(f"worker exited:\n{self.service.log_tail()}")
        try:
            body = httpx.get(f"http://127.0.0.1:{self.port}/state", timeout=1).json()
        except (httpx.HTTPError, ValueError):
            return {"applied": 0, "units": 0}
        return {"applied": body["applied"], "units": body["units"]}

    def kill(self) -> None:
        """SIGKILL, as when a machine dies."""
        self.service.kill()

    def stop(self) -> None:
        self.service.stop()


def packable(path: Path) -> int:
    """Events in the file that the packer passes to the agent (the schema's verdict)."""
    validate = default_validator().validate
    lines = path.read_bytes().splitlines()
    return sum(1 for line in lines if isinstance(validate(orjson.loads(line)), Valid))


async def group_stable(kafka: KafkaSettings, group: str, members: int) -> bool:
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        described = (await admin.describe_consumer_groups([group]))[0]
        return bool(described.groups[0][2] == "Stable" and len(described.groups[0][5]) == members)
    except (IndexError, KafkaError):  # no coordinator or no group yet
        return False
    finally:
        await admin.close()


def fresh_topics(broker: LocalKafka, partitions: int) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:6]
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_partitions=partitions,
                          events_topic=f"scale-events-{suffix}", dlq_topic=f"scale-dlq-{suffix}",
                          figures_topic=f"scale-figures-{suffix}", days_topic=f"scale-days-{suffix}")
    asyncio.run(ensure_topics(kafka))
    return kafka


def throughput(broker: LocalKafka, events: Path, expected: int, workers: int, partitions: int,
               workdir: Path) -> float:
    kafka = fresh_topics(broker, partitions)
    app_id = f"scale-{uuid.uuid4().hex[:6]}"
    group = [Worker(kafka, app_id, workdir, f"t{workers}-{i}") for i in range(workers)]
    try:
        wait_until(lambda: asyncio.run(group_stable(kafka, app_id, workers)), 120,
                   "the workers' group", every=0.1)
        producing = threading.Thread(
            target=lambda: asyncio.run(produce_file(events, kafka, kafka.events_topic)))
        producing.start()
        started = 0.0
        while True:
            applied = sum(w.state()["applied"] for w in group)
            if applied and not started:
                started = time.perf_counter()
            if applied >= expected:
                producing.join()
                return expected / (time.perf_counter() - started)
            time.sleep(0.02)
    finally:
        for worker in group:
            worker.stop()


async def feed(kafka: KafkaSettings, lines: list[bytes], rate: int, stop: threading.Event) -> None:
    """Produce the lines at `rate` events/s, keyed by unit, until stopped or out of lines."""
    producer = AIOKafkaProducer(**kafka.client_kwargs(), linger_ms=5)
    await producer.start()
    try:
        step = max(1, rate // 20)
        for start in range(0, len(lines), step):
            if stop.is_set():
                break
            tick = time.monotonic()
            for line in lines[start:start + step]:
                await producer.send(kafka.events_topic, line, key=orjson.loads(line)["unit_code"].encode())
            await asyncio.sleep(max(0.0, 0.05 - (time.monotonic() - tick)))
        await producer.flush()
    finally:
        await producer.stop()


def rebalances(broker: LocalKafka, events: Path, rate: int, partitions: int,
               workdir: Path) -> dict[str, float]:
    lines = [line for line in events.read_bytes().splitlines() if isinstance(orjson.loads(line), dict)]
    kafka = fresh_topics(broker, partitions)
    app_id = f"scale-{uuid.uuid4().hex[:6]}"
    stop = threading.Event()
    feeding = threading.Thread(target=lambda: asyncio.run(feed(kafka, lines, rate, stop)))
    first = Worker(kafka, app_id, workdir, "r-first")
    workers = [first]
    figures: dict[str, float] = {}
    try:
        wait_until(lambda: asyncio.run(group_stable(kafka, app_id, 1)), 120,
                   "the first worker's group", every=0.1)
        feeding.start()
        wait_until(lambda: first.state()["applied"] > 5 * rate, 120,
                   "the first worker's progress", every=0.1)
        # A worker joins.
        second = Worker(kafka, app_id, workdir, "r-second")
        workers.append(second)
        last_total, last_change, longest_pause = 0, time.monotonic(), 0.0
        while second.state()["applied"] == 0:
            total = first.state()["applied"]
            now = time.monotonic()
            if total != last_total:
                longest_pause = max(longest_pause, now - last_change)
                last_total, last_change = total, now
            time.sleep(0.05)
            if now - second.started > 300:
                raise RuntimeError("the second worker never applied a pack")
        figures["join: newcomer's first pack applied after (s)"] = time.monotonic() - second.started
        figures["join: longest pause of the first worker meanwhile (s)"] = max(
            longest_pause, time.monotonic() - last_change)
        wait_until(lambda: asyncio.run(group_stable(kafka, app_id, 2)), 120,
                   "the two workers' group", every=0.1)
        time.sleep(5)
        # A worker dies.
        units_before = first.state()["units"] + second.state()["units"]
        first.kill()
        killed = time.monotonic()
        wait_until(lambda: second.state()["units"] >= units_before, 300,
                   "the survivor to hold every unit", every=0.1)
        figures["death: survivor holds every unit after (s)"] = time.monotonic() - killed
        return figures
    finally:
        stop.set()
        if feeding.is_alive():
            feeding.join()
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--rate", type=int, default=2_000, help="live feed for the rebalance runs, events/s")
    args = parser.parse_args()
    with scratch_broker("scalebench-") as (workdir, broker):
        events = workdir / "events.ndjson"
        make_events(events, args.events)
        expected = packable(events)
        print(f"{args.events} events ({expected} valid) on {args.partitions} partitions, one broker, "
              f"{os.cpu_count()} cores")
        one = throughput(broker, events, expected, 1, args.partitions, workdir)
        print(f"one worker : {one:10,.0f} events/s")
        two = throughput(broker, events, expected, 2, args.partitions, workdir)
        print(f"two workers: {two:10,.0f} events/s   (two / one = {two / one:.2f})")
        for name, value in rebalances(broker, events, args.rate, args.partitions, workdir).items():
            print(f"{name}: {value:.1f}")

if __name__ == "__main__":
    main()
