"""The partition gate (services/aggregator/gate.py): packs only while the tables are whole."""

from __future__ import annotations

import asyncio

from services.aggregator.gate import PartitionGate


async def test_a_round_waits_for_the_tables_recovery() -> None:
    gate = PartitionGate(lambda partition: True)
    entered = asyncio.Event()

    async def round_() -> None:
        async with gate.held():
            entered.set()

    task = asyncio.create_task(round_())
    await asyncio.sleep(0.01)
    assert not entered.is_set()
    gate.open()
    await asyncio.wait_for(task, 1)


async def test_a_round_waiting_for_the_lock_while_a_revocation_begins_waits_for_the_tables_again() -> None:
    gate = PartitionGate(lambda partition: True)
    gate.open()
    entered = asyncio.Event()

    async def round_() -> None:
        async with gate.held():
            entered.set()

    async with gate.lock:  # a revocation holds the lock...
        task = asyncio.create_task(round_())
        await asyncio.sleep(0.01)
        gate.close()  # ...and closes the gate
    await asyncio.sleep(0.01)
    assert not entered.is_set() and not gate.lock.locked()
    gate.open()
    await asyncio.wait_for(task, 1)
    assert entered.is_set()


def test_a_partition_is_owned_when_assigned_and_the_tables_are_whole() -> None:
    gate = PartitionGate(lambda partition: partition == 1)
    assert not gate.owned(1)
    gate.open()
    assert gate.owned(1) and not gate.owned(2)
