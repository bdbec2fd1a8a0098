"""GET /v1/units/{code}/filings in process (no Kafka): the unit-filings record as the aggregator writes
it (services/aggregator/late_filings.py), served a page at a time, refused with 404/422 naming what
is wrong, exported as CSV (formula-like text guarded) and .xlsx (read back with openpyxl); and the
arithmetic of the filings short of full marks and of the target."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import datetime
from fractions import Fraction
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from prometheus_client import CollectorRegistry

from services.aggregator.hcm_time import DAY_US
from services.aggregator.late_filings import (
    LATE,
    OPEN,
    PAST_DUE,
    SECOND_REQUEST,
    FilingLedger,
    filings_record,
    spans,
)
from services.api.app import create_app
from services.api.filing_models import FilingPage
from services.api.filings import COLUMNS, FilingsView, filings_to_reach, shortfalls
from services.api.scores import records_score
from services.api.settings import ApiSettings
from services.api.targets import Target, TargetBook
from services.api.tree import UnitInfo
from services.common.clock import ClockSettings
from tests.support.api import record as figures_record
from tests.support.suite_clock import SUNDAY

NOW_US = int(SUNDAY.timestamp() * 1_000_000)
HOUR_US = 3_600 * 1_000_000
NASTY = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"]


def ledger_record(late: int = 120) -> dict[str, Any]:
    """A unit's record as the aggregator publishes it: `late` filings received this month and ended
    late (more than the 100 kept), 3 open and overdue now, 2 open and due within the next working day,
    one late by its supplement requests; procedure codes that look like formulas."""
    ledger = FilingLedger()
    received = NOW_US - 3 * DAY_US
    for i in range(late):
        due = received + HOUR_US
        ledger.put(f"L{i:03d}", (LATE, received, due, (i + 1) * HOUR_US, PAST_DUE, NASTY[i % len(NASTY)]))
    ledger.put("R1", (LATE, received, received + DAY_US, None, SECOND_REQUEST, "1.0002"))
    for i in range(3):
        ledger.put(f"O{i}", (OPEN, received, NOW_US - (i + 1) * DAY_US, None, None, "1.0003"))
    for i in range(2):
        ledger.put(f"S{i}", (OPEN, received, NOW_US + (i + 1) * HOUR_US, None, None, "1.0004"))
    return orjson.loads(orjson.dumps(filings_record("11311", ledger, NOW_US, spans(NOW_US))))


def app_with(record: dict[str, Any] | None) -> FastAPI:
    settings = ApiSettings(admin_key_sha256=hashlib.sha256(b"k").hexdigest(), seed_registry=False,
                           now=ClockSettings(clock_start=SUNDAY))
    app = create_app(settings, CollectorRegistry())
    runtime = app.state.api.runtime
    runtime.tree.put(UnitInfo("31", "Hải Phòng", "province", None))
    runtime.tree.put(UnitInfo("11311", "Phường A", "ward", "31"))
    if record is not None:
        runtime.filings.apply("11311", orjson.dumps(record))
    # 29 of 32 on time this month (and in every period of this record).
    runtime.view.records["11311"] = figures_record("11311", received_total=32, portal_on_time=29)
    runtime.targets.put(Target("11311", "on_time_rate", "2026", 0.95))
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = app_with(ledger_record())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        yield c


async def test_pages_of_a_periods_late_list(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/units/11311/filings?list=late&period=month_to_date&page=2&per_page=40")
    assert answer.status_code == 200
    body = answer.json()
    FilingPage.model_validate(body)
    # 120 ended late, 1 late by its requests, 3 open past due now: counted exactly, 100 kept.
    assert (body["count"], body["kept"], body["bound"], body["pages"]) == (124, 100, 100, 3)
    ids = [f["filing_id"] for f in body["filings"]]
    assert len(ids) == 40
    # Most overdue first: L119 is 120 hours over (5 days, rounded up); page 2 begins with the 41st.
    late = "/v1/units/11311/filings?list=late&period=month_to_date&per_page=40"
    first_page = (await client.get(late)).json()
    assert first_page["filings"][0]["filing_id"] == "L119" and first_page["filings"][0]["days_over"] == 5
    assert not set(ids) & {f["filing_id"] for f in first_page["filings"]}
    overs = [f["days_over"] for f in first_page["filings"] + body["filings"]]
    assert overs == sorted(overs, reverse=True)
    last = (await client.get(f"{late}&page=3")).json()
    assert len(last["filings"]) == 20
    beyond = (await client.get(f"{late}&page=4")).json()
    assert beyond["filings"] == [] and beyond["count"] == 124


async def test_overdue_now_and_due_soon(client: httpx.AsyncClient) -> None:
    overdue = (await client.get("/v1/units/11311/filings?list=overdue_now")).json()
    assert [f["filing_id"] for f in overdue["filings"]] == ["O2", "O1", "O0"]
    assert [f["days_over"] for f in overdue["filings"]] == [3, 2, 1]
    assert {f["reason"] for f in overdue["filings"]} == {"open_past_due"}
    soon = (await client.get("/v1/units/11311/filings?list=due_soon")).json()
    FilingPage.model_validate(soon)
    assert [(f["filing_id"], f["hours_left"], f["reason"]) for f in soon["filings"]] == [
        ("S0", 1, None), ("S1", 2, None)]
    assert soon["until"] is not None and soon["count"] == 2


@pytest.mark.parametrize(("query", "parameter"), [
    ("list=overdue", "list"), ("per_page=0", "per_page"), ("per_page=101", "per_page"), ("page=0", "page"),
    ("page=x", "page"), ("period=2026-13", "period"), ("format=pdf", "format")])
async def test_bad_parameters_are_422_naming_them(client: httpx.AsyncClient, query: str,
                                                  parameter: str) -> None:
    answer = await client.get(f"/v1/units/11311/filings?{query}")
    assert answer.status_code == 422
    assert [e["parameter"] for e in answer.json()["errors"]] == [parameter]


async def test_unknown_unit_and_unkept_periods_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/units/99999/filings")).status_code == 404
    all_time = await client.get("/v1/units/11311/filings?list=late&period=all_time")
    assert all_time.status_code == 404 and all_time.json()["error"] == "unknown_period"
    assert (await client.get("/v1/units/11311/filings?list=late&period=2020-01")).status_code == 404


async def test_a_unit_without_a_record_has_empty_lists() -> None:
    app = app_with(None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        body = (await c.get("/v1/units/31/filings?list=late&period=2026-12")).json()
    assert (body["count"], body["filings"], body["as_of"], body["shortfalls"]) == (0, [], None, [])


async def test_csv_holds_every_kept_filing_with_formulas_guarded(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/units/11311/filings?list=late&period=2026-12&format=csv&per_page=1")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "filings-11311-late-2026-12.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 100  # the export is the kept list, not a page
    codes = {row["procedure_code"] for row in rows if row["filing_id"].startswith("L")}
    assert codes == {"'" + n for n in NASTY}


async def test_xlsx_holds_the_csv_rows(client: httpx.AsyncClient) -> None:
    query = "/v1/units/11311/filings?list=late&period=2026-12"
    text = (await client.get(f"{query}&format=csv")).text
    data = (await client.get(query, headers={"Accept": "application/vnd.openxmlformats-officedocument."
                                                       "spreadsheetml.sheet"})).content
    book = load_workbook(io.BytesIO(data))
    sheet = book["filings"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    # XlsxWriter stores a carriage return as the escape _x000D_, which Excel reads back and openpyxl does not.
    cells = [["" if c is None else str(c).replace("_x000D_", "\r") for c in row]
             for row in sheet.iter_rows(values_only=True)]
    from_csv = [[t[1:] if t.startswith("'") else t for t in row] for row in csv.reader(io.StringIO(text))]
    assert cells[0] == list(COLUMNS) and cells == from_csv
    assert isinstance(sheet["E2"].value, int)  # days over: a number


async def test_shortfalls_in_the_answer(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/units/11311/filings?period=month_to_date")).json()
    on_time = next(s for s in body["shortfalls"] if s["indicator"] == "2.1")
    assert on_time == {"indicator": "2.1", "code": "ON_TIME_DOSSIER", "numerator": 29, "denominator": 32,
                       "full_at": 1.0, "to_full_marks": 3, "target_figure": "on_time_rate", "target": 0.95,
                       "to_target": 2}


# -- the arithmetic -----------------------------------------------------------------------------

def test_filings_to_reach() -> None:
    assert filings_to_reach(29, 32, Fraction(1)) == 3            # 2.1: full marks only at 100 %
    assert filings_to_reach(29, 32, Fraction(9, 10)) == 0        # 5.4: 90.63 % is past 90 %
    assert filings_to_reach(28, 32, Fraction(9, 10)) == 1        # 87.5 %: 28.8 needed, so 29
    assert filings_to_reach(25, 32, Fraction(4, 5)) == 1         # 4.3: 25.6 needed, so 26
    assert filings_to_reach(16, 32, Fraction(1, 2)) == 0         # 3.3: exactly at 50 %
    assert filings_to_reach(29, 32, Fraction("0.95")) == 2       # 30.4 needed, so 31
    assert filings_to_reach(0, 0, Fraction(1)) is None           # no filings: no number can
    assert filings_to_reach(1, 2, Fraction(3, 2)) is None


def test_a_target_counts_as_the_decimal_it_was_written_as() -> None:
    # 0.3 as a binary float is above 3/10: 3 of 10 would look one short.
    book = TargetBook()
    book.put(Target("u", "on_time_rate", "2026", 0.3))
    rows = records_score([figures_record("u", received_total=10, portal_on_time=3)], "month_to_date")
    first = shortfalls(rows["indicators"], book, "u", "month_to_date", datetime(2026, 12, 6).date())
    assert [(s["indicator"], s["to_full_marks"], s["to_target"]) for s in first] == [
        ("2.1", 7, 0), ("3.3", 5, None)]


def test_the_view_keeps_the_latest_record_and_refuses_others() -> None:
    view = FilingsView()
    view.apply("a", orjson.dumps({"overdue_now": {"count": 1}, "due_soon": {}, "late": {}}))
    view.apply("a", orjson.dumps({"overdue_now": {"count": 2}, "due_soon": {}, "late": {}}))
    assert view.get("a") == {"overdue_now": {"count": 2}, "due_soon": {}, "late": {}}
    with pytest.raises(ValueError, match="not a unit-filings record"):
        view.apply("b", orjson.dumps({"overdue_now": []}))
    view.apply("a", None)
    assert view.records == {}
