"""A subtree's trends for the dashboard's charts: its Decision 766 score and its on-time and online
rates month by month over the published calendar months, and day by day over a range of days.

Months are the calendar months the unit-figures records carry (this one and the 12 before), each
summed over the subtree and scored like `/v1/units/{code}/score`. Days come from `unit-days`, which
has no pending snapshot: a day's 2.1 is over the filings received that day whose verdict is already
fixed (as `/v1/units/{code}/daily` says), and its score counts 2.1 on that basis; the other
indicators are the day's own ratios, scored as the portal scores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from services.api.daily import DailyView
from services.api.queries import State, subtree_records
from services.api.rollup import rollup_counters, sum_counters
from services.contract.figures import SNAPSHOTS, calendar_periods, rates
from services.contract.portal_scores import ON_TIME, indicator_score, round_half_up, score_period


def published_months(today: date) -> list[str]:
    """The calendar months the figures of `today` carry, oldest first."""
    return sorted(p for p in calendar_periods(today) if len(p) == 7 and "-Q" not in p)


def month_series(state: State, code: str, today: date) -> list[dict[str, Any]]:
    """One point per published month, oldest first: filings, rates (0..1) and the 766 total."""
    months = published_months(today)
    counters = rollup_counters(subtree_records(state, code), (*months, "all_time"))
    points = []
    for month in months:
        period = counters[month]
        scored = score_period(period, counters["all_time"])
        figures = rates(period)
        points.append({"period": month, "received_total": period["received_total"],
                       "on_time_rate": figures["on_time_rate"], "online_rate": figures["online_rate"],
                       "score": scored["total"]["score"], "maxScore": scored["total"]["maxScore"]})
    return points


def day_series(state: State, days: DailyView, code: str, first: date, last: date) -> list[dict[str, Any]]:
    """One point per day from `first` to `last`: filings, rates (0..1) and the 766 total (see above)."""
    units = state.tree.subtree(code) if code in state.tree else [code]
    all_time = rollup_counters(subtree_records(state, code), ("all_time",))["all_time"]
    per_unit = [days.series(unit, first, last) for unit in units if days.has(unit)]
    points = []
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        counts = sum_counters(series[offset] for series in per_unit)
        decided = counts["portal_on_time"] + counts["portal_overdue"]
        points.append({"day": day, "received_total": counts["received_total"],
                       "on_time_rate": counts["portal_on_time"] / decided if decided else None,
                       "online_rate": rates(counts)["online_rate"],
                       **_day_score(counts, all_time)})
    return points


def _day_score(counts: Mapping[str, int], all_time: Mapping[str, int]) -> dict[str, Any]:
    # No snapshot on a day: the pending counts are 0, so score_period's 2.1 would count the day's open
    # filings overdue; its 2.1 is replaced by the one over the decided filings.
    scored = score_period({**counts, **dict.fromkeys(SNAPSHOTS, 0)}, all_time)
    on_time = next(i for i in scored["indicators"] if i["indicator"] == ON_TIME.indicator)
    decided = counts["portal_on_time"] + counts["portal_overdue"]
    shown = Fraction(0)
    if decided:
        score = indicator_score(Fraction(counts["portal_on_time"], decided), ON_TIME.points)
        shown = Fraction(str(round_half_up(score)))
    total = Fraction(str(scored["total"]["score"])) - Fraction(str(on_time["score"])) + shown
    return {"score": float(total), "maxScore": scored["total"]["maxScore"]}

