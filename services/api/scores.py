"""Decision 766's scores of a unit over its subtree, for one period: the subtree's counters summed for
the period and for all time, scored by services/contract/portal_scores.py (which scores the summed
numerators and denominators, never an average of scores, and decides "measured" from all time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.api.queries import State, subtree_records
from services.api.rollup import rollup_counters
from services.contract.portal_scores import score_period


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
