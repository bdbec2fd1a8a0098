"""The counters of every subtree, kept exact as records change, so that a national rollup costs what
changed since the last one rather than a sum over every unit.

Each unit with children holds, per period, its subtree's counters and snapshots (rollup.SUMMED) as one
list, and its subtree's coverage: how many units it has, how many of them have a record, and those
records' as_of and day values tallied, so that a rollup's earliest and latest are at hand without a
walk over the subtree. The view tells of every changed record (`changed`, O(1)); the next read (`sync`)
adds the difference between each changed unit's new record and the one last counted to the unit and
each of its ancestors, only the counters that moved, and moves its stamps in their tallies: about
0.1 ms a changed unit at 30 periods, however large the tree. A tree edit redoes the sums and coverage
of the edited unit's old and new ancestors from their children (UnitTree.edits). When more than
REBUILD_SHARE of the units changed at once (the aggregator republishing every unit after midnight, or
the view catching up at start-up), or more than REBUILD_EDITS edits came at once, the sums and coverage
are rebuilt bottom-up instead, each record read once: the cost of one full national rollup.

Rollups and scores read `counters()`; rollups read `coverage()` too, which describes exactly the records
summed. `records()` gives those records, as counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import compress
from operator import add, itemgetter, sub
from typing import Any

from services.api.rollup import SUMMED, Coverage, coverage_of, summed_vector
from services.api.tree import UnitTree

# Rebuild rather than apply differences when more than this share of the units with records changed,
# or rather than redo the sums an edit touched when the tree had more edits than this since.
REBUILD_SHARE = 0.25
REBUILD_EDITS = 64

_VECTOR = itemgetter(*SUMMED)
_ZEROS = (0,) * len(SUMMED)
_POSITIONS = range(len(SUMMED))
_NO_PERIODS: Mapping[str, Any] = {}

Counters = list[int]  # one period's SUMMED, in that order


_NUMBERS = frozenset({int, float})


def _vector(figures: Mapping[str, Any] | None) -> Sequence[int]:
    """One period object's SUMMED as a tuple; a missing counter (not the aggregator's record) is 0."""
    if not figures:
        return _ZEROS
    try:
        values: tuple[int, ...] = _VECTOR(figures)
        return values
    except KeyError:
        return tuple(figures.get(name, 0) for name in SUMMED)


def _numbers(values: Sequence[Any]) -> Sequence[int]:
    """`values` with each that is no number (a record not written by the aggregator) as 0."""
    return tuple(v if type(v) in _NUMBERS else 0 for v in values)


def _total(rows: Sequence[Mapping[str, Any]]) -> Counters:
    """Period objects summed (rollup.summed_vector, in C calls); a row missing a counter counts it 0,
    and one with a value that is no number counts that value 0."""
    try:
        return summed_vector(rows)
    except (KeyError, TypeError):
        vector = list(_ZEROS)
        for row in rows:
            vector = list(map(add, vector, _numbers(_vector(row))))
        return vector


def _periods(record: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return record["periods"] if record is not None else _NO_PERIODS


Stamps = tuple[str, str]  # a record's as_of and day


def _stamps(record: Mapping[str, Any]) -> Stamps | None:
    """The record's as_of and day ("" when it has none), or None when either is no string (a record not
    written by the aggregator): a subtree with such a record has its coverage read from the records."""
    as_of, day = record.get("as_of", ""), record.get("day", "")
    return (as_of, day) if type(as_of) is str and type(day) is str else None


class _Tally:
    """Strings with how many times each is counted, and the least and the greatest of them: kept as
    strings come, and found again (a walk over the distinct strings) only when the one that was is no
    longer counted."""

    __slots__ = ("_greatest", "_least", "counts")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._least: str | None = None  # None: to be found again (or nothing counted)
        self._greatest: str | None = None

    def add(self, value: str) -> None:
        counts = self.counts
        before = counts.get(value, 0)
        counts[value] = before + 1
        if before:
            return
        if len(counts) == 1:
            self._least = self._greatest = value
            return
        if self._least is not None and value < self._least:
            self._least = value
        if self._greatest is not None and value > self._greatest:
            self._greatest = value

    def remove(self, value: str) -> None:
        counts = self.counts
        left = counts[value] - 1
        if left:
            counts[value] = left
            return
        del counts[value]
        if value == self._least:
            self._least = None
        if value == self._greatest:
            self._greatest = None

    def merge(self, other: _Tally) -> None:
        """Count `other`'s strings too."""
        if not other.counts:
            return
        least, greatest = other.least(), other.greatest()
        if not self.counts:
            self.counts, self._least, self._greatest = dict(other.counts), least, greatest
            return
        counts = self.counts
        for value, times in other.counts.items():
            counts[value] = counts.get(value, 0) + times
        if self._least is not None and least < self._least:
            self._least = least
        if self._greatest is not None and greatest > self._greatest:
            self._greatest = greatest

    def least(self) -> str:
        """The least string counted (of a tally that counts some)."""
        if self._least is None:
            self._least = min(self.counts)
        return self._least

    def greatest(self) -> str:
        """The greatest string counted (of a tally that counts some)."""
        if self._greatest is None:
            self._greatest = max(self.counts)
        return self._greatest


class _Cover:
    """A unit with children's coverage, kept as its sums are: its subtree's units, the records
    counted in it, and their as_of and day tallied. A record whose stamps are no strings is only
    counted, in `odd`: while the subtree has one, its coverage is read from the records."""

    __slots__ = ("as_ofs", "days", "odd", "records", "units")

    def __init__(self) -> None:
        self.units = 1  # the unit itself
        self.records = self.odd = 0
        self.as_ofs, self.days = _Tally(), _Tally()

    def add(self, stamps: Stamps | None) -> None:
        """Count a record of these stamps (_stamps)."""
        self.records += 1
        if stamps is None:
            self.odd += 1
        else:
            self.as_ofs.add(stamps[0])
            self.days.add(stamps[1])

    def remove(self, stamps: Stamps | None) -> None:
        self.records -= 1
        if stamps is None:
            self.odd -= 1
        else:
            self.as_ofs.remove(stamps[0])
            self.days.remove(stamps[1])

    def merge(self, child: _Cover) -> None:
        """Count a child's subtree in."""
        self.units += child.units
        self.records += child.records
        self.odd += child.odd
        self.as_ofs.merge(child.as_ofs)
        self.days.merge(child.days)


class SubtreeSums:
    def __init__(self, tree: UnitTree, records: Mapping[str, Mapping[str, Any]]) -> None:
        self.tree, self.view_records = tree, records
        self._counted: dict[str, Mapping[str, Any]] = {}  # unit → the record in the sums
        self._dirty: dict[str, None] = {}  # units whose record changed since the last sync
        self._sums: dict[str, dict[str, Counters]] = {}  # unit with children → period → counters
        self._covers: dict[str, _Cover] = {}  # unit with children → its subtree's coverage
        self._tree_version = -1  # the tree the sums and the caches below were built on
        self._holders: dict[str, list[str]] = {}  # unit → the units with children whose sums hold it
        self._subtrees: dict[str, list[str]] = {}
        self.rebuilds = 0  # counted for the tests and the benchmark

    def changed(self, code: str, record: Mapping[str, Any] | None) -> None:
        """A FiguresView listener: the unit's record changed (None: deleted)."""
        self._dirty[code] = None

    def sync(self) -> None:
        """Bring every sum up to the tree and the view's records."""
        if len(self._dirty) > REBUILD_SHARE * max(len(self.view_records), 1):
            self._rebuild()
            return
        if self.tree.version != self._tree_version and not self._follow_tree():
            self._rebuild()
            return
        dirty, self._dirty = self._dirty, {}
        try:
            for code in dirty:
                self._apply(code)
        except BaseException:
            self._tree_version = -1  # some changes are half taken in: the next sync rebuilds
            raise

    def counters(self, code: str, periods: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each of `periods`' counters and snapshots summed over the subtree at `code` (synced first)."""
        self.sync()
        sums = self._sums.get(code)
        if sums is not None:
            return {p: dict(zip(SUMMED, sums.get(p, _ZEROS), strict=True)) for p in periods}
        own = _periods(self._counted.get(code))
        return {p: dict(zip(SUMMED, _vector(own.get(p)), strict=True)) for p in periods}

    def coverage(self, code: str) -> Coverage:
        """The units of the subtree at `code`, how many have a record, and how recent those are
        (synced first): kept for a unit with children, read from its own record for one without."""
        self.sync()
        cover = self._covers.get(code)
        if cover is None:
            record = self._counted.get(code)
            return coverage_of(1, [record] if record is not None else [])
        if cover.odd:
            return coverage_of(cover.units, self.records(code))
        if not cover.records:
            return Coverage(cover.units, 0, None, None, None)
        return Coverage(cover.units, cover.records, cover.as_ofs.least(), cover.as_ofs.greatest(),
                        cover.days.greatest())

    def subtree(self, code: str) -> list[str]:
        """tree.subtree(code), kept until the tree changes (a country's takes milliseconds to walk)."""
        if self.tree.version != self._tree_version:
            self.sync()
        found = self._subtrees.get(code)
        if found is None:
            found = self._subtrees[code] = self.tree.subtree(code)
        return found

    def records(self, code: str) -> list[Mapping[str, Any]]:
        """The records summed into the subtree at `code`, as counted (synced first)."""
        self.sync()
        return list(filter(None, map(self._counted.get, self.subtree(code))))

    def _apply(self, code: str) -> None:
        old = self._counted.get(code)
        new = self.view_records.get(code)
        if new is None:
            self._counted.pop(code, None)
        else:
            self._counted[code] = new
        holders = self._holders_of(code)
        if old is new or not holders:
            return
        new_stamps = _stamps(new) if new is not None else None
        old_stamps = _stamps(old) if old is not None else None
        for holder in holders:
            cover = self._covers[holder]
            # The new record first, so that a stamp both records carry (the day) is never gone from the
            # tally, which would send it looking for a new least or greatest.
            if new is not None:
                cover.add(new_stamps)
            if old is not None:
                cover.remove(old_stamps)
        old_periods, new_periods = _periods(old), _periods(new)
        for period in {*old_periods, *new_periods}:
            was, now = old_periods.get(period), new_periods.get(period)
            if was == now:  # most periods of a new record: the days an event did not touch
                continue
            before, after = _vector(was), _vector(now)
            if before == after:
                continue
            try:
                delta = list(map(sub, after, before))
            except TypeError:  # a value that is no number counts 0, so that no record stops the sums
                delta = list(map(sub, _numbers(after), _numbers(before)))
            # A filing moves a few of the counters: add those only, in place (each holder's lists are its
            # own: _sum_of makes new ones, and counters() hands out copies).
            moved = list(compress(_POSITIONS, delta))
            for holder in holders:
                sums = self._sums[holder]
                kept = sums.get(period)
                if kept is None:
                    sums[period] = delta.copy()
                else:
                    for i in moved:
                        kept[i] += delta[i]

    def _holders_of(self, code: str) -> list[str]:
        """The unit itself if it has children, then its ancestors: every sum a change of it moves."""
        holders = self._holders.get(code)
        if holders is None:
            holders = [code] if self.tree.has_children(code) else []
            seen = {code}
            unit = self.tree.get(code)
            while unit is not None and unit.parent_code is not None and unit.parent_code not in seen:
                holders.append(unit.parent_code)
                seen.add(unit.parent_code)
                unit = self.tree.get(unit.parent_code)
            self._holders[code] = holders
        return holders

    def _follow_tree(self) -> bool:
        """Redo the sums of the units whose subtree an edit changed (each edited unit's old and new
        ancestors), from their children, deepest first: a province's few hundred records rather than
        the country's. False when the tree's edit log no longer reaches back to these sums."""
        edits = [edit for edit in self.tree.edits if edit[0] > self._tree_version]
        if not edits or edits[0][0] != self._tree_version + 1 or len(edits) > REBUILD_EDITS:
            return False
        self._tree_version = self.tree.version
        self._holders.clear()
        self._subtrees.clear()
        touched: set[str] = set()
        for _, code, old_parent in edits:
            for start in (code, old_parent):
                if start is not None:
                    touched.update(self._chain(start))
        for code in touched:
            if not self.tree.has_children(code):
                self._sums.pop(code, None)
                self._covers.pop(code, None)
        for code in sorted((c for c in touched if self.tree.has_children(c)),
                           key=lambda c: len(self._chain(c)), reverse=True):
            self._sums[code] = self._sum_of(code)
            self._covers[code] = self._cover_of(code)
        return True

    def _chain(self, code: str) -> list[str]:
        """`code` and its ancestors in the tree as it is."""
        chain, seen = [code], {code}
        unit = self.tree.get(code)
        while unit is not None and unit.parent_code is not None and unit.parent_code not in seen:
            chain.append(unit.parent_code)
            seen.add(unit.parent_code)
            unit = self.tree.get(unit.parent_code)
        return chain

    def _sum_of(self, code: str) -> dict[str, Counters]:
        """A unit's sums from its own record, its leaf children's records (summed in C
        calls, rollup.summed_vector) and its other children's sums."""
        counted, tree = self._counted, self.tree
        children = tree.children(code)
        leaves = [counted[c]["periods"] for c in children if c in counted and not tree.has_children(c)]
        if code in counted:
            leaves.append(counted[code]["periods"])
        inner = [self._sums[c] for c in children if c in self._sums]
        sums: dict[str, Counters] = {}
        for period in set().union(*leaves, *inner):
            rows = [p[period] for p in leaves if period in p]
            vector = _total(rows) if rows else list(_ZEROS)
            for child in inner:
                if period in child:
                    vector = list(map(add, vector, child[period]))
            sums[period] = vector
        return sums

    def _cover_of(self, code: str) -> _Cover:
        """A unit's coverage from its own record, its leaf children's records and its other children's
        coverage."""
        counted, covers = self._counted, self._covers
        cover = _Cover()
        for child in self.tree.children(code):
            below = covers.get(child)
            if below is not None:
                cover.merge(below)
            else:
                cover.units += 1
                if child in counted:
                    cover.add(_stamps(counted[child]))
        if code in counted:
            cover.add(_stamps(counted[code]))
        return cover

    def _rebuild(self) -> None:
        """Every sum from the records, bottom-up: a unit's own record and its leaf children's records are
        summed in C calls (rollup.summed_vector), then its children's sums added."""
        self.rebuilds += 1
        self._tree_version = self.tree.version
        self._holders.clear()
        self._subtrees.clear()
        self._dirty.clear()
        self._counted = dict(self.view_records)
        # Deepest first, so that a unit's children's sums are there when its own is made.
        order = sorted(self.tree.parents(), key=lambda code: len(self._holders_of(code)), reverse=True)
        self._sums, self._covers = {}, {}
        for code in order:
            self._sums[code] = self._sum_of(code)
            self._covers[code] = self._cover_of(code)
