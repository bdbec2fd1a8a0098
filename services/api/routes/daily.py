"""A unit's daily series: its counters per day over a date range."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.api.daily import MAX_DAYS
from services.api.deps import Context
from services.api.errors import ApiError, json_response, not_found
from services.api.models import DailySeries
from services.api.routes.units import NOT_FOUND, CodePath
from services.api.years import FIRST_DAY, LAST_DAY

router = APIRouter(prefix="/v1/units", tags=["units"])

RANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND, 422: {"description": f"A date is malformed or outside {FIRST_DAY}..{LAST_DAY}, `to` is "
                                      f"before `from`, or the range is longer than {MAX_DAYS} days."}}


@router.get("/{code}/daily", summary="A unit's figures day by day", response_model=DailySeries,
            responses=RANGE_ERRORS)
async def daily(code: CodePath, context: Context,
                first: Annotated[date, Query(alias="from", description="first day (Ho Chi Minh calendar)",
                                             examples=["2026-11-01"])],
                last: Annotated[date, Query(alias="to", description="last day, included",
                                            examples=["2026-11-23"])]) -> Response:
    """Counters of each day from `from` to `to` (zeros on days without activity): received that
    day, resolved that day, returned that day, with the rates of each day's counters."""
    runtime = context.runtime
    if code not in runtime.tree and not runtime.days.has(code):
        raise not_found(code)
    for name, day in (("from", first), ("to", last)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ApiError(422, "invalid_parameter", f"{name}: must be from {FIRST_DAY} to {LAST_DAY}",
                           parameter=name)
    if last < first:
        raise ApiError(422, "invalid_parameter", "to: must not be before from", parameter="to")
    if (last - first).days >= MAX_DAYS:
        raise ApiError(422, "invalid_parameter", f"to: at most {MAX_DAYS} days from `from`", parameter="to")
    return json_response(200, {"unit_code": code, "from": first.isoformat(), "to": last.isoformat(),
                               "days": runtime.days.series(code, first, last)})
