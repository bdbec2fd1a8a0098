"""The one rule both rankings of Decision 766's scores take (services/api/score_ranking.py): by the
share of the measured points, exactly; equal shares share a rank; no filings is a share of 0."""

from __future__ import annotations

from typing import Any

from services.api.score_ranking import rank_by_share


def row(code: str, score: float, max_score: int, **more: Any) -> dict[str, Any]:
    return {"code": code, "score": score, "maxScore": max_score, "noFilings": False, **more}


def test_equal_shares_share_a_rank_and_the_next_rank_skips() -> None:
    rows = rank_by_share([row("d", 10.0, 20), row("c", 18.0, 20), row("b", 23.4, 26), row("a", 18.0, 20)])
    # 18/20 and 23.4/26 are both 90 %: three units tied first, the fourth ranked 4.
    assert [(r["code"], r["rank"], r["share"]) for r in rows] == [
        ("a", 1, 0.9), ("b", 1, 0.9), ("c", 1, 0.9), ("d", 4, 0.5)]


def test_a_higher_share_ranks_first_whatever_the_total() -> None:
    # 18 of 20 points measured (90 %) against 35.83 of 44 (81.4 %): the lower total ranks first.
    rows = rank_by_share([row("ward", 35.83, 44), row("commune", 18.0, 20)])
    assert [(r["code"], r["rank"], r["score"]) for r in rows] == [("commune", 1, 18.0), ("ward", 2, 35.83)]


def test_shares_are_compared_exactly_not_as_floats() -> None:
    # 23.4 / 26 is 0.8999999999999999 in binary floats, 18 / 20 is 0.9: exactly, both are 9/10.
    rows = rank_by_share([row("a", 23.4, 26), row("b", 18.0, 20), row("c", 18.13, 20)])
    assert [(r["code"], r["rank"]) for r in rows] == [("c", 1), ("a", 2), ("b", 2)]
    assert rows[1]["share"] == rows[2]["share"] == 0.9


def test_a_unit_without_filings_ranks_with_a_share_of_0() -> None:
    # As the portal's rank tables count it: 0 of its measured points, tied with any other 0, flagged.
    rows = rank_by_share([row("empty", 0.0, 26, noFilings=True), row("late", 0.0, 20), row("good", 5.0, 20)])
    assert [(r["code"], r["rank"], r["share"], r["noFilings"]) for r in rows] == [
        ("good", 1, 0.25, False), ("empty", 2, 0.0, True), ("late", 2, 0.0, False)]


def test_a_unit_with_nothing_measured_is_last_and_unranked() -> None:
    rows = rank_by_share([row("none", 0.0, 0), row("zero", 0.0, 20), row("b", 0.0, 0)])
    assert [(r["code"], r["rank"], r["share"]) for r in rows] == [
        ("zero", 1, 0.0), ("b", None, None), ("none", None, None)]


def test_rows_keep_their_fields_with_rank_first_and_share_added() -> None:
    given = row("a", 41.3, 56, name="Sở Tư pháp", received=32)
    (ranked,) = rank_by_share([given])
    assert next(iter(ranked)) == "rank" and ranked == {"rank": 1, **given, "share": 0.7375}
    assert "rank" not in given  # the caller's row is not changed
