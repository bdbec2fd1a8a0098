"""The filings table's store, written back (services/aggregator/filing_store.py): the changed
filings of the partitions held go to the store, and only then is the offset it covers recorded; a
partition at a time, the agent applying between them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from services.aggregator.engine import Engine, Filing
from services.aggregator.filing_store import FilingStore
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_format import decode_pack
from tests.unit.aggregator.fakes import NOW, T0, FakeTables, event, pack


class Tables(FakeTables):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []  # ("store" | "covered", partition), in order

    def write_store(self, partition: int, table: Any, changed: Mapping[bytes, bytes | None]) -> None:
        self.calls.append(("store", partition))
        super().write_store(partition, table, changed)

    def store_holds_all(self, partition: int, table: Any) -> None:
        self.calls.append(("covered", partition))


async def test_the_changed_filings_of_the_partitions_held_go_to_the_store_then_its_offset() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    for partition, unit in ((0, "U1"), (1, "U2")):
        engine.apply_pack(partition, decode_pack(pack([(0, event(1, "submitted", "F1", T0, unit=unit))])),
                          tables.read(partition, "filings").get, {}.get)
    gate = PartitionGate(lambda partition: partition == 0)  # partition 1 was taken away
    gate.open()
    store = FilingStore(engine, tables, "filings", gate, partitions=2)
    await store.write_changed()
    assert list(tables.read(0, "filings")) == [b"U1\x1fF1"] and tables.read(1, "filings") == {}
    assert Filing.from_bytes(tables.read(0, "filings")[b"U1\x1fF1"]).offsets == {"e1": 0}
    assert tables.calls == [("store", 0), ("covered", 0)]  # the offset once the store holds them
    await store.write_changed()  # nothing changed since: nothing to write
    assert tables.calls[2:] == [("covered", 0)] and engine.unstored_partitions() == [1]


async def test_the_agent_applies_between_one_partitions_writes_and_the_next() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    for partition, unit in ((0, "U1"), (1, "U2")):
        engine.apply_pack(partition, decode_pack(pack([(0, event(1, "submitted", "F1", T0, unit=unit))])),
                          tables.read(partition, "filings").get, {}.get)
    gate = PartitionGate(lambda partition: True)
    gate.open()
    store = FilingStore(engine, tables, "filings", gate, partitions=2)

    async def agent() -> None:
        async with gate.lock:
            tables.calls.append(("agent", -1))

    await gate.lock.acquire()
    writing = asyncio.create_task(store.write_changed())
    await asyncio.sleep(0)  # the writer waits for the lock
    applying = asyncio.create_task(agent())
    await asyncio.sleep(0)  # and the agent behind it
    gate.lock.release()
    await asyncio.gather(writing, applying)
    assert tables.calls == [("store", 0), ("covered", 0), ("agent", -1), ("store", 1), ("covered", 1)]
