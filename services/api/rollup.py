"""Figures over a subtree: sum every counter (snapshots included) over the units, then take the rates
of the sums with the aggregator's own `rates()`. Rates are never averaged (docs/figures.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from services.contract.figures import COUNTERS, PERIODS, RATES, SNAPSHOTS, rates

SUMMED = (*COUNTERS, *SNAPSHOTS)
FIGURES = (*SUMMED, *RATES)
# The figures where a smaller value is the better one: rankings put the smallest first and a unit
# meets its target by staying at or under it.
LOWER_IS_BETTER = frozenset({"avg_resolution_hours", "pending_overdue", "resolved_late"})


_GETTERS = tuple((name, itemgetter(name)) for name in SUMMED)


def sum_counters(periods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Every counter summed over `periods` (one period object of each unit); missing counters are 0.

    A province rollup at hundreds of requests a second is this function: each counter is summed in
    one pass of C calls (sum over map of itemgetter), which allocates nothing per unit.
    """
    rows = list(periods)
    try:
        return {name: sum(map(get, rows)) for name, get in _GETTERS}
    except KeyError:  # a record missing some counters (not the aggregator's): count them 0
        return {name: sum(row.get(name, 0) for row in rows) for name in SUMMED}


def with_rates(counters: Mapping[str, int]) -> dict[str, Any]:
    """The counters followed by their rates, in the order of a unit-figures period object."""
    return {**counters, **rates(counters)}


def rollup(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each period's figures summed over unit-figures `records` (a subtree's units that have one)."""
    kept = list(records)
    return {period: with_rates(sum_counters(r["periods"].get(period, {}) for r in kept))
            for period in PERIODS}

