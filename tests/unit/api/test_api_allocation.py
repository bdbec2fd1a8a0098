"""Target allocation (services/api/allocation.py): worked examples and properties over generated units.
No broker; the endpoints on a real broker are in test_api_allocation_kafka.py."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.allocation import Start, allocate, filings, starts_below
from services.api.queries import State
from services.api.targets import TargetBook
from tests.support.api import record, sample_tree


def weighted(starts: list[Start], targets: dict[str, float]) -> float:
    weighed = [s for s in starts if s.filings]
    return sum(s.filings * targets[s.code] for s in weighed) / sum(s.filings for s in weighed)


def test_worked_example_meets_the_goal_and_asks_more_of_the_high_starts() -> None:
    # Two units of equal size at 0.4 and 0.8 (together 0.6), goal 0.7, β = 0.1:
    # Σ n·(s + k(β + s)) = 0.6 + k·(0.5 + 0.9)/2 = 0.7  →  k = 0.1/0.7.
    starts = [Start("low", 0.4, 100), Start("high", 0.8, 100)]
    got = allocate(starts, 0.7, 0.1)
    k = 0.1 / 0.7
    assert got.status == "allocated" and got.k == pytest.approx(k, rel=1e-12)
    assert got.targets["low"] == pytest.approx(0.4 + k * 0.5, rel=1e-12)
    assert got.targets["high"] == pytest.approx(0.8 + k * 0.9, rel=1e-12)
    assert got.targets["high"] - 0.8 > got.targets["low"] - 0.4  # the high start's increment is larger
    assert got.current == pytest.approx(0.6) and got.result == pytest.approx(0.7, rel=1e-12)


def test_a_capped_unit_leaves_the_rest_to_the_others() -> None:
    # Unit "a" at 0.95 reaches 1 early; the goal still holds with the others carrying the rest.
    starts = [Start("a", 0.95, 500), Start("b", 0.5, 300), Start("c", 0.2, 200)]
    got = allocate(starts, 0.8, 0.1)
    assert got.targets["a"] == 1.0
    assert weighted(starts, got.targets) == pytest.approx(0.8, rel=1e-12)
    # 135 more filings online: 25 from a (capped), 110 = k·(300·0.6 + 200·0.3) from b and c.
    assert got.k == pytest.approx(110 / 240, rel=1e-12)
    assert 0.5 < got.targets["b"] < 1 and 0.2 < got.targets["c"] < got.targets["b"]


def test_weights_are_the_filings() -> None:
    # The big unit pulls the weighted start: same starts, other sizes, another k.
    small_low = allocate([Start("low", 0.2, 10), Start("high", 0.9, 990)], 0.95, 0.1)
    big_low = allocate([Start("low", 0.2, 990), Start("high", 0.9, 10)], 0.95, 0.1)
    assert small_low.current == pytest.approx(0.2 * 0.01 + 0.9 * 0.99)
    assert big_low.k > small_low.k


def test_goal_already_met_keeps_every_start_and_no_filings_gets_the_goal() -> None:
    starts = [Start("a", 0.9, 10), Start("b", 0.7, 10), Start("quiet", None, 0)]
    got = allocate(starts, 0.6, 0.1)
    assert got.status == "already_met" and got.k == 0
    assert got.targets == {"a": 0.9, "b": 0.7, "quiet": 0.6}
    none = allocate([Start("quiet", None, 0)], 0.6, 0.1)
    assert none.status == "no_filings" and none.targets == {"quiet": 0.6} and none.result is None


def test_goal_of_one_puts_everyone_at_one() -> None:
    got = allocate([Start("a", 0.0, 3), Start("b", 0.99, 5), Start("c", 1.0, 1)], 1.0, 0.1)
    assert got.targets == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_bad_goal_or_base_is_refused() -> None:
    with pytest.raises(ValueError, match="goal"):
        allocate([Start("a", 0.5, 1)], 1.2, 0.1)
    with pytest.raises(ValueError, match="base"):
        allocate([Start("a", 0.5, 1)], 0.8, 0.0)


def test_filings_are_the_rate_denominator() -> None:
    period = record("x", received_total=7, resolved_total=2, returned_total=1, pending_within_due=3,
                    pending_overdue=4, payment_reported=5)["periods"]["today"]
    assert filings("online_rate", period) == 7
    # 2.1 judges every filing received, not the press-style resolved, returned and pending ones.
    assert filings("on_time_rate", period) == 7
    assert filings("online_payment_share", period) == 5


def test_starts_below_are_the_children_subtree_figures() -> None:
    tree = sample_tree()
    records = {"31.S06": record("31.S06", received_total=4, received_online=1),
               "31.S06.01": record("31.S06.01", received_total=6, received_online=5),
               "11311": record("11311", received_total=10, received_online=10)}
    starts = {s.code: s for s in starts_below(State(tree, records, TargetBook()), "31", "online_rate",
                                              "year_to_date")}
    assert set(starts) == {"31.S06", "31.S03", "11311", "11312"}
    assert starts["31.S06"] == Start("31.S06", pytest.approx(0.6), 10)  # the department with its office
    assert starts["31.S03"] == Start("31.S03", None, 0)


units_strategy = st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 10_000)), min_size=1, max_size=40,
).map(lambda rows: [Start(f"u{i}", s if n else None, n) for i, (s, n) in enumerate(rows)])


@given(units_strategy, st.floats(0, 1), st.floats(0.001, 5))
def test_properties(starts: list[Start], goal: float, base: float) -> None:
    got = allocate(starts, goal, base)
    weighed = [s for s in starts if s.filings]
    targets = got.targets
    assert set(targets) == {s.code for s in starts}
    # Caps hold, and nobody is asked to do worse than their start.
    assert all(0 <= t <= 1 for t in targets.values())
    assert all(targets[s.code] >= s.start for s in weighed if s.start is not None)
    if not weighed:
        assert got.status == "no_filings"
        return
    current = weighted(starts, {s.code: s.start or 0.0 for s in weighed})
    if current >= goal:
        assert got.status == "already_met" and all(targets[s.code] == s.start for s in weighed)
    else:
        # Feasible (β > 0, goal ≤ 1): the filing-weighted result is the goal.
        assert got.status == "allocated"
        assert weighted(starts, targets) == pytest.approx(goal, rel=1e-9, abs=1e-12)
        assert got.result == pytest.approx(goal, rel=1e-9, abs=1e-12)
    # Monotone: a higher start never gets a lower target, nor (below the cap) a smaller increment.
    ordered = sorted(weighed, key=lambda s: s.start or 0.0)
    for lower, higher in itertools.pairwise(ordered):
        assert targets[lower.code] <= targets[higher.code] + 1e-12
        if targets[higher.code] < 1:
            assert (targets[higher.code] - (higher.start or 0.0)
                    >= targets[lower.code] - (lower.start or 0.0) - 1e-12)
            if got.k > 0 and (higher.start or 0.0) > (lower.start or 0.0) + 1e-9:  # beyond rounding
                assert targets[higher.code] > targets[lower.code]
