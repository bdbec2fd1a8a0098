"""The period names the read endpoints take: the rolling periods (`today` … `all_time`) and the
calendar periods the aggregator publishes on the service's "today" (`2026-12`, `2026-Q4`, `2026`;
services/contract/figures.py `calendar_periods`)."""

from __future__ import annotations

from datetime import date

from services.api.errors import ApiError
from services.api.years import YEAR_PATTERN
from services.contract.figures import PERIODS, calendar_periods

# Any name a period could have, whether or not it is published today: checked by FastAPI first, so
# that a malformed name is a 422 naming `period` before any figure is read.
PERIOD_PATTERN = rf"^({'|'.join(PERIODS)}|{YEAR_PATTERN}(-Q[1-4]|-(0[1-9]|1[0-2]))?)$"
PERIOD_DESCRIPTION = ("a rolling period (today, last_7_days, last_30_days, month_to_date, quarter_to_date, "
                      "year_to_date, all_time) or a published calendar period: a month `YYYY-MM` (this one "
                      "and the 12 before), a quarter `YYYY-Qn` (this year's and last year's), a year `YYYY` "
                      "(this and last)")


def published_periods(today: date) -> tuple[str, ...]:
    """Every period a unit-figures record carries when `today` is its day: rolling, then calendar."""
    return (*PERIODS, *calendar_periods(today))


def require_published(period: str, today: date, parameter: str = "period") -> str:
    """`period`, if the figures of `today` carry it; else a 404 naming it and what is published.

    A 404, not a 422: the name is well formed (the pattern passed) but the calendar period is older
    than what is kept (or has not begun), as a unit that does not exist is a 404."""
    published = published_periods(today)
    if period in published:
        return period
    calendar = published[len(PERIODS):]
    months = [p for p in calendar if len(p) == 7 and "-Q" not in p]
    quarters = [p for p in calendar if "-Q" in p]
    years = [p for p in calendar if len(p) == 4]
    raise ApiError(404, "unknown_period",
                   f"{parameter}: {period!r} is not published on {today}: months {months[-1]}..{months[0]}, "
                   f"quarters {quarters[-1]}..{quarters[0]}, years {years[-1]}..{years[0]}, or a rolling "
                   f"period ({', '.join(PERIODS)})", parameter=parameter, period=period)
