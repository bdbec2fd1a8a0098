"""The national portal's reporting endpoints, answered from our figures in the portal's shape
(services/api/portal_reports.py), so that a tool built on the portal's API can read ours: POST with the
portal's JSON body, or GET with the same fields as query parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from services.api.deps import Context
from services.api.errors import ApiError, json_response, not_found
from services.api.models import BODY_LIMITS, NOT_JSON, Error
from services.api.periods import require_published
from services.api.portal_reports import (
    DIGITISATION_CODES,
    DIGITISATION_GROUP,
    SATISFACTION_CODES,
    SATISFACTION_GROUP,
    Row,
    metrics_row,
    online_row,
    progress_row,
    tree_answer,
)
from services.api.queries import hcm_today
from services.api.registry import ANY_UNIT_CODE
from services.api.score_models import (
    DIGITISATION_EXAMPLE,
    ONLINE_EXAMPLE,
    PROGRESS_EXAMPLE,
    REQUEST_EXAMPLES,
    SATISFACTION_EXAMPLE,
    PortalAnswer,
    ReportingQuery,
)

router = APIRouter(prefix="/api/v1/reporting/evaluation", tags=["Decision 766 (portal-shaped)"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such unit, or the period is not published (too old)."},
    422: {"model": Error, "description": "A field is missing or malformed (the error names it)."}}
# One path per answer: (path, its row, summary, description, example).
ANSWERS: tuple[tuple[str, Row, str, str, dict[str, Any]], ...] = (
    ("dvc-progress-tree", progress_row, "Progress (2.1, 2.2) of a unit and the units below it",
     "As the portal's dvc-progress-tree: each row's totalReceived, totalOnTime, totalOverdue, "
     "avgProcessingDays, ratio (percent) and score of 20; the parent names its score fields totalScore and "
     "totalMaxScore and carries totalCompleted.", PROGRESS_EXAMPLE),
    ("dvc-online-payment-tree", online_row, "Online service and payment (3.3, full-online, 3.6)",
     "Each row's count, ratio, score and flags of 3.3 (online filings, shown, 0 points), full-online "
     "(12 points) and 3.6 (online payment, 6 points), and the group's score over its measured "
     "indicators. A field no filing ever reported is not measured: its figures are null.", ONLINE_EXAMPLE),
    ("dvc-digitization-metrics", metrics_row(DIGITISATION_CODES, DIGITISATION_GROUP),
     "Digitisation (4.1–4.5b) as metrics lists",
     "Each row's `metrics`: 4.1 ORIGINAL_RESULT_AVAILABLE, 4.2 SO_HOA_GIAY_TO_GIAI_QUYET, 4.3 "
     "REUSED_DIGITIZED_DATA, 4.4 SYNCED_WITH_DVCQG_PERSONAL_STORAGE, 4.5b CITIZEN_DATA_CONNECTED_DOSSIER, "
     "each with numerator, denominator, ratio, score, maxScore and flags (null when not measured).",
     DIGITISATION_EXAMPLE),
    ("dvc-satisfaction-metrics", metrics_row(SATISFACTION_CODES, SATISFACTION_GROUP),
     "Satisfaction (5.4) as metrics lists",
     "Each row's `metrics`: 5.4 DOSSIER_RECEIVING_SATISFACTION, satisfied ratings over ratings, full "
     "marks at 90 % (null when no filing was ever rated).", SATISFACTION_EXAMPLE),
)
COMMON = ("Rows: the root unit (`parent`, over its whole subtree) and each unit directly below it "
          "(`children`, each over its own subtree), with `level` PROVINCE (the province, departments) or "
          "COMMUNE (communes, wards, special zones) and `noFilings` when it received no filing in the "
          "period. "
          "The period is a published calendar month, quarter or year (timeType month|quarter|year).")


def period_name(query: ReportingQuery) -> str:
    """Our name of the portal's period: `2026-11`, `2026-Q4` or `2026`."""
    if query.timeType == "month":
        if query.month is None:
            raise ApiError(422, "invalid_parameter", "month: required with timeType month", parameter="month")
        return f"{query.year:04d}-{query.month:02d}"
    if query.timeType == "quarter":
        if query.quarter is None:
            raise ApiError(422, "invalid_parameter", "quarter: required with timeType quarter",
                           parameter="quarter")
        return f"{query.year:04d}-Q{query.quarter}"
    return f"{query.year:04d}"


def root_code(query: ReportingQuery) -> str:
    code = query.rootDepartmentId or query.departmentCode
    parameter = "rootDepartmentId" if query.rootDepartmentId else "departmentCode"
    if code is None:
        raise ApiError(422, "invalid_parameter", "rootDepartmentId: required (our unit code), or "
                       "departmentCode", parameter="rootDepartmentId")
    if not ANY_UNIT_CODE.fullmatch(code):
        raise ApiError(422, "invalid_parameter", f"{parameter}: not a unit code", parameter=parameter)
    return code


def answer(context: Context, query: ReportingQuery, row: Row) -> Response:
    state = context.runtime.state
    code = root_code(query)
    if code not in state.tree and code not in state.records:
        raise not_found(code)
    period = require_published(period_name(query), hcm_today(context.clock))
    return json_response(200, tree_answer(state, code, period, row))


def _install(path: str, row: Row, summary: str, description: str, example: dict[str, Any]) -> None:
    responses = {**ERRORS, 200: {"content": {"application/json": {"example": example}}}}
    # Only the POST reads a body, so only it can be refused one, as the admin writes are.
    body_responses = {**NOT_JSON, **BODY_LIMITS, **responses}
    text = f"{description}\n\n{COMMON}"

    async def post(context: Context,
                   body: Annotated[ReportingQuery, Body(openapi_examples=REQUEST_EXAMPLES)]) -> Response:
        return answer(context, body, row)

    async def get(context: Context, query: Annotated[ReportingQuery, Query()]) -> Response:
        return answer(context, query, row)

    name = path.replace("-", "_")
    router.add_api_route(f"/{path}", post, methods=["POST"], summary=summary, description=text,
                         response_model=PortalAnswer, responses=body_responses, operation_id=f"post_{name}")
    router.add_api_route(f"/{path}", get, methods=["GET"], summary=f"{summary} (GET)", description=text,
                         response_model=PortalAnswer, responses=responses, operation_id=f"get_{name}")


for _answer in ANSWERS:
    _install(*_answer)
