"""Decision 766's scores of a unit over its subtree, for one period: the subtree's counters summed for
the period and for all time, scored by services/contract/portal_scores.py (which scores the summed
numerators and denominators, never an average of scores, and decides "measured" from all time)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.api.queries import State, subtree_records
from services.api.rollup import rollup_counters
from services.api.tree import UnitTree
from services.contract.portal_scores import score_period

# A subtree's counters and snapshots per period (RollupCache.counters).
SubtreeCounters = Callable[[str, Sequence[str]], dict[str, dict[str, int]]]


def records_score(records: Sequence[Mapping[str, Any]], period: str) -> dict[str, Any]:
    """score_period's answer for these unit-figures records (a subtree's) over `period`."""
    counters = rollup_counters(records, (period, "all_time"))
    return score_period(counters[period], counters["all_time"])


def unit_score(state: State, code: str, period: str) -> dict[str, Any]:
    """The scores of the subtree at `code`, with what they are of: the unit, the period, the newest
    record summed (`as_of`) and how many units had one."""
    records = subtree_records(state, code)
    unit = state.tree.get(code)
    as_ofs = sorted(r.get("as_of", "") for r in records)
    return {"unit_code": code, "name": unit.name if unit else None, "level": unit.level if unit else None,
            "period": period, "as_of": as_ofs[-1] if as_ofs else None, "units_with_figures": len(records),
            **records_score(records, period)}


def ranked_scores(tree: UnitTree, counters: SubtreeCounters, codes: Sequence[str],
                  period: str) -> list[dict[str, Any]]:
    """Each unit's total score over its subtree (`counters`: RollupCache.counters, the subtree's sums),
    best first; units without filings in the period last, unranked. Equal scores share a rank."""
    rows = []
    for code in codes:
        summed = counters(code, (period, "all_time"))
        scored = score_period(summed[period], summed["all_time"])
        unit = tree.get(code)
        no_filings = scored["noFilings"]
        rows.append({"code": code, "name": unit.name if unit else None, "level": unit.level if unit else None,
                     **scored["total"], "onTimeRatio": None if no_filings else scored["progress"]["ratio"],
                     "received": summed[period]["received_total"], "noFilings": no_filings})
    rows.sort(key=lambda r: (r["noFilings"], -r["score"], r["code"]))
    rank, previous = 0, None
    for i, row in enumerate(rows, start=1):
        if row["noFilings"]:
            row["rank"] = None
            continue
        if row["score"] != previous:
            rank, previous = i, row["score"]
        row["rank"] = rank
    return [{"rank": r.pop("rank"), **r} for r in rows]
