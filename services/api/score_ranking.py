"""Units ranked by Decision 766's total: each unit's score over its subtree as a share of the points
its measured indicators cover (units measured on different indicators compare fairly), best first;
equal shares share a rank."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from services.api.queries import State, subtree_records
from services.api.scores import records_score


def score_row(state: State, code: str, period: str) -> dict[str, Any]:
    """One unit's total, its share of the measured points, and its 2.1, over its subtree."""
    scored = records_score(subtree_records(state, code), period)
    unit = state.tree.get(code)
    total = scored["total"]
    share = Fraction(str(total["score"])) / total["maxScore"] if total["maxScore"] else None
    return {"rank": None, "code": code, "name": unit.name if unit else None,
            "level": unit.level if unit else None, "score": total["score"], "maxScore": total["maxScore"],
            "share": float(share) if share is not None else None, "_share": share,
            "received": scored["progress"]["totalReceived"], "onTimeRatio": scored["progress"]["ratio"],
            "noFilings": scored["noFilings"]}


def children_ranked(state: State, code: str, period: str) -> list[dict[str, Any]]:
    """The units directly below `code`, ranked by their share of the measured points (1, 2, 2, 4)."""
    rows = [score_row(state, child, period) for child in state.tree.children(code)]
    valued = sorted((r for r in rows if r["_share"] is not None), key=lambda r: (-r["_share"], r["code"]))
    previous, rank = None, 0
    for position, row in enumerate(valued, start=1):
        if row["_share"] != previous:
            previous, rank = row["_share"], position
        row["rank"] = rank
    unvalued = sorted((r for r in rows if r["_share"] is None), key=lambda r: r["code"])
    return [{k: v for k, v in row.items() if k != "_share"} for row in (*valued, *unvalued)]
