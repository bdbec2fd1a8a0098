"""Subtree rollups kept for a moment, so that a popular subtree (the province on every dashboard) is
summed a few times a second rather than once per request.

An entry is served while nothing changed since it was computed (the view's and the tree's versions),
and for at most MAX_AGE_S after the figures changed: units publish at most every 0.5 s and the stream
coalesces at that interval too, so a rollup up to 0.25 s old says nothing a client could tell apart.
A change of the tree (a unit moved or deleted) makes every entry stale at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.api.queries import State, subtree_rollup
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
    def __init__(self, state: State, view: FiguresView, tree: UnitTree,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state, self.view, self.tree, self.clock = state, view, tree, clock
        self._entries: dict[str, _Entry] = {}

    def get(self, code: str, periods: Sequence[str]) -> dict[str, Any]:
        """The subtree's rollup of `periods` (queries.subtree_rollup), computed now or a moment ago."""
        now = self.clock()
        entry = self._entries.get(code)
        periods = tuple(periods)
        if entry is not None and entry.tree_version == self.tree.version and entry.periods == periods and (
                entry.view_version == self.view.version or now - entry.computed_at < MAX_AGE_S):
            return entry.rollup
        rollup = subtree_rollup(self.state, code, periods)
        self._entries.pop(code, None)
        if len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[code] = _Entry(self.view.version, self.tree.version, now, periods, rollup)
        return rollup
