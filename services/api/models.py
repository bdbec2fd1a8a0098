"""Request and response models: they shape the OpenAPI page (with examples) and admin request bodies.

Reads are answered from plain dicts serialised with orjson; the tests hold those answers to these
models, so the documentation cannot drift from what is served.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from services.api.figure_labels import label
from services.api.registry import UNIT_CODE
from services.api.rollup import FIGURES
from services.api.targets import MAX_COUNT, MAX_HOURS
from services.contract.figures import COUNTERS, PERIODS, RATES, SNAPSHOTS

Figure = Literal[
    "received_total", "received_online", "received_in_person", "received_postal",
    "resolved_early", "resolved_on_time", "resolved_late", "resolved_total",
    "returned_rejected", "returned_supplement_requested", "returned_withdrawn", "returned_stopped",
    "returned_total",
    "resolution_seconds", "payment_reported", "payment_online", "digitised_reported", "digitised_yes",
    "portal_on_time", "portal_overdue", "portal_completed", "portal_processing_seconds", "portal_online",
    "full_online_filings", "full_online_eligible", "full_online_reported",
    "fee_filings", "fee_paid_online", "fee_reported",
    "paper_result_filings", "electronic_result_filings", "paper_result_reported",
    "portal_digitised",
    "data_reused_filings", "data_reused_reported",
    "personal_store_filings", "personal_store_reported",
    "population_db_filings", "population_db_reported",
    "ratings", "ratings_satisfied",
    "pending_within_due", "pending_overdue", "portal_pending_on_time", "portal_pending_overdue",
    "online_rate", "on_time_rate", "avg_resolution_hours", "online_payment_share", "digitised_share"]
# Spelled out for the type checker and the docs; must stay the contract's list.
assert get_args(Figure) == FIGURES



def _not_a_bool(value: object) -> object:
    # Pydantic would take JSON true and false as 1.0 and 0.0: a number field takes only numbers (and,
    # in a query string, their text).
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool)]

_EXAMPLE_PERIOD: dict[str, Any] = {
    **dict.fromkeys(COUNTERS, 0), **dict.fromkeys(SNAPSHOTS, 0), **dict.fromkeys(RATES),
    "received_total": 12, "received_online": 9, "received_in_person": 3, "online_rate": 0.75,
}
PeriodFigures = create_model(  # type: ignore[call-overload]
    "PeriodFigures",
    __config__=ConfigDict(json_schema_extra={"examples": [_EXAMPLE_PERIOD]}),
    **{name: (int, Field(description=label(name))) for name in (*COUNTERS, *SNAPSHOTS)},
    **{name: (float | None, Field(description=label(name))) for name in RATES},
)


class _CalendarPeriods(BaseModel):
    """Beside the rolling periods, the calendar periods published on the record's day (`2026-12`,
    `2026-Q4`, `2026`, …), each with the same figures."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PeriodFigures]  # type: ignore[valid-type]


Periods = create_model(  # type: ignore[call-overload]
    "Periods", __base__=_CalendarPeriods, **{name: (PeriodFigures, ...) for name in PERIODS})


class Unit(BaseModel):
    code: str = Field(examples=["26734"])
    name: str = Field(examples=["Phường Hồng Bàng"])
    level: str = Field(examples=["ward"])
    parent_code: str | None = Field(examples=["31"])


class UnitIn(BaseModel):
    """A unit as an admin writes it; the code comes from the path."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Sở Tư pháp", "level": "department", "parent_code": "31"}]})
    name: str = Field(min_length=1, max_length=200)
    level: str = Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")
    parent_code: str | None = Field(default=None, pattern=UNIT_CODE.pattern)


class AgencyIn(BaseModel):
    """Where an agency's dossiers (the national portal's sync) count; the agency code comes from the path."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"unit_code": "31.S03"}]})
    unit_code: str = Field(pattern=UNIT_CODE.pattern)


class Agency(BaseModel):
    agency_code: str = Field(examples=["000.00.12.H31"])
    unit_code: str = Field(examples=["31.S03"])


class AgencyList(BaseModel):
    agencies: list[Agency]


class UnitNode(BaseModel):
    code: str
    name: str | None = Field(description="null for a parent known only from its children")
    level: str | None
    parent_code: str | None
    children: list[UnitNode]


class UnitTreeOut(BaseModel):
    roots: list[UnitNode]


class Figures(BaseModel):
    as_of: str = Field(examples=["2026-11-23T14:05:00.123+07:00"])
    day: str = Field(examples=["2026-11-23"])
    periods: Periods  # type: ignore[valid-type]


class Target(BaseModel):
    unit_code: str = Field(examples=["31.S05"])
    figure: str = Field(examples=["online_rate"])
    period: str = Field(examples=["2026"])
    value: float = Field(examples=[0.997])


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"value": 0.6}]})
    value: Number = Field(ge=0, le=MAX_COUNT, allow_inf_nan=False,
                          description=f"a rate between 0 and 1; hours up to {MAX_HOURS:,}; "
                                      f"a whole count up to {MAX_COUNT:,}")


class UnitDetail(BaseModel):
    unit: Unit | None = Field(description="null when the unit has figures but is not in the registry")
    children: list[str]
    figures: Figures | None = Field(description="null until the unit's first figures are published")
    targets: list[Target]


class Rollup(BaseModel):
    unit_code: str
    units: int = Field(description="units in the subtree, the root included")
    units_with_figures: int
    as_of_min: str | None = Field(description="the oldest record summed")
    as_of_max: str | None
    day: str | None
    periods: Periods  # type: ignore[valid-type]


class RankingRow(BaseModel):
    rank: int | None = Field(description="equal values share a rank; null when there is no value")
    code: str
    name: str | None
    level: str | None
    value: float | None
    target: float | None
    target_period: str | None = Field(examples=["2026"])
    gap: float | None = Field(description="value − target")
    met: bool | None


class Ranking(BaseModel):
    figure: str
    period: str
    parent: str | None
    level: str | None
    units: list[RankingRow]


class TargetReport(BaseModel):
    figure: str
    period: str
    unit: str | None
    above: list[RankingRow]
    below: list[RankingRow]
    no_value: list[RankingRow]


class Status(BaseModel):
    status: str = Field(examples=["ok"])


class Error(BaseModel):
    error: str = Field(examples=["unknown_unit"])
    message: str


# The refusals of a route that reads a JSON body, whoever it is for, before its own code runs. Bytes that
# are not text at all fail before validation, in FastAPI's own 400 (malformed JSON text is a 422 naming
# where); a body too large or too slow is refused by services/common/request_body.py's BodyGuard.
NOT_JSON: dict[int | str, dict[str, Any]] = {400: {"model": Error, "description": "The body cannot be read."}}
BODY_LIMITS: dict[int | str, dict[str, Any]] = {
    408: {"model": Error, "description": "The body did not arrive within the body deadline."},
    413: {"model": Error, "description": "The body is over the size limit."}}


_EXAMPLE_DAY: dict[str, Any] = {"day": "2026-11-20", **dict.fromkeys(COUNTERS, 0), **dict.fromkeys(RATES),
                                "received_total": 4, "received_online": 3, "online_rate": 0.75}
DayFigures = create_model(  # type: ignore[call-overload]
    "DayFigures",
    __config__=ConfigDict(json_schema_extra={"examples": [_EXAMPLE_DAY]}),
    day=(str, ...),
    **{name: (int, ...) for name in COUNTERS},
    **{name: (float | None, ...) for name in RATES},
)


class DailySeries(BaseModel):
    unit_code: str = Field(examples=["26734"])
    from_: str = Field(alias="from", examples=["2026-11-01"])
    to: str = Field(examples=["2026-11-23"])
    days: list[DayFigures]  # type: ignore[valid-type]
