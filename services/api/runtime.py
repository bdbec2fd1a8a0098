"""The API's live state and its life: topics, the mirrors, the registry seed, the change feed.

Start-up runs in the background so the server answers `/healthz` and `/readyz` (503) at once, even
while Kafka is unreachable; it retries until it is up. Ready means every mirror has caught up with
the end offsets it saw when it connected, and the registry has been seeded if it was empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.api.changes import ChangeFeed
from services.api.daily import DailyView
from services.api.filings import FilingsView
from services.api.metrics import ApiMetrics
from services.api.queries import State
from services.api.registry import apply_unit, encode_unit, seed_units
from services.api.rollup_cache import RollupCache
from services.api.settings import ApiSettings
from services.api.targets import TargetBook, apply_target
from services.api.tree import UnitTree
from services.api.view import FiguresView
from services.api.writer import KafkaUnavailable, Writer
from services.common.topic_mirror import TopicMirror
from services.common.topics import ensure_topics
from services.contract.agencies import AgencyBook

log = logging.getLogger(__name__)

BOOT_RETRY_S = (0.5, 10.0)  # first and longest pause between start-up attempts while Kafka is away
# How often the subtree sums take in the records changed since (services/api/subtree_sums.py), so that a
# rollup asked for right after a change finds at most this long's changes left to add.
SUMS_INTERVAL_S = 0.1


class Runtime:
    def __init__(self, settings: ApiSettings, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        kafka = settings.kafka
        self.view = FiguresView()
        self.tree = UnitTree()
        self.targets = TargetBook()
        self.state = State(self.tree, self.view.records, self.targets)
        self.rollups = RollupCache(self.state, self.view, self.tree)
        self.feed = ChangeFeed(settings.stream_coalesce_s, settings.stream_buffer)
        self.view.listeners.append(self.feed.offer)
        self.figures = TopicMirror(kafka, kafka.figures_topic, self.view.apply)
        self.registry = TopicMirror(kafka, settings.registry_topic, lambda k, v: apply_unit(self.tree, k, v))
        self.target_mirror = TopicMirror(kafka, settings.targets_topic,
                                         lambda k, v: apply_target(self.targets, k, v))
        self.days = DailyView()
        self.day_mirror = TopicMirror(kafka, kafka.days_topic, self.days.apply)
        self.filings = FilingsView()
        self.filing_mirror = TopicMirror(kafka, kafka.filings_topic, self.filings.apply)
        self.agencies = AgencyBook()
        self.agency_mirror = TopicMirror(kafka, kafka.agencies_topic, self.agencies.apply)
        self.mirrors = (self.figures, self.registry, self.target_mirror, self.day_mirror, self.agency_mirror,
                        self.filing_mirror)
        self.writer = Writer(kafka, settings.write_timeout_s)
        self.ready = asyncio.Event()
        self._boot_task: asyncio.Task[None] | None = None
        self._sums_task: asyncio.Task[None] | None = None
        self._started: list[TopicMirror] = []
        self._watch_metrics()

    async def start(self) -> None:
        self.feed.start()
        self._boot_task = asyncio.create_task(self._boot(), name="api boot")
        self._sums_task = asyncio.create_task(self._keep_sums(), name="api subtree sums")

    async def stop(self) -> None:
        for task in (self._boot_task, self._sums_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for mirror in self._started:
            await mirror.stop()
        await self.writer.stop()
        await self.feed.stop()

    async def _boot(self) -> None:
        pause, longest = BOOT_RETRY_S
        while True:
            try:
                await self._boot_once()
                return
            except (KafkaError, OSError, KafkaUnavailable) as exc:
                log.warning("start-up waits for Kafka at %s (%r); retrying in %.1f s",
                            self.settings.kafka.bootstrap_servers, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)

    async def _boot_once(self) -> None:
        partitions = await self._ensure_topics()
        if self.writer.producer is None:
            await self.writer.start()
        for mirror in self.mirrors:
            if mirror not in self._started:
                await mirror.start(partitions[mirror.topic])
                self._started.append(mirror)
        await self.registry.caught_up.wait()
        if not self.tree.units and self.settings.seed_registry:
            await self._seed()
        for mirror in self.mirrors:
            await mirror.caught_up.wait()
        self.ready.set()
        log.info("view ready: %d units with figures, %d units registered, %d targets",
                 len(self.view.records), len(self.tree), len(self.targets.by_key))

    async def _keep_sums(self) -> None:
        await self.ready.wait()  # while the view catches up, one rebuild at the end beats thousands of steps
        while True:
            try:
                self.rollups.sums.sync()
            except Exception:  # a bug here must not stop the sums: the next rollup request syncs too
                log.exception("taking changed records into the subtree sums failed")
            await asyncio.sleep(SUMS_INTERVAL_S)

    async def _ensure_topics(self) -> dict[str, int]:
        """Create the topics that are missing; the partition count of each topic the mirrors read."""
        kafka = self.settings.kafka
        await ensure_topics(kafka)
        admin = AIOKafkaAdminClient(**kafka.client_kwargs())
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            # Compacted: the latest value of each key is the state; a tombstone deletes it.
            config = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
            missing = [NewTopic(name, self.settings.registry_partitions, 1, topic_configs=config)
                       for name in (self.settings.registry_topic, self.settings.targets_topic)
                       if name not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another replica got there first
                    await admin.create_topics(missing)
            described = await admin.describe_topics([m.topic for m in self.mirrors])
        finally:
            await admin.close()
        counts = {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}
        missing_topics = [m.topic for m in self.mirrors if not counts.get(m.topic)]
        if missing_topics:
            raise KafkaError(f"topics not found (yet): {missing_topics}")
        return counts

    async def _seed(self) -> None:
        """Fill an empty registry with the deployment's real units. Two replicas seeding at once write
        the same values, which compaction folds into one: harmless."""
        units = seed_units(self.settings.provinces())
        written = await self.writer.write(self.settings.registry_topic,
                                          [(u.code, encode_unit(u)) for u in units])
        last: dict[int, int] = {}
        for partition, offset in written:
            last[partition] = max(offset, last.get(partition, -1))
        for partition, offset in last.items():
            await self.registry.wait_past(partition, offset, self.settings.write_timeout_s)
        log.info("seeded the registry with %d units of provinces %s", len(units), self.settings.seed_province)

    def _watch_metrics(self) -> None:
        m = self.metrics
        for mirror in self.mirrors:
            m.records_consumed.labels(mirror.topic).set_function(partial(getattr, mirror, "records"))
            m.records_rejected.labels(mirror.topic).set_function(partial(getattr, mirror, "rejected"))
            m.lag.labels(mirror.topic).set_function(mirror.lag)
        m.ready.set_function(lambda: 1.0 if self.ready.is_set() else 0.0)
        m.units.set_function(lambda: len(self.view.records))
