"""The retention sweep (services/aggregator/retention.py): once a day, filings closed past the
retention window leave the table, their counts stay."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from services.aggregator.engine import Engine
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_format import decode_pack
from services.aggregator.retention import RetentionSweep
from tests.unit.aggregator.fakes import NOW, T0, FakeTables, event, pack


class Filings:
    """The filings table as the sweep reads it: `data.items()` over the partitions held."""

    def __init__(self, tables: FakeTables) -> None:
        self.data = SimpleNamespace(items=lambda: tables.read(0, self).items())


async def test_closed_filings_past_retention_are_deleted_once_a_day_and_counts_stay() -> None:
    clock = [NOW]
    engine = Engine(400, clock=lambda: clock[0])
    tables = FakeTables()
    rows = decode_pack(pack([(0, event(1, "submitted", "F1", T0)),
                              (1, event(2, "processed", "F1", T0 + timedelta(hours=1))),
                              (2, event(3, "submitted", "F2", T0))]))
    filings = Filings(tables)
    result = engine.apply_pack(0, rows, {}.get, {}.get)
    await tables.write(0, filings, result.filing_changes)
    sweep = RetentionSweep(engine, tables, filings, PartitionGate(lambda partition: True))
    await sweep.sweep_if_due()  # today's sweep: nothing closed long enough
    assert len(tables.read(0, filings)) == 2
    clock[0] = NOW + 401 * 86400
    await sweep.sweep_if_due()
    assert list(tables.read(0, filings)) == [b"U1\x1fF2"] and tables.sending() == set()
    assert engine.units["U1"].state.totals[0] == 2
    tables.log.clear()
    await sweep.sweep_if_due()  # the same day again: no sweep
    assert tables.log == []
