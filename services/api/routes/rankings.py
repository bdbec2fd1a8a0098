"""Units ranked by a figure against their targets, and the monthly above/below-target report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.api.deps import Context
from services.api.errors import json_response, not_found
from services.api.models import Error, Figure, Ranking, TargetReport
from services.api.periods import PERIOD_DESCRIPTION, PERIOD_PATTERN, require_published
from services.api.queries import hcm_today, ranked_units, standing
from services.api.ranking import rank, report_csv, target_report
from services.api.report_xlsx import XLSX, report_xlsx
from services.api.routes.units import code_query
from services.api.score_models import ScoreRanking
from services.api.score_ranking import ranked_scores

router = APIRouter(prefix="/v1", tags=["rankings"])

FigureQuery = Annotated[Figure, Query(description="any counter or rate of docs/figures.md",
                                      examples=["online_rate"])]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such unit, or a calendar period not published (too old)."}}


def period_query(default: str) -> Any:
    return Query(pattern=PERIOD_PATTERN, description=PERIOD_DESCRIPTION, examples=[default, "2026-11"])
CSV = "text/csv"
BINARY = {"type": "string", "format": "binary"}


@router.get("/rankings", summary="Units ranked by a figure", response_model=Ranking, responses=NOT_FOUND)
async def rankings(
    context: Context,
    figure: FigureQuery = "online_rate",
    period: Annotated[str, period_query("year_to_date")] = "year_to_date",
    parent: Annotated[str | None, code_query("rank the units below this one")] = None,
    level: Annotated[str | None, Query(description="rank every unit of this level (below `parent` if given) "
                                       "instead of `parent`'s direct children", examples=["commune"])] = None,
) -> Response:
    """Best first, each unit's value over its own subtree, with its target and the gap to it."""
    state = context.runtime.state
    if parent is not None and parent not in state.tree:
        raise not_found(parent)
    today = hcm_today(context.clock)
    require_published(period, today)
    codes = ranked_units(state.tree, parent, level)
    rollup = context.runtime.rollups.get
    rows = rank((standing(state, c, figure, period, today, rollup) for c in codes), figure)
    return json_response(200, {"figure": figure, "period": period, "parent": parent, "level": level,
                               "units": rows})


@router.get("/rankings/scores", summary="Units ranked by Decision 766's score", response_model=ScoreRanking,
            responses=NOT_FOUND)
async def score_rankings(
    context: Context,
    period: Annotated[str, period_query("month_to_date")] = "month_to_date",
    parent: Annotated[str | None, code_query("rank the units directly below this one (e.g. VN: the "
                                             "provinces)")] = None,
) -> Response:
    """`parent`'s direct children (or the roots), each scored over its subtree as
    /v1/units/{code}/score scores it, ranked as /v1/units/{code}/children/scores ranks them: by the
    share of its measured points the total earns, best first, equal shares sharing a rank; a unit
    without filings in the period ranked with a share of 0."""
    runtime = context.runtime
    if parent is not None and parent not in runtime.tree:
        raise not_found(parent)
    require_published(period, hcm_today(context.clock))
    codes = ranked_units(runtime.tree, parent, None)
    return json_response(200, {"period": period, "parent": parent,
                               "units": ranked_scores(runtime.tree, runtime.rollups.counters, codes, period)})


@router.get("/reports/targets", summary="Units above and below their targets", response_model=TargetReport,
            responses={**NOT_FOUND, 200: {"content": {CSV: {"example": "status,rank,code,name,level,value,"
                                                                 "target,target_period,gap\r\n"},
                                                      XLSX: {"schema": BINARY}}}})
async def targets_report(
    request: Request,
    context: Context,
    period: Annotated[str, period_query("month_to_date")] = "month_to_date",
    figure: FigureQuery = "online_rate",
    unit: Annotated[str | None, code_query("only units in this subtree")] = None,
    format: Annotated[Literal["json", "csv", "xlsx"] | None,
                      Query(description="else chosen by the Accept header", examples=["csv"])] = None,
) -> Response:
    """Every unit with a target for `figure`: above it (praised), below it (reminded), or no filings yet;
    as JSON, CSV or an Excel workbook (.xlsx, the CSV's rows)."""
    state = context.runtime.state
    if unit is not None and unit not in state.tree:
        raise not_found(unit)
    today = hcm_today(context.clock)
    require_published(period, today)
    with_target = state.targets.units_with(figure)
    codes = [c for c in (state.tree.subtree(unit) if unit else sorted(with_target)) if c in with_target]
    report = target_report(rank((standing(state, c, figure, period, today) for c in codes), figure))
    accept = request.headers.get("accept", "")
    if format == "xlsx" or (format is None and XLSX in accept):
        filename = f"targets-{figure}-{period}.xlsx"
        return Response(report_xlsx(report, figure), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    if format == "csv" or (format is None and CSV in accept):
        filename = f"targets-{figure}-{period}.csv"
        return Response(report_csv(report), media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return json_response(200, {"figure": figure, "period": period, "unit": unit, **report})
