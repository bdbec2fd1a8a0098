"""Response models and examples of Decision 766's endpoints: the unit score (GET /v1/units/{code}/score)
and the portal-shaped reporting answers (services/api/portal_reports.py). As with models.py, the tests
hold the answers to these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.api.years import FIRST_DAY, LAST_DAY


# Field names in camelCase where the portal spells them so (its answers are read by tools built on it).
class Indicator(BaseModel):
    indicator: str = Field(examples=["2.1"], description="the Decision's number, or full_online")
    code: str = Field(examples=["ON_TIME_DOSSIER"], description="the portal's metric code")
    name: str
    numerator: int | None = Field(description="null when not measured")
    denominator: int | None
    ratio: float | None = Field(description="percent, 2 decimals half up; null when not measured")
    score: float | None
    maxScore: int
    measured: bool = Field(description="false when no filing of the unit ever reported the field")
    flags: list[str] = Field(description="e.g. NO_FILINGS: measured, but no filings in the period")


class Progress(BaseModel):
    totalReceived: int
    totalOnTime: int
    totalOverdue: int
    totalCompleted: int
    avgProcessingDays: float
    ratio: float
    score: float
    maxScore: int


class Group(BaseModel):
    group: int = Field(examples=[2])
    name: str
    score: float | None = Field(description="the sum of its measured indicators' scores; null when none is")
    maxScore: int = Field(description="the points its measured indicators can earn")
    points: int = Field(description="the group's points in the Decision")


class Total(BaseModel):
    score: float
    maxScore: int = Field(description="the points the measured indicators cover")
    points: int = Field(examples=[100])


_EXAMPLE_ON_TIME: dict[str, Any] = {
    "indicator": "2.1", "code": "ON_TIME_DOSSIER", "name": "Hồ sơ giải quyết đúng hạn",
    "numerator": 29, "denominator": 32, "ratio": 90.63, "score": 18.13, "maxScore": 20,
    "measured": True, "flags": []}
_EXAMPLE_UNMEASURED: dict[str, Any] = {
    "indicator": "5.4", "code": "DOSSIER_RECEIVING_SATISFACTION",
    "name": "Hài lòng tiếp nhận, giải quyết hồ sơ", "numerator": None, "denominator": None,
    "ratio": None, "score": None, "maxScore": 6, "measured": False, "flags": []}


class UnitScore(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "unit_code": "31.S03", "name": "Sở Tư pháp", "level": "department", "period": "2026-11",
        "as_of": "2026-12-06T10:00:00.000+07:00", "units_with_figures": 2, "noFilings": False,
        "progress": {"totalReceived": 32, "totalOnTime": 29, "totalOverdue": 3, "totalCompleted": 30,
                     "avgProcessingDays": 4.25, "ratio": 90.63, "score": 18.13, "maxScore": 20},
        "indicators": [_EXAMPLE_ON_TIME, _EXAMPLE_UNMEASURED],
        "groups": [{"group": 2, "name": "Tiến độ, kết quả giải quyết", "score": 18.13, "maxScore": 20,
                    "points": 20}],
        "total": {"score": 41.3, "maxScore": 56, "points": 100}}]})
    unit_code: str
    name: str | None
    level: str | None
    period: str
    as_of: str | None = Field(description="the newest record summed; null when the subtree has none")
    units_with_figures: int
    noFilings: bool = Field(description="no filing received in the period")
    progress: Progress
    indicators: list[Indicator]
    groups: list[Group]
    total: Total


# --- the portal-shaped reporting answers -------------------------------------------------------------

# The request examples, one per kind of period (shown by name on the POST body), on the answers' period
# and units of the sample registry (province 31, its department 31.S03).
REQUEST_EXAMPLES: dict[str, Any] = {
    "month": {"summary": "A month", "value": {"rootDepartmentId": "31", "timeType": "month", "year": 2026,
                                              "month": 11}},
    "quarter": {"summary": "A quarter", "value": {"rootDepartmentId": "31", "timeType": "quarter",
                                                  "year": 2026, "quarter": 4}},
    "year": {"summary": "A year, by unit code", "value": {"departmentCode": "31.S03", "timeType": "year",
                                                          "year": 2026}},
}


class ReportingQuery(BaseModel):
    """The portal's reporting request: a root unit and a calendar period. `rootDepartmentId` takes our
    unit code (the portal's UUIDs are not ours); `departmentCode` is accepted in its place."""

    # Portal clients send more (paging, sort): not used here, so ignored rather than refused. The named
    # examples show on the POST body only; the schema's own `examples` (the same values) are where
    # generic OpenAPI tools and models.py's convention look for a body's example.
    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "examples": [example["value"] for example in REQUEST_EXAMPLES.values()]})
    rootDepartmentId: str | None = Field(default=None, examples=["31"])
    departmentCode: str | None = Field(default=None, examples=["31"])
    timeType: Literal["month", "quarter", "year"] = Field(examples=["month"])
    year: int = Field(ge=FIRST_DAY.year, le=LAST_DAY.year, examples=[2026])
    quarter: int | None = Field(default=None, ge=1, le=4, description="with timeType quarter", examples=[4])
    month: int | None = Field(default=None, ge=1, le=12, description="with timeType month", examples=[11])


_IDENTITY = {"departmentId": "31", "departmentName": "Hải Phòng", "departmentCode": "31", "level": "PROVINCE"}
_CHILD = {"departmentId": "11311", "departmentName": "Phường Hồng Bàng", "departmentCode": "11311",
          "level": "COMMUNE"}
_EMPTY_CHILD = {"departmentId": "31.S03", "departmentName": "Sở Tư pháp", "departmentCode": "31.S03",
                "level": "PROVINCE"}


def _envelope(parent: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"code": "OK", "message": "OK",
            "data": {"period": "2026-11", "asOf": "2026-12-06T10:00:00.000+07:00", "parent": parent,
                     "children": children}}


PROGRESS_EXAMPLE = _envelope(
    {**_IDENTITY, "totalReceived": 32, "totalOnTime": 29, "totalOverdue": 3, "totalCompleted": 30,
     "avgProcessingDays": 4.25, "ratio": 90.63, "totalScore": 18.13, "totalMaxScore": 20, "noFilings": False},
    [{**_CHILD, "totalReceived": 32, "totalOnTime": 29, "totalOverdue": 3, "avgProcessingDays": 4.25,
      "ratio": 90.63, "score": 18.13, "maxScore": 20, "noFilings": False},
     {**_EMPTY_CHILD, "totalReceived": 0, "totalOnTime": 0, "totalOverdue": 0, "avgProcessingDays": 0,
      "ratio": 0, "score": 0, "maxScore": 20, "noFilings": True}])

_ONLINE = {"totalReceived": 32, "totalOnline": 20, "onlineRatio": 62.5, "onlineScore": 0, "onlineMaxScore": 0,
           "onlineFlags": [], "totalFullOnlineEligible": 10, "totalFullOnline": 6, "fullOnlineRatio": 60.0,
           "fullOnlineScore": 7.2, "fullOnlineMaxScore": 12, "fullOnlineFlags": [], "totalWithFee": None,
           "totalPaidOnline": None, "onlinePaymentRatio": None, "onlinePaymentScore": None,
           "onlinePaymentMaxScore": 6, "onlinePaymentFlags": []}
ONLINE_EXAMPLE = _envelope({**_IDENTITY, **_ONLINE, "totalScore": 7.2, "totalMaxScore": 12,
                            "noFilings": False},
                           [{**_CHILD, **_ONLINE, "score": 7.2, "maxScore": 12, "noFilings": False}])

_METRIC_41: dict[str, Any] = {
    "code": "ORIGINAL_RESULT_AVAILABLE", "name": "Cấp kết quả điện tử", "indicator": "4.1",
    "numerator": 9, "denominator": 12, "ratio": 75.0, "score": 4.5, "maxScore": 6, "flags": []}
_METRIC_44: dict[str, Any] = {
    "code": "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "name": "Kho dữ liệu cá nhân trên Cổng DVCQG",
    "indicator": "4.4", "numerator": None, "denominator": None, "ratio": None, "score": None,
    "maxScore": 4, "flags": []}
DIGITISATION_EXAMPLE = _envelope(
    {**_IDENTITY, "metrics": [_METRIC_41, _METRIC_44], "totalScore": 4.5, "totalMaxScore": 6,
     "noFilings": False},
    [{**_CHILD, "metrics": [_METRIC_41, _METRIC_44], "score": 4.5, "maxScore": 6, "noFilings": False}])
_METRIC_54: dict[str, Any] = {
    "code": "DOSSIER_RECEIVING_SATISFACTION", "name": "Hài lòng tiếp nhận, giải quyết hồ sơ",
    "indicator": "5.4", "numerator": 0, "denominator": 0, "ratio": 0, "score": 0, "maxScore": 6,
    "flags": ["NO_FILINGS"]}
SATISFACTION_EXAMPLE = _envelope(
    {**_IDENTITY, "metrics": [_METRIC_54], "totalScore": 0, "totalMaxScore": 6, "noFilings": False},
    [{**_EMPTY_CHILD, "metrics": [_METRIC_54], "score": 0, "maxScore": 6, "noFilings": True}])


class PortalRow(BaseModel):
    """A unit of a portal-shaped answer; the fields beyond these depend on the answer (see its example)."""

    model_config = ConfigDict(extra="allow")
    departmentId: str = Field(description="our unit code (the portal's is a UUID)")
    departmentName: str | None
    departmentCode: str
    level: Literal["PROVINCE", "COMMUNE"]
    noFilings: bool = Field(description="no filing received in the period (ratios and scores show 0)")


class PortalData(BaseModel):
    period: str = Field(description="our name of the period asked for", examples=["2026-11"])
    asOf: str | None = Field(description="the newest record summed")
    parent: PortalRow
    children: list[PortalRow]


class PortalAnswer(BaseModel):
    code: Literal["OK"]
    message: str
    data: PortalData


# Both rankings of scores rank by services/api/score_ranking.py's one rule.
RANK = ("by share of the measured points, best first; equal shares share a rank; a unit without filings "
        "in the period is ranked with its share of 0; null when nothing is measured")
SHARE = "score / maxScore, 0..1; null when nothing is measured"


class MonthPoint(BaseModel):
    period: str = Field(examples=["2026-11"])
    received_total: int
    on_time_rate: float | None = Field(description="2.1, 0..1; null without filings")
    online_rate: float | None
    score: float = Field(description="Decision 766's total")
    maxScore: int


class DayPoint(BaseModel):
    day: str = Field(examples=["2026-12-01"])
    received_total: int
    on_time_rate: float | None = Field(description="2.1 over the day's filings whose verdict is fixed, 0..1")
    online_rate: float | None
    score: float = Field(description="Decision 766's total of the day's filings, 2.1 on the same basis")
    maxScore: int


class Trends(BaseModel):
    unit_code: str = Field(examples=["31"])
    today: str = Field(examples=["2026-12-06"])
    months: list[MonthPoint] = Field(description="the published calendar months, oldest first")
    days: list[DayPoint] = Field(description="this month's days up to today")


class Periods(BaseModel):
    today: str = Field(examples=["2026-12-06"])
    rolling: list[str] = Field(examples=[["today", "month_to_date"]])
    months: list[str] = Field(examples=[["2026-12", "2026-11"]], description="newest first")
    quarters: list[str] = Field(examples=[["2026-Q4", "2026-Q3"]], description="newest first")
    years: list[str] = Field(examples=[["2026", "2025"]], description="newest first")


class ScoreRankingRow(BaseModel):
    rank: int | None = Field(description=RANK)
    code: str = Field(examples=["31.S03"])
    name: str | None
    level: str | None
    score: float = Field(description="Decision 766's total over the unit's subtree", examples=[41.3])
    maxScore: int = Field(description="the points its measured indicators cover", examples=[56])
    points: int = Field(description="the points of every indicator, measured or not", examples=[100])
    onTimeRatio: float = Field(description="2.1 in percent, 2 decimals half up; 0 without filings, as the "
                                           "portal shows it (`noFilings` says so)", examples=[90.63])
    received: int = Field(description="filings received in the period (2.1's denominator)")
    noFilings: bool = Field(description="no filing received in the period")
    share: float | None = Field(description=SHARE, examples=[0.7375])


class ChildScores(BaseModel):
    unit_code: str = Field(examples=["31"])
    period: str = Field(examples=["month_to_date"])
    units: list[ScoreRankingRow]


class ScoreRanking(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "period": "month_to_date", "parent": "VN", "units": [
            {"rank": 1, "code": "31", "name": "Thành phố Hải Phòng", "level": "province", "score": 71.4,
             "maxScore": 88, "points": 100, "onTimeRatio": 93.1, "received": 18204, "noFilings": False,
             "share": 0.8113636363636364}]}]})
    period: str
    parent: str | None
    units: list[ScoreRankingRow]
