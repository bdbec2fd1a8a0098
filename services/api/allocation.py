"""Target allocation as Hải Phòng did it: a goal for a subtree, split into a target for each of its units.

Each unit i starts at s_i (its rate over a reference period) with n_i filings (the rate's
denominator over that period). Its proposed target is its start plus an increment that grows with
the start, capped at 1:

    t_i = min(1, s_i + k·(β + s_i))

with one k ≥ 0 for all units, solved so that the filing-weighted result meets the goal G exactly:

    Σ n_i·t_i / Σ n_i = G

β > 0 is the part of the increment every unit gets whatever its start (so a unit at 0 is still asked
for something); the k·s_i part asks more of the units that already do well. docs/targets.md gives
the reasons. The left side grows continuously with k, piecewise linearly (a unit stops adding once
it reaches 1), so k is found exactly by walking the units in the order they reach the cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from services.api.queries import State, subtree_rollup

# The rates a goal can be set for: shares of filings between 0 and 1 where more is better, each with
# the counters of its denominator (docs/figures.md): the filings that weigh a unit's start.
DENOMINATORS: dict[str, tuple[str, ...]] = {
    "online_rate": ("received_total",),
    "on_time_rate": ("received_total",),  # 2.1: every filing received in the period is judged
    "online_payment_share": ("payment_reported",),
    "digitised_share": ("digitised_reported",),
}
AllocatedFigure = Literal["online_rate", "on_time_rate", "online_payment_share", "digitised_share"]
Status = Literal["allocated", "already_met", "no_filings"]


def filings(figure: str, counters: Mapping[str, Any]) -> int:
    """The filings behind `figure` in one period object: its denominator."""
    return sum(int(counters.get(name, 0)) for name in DENOMINATORS[figure])


@dataclass(frozen=True, slots=True)
class Start:
    code: str
    start: float | None  # the rate over the reference period; None when the unit had no filings
    filings: int


@dataclass(frozen=True, slots=True)
class Allocation:
    status: Status
    k: float  # the increment factor solved for
    current: float | None  # the filing-weighted start
    result: float | None  # the filing-weighted target: the goal, unless already met
    targets: dict[str, float]


def allocate(starts: Sequence[Start], goal: float, base: float) -> Allocation:
    """Targets for `starts` whose filing-weighted result is `goal`.

    Units without filings weigh nothing: they get the goal itself. When the units already meet the
    goal together, nobody is asked to do worse: every target is the unit's start (k = 0).
    """
    if not 0 <= goal <= 1:
        raise ValueError("goal must be between 0 and 1")
    if base <= 0:
        raise ValueError("base must be above 0")
    weighed = [s for s in starts if s.filings > 0 and s.start is not None]
    targets = {s.code: goal for s in starts}
    total = sum(s.filings for s in weighed)
    if total == 0:
        return Allocation("no_filings", 0.0, None, None, targets)
    current = sum(s.filings * _start(s) for s in weighed) / total
    if current >= goal:
        targets.update((s.code, _start(s)) for s in weighed)
        return Allocation("already_met", 0.0, current, current, targets)
    k = _solve(weighed, goal * total, base)
    targets.update((s.code, min(1.0, _start(s) + k * (base + _start(s)))) for s in weighed)
    result = sum(s.filings * targets[s.code] for s in weighed) / total
    return Allocation("allocated", k, current, result, targets)


def _start(s: Start) -> float:
    assert s.start is not None
    return min(1.0, max(0.0, s.start))


def _solve(weighed: Sequence[Start], wanted: float, base: float) -> float:
    """The k at which Σ n_i·min(1, s_i + k(β + s_i)) = wanted, for Σ n_i·s_i < wanted ≤ Σ n_i."""
    # Unit i reaches the cap at k_i = (1 − s_i)/(β + s_i): the highest starts first.
    order = sorted(weighed, key=lambda s: (1 - _start(s)) / (base + _start(s)))
    capped = 0.0  # Σ n_i over the units at 1
    level = sum(s.filings * _start(s) for s in weighed)  # Σ n_i·s_i over the units below it
    slope = sum(s.filings * (base + _start(s)) for s in weighed)  # Σ n_i·(β + s_i), same units
    k = 0.0
    for s in order:
        k = (wanted - capped - level) / slope
        if k <= (1 - _start(s)) / (base + _start(s)):
            return k
        capped += s.filings
        level -= s.filings * _start(s)
        slope -= s.filings * (base + _start(s))
    # Every unit reaches 1: only when the goal is 1; the last breakpoint is the k that does it.
    return k


def starts_below(state: State, code: str, figure: str, period: str) -> list[Start]:
    """The direct children of `code`, each with its start over its own subtree (a department with its
    offices), as rankings count them. Children's subtrees do not overlap, so their filings add up."""
    starts = []
    for child in state.tree.children(code):
        figures = subtree_rollup(state, child, (period,))["periods"][period]
        starts.append(Start(child, figures[figure], filings(figure, figures)))
    return starts
