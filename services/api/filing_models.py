"""Response models of GET /v1/units/{code}/filings (services/api/filings.py), with examples; as with
models.py, the tests hold the answers to these models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Literal["past_due", "second_supplement_request", "open_past_due"]


class Filing(BaseModel):
    filing_id: str = Field(examples=["G22.31-261123-0001"])
    procedure_code: str | None = Field(examples=["1.001234"], description="its first submission's procedure")
    received_at: str = Field(examples=["2026-11-02T08:15:00.000+07:00"])
    due_at: str = Field(examples=["2026-11-09T17:00:00.000+07:00"],
                        description="its due date, supplement time added (the first one when late by its "
                                    "supplement requests)")
    days_over: int | None = Field(examples=[3], description="whole days past due, rounded up; null in "
                                  "due_soon, and for a filing late by its requests that has no end yet")
    reason: Reason | None = Field(examples=["past_due"], description="why the portal counts it late: "
                                  "past_due (ended after its due date), second_supplement_request (a second "
                                  "request for a supplement), open_past_due (still open, past due at the "
                                  "period's end, or now); null in due_soon")
    hours_left: int | None = Field(default=None, examples=[20],
                                   description="due_soon only: whole hours until it falls due")


class Shortfall(BaseModel):
    indicator: str = Field(examples=["2.1"])
    code: str = Field(examples=["ON_TIME_DOSSIER"])
    numerator: int = Field(examples=[29])
    denominator: int = Field(examples=[32])
    full_at: float = Field(examples=[1.0], description="the share that earns full marks")
    to_full_marks: int | None = Field(examples=[3], description="filings that would have had to go the "
                                      "other way (late to on time, ...) for full marks; 0 when it has them")
    target_figure: str | None = Field(examples=["on_time_rate"], description="the target figure that "
                                      "judges this indicator (2.1: on_time_rate), null for the others")
    target: float | None = Field(examples=[0.95])
    to_target: int | None = Field(examples=[2], description="filings short of the target; null without one")


class FilingPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "unit_code": "11311", "as_of": "2026-11-23T10:00:00.000+07:00", "list": "late", "period": "2026-11",
        "count": 3, "kept": 3, "bound": 100, "until": None, "page": 1, "per_page": 50, "pages": 1,
        "filings": [{"filing_id": "G22.31-261102-0001", "procedure_code": "1.001234",
                     "received_at": "2026-11-02T08:15:00.000+07:00",
                     "due_at": "2026-11-09T17:00:00.000+07:00",
                     "days_over": 3, "reason": "past_due", "hours_left": None}],
        "shortfalls": [{"indicator": "2.1", "code": "ON_TIME_DOSSIER", "numerator": 29, "denominator": 32,
                        "full_at": 1.0, "to_full_marks": 3, "target_figure": "on_time_rate", "target": 0.95,
                        "to_target": 2}]}]})

    unit_code: str
    as_of: str | None = Field(description="when the aggregator computed the lists; null before its first")
    list_: Literal["overdue_now", "due_soon", "late"] = Field(alias="list")
    period: str = Field(description="the period of `late` and of the shortfalls")
    count: int = Field(description="how many filings the list has, exactly")
    kept: int = Field(description="how many of them are kept and pageable: at most `bound`, most overdue "
                      "(due_soon: earliest due) first")
    bound: int
    until: str | None = Field(description="due_soon: the end of the next working day")
    page: int
    per_page: int
    pages: int
    filings: list[Filing]
    shortfalls: list[Shortfall] = Field(description="per measured indicator of the unit's own filings in "
                                        "`period`: how many filings short of full marks and of its target")
