"""A unit's figures record, encoded as the aggregator publishes it: `python -m bench.figures_encoding`.

Builds a simulated province's units (bench/state_size.py, `--days` of the feed), then times, for
every unit, in one run: the baseline, its record built and encoded afresh (`figures_json` with
nothing kept), against the record made as the publisher makes it, reusing the periods unchanged
since the unit's last record, after the change one pack makes (a filing received today) and with
no change at all (the clock moved). Best of `--repeat` rounds over all units.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench.state_size import END, simulated_state
from services.aggregator.figures import KeptPeriods, figures_json
from services.aggregator.hcm_time import epoch_to_us, hcm_day
from services.aggregator.rules import RECEIVED_TOTAL, Delta
from services.aggregator.unit_state import UnitState


def best_per_unit(units: dict[str, UnitState], encode: Callable[[str, UnitState], bytes],
                  repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        for code, unit in units.items():
            encode(code, unit)
        best = min(best, time.perf_counter() - began)
    return best / len(units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="days of the feed (default 60)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    _filings, units = simulated_state(args.days)
    now = END.timestamp()
    today = hcm_day(epoch_to_us(now))
    kept: dict[str, KeptPeriods] = {code: {} for code in units}

    def afresh(code: str, unit: UnitState) -> bytes:
        return figures_json(code, unit, now, {})[0]

    def reusing(code: str, unit: UnitState) -> bytes:
        return figures_json(code, unit, now, kept[code])[0]

    def receive(unit: UnitState) -> None:
        unit.apply(Delta(((today, 1, {RECEIVED_TOTAL: 1}),), None, None, None, None))

    def received_afresh(code: str, unit: UnitState) -> bytes:
        receive(unit)
        return afresh(code, unit)

    def received_reusing(code: str, unit: UnitState) -> bytes:
        receive(unit)
        return reusing(code, unit)

    for code, unit in units.items():
        assert reusing(code, unit) == afresh(code, unit)  # the same bytes, whatever was kept
    rows = [("a filing received today", best_per_unit(units, received_afresh, args.repeat),
             best_per_unit(units, received_reusing, args.repeat)),
            ("no change (the clock moved)", best_per_unit(units, afresh, args.repeat),
             best_per_unit(units, reusing, args.repeat))]
    record = sum(len(afresh(code, unit)) for code, unit in units.items()) / len(units)
    print(f"{args.days} days of the feed, {len(units)} units, a record {record / 1024:.1f} KiB on average")
    print(f"  {'since the last record':<30}{'afresh (baseline)':>20}{'reusing periods':>18}{'ratio':>8}")
    for name, baseline, ours in rows:
        print(f"  {name:<30}{baseline * 1e3:>17.3f} ms{ours * 1e3:>15.3f} ms{ours / baseline:>8.2f}")


if __name__ == "__main__":
    main()
