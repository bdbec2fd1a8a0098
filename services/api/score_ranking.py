"""Units ranked by Decision 766, one rule for every ranking of scores (GET /v1/units/{code}/children/
scores and GET /v1/rankings/scores): each unit's total over its subtree as a share of the points its
measured indicators cover, best first, equal shares sharing a rank (1, 2, 2, 4). A share compares units
measured on different indicators fairly, and where every indicator is measured it orders the units
exactly as the total does. A unit without filings in the period scores 0 of its measured points, as
the portal counts it in its rank tables: ranked with a share of 0 and flagged `noFilings`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

from services.api.queries import State, subtree_records
from services.api.rollup import rollup_counters
from services.api.tree import UnitTree
from services.contract.portal_scores import score_period

# A subtree's counters and snapshots per period (RollupCache.counters).
SubtreeCounters = Callable[[str, Sequence[str]], dict[str, dict[str, int]]]


def rank_by_share(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (each with `code`, `score` and `maxScore`) ranked: each with `rank` first and `share`
    (score / maxScore, compared exactly) added, the highest share first; equal shares share a rank and
    are in code order. A row with no measured points (`maxScore` 0) has no share: last, unranked (2.1
    is always measured, so score_period's totals never have maxScore 0)."""
    shares = [(share_of(row), row) for row in rows]
    valued = sorted(((share, row) for share, row in shares if share is not None),
                    key=lambda pair: (-pair[0], pair[1]["code"]))
    ranked: list[dict[str, Any]] = []
    previous, rank = None, 0
    for position, (share, row) in enumerate(valued, start=1):
        if share != previous:
            previous, rank = share, position
        ranked.append({"rank": rank, **row, "share": float(share)})
    unvalued = sorted((row for share, row in shares if share is None), key=lambda row: row["code"])
    return [*ranked, *({"rank": None, **row, "share": None} for row in unvalued)]


def share_of(row: dict[str, Any]) -> Fraction | None:
    """The row's score as an exact share of its measured points (the score is shown to 2 decimals, so
    its decimal text is exact); None when no point is measured."""
    return Fraction(str(row["score"])) / row["maxScore"] if row["maxScore"] else None


def children_ranked(state: State, code: str, period: str) -> list[dict[str, Any]]:
    """The units directly below `code`, each over its subtree (summed from the view's records), ranked
    by rank_by_share."""
    def summed(child: str, periods: Sequence[str]) -> dict[str, dict[str, int]]:
        return rollup_counters(subtree_records(state, child), periods)

    return ranked_scores(state.tree, summed, state.tree.children(code), period)


def ranked_scores(tree: UnitTree, counters: SubtreeCounters, codes: Sequence[str],
                  period: str) -> list[dict[str, Any]]:
    """`codes`, each scored over its subtree (`counters`: the subtree's sums per period, as
    RollupCache.counters gives them), ranked by rank_by_share."""
    rows = []
    for code in codes:
        summed = counters(code, (period, "all_time"))
        scored = score_period(summed[period], summed["all_time"])
        unit = tree.get(code)
        # `received` is 2.1's denominator, every filing received in the period (received_total).
        rows.append({"code": code, "name": unit.name if unit else None, "level": unit.level if unit else None,
                     **scored["total"], "onTimeRatio": scored["progress"]["ratio"],
                     "received": scored["progress"]["totalReceived"], "noFilings": scored["noFilings"]})
    return rank_by_share(rows)
