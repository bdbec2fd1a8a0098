"""GET /v1/units/{code}/score: Decision 766's indicators, group scores and total of a unit over its
subtree, for one period (services/api/scores.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.api.deps import Context
from services.api.errors import json_response, not_found
from services.api.models import Error
from services.api.periods import PERIOD_DESCRIPTION, PERIOD_PATTERN, require_published
from services.api.queries import hcm_today
from services.api.routes.units import CodePath
from services.api.score_models import ChildScores, UnitScore
from services.api.score_ranking import children_ranked
from services.api.scores import unit_score

router = APIRouter(prefix="/v1/units", tags=["Decision 766"])
PERIOD = Query(pattern=PERIOD_PATTERN, description=PERIOD_DESCRIPTION, examples=["month_to_date", "2026-11"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such unit, or a calendar period not published (too old)."},
    422: {"model": Error, "description": "`period` is not a period name."}}


@router.get("/{code}/score", summary="Decision 766 scores of a unit", response_model=UnitScore,
            responses=ERRORS)
async def score(code: CodePath, context: Context,
                period: Annotated[str, Query(pattern=PERIOD_PATTERN, description=PERIOD_DESCRIPTION,
                                             examples=["2026-11", "month_to_date"])] = "month_to_date",
                ) -> Response:
    """Every indicator the filings decide (2.1, 3.3, full-online, 3.6, 4.1–4.5b, 5.4) with its numerator,
    denominator, ratio (percent) and score, the five groups' scores and the total, as the national
    portal computes them, over the unit and every unit below it. An indicator no filing of the subtree
    ever reported is not measured: null, never 0; one with no filings in the period scores 0 with the
    flag NO_FILINGS. The total says how many points it covers (`maxScore` of `points`)."""
    runtime = context.runtime
    if code not in runtime.tree and code not in runtime.view.records:
        raise not_found(code)
    require_published(period, hcm_today(context.clock))
    return json_response(200, unit_score(runtime.state, code, period))


@router.get("/{code}/children/scores", summary="The units below a unit ranked by Decision 766",
            response_model=ChildScores, responses=ERRORS)
async def children_scores(code: CodePath, context: Context,
                          period: Annotated[str, PERIOD] = "month_to_date") -> Response:
    """Each unit directly below `code`, over its own subtree: Decision 766's total, the points its
    measured indicators cover and the share of them it earns, its 2.1; ranked by that share, equal
    shares sharing a rank, as /v1/rankings/scores ranks them."""
    state = context.runtime.state
    if code not in state.tree:
        raise not_found(code)
    require_published(period, hcm_today(context.clock))
    return json_response(200, {"unit_code": code, "period": period,
                               "units": children_ranked(state, code, period)})
