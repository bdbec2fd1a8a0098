"""The aggregator's state per open filing: `python -m bench.state_size [--days N]`.

Feeds a simulated province (the simulator's realistic feed, schema v2 with every Decision 766
flag) through the aggregator's pure rules as the engine applies them, then measures, for the
filings still open at the end (pending, or waiting for a supplement), what the state holds for
them: the filing's record as the filings table stores it (`engine.Filing.to_bytes`: its events,
their source offsets and its fold), and its entries in the unit's two pending indexes. Closed
filings are measured too, for comparison; the retention sweep drops them after 400 days.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timedelta

import orjson

from services.aggregator.engine import Filing
from services.aggregator.rules import EMPTY_FILING, event_from_json, step
from services.aggregator.unit_state import UnitState
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import line_bytes

END = datetime.fromisoformat("2026-11-23T12:00:00+07:00")


def simulated_state(days: int) -> tuple[dict[tuple[str, str], Filing], dict[str, UnitState]]:
    """The filings and units of `days` of a simulated province's feed, up to END, as the engine
    would hold them."""
    rates = DeliveryRates(duplicate=0.01, reorder=0.05, late=0.005, repeat=0.005, malformed=0.0)
    config = FeedConfig(start=END - timedelta(days=days), end=END, seed=1, delivery=rates)
    filings: dict[tuple[str, str], Filing] = {}
    units: dict[str, UnitState] = {}
    for offset, item in enumerate(generate(config)):
        event = event_from_json(orjson.loads(line_bytes(item)))
        key = (event.unit_code, event.filing_id)
        filing = filings.setdefault(key, Filing(EMPTY_FILING, {}))
        if event.event_id in filing.offsets:
            continue  # a duplicate: the engine stores nothing for it
        state, change, fold = step(filing.state, event, filing.fold)
        filing.state, filing.fold = state, fold
        filing.offsets[event.event_id] = offset
        if change is not None:
            units.setdefault(event.unit_code, UnitState()).apply(change)
    return filings, units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="days of the feed (default 60)")
    args = parser.parse_args()
    filings, units = simulated_state(args.days)
    open_sizes = [len(f.to_bytes()) for f in filings.values() if f.known_fold().closed_at is None]
    closed_sizes = [len(f.to_bytes()) for f in filings.values() if f.known_fold().closed_at is not None]
    index_bytes = sum(len(orjson.dumps([u.to_json()["dues"], u.to_json()["portal_dues"]]))
                      for u in units.values())
    print(f"{args.days} days, {len(filings):,} filings, {len(units)} units")
    print(f"open filings: {len(open_sizes):,}; filing record: mean {statistics.mean(open_sizes):,.0f} B, "
          f"median {statistics.median(open_sizes):,.0f} B, max {max(open_sizes):,} B")
    print(f"pending indexes in the unit records: {index_bytes / len(open_sizes):,.1f} B per open filing")
    print(f"closed filings (kept 400 days): {len(closed_sizes):,}; record mean "
          f"{statistics.mean(closed_sizes):,.0f} B")


if __name__ == "__main__":
    main()
