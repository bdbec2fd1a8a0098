"""What the read endpoints compute from the live state: a subtree's rollup, the units a ranking
takes, their standings against targets. Plain data in, plain data out, testable without Kafka."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from services.api.ranking import Standing
from services.api.rollup import SUMMED, coverage_of, rollup
from services.api.targets import TargetBook
from services.api.tree import UnitTree
from services.common.clock import Clock
from services.contract.figures import PERIODS, RATES, rates

HCM = timezone(timedelta(hours=7))
# A subtree's figures for some periods, in subtree_rollup's shape (RollupCache.get).
Rollup = Callable[[str, Sequence[str]], dict[str, Any]]


@dataclass(frozen=True)
class State:
    tree: UnitTree
    records: Mapping[str, Mapping[str, Any]]  # unit code → its latest unit-figures record
    targets: TargetBook


def hcm_today(clock: Clock) -> date:
    return datetime.fromtimestamp(clock(), HCM).date()


def subtree_rollup(state: State, code: str, periods: Sequence[str] = PERIODS) -> dict[str, Any]:
    """The subtree's figures for each of `periods`. `as_of_min`/`as_of_max` show how far apart in time
    the summed records are; a unit with no record yet (no filings) adds nothing."""
    units = state.tree.subtree(code)
    records = [state.records[u] for u in units if u in state.records]
    return {"unit_code": code, **coverage_of(len(units), records)._asdict(),
            "periods": rollup(records, periods)}


def subtree_records(state: State, code: str) -> list[Mapping[str, Any]]:
    """The latest record of each unit of the subtree at `code` that has one."""
    return [state.records[u] for u in state.tree.subtree(code) if u in state.records]


def ranked_units(tree: UnitTree, parent: str | None, level: str | None) -> list[str]:
    """With `level`: every unit of that level (below `parent` when given). Without: the direct
    children of `parent`, or the roots."""
    if level is not None:
        pool = tree.subtree(parent)[1:] if parent is not None else list(tree.units)
        return [c for c in pool if (u := tree.get(c)) is not None and u.level == level]
    return tree.children(parent) if parent is not None else tree.roots()


def standing(state: State, code: str, figure: str, period: str, today: date,
             rollup: Rollup | None = None) -> Standing:
    """The unit's value (over its subtree, so a department includes its offices) and its target;
    `rollup` (RollupCache.get) gives the subtree's figures, else they are summed here."""
    own = _own_figure(state, code, figure, period) if not state.tree.has_children(code) else None
    if own is not None:  # a unit without children: its own record, read without building a rollup
        value, day_text = own
    else:
        figures = rollup(code, (period,)) if rollup is not None else subtree_rollup(state, code, (period,))
        day_text = figures["day"]
        value = figures["periods"][period][figure] if figures["units_with_figures"] else None
    day = _day(day_text) if day_text else today
    target = state.targets.lookup(code, figure, period, day)
    unit = state.tree.get(code)
    return Standing(code, unit.name if unit else None, unit.level if unit else None, value,
                    target.value if target else None, target.period if target else None)


_NO_FIGURES: Mapping[str, Any] = dict.fromkeys(SUMMED, 0)


def _own_figure(state: State, code: str, figure: str, period: str) -> tuple[Any, str | None] | None:
    """(value, day) of a unit's own record as its one-unit rollup has them, or None when the record is
    not the aggregator's shape (a counter missing or no number): then the rollup decides."""
    record = state.records.get(code)
    if record is None:
        return None, None
    figures = record["periods"].get(period) or _NO_FIGURES
    try:
        value = rates(figures)[figure] if figure in RATES else figures[figure]
    except (KeyError, TypeError):
        return None
    if value is not None and type(value) not in (int, float):
        return None
    return value, record.get("day") or None


@lru_cache(maxsize=64)
def _day(text: str) -> date:
    return date.fromisoformat(text)
