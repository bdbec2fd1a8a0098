"""GET /v1/units/{code}/filings: the filings behind a unit's 2.1 (overdue now, due within the next
working day, late in a period), a page at a time or exported as CSV or .xlsx, with how many filings
each indicator is short of full marks and of the target (services/api/filings.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.api.deps import Context
from services.api.errors import ApiError, json_response, not_found
from services.api.filing_models import FilingPage
from services.api.filings import MAX_PER_PAGE, chosen_list, filings_csv, filings_xlsx, page_of, shortfalls
from services.api.models import Error
from services.api.periods import PERIOD_DESCRIPTION, PERIOD_PATTERN, require_published
from services.api.queries import hcm_today
from services.api.report_xlsx import XLSX
from services.api.routes.units import CodePath
from services.api.scores import records_score

router = APIRouter(prefix="/v1/units", tags=["Decision 766"])
CSV = "text/csv"
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such unit, or a period not published (too old), or whose "
                                         "late filings are not kept (all_time)."},
    422: {"model": Error, "description": "A parameter is malformed or out of bounds (the error names it)."},
    200: {"content": {CSV: {"example": "filing_id,procedure_code,received_at,due_at,days_over,hours_left,"
                                       "reason\r\n"},
                      XLSX: {"schema": {"type": "string", "format": "binary"}}}},
}


@router.get("/{code}/filings", summary="The filings behind a unit's 2.1", response_model=FilingPage,
            responses=ERRORS)
async def filings(
    request: Request,
    code: CodePath,
    context: Context,
    list_: Annotated[Literal["overdue_now", "due_soon", "late"],
                     Query(alias="list", description="overdue_now: open and past due now; due_soon: open "
                           "and due before the end of the next working day; late: counted late in `period`",
                           examples=["late"])] = "overdue_now",
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description=f"{PERIOD_DESCRIPTION}; the period of "
                                 "`late` (all_time is not kept) and of the shortfalls",
                                 examples=["month_to_date", "2026-11"])] = "month_to_date",
    page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="from 1", examples=[1])] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, examples=[50])] = 50,
    format: Annotated[Literal["json", "csv", "xlsx"] | None,
                      Query(description="csv or xlsx: every kept filing of the list (no paging); else "
                            "chosen by the Accept header", examples=["csv"])] = None,
) -> Response:
    """The unit's own filings (not its children's) as the aggregator last listed them: each with its id,
    procedure, received and due dates, days over and why the portal counts it late. Each list holds
    its exact `count` and at most `bound` filings, most overdue first (due_soon: earliest due first).
    `shortfalls`: per measured indicator of the unit's own figures in `period`, how many filings would
    have had to go the other way (late to on time, offline to online, ...) for full marks, and for
    2.1 to reach the unit's on_time_rate target."""
    runtime = context.runtime
    record = runtime.filings.get(code)
    figures = runtime.view.records.get(code)
    if code not in runtime.tree and figures is None and record is None:
        raise not_found(code)
    today = hcm_today(context.clock)
    require_published(period, today)
    if list_ == "late" and period == "all_time":
        raise ApiError(404, "unknown_period", "period: the late filings of all_time are not kept",
                       parameter="period", period=period)
    chosen = None if record is None else chosen_list(record, list_, period)
    if record is not None and chosen is None:
        raise ApiError(404, "unknown_period", f"period: {period!r} is not in the unit's lists",
                       parameter="period", period=period)
    kept: list[dict[str, Any]] = [] if chosen is None else chosen["filings"]
    accept = request.headers.get("accept", "")
    name = f"filings-{code}-{list_}{'-' + period if list_ == 'late' else ''}"
    if format == "xlsx" or (format is None and XLSX in accept):
        return Response(filings_xlsx(kept), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    if format == "csv" or (format is None and CSV in accept):
        return Response(filings_csv(kept), media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    short = [] if figures is None or period not in figures.get("periods", {}) else shortfalls(
        records_score([figures], period)["indicators"], runtime.targets, code, period, today)
    return json_response(200, {
        "unit_code": code, "as_of": None if record is None else record.get("as_of"), "list": list_,
        "period": period, "count": 0 if chosen is None else chosen["count"], "kept": len(kept),
        "bound": MAX_PER_PAGE if record is None else record.get("bound", MAX_PER_PAGE),
        "until": None if record is None or list_ != "due_soon" else record["due_soon"].get("until"),
        "page": page, "per_page": per_page, "pages": -(-len(kept) // per_page),
        "filings": [{**f, "hours_left": f.get("hours_left")} for f in page_of(kept, page, per_page)],
        "shortfalls": short,
    })
