"""The dashboard's series: a unit's score and rates month by month and day by day, and the periods
the figures are published for today."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.api.deps import Context
from services.api.errors import json_response, not_found
from services.api.periods import published_periods
from services.api.queries import hcm_today
from services.api.routes.units import NOT_FOUND, CodePath
from services.api.score_models import Periods, Trends
from services.api.score_series import day_series, month_series
from services.contract.figures import PERIODS

router = APIRouter(prefix="/v1", tags=["Decision 766"])


@router.get("/units/{code}/trends", summary="A unit's score and rates by month and by day",
            response_model=Trends, responses=NOT_FOUND)
async def trends(code: CodePath, context: Context) -> Response:
    """Over the unit's subtree: each published calendar month (this one and the 12 before) and each day
    of this month up to today, with filings received, the on-time (2.1) and online rates and Decision
    766's total. A day's 2.1 is over the filings whose verdict is already fixed."""
    runtime = context.runtime
    if code not in runtime.tree and code not in runtime.view.records:
        raise not_found(code)
    today = hcm_today(context.clock)
    return json_response(200, {"unit_code": code, "today": today.isoformat(),
                               "months": month_series(runtime.state, code, today),
                               "days": day_series(runtime.state, runtime.days, code, today.replace(day=1),
                                                  today)})


@router.get("/periods", summary="The periods published today", response_model=Periods)
async def periods(context: Context) -> Response:
    """Every period name the read endpoints take today: rolling, then the calendar months, quarters and
    years the figures carry."""
    today = hcm_today(context.clock)
    calendar = published_periods(today)[len(PERIODS):]
    return json_response(200, {
        "today": today.isoformat(), "rolling": list(PERIODS),
        "months": [p for p in calendar if len(p) == 7 and "-Q" not in p],
        "quarters": [p for p in calendar if "-Q" in p], "years": [p for p in calendar if len(p) == 4]})
