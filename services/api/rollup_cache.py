"""Subtree rollups: counters and coverage (units, as_of, day) from SubtreeSums (kept exact by the
differences of changed records, so a national rollup after a change costs what changed, not a walk over
every unit), and answers kept for a moment, so that a popular subtree (the province on every dashboard)
is assembled a few times a second rather than once per request.

An entry is served while nothing changed since it was computed (the view's and the tree's versions),
and for at most MAX_AGE_S after the figures changed: units publish at most every 0.5 s and the stream
coalesces at that interval too, so a rollup up to 0.25 s old says nothing a client could tell apart.
That is the staleness bound: a rollup answered is never more than MAX_AGE_S behind the view. A change
of the tree (a unit moved or deleted) makes every entry stale at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.api.queries import State
from services.api.rollup import with_rates
from services.api.subtree_sums import SubtreeSums
from services.api.tree import UnitTree
from services.api.view import FiguresView

MAX_AGE_S = 0.25
MAX_ENTRIES = 1024  # subtrees kept; the oldest entry goes first when full


@dataclass(frozen=True, slots=True)
class _Entry:
    view_version: int
    tree_version: int
    computed_at: float
    periods: tuple[str, ...]  # the periods summed: the calendar ones change with the day
    rollup: dict[str, Any]


class RollupCache:
    """Listens to `view` for changed records (SubtreeSums.changed)."""

    def __init__(self, state: State, view: FiguresView, tree: UnitTree,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state, self.view, self.tree, self.clock = state, view, tree, clock
        self.sums = SubtreeSums(tree, view.records)
        view.listeners.append(self.sums.changed)
        self._entries: dict[str, _Entry] = {}

    def get(self, code: str, periods: Sequence[str]) -> dict[str, Any]:
        """The subtree's rollup of `periods` (the shape of queries.subtree_rollup), computed now or a
        moment ago."""
        if not self.tree.has_children(code):  # a unit's own record: cheaper to answer than to keep
            return self.compute(code, periods)
        now = self.clock()
        entry = self._entries.get(code)
        periods = tuple(periods)
        if entry is not None and entry.tree_version == self.tree.version and entry.periods == periods and (
                entry.view_version == self.view.version or now - entry.computed_at < MAX_AGE_S):
            return entry.rollup
        rollup = self.compute(code, periods)
        self._entries.pop(code, None)
        if len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[code] = _Entry(self.view.version, self.tree.version, now, periods, rollup)
        return rollup

    def counters(self, code: str, periods: Sequence[str]) -> dict[str, dict[str, int]]:
        """The subtree's counters and snapshots for `periods`, now (what Decision 766's scores take)."""
        return self.sums.counters(code, periods)

    def compute(self, code: str, periods: Sequence[str]) -> dict[str, Any]:
        """The rollup now, equal to queries.subtree_rollup over the view's records."""
        counters = self.sums.counters(code, periods)
        return {"unit_code": code, **self.sums.coverage(code)._asdict(),
                "periods": {period: with_rates(c) for period, c in counters.items()}}
