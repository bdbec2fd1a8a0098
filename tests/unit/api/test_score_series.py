"""The dashboard's series and the ranking by Decision 766's total, from plain records: hand-computed
scores, months without filings, a day's 2.1 over its decided filings, shared ranks."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from services.api.daily import DailyView
from services.api.queries import State
from services.api.score_ranking import children_ranked
from services.api.score_series import day_series, month_series, published_months
from services.api.targets import TargetBook
from services.contract.figures import COUNTERS
from tests.support.api import period, sample_tree

TODAY = date(2026, 12, 6)


def record(unit: str, **periods: dict[str, Any]) -> dict[str, Any]:
    return {"unit_code": unit, "as_of": "2026-12-06T10:00:00.000+07:00", "day": "2026-12-06",
            "periods": {name[1:].replace("_", "-") if name.startswith("m20") else name: figures
                        for name, figures in periods.items()}}


def state(*records: dict[str, Any]) -> State:
    return State(sample_tree(), {r["unit_code"]: r for r in records}, TargetBook())


def test_months_are_the_published_ones_oldest_first() -> None:
    months = published_months(TODAY)
    assert months[0] == "2025-12" and months[-1] == "2026-12" and len(months) == 13


def test_month_series_sums_the_subtree_and_scores_it() -> None:
    # 29 of 32 on time in November over two units: 2.1 = 90.63 %, 18.13 points; nothing else reported,
    # so only 2.1 (20) and 3.3 (0 points) are measured.
    s = state(record("11311", m2026_11=period(received_total=20, received_online=5, portal_on_time=19),
                     all_time=period(received_total=20)),
              record("11312", m2026_11=period(received_total=12, received_online=3, portal_on_time=8,
                                              portal_pending_on_time=2), all_time=period(received_total=12)))
    points = {p["period"]: p for p in month_series(s, "31", TODAY)}
    november = points["2026-11"]
    assert november == {"period": "2026-11", "received_total": 32, "on_time_rate": 29 / 32,
                        "online_rate": 8 / 32, "score": 18.13, "maxScore": 20}
    # A month without filings: no rates, and 2.1 at 0 of its 20 points, as the portal shows it.
    assert points["2026-10"] == {"period": "2026-10", "received_total": 0, "on_time_rate": None,
                                 "online_rate": None, "score": 0.0, "maxScore": 20}
    assert month_series(s, "11312", TODAY)[-2]["score"] == 16.67  # 10/12 of 20, half up


def day_row(**counts: int) -> bytes:
    return orjson.dumps({name: counts.get(name, 0) for name in COUNTERS})


def test_day_series_counts_2_1_over_decided_filings() -> None:
    s = state(record("11311", all_time=period(received_total=30, ratings=4)),
              record("11312", all_time=period(received_total=5)))
    days = DailyView()
    # 1 December: 10 filings at one ward, 6 on time, 2 overdue, 2 still open; 4 online; 3 of 4 ratings.
    days.apply("11311|2026-12-01", day_row(received_total=10, received_online=4, portal_on_time=6,
                                           portal_overdue=2, ratings=4, ratings_satisfied=3))
    days.apply("11312|2026-12-01", day_row(received_total=2, portal_on_time=2))
    points = day_series(s, days, "31", date(2026, 12, 1), date(2026, 12, 3))
    assert [p["day"] for p in points] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    first = points[0]
    assert first["received_total"] == 12 and first["on_time_rate"] == 8 / 10
    assert first["online_rate"] == pytest.approx(4 / 12)
    # 2.1: 8/10 of 20 = 16.00; 5.4 (measured: ratings reported): 3/4, full at 90 %: 6 × 0.75/0.9 = 5.00.
    assert first["score"] == 21.0 and first["maxScore"] == 26
    assert points[1] == {"day": "2026-12-02", "received_total": 0, "on_time_rate": None, "online_rate": None,
                         "score": 0.0, "maxScore": 26}


def test_children_ranked_by_share_of_the_measured_points() -> None:
    s = state(record("31.S06", month_to_date=period(received_total=10, portal_on_time=9),
                     all_time=period(received_total=10)),
              record("31.S06.01", month_to_date=period(received_total=10, portal_on_time=9),
                     all_time=period(received_total=10)),
              record("11311", month_to_date=period(received_total=4, portal_on_time=4),
                     all_time=period(received_total=4)),
              record("31.S03", month_to_date=period(received_total=5, portal_on_time=5),
                     all_time=period(received_total=5)))
    rows = children_ranked(s, "31", "month_to_date")
    assert [(r["code"], r["rank"], r["score"]) for r in rows] == [
        ("11311", 1, 20.0), ("31.S03", 1, 20.0), ("31.S06", 3, 18.0), ("11312", 4, 0.0)]
    department = rows[2]
    assert department["received"] == 20 and department["onTimeRatio"] == 90.0  # with its office
    assert department["share"] == 0.9 and department["maxScore"] == 20 and not department["noFilings"]
    assert rows[3]["noFilings"] is True and rows[3]["share"] == 0.0
