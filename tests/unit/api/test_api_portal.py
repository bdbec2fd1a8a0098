"""Calendar periods, Decision 766's score endpoint and the portal-shaped reporting answers, in process
(httpx over ASGI, no Kafka): records in the aggregator's shape are put straight into the app's view,
with calendar periods named as calendar_periods() names them on the suite's "today"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.api.app import create_app
from services.api.models import Rollup
from services.api.score_models import ChildScores, PortalAnswer, ScoreRanking, UnitScore
from services.api.settings import ApiSettings
from services.api.targets import covering_periods
from services.contract.figures import COUNTERS, PERIODS, SNAPSHOTS, calendar_periods, rates
from tests.support.api import sample_tree
from tests.support.suite_clock import at_each_instant

PROGRESS = "/api/v1/reporting/evaluation/dvc-progress-tree"
ONLINE = "/api/v1/reporting/evaluation/dvc-online-payment-tree"
DIGITISATION = "/api/v1/reporting/evaluation/dvc-digitization-metrics"
SATISFACTION = "/api/v1/reporting/evaluation/dvc-satisfaction-metrics"


def figures(**counts: int) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys((*COUNTERS, *SNAPSHOTS), 0)
    values.update(counts)
    return {**values, **rates(values)}


def unit_record(unit: str, today: date, month: dict[str, int], all_time: dict[str, int] | None = None,
                ) -> dict[str, Any]:
    """A record in the aggregator's shape: `month` in this calendar month (and so in this quarter and
    year), nothing in the other calendar periods, `all_time` (default: `month`) in all_time."""
    names = list(calendar_periods(today))
    this_month, this_quarter, this_year = names[0], names[13], next(n for n in names if len(n) == 4)
    periods = {name: figures() for name in (*PERIODS, *names)}
    for name in (this_month, this_quarter, this_year, "month_to_date"):
        periods[name] = figures(**month)
    periods["all_time"] = figures(**(all_time if all_time is not None else month))
    return {"unit_code": unit, "as_of": f"{today}T10:00:00.000+07:00", "day": str(today), "periods": periods}


# 29 of 32 on time (3 of them still open), the portal's own rounding example: 90.63 %, 18.13 points.
WARD = {"received_total": 32, "portal_on_time": 26, "portal_pending_on_time": 3, "portal_overdue": 2,
        "portal_pending_overdue": 1, "portal_completed": 28, "portal_processing_seconds": 28 * 86_400 * 3,
        "received_online": 20, "portal_online": 20, "full_online_reported": 10, "full_online_eligible": 10,
        "full_online_filings": 6, "paper_result_reported": 12, "paper_result_filings": 12,
        "electronic_result_filings": 9, "ratings": 4, "ratings_satisfied": 4}
OFFICE = {"received_total": 8, "portal_on_time": 4, "portal_overdue": 4, "portal_completed": 8,
          "portal_processing_seconds": 8 * 86_400, "paper_result_reported": 2, "paper_result_filings": 2,
          "electronic_result_filings": 2}


@pytest.fixture
def today(suite_now: datetime) -> date:
    return suite_now.date()


@asynccontextmanager
async def api_with(*records: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the sample tree (31: departments 31.S06 with office 31.S06.01, and 31.S03; ward
    11311; commune 11312) with these records in its view."""
    app: FastAPI = create_app(ApiSettings(seed_registry=False), CollectorRegistry())
    runtime = app.state.api.runtime
    for unit in sample_tree().units.values():
        runtime.tree.put(unit)
    for record in records:
        runtime.view.apply(record["unit_code"], orjson.dumps(record))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as http:
        yield http


@pytest.fixture
async def client(today: date) -> AsyncIterator[httpx.AsyncClient]:
    """Figures for the ward, the office, and the commune (ratings in the past only); the department
    31.S03 has none at all."""
    async with api_with(unit_record("11311", today, WARD), unit_record("31.S06.01", today, OFFICE),
                        unit_record("11312", today, {}, {"ratings": 2, "ratings_satisfied": 1})) as http:
        yield http


def this_month(today: date) -> str:
    return next(iter(calendar_periods(today)))


def month_body(today: date, root: str = "31") -> dict[str, Any]:
    return {"rootDepartmentId": root, "timeType": "month", "year": today.year, "month": today.month}


# --- calendar periods on the figures endpoints ---------------------------------------------------------

@at_each_instant
async def test_a_rollup_sums_counters_and_snapshots_of_calendar_periods(client: httpx.AsyncClient,
                                                                         today: date) -> None:
    answer = await client.get("/v1/units/31/rollup")
    assert answer.status_code == 200
    body = Rollup.model_validate(answer.json()).model_dump()
    assert set(answer.json()["periods"]) == {*PERIODS, *calendar_periods(today)}
    month = answer.json()["periods"][this_month(today)]
    assert month["received_total"] == 32 + 8
    assert month["portal_pending_on_time"] == 3 and month["portal_pending_overdue"] == 1
    # 2.1 of the sums, (26 + 3 + 4) / 40, not the average of the units' rates (0.7656)
    assert month["on_time_rate"] == pytest.approx(33 / 40, rel=1e-12)
    last_year = str(today.year - 1)
    assert answer.json()["periods"][last_year]["received_total"] == 0
    assert body["unit_code"] == "31"


@at_each_instant
async def test_rankings_take_a_calendar_period(client: httpx.AsyncClient, today: date) -> None:
    answer = await client.get("/v1/rankings", params={"figure": "on_time_rate", "period": this_month(today),
                                                        "parent": "31"})
    assert answer.status_code == 200
    values = {row["code"]: row["value"] for row in answer.json()["units"]}
    assert values["11311"] == pytest.approx(29 / 32) and values["31.S06"] == pytest.approx(4 / 8)
    assert values["31.S03"] is None and answer.json()["period"] == this_month(today)


@pytest.mark.parametrize("path", ["/v1/rankings", "/v1/units/31/score", "/v1/reports/targets",
                                  "/v1/rankings/scores"])
async def test_a_period_not_published_or_malformed_is_refused_naming_it(client: httpx.AsyncClient,
                                                                       today: date, path: str) -> None:
    too_old = f"{today.year - 2}-01"
    old = await client.get(path, params={"period": too_old})
    assert old.status_code == 404 and old.json()["parameter"] == "period" and too_old in old.json()["message"]
    assert old.json()["error"] == "unknown_period"
    for malformed in ("2026-13", "last_week", "2026-Q5"):
        bad = await client.get(path, params={"period": malformed})
        assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "period"


async def test_units_ranked_by_their_score_as_the_score_endpoint_scores_them(client: httpx.AsyncClient,
                                                                             today: date) -> None:
    answer = await client.get("/v1/rankings/scores", params={"parent": "31", "period": this_month(today)})
    assert answer.status_code == 200
    body = ScoreRanking.model_validate(answer.json()).model_dump()
    rows = body["units"]
    # 35.83 of 44 points, 16 of 26; no filings this month: 0 of 26 and 0 of 20, ranked together, last.
    assert [(r["code"], r["rank"]) for r in rows] == [
        ("11311", 1), ("31.S06", 2), ("11312", 3), ("31.S03", 3)]
    assert [r["share"] for r in rows] == [float(Fraction(3583, 100) / 44), 16 / 26, 0.0, 0.0]
    assert [r["noFilings"] for r in rows] == [False, False, True, True]
    for row in rows:
        path = f"/v1/units/{row['code']}/score"
        scored = (await client.get(path, params={"period": this_month(today)})).json()
        assert (row["score"], row["maxScore"], row["noFilings"]) == (
            scored["total"]["score"], scored["total"]["maxScore"], scored["noFilings"])
    assert rows[0]["onTimeRatio"] == 90.63 and rows[0]["received"] == 32
    assert [r["onTimeRatio"] for r in rows[2:]] == [0.0, 0.0]  # as the portal shows a unit without filings
    assert (await client.get("/v1/rankings/scores", params={"parent": "nope"})).status_code == 404


@at_each_instant
async def test_both_rankings_of_scores_give_the_same_order(today: date) -> None:
    """The national view's ranking and the dashboard's drill-down rank the same units alike: the
    commune earns 18 of its 20 points (90 %), the ward 35.83 of 44 (81 %), so the commune ranks first
    with the lower total; the department without filings ranks last with a share of 0."""
    commune = {"received_total": 10, "portal_on_time": 9, "portal_overdue": 1}
    async with api_with(unit_record("11311", today, WARD), unit_record("31.S06.01", today, OFFICE),
                        unit_record("11312", today, commune)) as client:
        for period in ("month_to_date", this_month(today), "all_time"):
            ranking = await client.get("/v1/rankings/scores", params={"parent": "31", "period": period})
            children = await client.get("/v1/units/31/children/scores", params={"period": period})
            assert ranking.status_code == children.status_code == 200
            national = ScoreRanking.model_validate(ranking.json()).model_dump()["units"]
            drill_down = ChildScores.model_validate(children.json()).model_dump()["units"]
            fields = ("code", "rank", "share", "score", "maxScore", "onTimeRatio", "noFilings")
            assert [[r[f] for f in fields] for r in national] == [[r[f] for f in fields] for r in drill_down]
        # all_time: the same filings as this month, so the same order.
        assert [(r["code"], r["rank"], r["score"]) for r in national] == [
            ("11312", 1, 18.0), ("11311", 2, 35.83), ("31.S06", 3, 16.0), ("31.S03", 4, 0.0)]


def test_a_calendar_period_is_judged_by_its_own_targets_whatever_the_day() -> None:
    day = date(2026, 12, 6)
    assert covering_periods("2026-08", day) == ("2026-08", "2026-Q3", "2026")
    assert covering_periods("2025-Q4", day) == ("2025-Q4", "2025")
    assert covering_periods("2025", day) == ("2025",)
    assert covering_periods("month_to_date", day) == ("2026-12", "2026-Q4", "2026")


# --- GET /v1/units/{code}/score -------------------------------------------------------------------------

async def test_the_score_endpoint_scores_the_subtree(client: httpx.AsyncClient, today: date) -> None:
    answer = await client.get("/v1/units/31.S06/score", params={"period": this_month(today)})
    assert answer.status_code == 200
    score = UnitScore.model_validate(answer.json()).model_dump()
    assert (score["unit_code"], score["name"], score["period"]) == ("31.S06", "Sở NN&MT", this_month(today))
    assert score["as_of"] == f"{today}T10:00:00.000+07:00" and score["units_with_figures"] == 1
    indicators = {i["code"]: i for i in score["indicators"]}
    # The office's 4 of 8, summed into its department.
    assert indicators["ON_TIME_DOSSIER"]["ratio"] == 50.0 and indicators["ON_TIME_DOSSIER"]["score"] == 10.0
    assert score["progress"]["avgProcessingDays"] == 1.0
    # Never reported below 31.S06: not measured, null rather than 0.
    satisfaction = indicators["DOSSIER_RECEIVING_SATISFACTION"]
    assert satisfaction["measured"] is False
    assert satisfaction["ratio"] is None and satisfaction["score"] is None
    assert score["total"]["maxScore"] == 20 + 6  # 2.1 and 4.1 (3.3 is worth 0 points)


async def test_the_score_of_the_province_is_of_its_summed_counters(client: httpx.AsyncClient,
                                                                   today: date) -> None:
    score = (await client.get("/v1/units/31/score", params={"period": this_month(today)})).json()
    on_time = next(i for i in score["indicators"] if i["code"] == "ON_TIME_DOSSIER")
    assert (on_time["numerator"], on_time["denominator"]) == (29 + 4, 32 + 8)
    assert on_time["ratio"] == 82.5 and on_time["score"] == 16.5


async def test_the_score_of_an_unknown_unit_is_a_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/units/nowhere/score")
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_unit"


# --- the portal-shaped answers --------------------------------------------------------------------------

async def test_the_progress_tree_has_the_portals_fields_and_the_parent_is_the_sum(
        client: httpx.AsyncClient, today: date) -> None:
    answer = await client.post(PROGRESS, json=month_body(today))
    assert answer.status_code == 200
    PortalAnswer.model_validate(answer.json())
    assert answer.json()["code"] == "OK"
    data = answer.json()["data"]
    parent, children = data["parent"], {c["departmentCode"]: c for c in data["children"]}
    assert set(children) == {"31.S06", "31.S03", "11311", "11312"}
    assert {c: children[c]["level"] for c in children} == {"31.S06": "PROVINCE", "31.S03": "PROVINCE",
                                                           "11311": "COMMUNE", "11312": "COMMUNE"}
    assert children["11311"] == {
        "departmentId": "11311", "departmentName": "Phường A", "departmentCode": "11311", "level": "COMMUNE",
        "totalReceived": 32, "totalOnTime": 29, "totalOverdue": 3, "avgProcessingDays": 3.0, "ratio": 90.63,
        "score": 18.13, "maxScore": 20, "noFilings": False}
    for field in ("totalReceived", "totalOnTime", "totalOverdue"):
        assert parent[field] == sum(c[field] for c in children.values())
    assert parent["totalCompleted"] == 28 + 8 and "totalCompleted" not in children["11311"]
    assert (parent["ratio"], parent["totalScore"], parent["totalMaxScore"]) == (82.5, 16.5, 20)
    assert "score" not in parent and parent["level"] == "PROVINCE" and parent["departmentName"] == "Hải Phòng"
    assert data["period"] == this_month(today)


async def test_a_child_without_filings_shows_ratio_0_score_0_and_says_so(client: httpx.AsyncClient,
                                                                        today: date) -> None:
    children = {c["departmentCode"]: c for c in
                (await client.post(PROGRESS, json=month_body(today))).json()["data"]["children"]}
    for code in ("31.S03", "11312"):  # no record at all; a record without filings this month
        child = children[code]
        assert (child["totalReceived"], child["ratio"], child["score"]) == (0, 0, 0)
        assert children[code]["maxScore"] == 20 and children[code]["noFilings"] is True


async def test_get_with_query_parameters_answers_as_post(client: httpx.AsyncClient, today: date) -> None:
    for path in (PROGRESS, ONLINE, DIGITISATION, SATISFACTION):
        posted = await client.post(path, json=month_body(today))
        got = await client.get(path, params=month_body(today))
        assert posted.status_code == got.status_code == 200 and posted.json() == got.json()


async def test_a_quarter_a_year_and_our_unit_code_field(client: httpx.AsyncClient, today: date) -> None:
    quarter = {"departmentCode": "11311", "timeType": "quarter", "year": today.year,
               "quarter": (today.month - 1) // 3 + 1}
    answer = (await client.post(PROGRESS, json=quarter)).json()["data"]
    assert answer["parent"]["totalReceived"] == 32 and answer["children"] == []
    year = (await client.post(PROGRESS, json={"rootDepartmentId": "31.S06", "timeType": "year",
                                               "year": today.year})).json()["data"]
    assert year["period"] == str(today.year) and year["parent"]["totalReceived"] == 8
    assert [c["departmentCode"] for c in year["children"]] == ["31.S06.01"]


async def test_bad_portal_requests_are_refused_naming_the_field(client: httpx.AsyncClient,
                                                                today: date) -> None:
    too_old = {"rootDepartmentId": "31", "timeType": "month", "year": today.year - 2, "month": 1}
    old = await client.post(PROGRESS, json=too_old)
    assert old.status_code == 404 and old.json()["parameter"] == "period"
    assert f"{today.year - 2}-01" in old.json()["message"] and "not published" in old.json()["message"]
    no_month = await client.post(PROGRESS, json={"rootDepartmentId": "31", "timeType": "month",
                                                 "year": today.year})
    assert no_month.status_code == 422 and no_month.json()["parameter"] == "month"
    no_unit = await client.post(PROGRESS, json={"timeType": "year", "year": today.year})
    assert no_unit.status_code == 422 and no_unit.json()["parameter"] == "rootDepartmentId"
    unknown = await client.post(PROGRESS, json=month_body(today, "nowhere"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_unit"
    bad_type = await client.post(PROGRESS, json={**month_body(today), "timeType": "week"})
    assert bad_type.status_code == 422 and bad_type.json()["errors"][0]["parameter"] == "timeType"


async def test_the_online_tree_counts_ratios_and_nulls_for_the_unmeasured(client: httpx.AsyncClient,
                                                                         today: date) -> None:
    answer = await client.post(ONLINE, json=month_body(today))
    PortalAnswer.model_validate(answer.json())
    ward = next(c for c in answer.json()["data"]["children"] if c["departmentCode"] == "11311")
    assert (ward["totalReceived"], ward["totalOnline"], ward["onlineRatio"]) == (32, 20, 62.5)
    assert (ward["totalFullOnlineEligible"], ward["totalFullOnline"]) == (10, 6)
    assert ward["fullOnlineRatio"] == 60.0
    assert (ward["fullOnlineScore"], ward["fullOnlineMaxScore"]) == (7.2, 12)
    # Nobody ever reported a fee: 3.6 is not measured, null, never 0.
    assert ward["totalWithFee"] is None and ward["onlinePaymentRatio"] is None
    assert ward["onlinePaymentScore"] is None
    assert (ward["score"], ward["maxScore"]) == (7.2, 12)
    parent = answer.json()["data"]["parent"]
    assert parent["totalOnline"] == 20 and parent["totalScore"] == 7.2 and "score" not in parent


async def test_the_metrics_lists_keep_nulls_and_flags_with_their_figure(client: httpx.AsyncClient,
                                                                       today: date) -> None:
    digitisation = (await client.post(DIGITISATION, json=month_body(today))).json()["data"]
    ward = next(c for c in digitisation["children"] if c["departmentCode"] == "11311")
    metrics = {m["code"]: m for m in ward["metrics"]}
    assert list(metrics) == ["ORIGINAL_RESULT_AVAILABLE", "SO_HOA_GIAY_TO_GIAI_QUYET",
                             "REUSED_DIGITIZED_DATA", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
                             "CITIZEN_DATA_CONNECTED_DOSSIER"]
    electronic = metrics["ORIGINAL_RESULT_AVAILABLE"]
    assert [electronic[k] for k in ("numerator", "denominator", "ratio", "score")] == [9, 12, 75.0, 4.5]
    unmeasured = metrics["SYNCED_WITH_DVCQG_PERSONAL_STORAGE"]
    assert [unmeasured[k] for k in ("numerator", "denominator", "ratio", "score")] == [None] * 4
    assert unmeasured["maxScore"] == 4
    parent_41 = next(m for m in digitisation["parent"]["metrics"] if m["code"] == "ORIGINAL_RESULT_AVAILABLE")
    assert (parent_41["numerator"], parent_41["denominator"]) == (9 + 2, 12 + 2)

    satisfaction = (await client.post(SATISFACTION, json=month_body(today))).json()["data"]
    commune = next(c for c in satisfaction["children"] if c["departmentCode"] == "11312")
    (rated,) = commune["metrics"]
    # Rated in the past, not this month: measured, 0 of 0, and the flag says why.
    assert rated["code"] == "DOSSIER_RECEIVING_SATISFACTION" and rated["flags"] == ["NO_FILINGS"]
    assert (rated["ratio"], rated["score"], rated["maxScore"]) == (0, 0, 6)
    never = next(c for c in satisfaction["children"] if c["departmentCode"] == "31.S03")
    assert never["metrics"][0]["ratio"] is None and never["score"] is None


async def test_every_new_endpoint_documents_an_example(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path in (PROGRESS, ONLINE, DIGITISATION, SATISFACTION):
        for method in ("post", "get"):
            content = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]
            assert content["example"]["code"] == "OK" and content["example"]["data"]["children"]
        examples = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
        assert {"month", "quarter", "year"} <= set(examples)
    score = document["paths"]["/v1/units/{code}/score"]["get"]
    assert score["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("UnitScore")
    schemas = document["components"]["schemas"]
    assert "examples" in schemas["UnitScore"]
    assert schemas["PeriodFigures"]["properties"]["resolved_late"]["description"].startswith("Press-style")
    assert "2.1" in schemas["PeriodFigures"]["properties"]["on_time_rate"]["description"]


@at_each_instant
async def test_the_documented_requests_are_answered(client: httpx.AsyncClient) -> None:
    """Every example the document gives, as a POST body and as GET query parameters, names a unit of the
    registry and a published period: a reader who copies one gets figures, not a 404 or a 422."""
    document = (await client.get("/openapi.json")).json()
    bodies = document["components"]["schemas"]["ReportingQuery"]["examples"]
    assert {body["timeType"] for body in bodies} == {"month", "quarter", "year"}
    for path in (PROGRESS, ONLINE, DIGITISATION, SATISFACTION):
        for body in bodies:
            posted = await client.post(path, json=body)
            assert posted.status_code == 200, (path, body, posted.json())
            got = await client.get(path, params=body)
            assert got.status_code == 200 and got.json() == posted.json(), (path, body)
        # The GET's parameters, each at its own first example, make a request as well.
        get_parameters = document["paths"][path]["get"]["parameters"]
        parameters = {p["name"]: p["schema"]["examples"][0] for p in get_parameters}
        assert {"quarter", "month"} <= set(parameters)
        assert (await client.get(path, params=parameters)).status_code == 200


async def test_a_body_that_is_not_text_is_refused_as_the_document_says(client: httpx.AsyncClient) -> None:
    """Bytes that are not text fail before validation (FastAPI's 400), in the shared error shape, and the
    POST documents that 400 as the admin writes do; malformed JSON text is a 422 like any bad field. The
    GET reads no body: no 400 of its own."""
    document = (await client.get("/openapi.json")).json()
    json_type = {"Content-Type": "application/json"}
    for path in (PROGRESS, ONLINE, DIGITISATION, SATISFACTION):
        not_text = await client.post(path, content=b"\xff\xfe\x00", headers=json_type)
        assert not_text.status_code == 400 and set(not_text.json()) == {"error", "message"}
        not_json = await client.post(path, content=b"{not json", headers=json_type)
        assert not_json.status_code == 422 and not_json.json()["error"] == "invalid_parameter"
        post, get = document["paths"][path]["post"]["responses"], document["paths"][path]["get"]["responses"]
        assert post["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
        assert {"400", "408", "413"} <= set(post) and not {"400", "408", "413"} & set(get)
