"""The commit protocol (services/aggregator/commit_protocol.py) with the real engine and pack
applier over fake changelogs: the worker is killed at every step of the writes and records, each
changelog keeps any part of what was not acknowledged, a new owner restores the tables and applies
the packs from the recorded next pack, and every figure comes out exact."""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any

import pytest

from services.aggregator.commit_protocol import NEXT_PACK_KEY, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.engine import Engine
from services.aggregator.pack_applier import PackApplier
from tests.unit.aggregator.fakes import (
    T0,
    Crash,
    FakePacks,
    FakeProducer,
    FakeTables,
    engine,
    event,
    figures_of,
    pack,
)

E = [
    event(1, "submitted", "F1", T0),
    event(2, "submitted", "F2", T0 + timedelta(hours=1)),
    event(3, "processed", "F1", T0 + timedelta(hours=5)),
    event(4, "returned", "F2", T0 + timedelta(hours=2), reason="rejected"),
    event(5, "submitted", "F3", T0 + timedelta(hours=3)),
    event(6, "submitted", "G1", T0, unit="U2"),
    event(7, "processed", "F3", T0 + timedelta(hours=6)),
]
# Four packs on partition 0; a filing's events spread over several of them.
PACKS = [pack([(0, E[0]), (1, E[1])]), pack([(2, E[2])]), pack([(3, E[3]), (4, E[4])]),
         pack([(5, E[5]), (6, E[6])])]
RECORD_AFTER = {1, 3}  # the next pack is recorded after the second and the fourth pack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Worker:
    """The runtime's parts that the protocol touches: engine, applier, protocol."""

    def __init__(self, tables: FakeTables, protocol: type[CommitProtocol] = CommitProtocol,
                 background: bool = False) -> None:
        self.tables = tables
        self.background = background  # records as the stream makes them: waiting in the background
        self.packs = FakePacks({0: PACKS})
        self.engine: Engine = engine()
        self.commits = protocol(tables, "units", self.packs.first, self.engine.unit_records, clock=Clock())
        self.applier = PackApplier(self.engine, tables, "filings", "units", self.commits, self.packs,
                                   DeadLetterWriter("dlq", FakeProducer()), "filing-events",
                                   apply_max_events=20000, dead_letter_max_bytes=1000)

    def recover(self) -> None:
        """The tables' recovery is done: the units are loaded, as Rebalance.recovered does."""
        self.engine.load_missing((key.decode(), value) for key, value in self.tables.read(0, "units").items()
                                 if not key.startswith(b"\x00"))

    async def deliver(self, offsets: range, record_after: set[int] = RECORD_AFTER) -> None:
        """The stream delivers these packs one at a time, as Faust would."""
        for offset in offsets:
            next_pack = await self.applier.apply(0, [(offset, PACKS[offset])], offset + 1)
            self.commits.applied(0, next_pack)
            if offset in record_after:
                await self.commits.record(wait=not self.background)
        await self.commits.settled()


async def reference() -> dict[str, object]:
    worker = Worker(FakeTables())
    await worker.deliver(range(len(PACKS)))
    return figures_of(worker.engine)


async def steps_of_a_whole_run(background: bool = False) -> int:
    tables = FakeTables()
    await Worker(tables, background=background).deliver(range(len(PACKS)))
    return tables.steps


def every_loss(tables: FakeTables) -> list[dict[tuple[object, int], int]]:
    """Each way the changelogs can keep a prefix of their unacknowledged records."""
    unacked = tables.unacknowledged()
    keys = list(unacked)
    return [dict(zip(keys, kept, strict=True))
            for kept in itertools.product(*(range(unacked[key] + 1) for key in keys))]


async def crash_and_take_over(protocol: type[CommitProtocol], background: bool = False) -> list[str]:
    """Kill the worker before each step, lose each possible part of its unacknowledged writes, let
    a new owner take over with the stream resuming anywhere; the failures, described."""
    expected = await reference()
    failures = []
    for crash_at in range(await steps_of_a_whole_run(background) + 1):
        tables = FakeTables(crash_at=crash_at)
        with contextlib.suppress(Crash):
            await Worker(tables, protocol, background).deliver(range(len(PACKS)))
        for kept in every_loss(tables):
            # Faust commits the stream's offsets on its own clock: it resumes from any pack.
            for resume_at in range(len(PACKS)):
                successor = Worker(tables.restored(kept), protocol)
                successor.recover()
                await successor.deliver(range(resume_at, len(PACKS)), record_after=set())
                if figures_of(successor.engine) != expected:
                    failures.append(f"crash before step {crash_at}, kept {kept}, resumed at {resume_at}")
    return failures


async def test_every_figure_is_exact_whatever_a_crash_keeps_of_the_unacknowledged_writes() -> None:
    assert await steps_of_a_whole_run() > 10
    assert await crash_and_take_over(CommitProtocol) == []


async def test_every_figure_is_exact_when_records_wait_for_kafka_while_the_next_packs_are_applied() -> None:
    assert await steps_of_a_whole_run(background=True) > 10
    assert await crash_and_take_over(CommitProtocol, background=True) == []


class VouchesForPacksAppliedAfterItsSnapshot(CommitProtocol):
    """A background record that writes the next packs as they are when its writes are acknowledged,
    not as they were when it sealed them: it vouches for writes still in flight."""

    async def _vouch(self, sealed: list[Any], snapshot: dict[int, int]) -> None:
        for each in sealed:
            await self.writer.flushed(each)
        later = {partition: self.unrecorded.get(partition, pack) for partition, pack in snapshot.items()}
        for partition, next_pack in later.items():
            await self.writer.write(partition, self.units, {NEXT_PACK_KEY: str(next_pack).encode()})
        for partition in later:
            await self.writer.flushed(self.writer.seal(partition, self.units))
        for partition, next_pack in later.items():
            if self.unrecorded.get(partition) == next_pack:
                del self.unrecorded[partition]


async def test_the_crash_test_catches_a_background_record_vouching_for_later_packs() -> None:
    assert await crash_and_take_over(VouchesForPacksAppliedAfterItsSnapshot, background=True) != []


class RecordsBeforeTheWritesAreAcknowledged(CommitProtocol):
    """The protocol without its first step: the next pack goes out with the packs' writes in flight."""

    async def record(self, wait: bool = True) -> None:
        self.recorded_at = self.clock()
        for partition, next_pack in self.unrecorded.items():
            await self.writer.write(partition, self.units, {NEXT_PACK_KEY: str(next_pack).encode()})
        for partition in self.unrecorded:
            await self.writer.flush(partition)
        self.unrecorded.clear()


async def test_the_crash_test_catches_a_record_made_before_the_writes_are_acknowledged() -> None:
    # The filings changelog is not the units changelog: recording the next pack before the filings'
    # writes are in Kafka lets a crash keep the record and lose the filings it vouches for.
    assert await crash_and_take_over(RecordsBeforeTheWritesAreAcknowledged) != []


async def test_recording_writes_the_units_flushes_then_writes_the_next_packs_then_flushes_them() -> None:
    tables = FakeTables()
    worker = Worker(tables)
    await worker.deliver(range(2), record_after=set())
    assert all(not key.startswith(b"U") for key in tables.read(0, "units"))  # not after each pack
    tables.log.clear()
    await worker.commits.record()
    units_written, next_pack_written = ("write", "units", 0), ("write", "units", 0)
    assert tables.log == [units_written, ("flush", None, 0), next_pack_written, ("flush", None, 0)]
    assert tables.read(0, "units").keys() >= {b"U1"}
    assert tables.read(0, "units")[NEXT_PACK_KEY] == b"2" and tables.sending() == set()
    assert worker.commits.unrecorded == {}


async def test_the_next_pack_is_the_one_applied_else_the_recorded_one_else_the_first_in_kafka() -> None:
    tables = FakeTables()
    packs = FakePacks({0: PACKS}, first=3)
    commits = CommitProtocol(tables, "units", packs.first, lambda partition: {})
    assert await commits.next_pack(0) == 3
    tables.read(0, "units")[NEXT_PACK_KEY] = b"7"
    assert await commits.next_pack(0) == 7
    commits.applied(0, 9)
    assert await commits.next_pack(0) == 9


def test_records_about_once_an_interval_and_only_when_packs_wait() -> None:
    clock = Clock()
    commits = CommitProtocol(FakeTables(), "units", FakePacks().first, lambda partition: {}, clock=clock,
                             every_s=1.0)
    clock.now = 0.5
    assert not commits.due()
    clock.now = 1.0
    assert commits.due() and not commits.waiting()
    commits.applied(0, 4)
    assert commits.waiting()


async def test_forgetting_after_failed_writes_applies_the_packs_since_the_last_record_again() -> None:
    tables = FakeTables()
    worker = Worker(tables)
    await worker.deliver(range(2))  # recorded: next pack 2
    await worker.deliver(range(2, 3), record_after=set())
    tables.fail = ConnectionError("Kafka is away")
    with pytest.raises(ConnectionError):
        await worker.commits.record()
    worker.commits.forget()
    assert await worker.commits.next_pack(0) == 2
