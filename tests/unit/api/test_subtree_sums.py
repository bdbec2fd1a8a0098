"""SubtreeSums and the rollup cache built on it: after any sequence of new, changed and deleted records
and tree edits, every subtree's rollup equals the full recomputation (queries.subtree_rollup), its
counters and its coverage (units, units with figures, the earliest and latest as_of, the day); a few
changes move the sums by their differences and a few edits redo the sums they touch; many at once
rebuild them."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.api.queries import State, standing, subtree_rollup
from services.api.rollup import Coverage
from services.api.rollup_cache import RollupCache
from services.api.subtree_sums import REBUILD_EDITS, REBUILD_SHARE
from services.api.targets import TargetBook
from services.api.tree import UnitInfo, UnitTree
from services.api.view import FiguresView
from services.contract.figures import COUNTERS, PERIODS, SNAPSHOTS, rates

CALENDAR = ("2026-03", "2026-Q1", "2026")
TODAY = date(2026, 3, 10)


def random_record(code: str, rng: random.Random) -> dict[str, Any]:
    """Random counts; some periods missing (a calendar period not yet published) and, now and then, a
    counter missing (a record not written by the aggregator)."""
    periods = {}
    for name in (*PERIODS, *CALENDAR):
        if rng.random() < 0.2:
            continue
        counts: dict[str, Any] = {c: rng.randrange(0, 9) for c in (*COUNTERS, *SNAPSHOTS)}
        if rng.random() < 0.1:
            del counts[rng.choice(COUNTERS)]
        periods[name] = {**counts, **rates({**dict.fromkeys(COUNTERS, 0), **counts})}
    return {"unit_code": code, "as_of": f"2026-03-10T10:{rng.randrange(60):02d}:00.000+07:00",
            "day": f"2026-03-{rng.randrange(1, 11):02d}", "periods": periods}


def random_tree(rng: random.Random) -> UnitTree:
    units = [UnitInfo("VN", "root", "country", None)]
    for i in range(rng.randrange(1, 5)):
        units.append(UnitInfo(f"P{i}", f"p{i}", "province", "VN"))
    for i in range(rng.randrange(5, 40)):
        parent = rng.choice(units).code
        units.append(UnitInfo(f"U{i}", f"u{i}", "commune", parent))
    return UnitTree(units)


class Setup:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tree, self.view = random_tree(self.rng), FiguresView()
        self.cache = RollupCache(State(self.tree, self.view.records, TargetBook()), self.view, self.tree)

    def publish(self, code: str) -> None:
        self.view.apply(code, orjson.dumps(random_record(code, self.rng)))

    def assert_equal_to_recomputation(self) -> None:
        periods = (*PERIODS, *CALENDAR, "2025")  # 2025: in no record
        state = self.cache.state
        for code in [*self.tree.parents(), *self.rng.sample(list(self.tree.units), 3), "not-a-unit"]:
            assert self.cache.compute(code, periods) == subtree_rollup(state, code, periods), code
        # A standing (rankings, targets) reads a unit without children from its record: the same value
        # as its one-unit rollup, and the same day.
        for code in [c for c in self.tree.units if not self.tree.has_children(c)] + ["not-a-unit"]:
            for figure in ("received_total", "online_rate", "on_time_rate", "pending_overdue"):
                period = self.rng.choice(periods)
                reference = subtree_rollup(state, code, (period,))
                value = reference["periods"][period][figure] if reference["units_with_figures"] else None
                found = standing(state, code, figure, period, TODAY, self.cache.get)
                assert found.value == value, (code, figure, period)


def edit_tree(s: Setup, codes: list[str]) -> None:
    kind = s.rng.random()
    if kind < 0.5:
        unit = s.tree.get(s.rng.choice(list(s.tree.units)))
        if unit is not None and unit.parent_code is not None:
            parent = s.rng.choice(list(s.tree.units))
            if not s.tree.would_cycle(unit.code, parent):
                s.tree.put(UnitInfo(unit.code, unit.name, unit.level, parent))
    elif kind < 0.8:
        code = f"N{len(codes)}"
        s.tree.put(UnitInfo(code, code, "office", s.rng.choice(list(s.tree.units))))
        codes.append(code)
    else:
        s.tree.delete(s.rng.choice([c for c in s.tree.units if c != "VN"]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_rollups_equal_the_full_recomputation_after_any_changes(seed: int) -> None:
    s = Setup(seed)
    codes = [*s.tree.units, "orphan"]  # a record of a unit the registry does not know
    for step in range(30):
        roll = s.rng.random()
        if roll < 0.7:
            s.publish(s.rng.choice(codes))
        elif roll < 0.85:
            s.view.apply(s.rng.choice(codes), None)
        elif roll < 0.92:  # the tree is edited: a unit moves, is added, or is deleted
            for _ in range(s.rng.randrange(1, 4)):
                edit_tree(s, codes)
        else:  # many at once
            for code in codes:
                s.publish(code)
        if step % 3 == 0:
            s.assert_equal_to_recomputation()
    s.assert_equal_to_recomputation()


def test_a_few_changes_move_the_sums_by_differences_many_rebuild_them() -> None:
    s = Setup(7)
    leaves = [c for c in s.tree.units if not s.tree.has_children(c)]
    for code in s.tree.units:
        s.publish(code)
    s.assert_equal_to_recomputation()
    sums = s.cache.sums
    built = sums.rebuilds
    s.publish(leaves[0])
    s.assert_equal_to_recomputation()
    assert sums.rebuilds == built  # one change: its difference, no rebuild
    for code in leaves[: int(REBUILD_SHARE * len(s.tree.units)) + 2]:
        s.publish(code)
    s.assert_equal_to_recomputation()
    assert sums.rebuilds == built + 1
    s.tree.put(UnitInfo("new", "new", "commune", leaves[1]))  # a tree edit: a leaf gets a child
    s.publish("new")
    s.assert_equal_to_recomputation()
    s.tree.put(UnitInfo(leaves[2], "moved", "commune", "new"))  # and a unit moves under it
    s.assert_equal_to_recomputation()
    assert sums.rebuilds == built + 1  # edits redo the sums they touch, no rebuild
    for i in range(REBUILD_EDITS + 1):
        s.tree.put(UnitInfo(f"many{i}", "many", "office", "VN"))
    s.assert_equal_to_recomputation()
    assert sums.rebuilds == built + 2


def test_a_value_that_is_no_number_counts_zero_and_stops_nothing() -> None:
    s = Setup(3)
    leaf = next(c for c in s.tree.units if not s.tree.has_children(c))
    for code in s.tree.units:
        s.publish(code)
    s.cache.compute("VN", PERIODS)
    before = s.cache.compute("VN", PERIODS)["periods"]["today"]["received_total"]
    bad = random_record(leaf, s.rng)
    bad["periods"]["today"] = {**dict.fromkeys(COUNTERS, 0), "received_total": "junk"}
    old = s.view.records.get(leaf, {"periods": {}})["periods"].get("today", {}).get("received_total", 0)
    s.view.apply(leaf, orjson.dumps(bad))
    after = s.cache.compute("VN", PERIODS)["periods"]["today"]["received_total"]
    assert after == before - old
    s.publish(leaf)  # and the next record of the unit counts again
    s.assert_equal_to_recomputation()


# Few distinct stamps, so that several records share one and the earliest or latest comes and goes.
AS_OFS = tuple(f"2026-03-10T10:0{m}:00.000+07:00" for m in range(5))
DAYS = ("2026-03-09", "2026-03-10")


def stamped_record(code: str, rng: random.Random) -> dict[str, Any]:
    """A random record whose as_of and day are each drawn from a few, or missing (a record not written
    by the aggregator)."""
    record = random_record(code, rng)
    for name, pool in (("as_of", AS_OFS), ("day", DAYS)):
        if rng.random() < 0.15:
            del record[name]
        else:
            record[name] = rng.choice(pool)
    return record


def coverage_of(rollup: dict[str, Any]) -> Coverage:
    return Coverage(*(rollup[name] for name in Coverage._fields))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_coverage_equals_the_full_recomputation_after_every_change(seed: int) -> None:
    s = Setup(seed)
    codes = [*s.tree.units, "orphan"]
    for _ in range(40):
        roll = s.rng.random()
        if roll < 0.6:
            code = s.rng.choice(codes)
            s.view.apply(code, orjson.dumps(stamped_record(code, s.rng)))
        elif roll < 0.75:
            s.view.apply(s.rng.choice(codes), None)
        elif roll < 0.97:  # a unit moves, is added, or is deleted
            edit_tree(s, codes)
        else:  # many at once: a rebuild
            for code in codes:
                s.view.apply(code, orjson.dumps(stamped_record(code, s.rng)))
        for code in [*s.tree.parents(), *s.rng.sample(list(s.tree.units), 2)]:
            found = s.cache.compute(code, ("today",))
            assert found == subtree_rollup(s.cache.state, code, ("today",)), code


def leaves_under_one_province() -> tuple[Setup, list[str]]:
    """A country of one province of twelve communes: enough that one change is taken in as a difference."""
    s = Setup(0)
    s.tree = UnitTree([UnitInfo("VN", "root", "country", None), UnitInfo("P", "p", "province", "VN"),
                       *(UnitInfo(f"U{i}", f"u{i}", "commune", "P") for i in range(12))])
    s.cache = RollupCache(State(s.tree, s.view.records, TargetBook()), s.view, s.tree)
    return s, [f"U{i}" for i in range(12)]


def publish_stamped(s: Setup, code: str, as_of: Any, day: Any) -> None:
    s.view.apply(code, orjson.dumps({**random_record(code, s.rng), "as_of": as_of, "day": day}))


def test_the_earliest_record_moving_forward_moves_as_of_min() -> None:
    s, leaves = leaves_under_one_province()
    for i, code in enumerate(leaves):
        publish_stamped(s, code, AS_OFS[min(i, 2)], DAYS[0])
    coverage = s.cache.sums.coverage
    assert coverage("VN") == Coverage(14, 12, AS_OFS[0], AS_OFS[2], DAYS[0])
    publish_stamped(s, leaves[0], AS_OFS[4], DAYS[1])  # the earliest unit is now the latest
    assert coverage("VN") == Coverage(14, 12, AS_OFS[1], AS_OFS[4], DAYS[1])
    assert coverage("P") == Coverage(13, 12, AS_OFS[1], AS_OFS[4], DAYS[1])
    publish_stamped(s, leaves[0], AS_OFS[1], DAYS[0])  # and back: as_of_max and the day move back too
    assert coverage("VN") == Coverage(14, 12, AS_OFS[1], AS_OFS[2], DAYS[0])
    s.view.apply(leaves[1], None)  # two units at the earliest: one deleted, the other still counts
    assert coverage("VN") == Coverage(14, 11, AS_OFS[1], AS_OFS[2], DAYS[0])
    s.view.apply(leaves[0], None)
    assert coverage("VN") == Coverage(14, 10, AS_OFS[2], AS_OFS[2], DAYS[0])
    assert s.cache.sums.rebuilds == 1  # the first sync's; every change after it a difference


def test_a_stamp_that_is_no_string_is_compared_as_the_full_recomputation_does() -> None:
    s, leaves = leaves_under_one_province()
    state, today = s.cache.state, ("today",)
    for i, code in enumerate(leaves):
        publish_stamped(s, code, AS_OFS[i % 5], DAYS[0])
    s.cache.compute("VN", today)
    publish_stamped(s, leaves[0], 5, DAYS[0])
    assert s.cache.compute(leaves[0], today) == subtree_rollup(state, leaves[0], today)
    with pytest.raises(TypeError):  # a number among strings: neither can order them
        subtree_rollup(state, "VN", today)
    with pytest.raises(TypeError):
        s.cache.compute("VN", today)
    for i, code in enumerate(leaves):  # numbers only, one at a time: ordered as numbers
        publish_stamped(s, code, 20 - i, i)
        if i == len(leaves) - 1:
            assert s.cache.compute("VN", today) == subtree_rollup(state, "VN", today)
        else:
            s.cache.sums.sync()
    assert s.cache.sums.coverage("VN")[2:] == (9, 20, 11)
    for i, code in enumerate(leaves):  # strings again, one at a time
        publish_stamped(s, code, AS_OFS[i % 5], DAYS[1])
        s.cache.sums.sync()
    assert s.cache.compute("VN", today) == subtree_rollup(state, "VN", today)
    assert s.cache.sums.coverage("P") == Coverage(13, 12, AS_OFS[0], AS_OFS[4], DAYS[1])
    assert s.cache.sums.rebuilds == 1
