"""Fakes for the aggregator's runtime parts: Kafka's changelogs and packed topic, with no broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from services.aggregator.engine import Engine
from services.aggregator.pack_format import encode_pack
from services.aggregator.rules import event_from_json

T0 = datetime.fromisoformat("2026-11-20T09:00:00+07:00")
NOW = datetime.fromisoformat("2026-11-23T12:00:00+07:00").timestamp()


def event(n: int, kind: str, filing: str, at: datetime, unit: str = "U1", **extra: Any) -> dict[str, Any]:
    body = {"event_id": f"e{n}", "event_type": kind, "filing_id": filing, "unit_code": unit,
            "occurred_at": at.isoformat(), "source": "test", **extra}
    if kind == "submitted":
        body.update(channel="online", due_at=(at + timedelta(days=2)).isoformat(), procedure_code="1.1")
    return body


def pack(rows: list[tuple[int, dict[str, Any]]]) -> bytes:
    """A packed record as the packer writes it: `[source offset, *Event]` rows."""
    return encode_pack([[offset, *event_from_json(obj)] for offset, obj in rows])


def engine() -> Engine:
    return Engine(400, clock=lambda: NOW)


def decoded(published: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
    """Records as Engine.publish_due gives them (encoded), decoded, by unit."""
    return {code: orjson.loads(record) for code, record in published}


def figures_of(engine: Engine) -> dict[str, Any]:
    return {code: record["periods"] for code, record in decoded(engine.publish_due(NOW)).items()}


class Crash(Exception):
    """The worker dies here: nothing after this step happens."""


class FakeTables:
    """The tables as the runtime sees them through the table writer, and Kafka's changelogs behind.

    A write goes to the partition's store at once and is sent to the changelog; a flush is Kafka
    acknowledging everything sent. Tables are named by strings. `crash_at` makes the n-th step (a
    write or a flush, counted from 0) raise `Crash` before it does anything; `fail` makes every
    step raise that exception instead (Kafka refusing).
    """

    def __init__(self, crash_at: int | None = None) -> None:
        self.stores: dict[tuple[Any, int], dict[bytes, bytes]] = {}
        self.changelogs: dict[tuple[Any, int], list[tuple[bytes, bytes | None]]] = {}
        self.acked: dict[tuple[Any, int], int] = {}
        self.crash_at = crash_at
        self.fail: BaseException | None = None
        self.steps = 0
        self.log: list[tuple[str, Any, int]] = []  # ("write"|"flush", table, partition)

    def _step(self, kind: str, table: Any, partition: int) -> None:
        if self.fail is not None:
            raise self.fail
        if self.crash_at is not None and self.steps == self.crash_at:
            raise Crash(f"step {self.steps}: {kind} {table} {partition}")
        self.steps += 1
        self.log.append((kind, table, partition))

    async def write(self, partition: int, table: Any, changed: dict[bytes, bytes | None],
                    to_store: bool = True) -> None:
        if not changed:
            return
        self._step("write", table, partition)
        if to_store:
            self.write_store(partition, table, changed)
        self.changelogs.setdefault((table, partition), []).extend(changed.items())
        await asyncio.sleep(0)

    def write_store(self, partition: int, table: Any, changed: Mapping[bytes, bytes | None]) -> None:
        store = self.stores.setdefault((table, partition), {})
        for key, value in changed.items():
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value

    def store_holds_all(self, partition: int, table: Any) -> None:
        pass  # the restored tables are rebuilt from the changelogs (restored)

    def read(self, partition: int, table: Any) -> dict[bytes, bytes]:
        return self.stores.setdefault((table, partition), {})

    def sending(self) -> set[int]:
        return {partition for key, partition in self.changelogs
                if self.acked.get((key, partition), 0) < len(self.changelogs[key, partition])}

    def seal(self, partition: int, table: Any = None) -> dict[tuple[Any, int], int]:
        """What the partition's changelogs (of `table` only, if given) hold so far."""
        return {key: len(records) for key, records in self.changelogs.items()
                if key[1] == partition and (table is None or key[0] == table)}

    async def flushed(self, sealed: dict[tuple[Any, int], int]) -> None:
        self._step("flush", None, next(iter(sealed))[1] if sealed else -1)
        for key, length in sealed.items():
            self.acked[key] = max(self.acked.get(key, 0), length)
        await asyncio.sleep(0)

    async def flush(self, partition: int) -> None:
        self._step("flush", None, partition)
        for key, records in self.changelogs.items():
            if key[1] == partition:
                self.acked[key] = len(records)

    def unacknowledged(self) -> dict[tuple[Any, int], int]:
        return {key: len(records) - self.acked.get(key, 0) for key, records in self.changelogs.items()}

    def restored(self, kept: dict[tuple[Any, int], int]) -> FakeTables:
        """The tables a new owner restores after a crash: each changelog's acknowledged records
        and the first `kept[changelog]` of those not yet acknowledged (Kafka keeps a changelog's
        records in order)."""
        fresh = FakeTables()
        for key, records in self.changelogs.items():
            survived = records[:self.acked.get(key, 0) + kept.get(key, 0)]
            store = fresh.stores.setdefault(key, {})
            for record_key, value in survived:
                if value is None:
                    store.pop(record_key, None)
                else:
                    store[record_key] = value
            fresh.changelogs[key] = list(survived)
            fresh.acked[key] = len(survived)
        return fresh


class FakePacks:
    """The packed topic: packs by partition, their offsets from `first` on; counts what is read."""

    def __init__(self, packs: dict[int, list[bytes]] | None = None, first: int = 0) -> None:
        self.packs = packs or {}
        self.first_offset = first
        self.reads: list[tuple[int, int, int]] = []
        self.started = True

    async def first(self, partition: int) -> int:
        return self.first_offset

    async def end(self, partition: int) -> int:
        return self.first_offset + len(self.packs.get(partition, []))

    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
        self.reads.append((partition, start, end))
        return [(offset, self.packs[partition][offset - self.first_offset]) for offset in range(start, end)]


class FakeProducer:
    """aiokafka's `send`: records what is sent; the returned future is already resolved (or
    failed with `fail`)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: BaseException | None = None

    async def send(self, topic: str, value: Any = None, key: Any = None, partition: Any = None,
                   timestamp_ms: Any = None, headers: Any = None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            self.sent.append({"topic": topic, "key": key, "value": value, "headers": headers})
            future.set_result(None)
        return future
