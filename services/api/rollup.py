"""Figures over a subtree: sum every counter (snapshots included) over the units, then take the rates
of the sums with the aggregator's own `rates()`. Rates are never averaged (docs/figures.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from services.contract.figures import COUNTERS, PERIODS, RATES, SNAPSHOTS, rates

SUMMED = (*COUNTERS, *SNAPSHOTS)
FIGURES = (*SUMMED, *RATES)
# The figures where a smaller value is the better one: rankings put the smallest first and a unit
# meets its target by staying at or under it.
LOWER_IS_BETTER = frozenset({"avg_resolution_hours", "pending_overdue", "resolved_late", "portal_overdue",
                             "portal_pending_overdue", "portal_processing_seconds"})


_READ_SUMMED = itemgetter(*SUMMED)


def summed_vector(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """SUMMED over `rows` (period objects), in SUMMED's order, in C calls: each row's counters read in
    one call, then each counter summed over the rows: each row's dict is read once, while it is in the
    CPU's caches, where a pass per counter read every row again for each of the 45 counters (a national
    rollup right after a tree edit, which sums a province's records again: 18-28 ms that way, 12 ms
    this way, on bench.national_bench's 10,000 units). KeyError: a row lacks a counter; TypeError: a
    value is no number."""
    return list(map(sum, zip(*map(_READ_SUMMED, rows), strict=True))) if rows else [0] * len(SUMMED)


def sum_counters(periods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Every counter summed over `periods` (one period object of each unit); missing counters are 0.
    A province rollup at hundreds of requests a second is this function (summed_vector)."""
    rows = list(periods)
    try:
        return dict(zip(SUMMED, summed_vector(rows), strict=True))
    except KeyError:  # a record missing some counters (not the aggregator's): count them 0
        return {name: sum(row.get(name, 0) for row in rows) for name in SUMMED}


def with_rates(counters: Mapping[str, int]) -> dict[str, Any]:
    """The counters followed by their rates, in the order of a unit-figures period object."""
    return {**counters, **rates(counters)}


def rollup(records: Iterable[Mapping[str, Any]],
           periods: Sequence[str] = PERIODS) -> dict[str, dict[str, Any]]:
    """Each of `periods` summed over unit-figures `records` (a subtree's units that have one). A record
    without a period (a calendar period named after it was published) adds nothing to it."""
    return {period: with_rates(counters) for period, counters in rollup_counters(records, periods).items()}


def rollup_counters(records: Iterable[Mapping[str, Any]],
                    periods: Sequence[str]) -> dict[str, dict[str, int]]:
    """Each of `periods`' counters and snapshots summed over `records`, without rates: what Decision
    766's scoring takes (it sums numerators and denominators, then scores the sums)."""
    kept = list(records)
    return {period: sum_counters(r["periods"].get(period, {}) for r in kept) for period in periods}


class Coverage(NamedTuple):
    """What a subtree's rollup says of it besides the sums: its units, how many have a record, and
    how far apart in time those records are."""

    units: int
    units_with_figures: int
    as_of_min: Any
    as_of_max: Any
    day: Any


def coverage_of(units: int, records: Sequence[Mapping[str, Any]]) -> Coverage:
    """The coverage of a subtree of `units` units read from its records (a record without `as_of` or
    `day` has "")."""
    as_ofs = sorted(r.get("as_of", "") for r in records)
    days = sorted(r.get("day", "") for r in records)
    return Coverage(units, len(records), as_ofs[0] if as_ofs else None, as_ofs[-1] if as_ofs else None,
                    days[-1] if days else None)
