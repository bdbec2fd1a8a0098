"""Publishes changed units' figures to `unit-figures`, their changed days to `unit-days`, and, at a
longer gap, their filing lists to `unit-filings`.

A tick well inside the publish interval: a unit that changes after a quiet spell goes out within a
tick, while one that keeps changing still gets one record per interval (Engine.publish_due). A
round's records are acknowledged by Kafka in the background while the next rounds are made (at
most `MAX_UNSETTLED_ROUNDS` waiting): waiting for them held every next round, and so every changed
unit, a broker round trip. A round Kafka refuses leaves its units and days due again. A unit whose
figures cannot be computed is reported by the engine, and every other unit still goes out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import orjson
from aiokafka.errors import KafkaError

from services.aggregator import metrics
from services.aggregator.engine import KEY_SEPARATOR, Engine

log = logging.getLogger(__name__)
# The longest tick between rounds.
MAX_TICK_S = 0.025
# Rounds sent and not yet acknowledged, at most.
MAX_UNSETTLED_ROUNDS = 4
# While the agent is behind (BusyShare.behind: a backlog), the figures' rounds take at most
# FIGURES_TIME_SHARE_BEHIND of the worker's time, each waiting after the one before as
# LISTS_TIME_SHARE has the lists wait: what they cost comes out of what it can apply, and a figure is
# not fresh behind a backlog anyway. Live, every round goes out.
FIGURES_TIME_SHARE_BEHIND = 0.05
# A figures round makes records for this long at most, the units left due for the next round: a
# round holds the agent while it runs, and every unit is due at once after the day rolls over or a
# rebalance (10,000 units' records take seconds). Live at 2,000 events/s on 200 units a round takes
# 8 ms at the median, 18 ms at p90.
FIGURES_ROUND_S = 0.025
# The lists' rounds take at most this share of the worker's time: each waits, after the one before,
# its own gap and this many times as long as that round took. Lists of a unit with a long history
# cost milliseconds; for every unit at once, behind a backlog (a history replayed), one round every
# few seconds took an eighth of the worker's time, which the backlog needed.
LISTS_TIME_SHARE = 0.05
# A round builds lists for this long at most, the units left waiting for the next lists round: every
# unit's lists at once held the figures of the round, and the next round, for a few hundred ms.
LISTS_ROUND_S = 0.01


class Send(Protocol):
    """Sends one record; the future resolves once Kafka has it."""

    async def __call__(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]: ...


class Publisher:
    def __init__(self, engine: Engine, send: Send, figures_topic: str, days_topic: str,
                 interval_s: float, clock: Callable[[], float] = time.monotonic,
                 filings_topic: str | None = None,
                 scan: Callable[[int, bytes], Iterable[tuple[bytes, bytes]]] | None = None,
                 filings_interval_s: float = 5.0,
                 behind: Callable[[], bool] = lambda: False) -> None:
        self.engine = engine
        self.send = send
        self.figures_topic = figures_topic
        self.days_topic = days_topic
        self.interval_s = interval_s
        self.clock = clock  # monotonic: apart from the figures' clock, which replays freeze
        # `unit-filings` and, for a unit read from its record, its filings' records (partition,
        # key prefix) to rebuild its late-filings ledger from; None: no such records published.
        self.filings_topic = filings_topic
        self.scan = scan
        self.filings_interval_s = filings_interval_s  # the lists' own gap (Engine.filings_due)
        self._unreadable: set[str] = set()
        self._lists_not_before = float("-inf")  # (LISTS_TIME_SHARE)
        self.behind = behind  # whether the agent is behind a backlog (busy_share.py)
        self._figures_not_before = float("-inf")  # (FIGURES_TIME_SHARE_BEHIND)
        self._settling: deque[asyncio.Future[None]] = deque()  # rounds sent, oldest first

    def rebuild_ledgers(self) -> None:
        """Units read from their records get their late-filings ledgers back from the filings
        table (late_filings.py); a partition that cannot be read now is tried again next round."""
        if self.scan is None:
            return
        for unit_code, partition in self.engine.unknown_ledgers():
            prefix = f"{unit_code}{KEY_SEPARATOR}".encode()
            try:
                self.engine.rebuild_ledger(unit_code, self.scan(partition, prefix))
            except Exception as exc:  # noqa: BLE001  (a partition moving away: retried next round)
                if unit_code not in self._unreadable:
                    log.warning("unit %s: its filings could not be read (%r); retried each round",
                                unit_code, exc)
                self._unreadable.add(unit_code)
            else:
                self._unreadable.discard(unit_code)

    async def publish_round(self) -> None:
        engine = self.engine
        behind = self.behind()
        if behind and self.clock() < self._figures_not_before:
            return
        self.rebuild_ledgers()
        sends = []
        days_by_unit: dict[str, list[int]] = {}
        try:
            due = engine.publish_due(engine.now(), self.interval_s, self.clock())
            spent = 0.0  # making the records, not the awaits between them
            while spent < FIGURES_ROUND_S:
                began = self.clock()
                made = next(due, None)
                if made is None:
                    spent += self.clock() - began
                    break
                unit_code, record = made
                days = engine.days_due(unit_code)
                days_by_unit[unit_code] = list(days)
                day_rows = [(key.encode(), orjson.dumps(row)) for key, row in days.values()]
                spent += self.clock() - began
                sends.append(await self.send(self.figures_topic, unit_code.encode(), record))
                for key, value in day_rows:
                    sends.append(await self.send(self.days_topic, key, value))
            if behind:
                self._figures_not_before = self._after_share(spent, FIGURES_TIME_SHARE_BEHIND)
            if self.filings_topic is not None:
                await self._publish_lists(self.filings_topic, sends, days_by_unit)
        except KafkaError as exc:
            self._refused(days_by_unit, exc)
            return
        self._settling.append(asyncio.ensure_future(self._settle(sends, days_by_unit)))
        while self._settling and self._settling[0].done():
            await self._settling.popleft()
        while len(self._settling) > MAX_UNSETTLED_ROUNDS:
            await self._settling.popleft()

    async def _settle(self, sends: list[Awaitable[Any]], days_by_unit: dict[str, list[int]]) -> None:
        try:
            await asyncio.gather(*sends)
        except KafkaError as exc:
            self._refused(days_by_unit, exc)
            return
        self.engine.published(days_by_unit)
        metrics.PUBLISHED.inc(len(days_by_unit))

    def _refused(self, days_by_unit: dict[str, list[int]], exc: KafkaError) -> None:
        self.engine.unpublished(days_by_unit)
        log.warning("publishing %d units failed (%r); they are due again", len(days_by_unit), exc)

    async def settled(self) -> None:
        """Wait until Kafka has acknowledged (or refused) every round sent."""
        while self._settling:
            await self._settling.popleft()

    async def _publish_lists(self, topic: str, sends: list[Awaitable[Any]],
                             days_by_unit: dict[str, list[int]]) -> None:
        engine = self.engine
        if self.clock() < self._lists_not_before:
            engine.note_filings()
            return
        due = engine.filings_due(engine.now(), self.filings_interval_s, self.clock())
        spent = 0.0  # building and encoding the lists, not the awaits between them
        while spent < LISTS_ROUND_S:
            began = self.clock()
            made = next(due, None)
            if made is None:
                spent += self.clock() - began
                break
            unit_code, lists = made
            encoded = orjson.dumps(lists)
            spent += self.clock() - began
            days_by_unit.setdefault(unit_code, [])  # refused: its figures and lists are due again
            sends.append(await self.send(topic, unit_code.encode(), encoded))
        self._lists_not_before = self._after_share(spent, LISTS_TIME_SHARE)

    def _after_share(self, spent: float, share: float) -> float:
        """When the next round of a kind that just took `spent` seconds may start, for that kind of
        round to take `share` of the worker's time."""
        return self.clock() + spent * (1 - share) / share

    async def run(self) -> None:
        """Publish for ever. A loop, not a Faust timer: a long round (every unit, after a
        recovery) just delays the next one."""
        tick = min(self.interval_s, MAX_TICK_S)
        while True:
            began = self.clock()
            await self.publish_round()
            # A round every tick: after a long round, a short pause, not a whole tick.
            await asyncio.sleep(max(0.0, began + tick - self.clock()))
