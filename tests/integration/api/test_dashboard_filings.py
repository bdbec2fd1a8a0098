"""The filings behind 2.1 on the dashboard, in a real headless Chromium against the real broker and API,
on a desktop and a 390-pixel phone: the unit's lists as the aggregator publishes them on
`unit-filings` (its own record builder), the rows on the page equal the API's page by page, the tabs
switch lists, the reasons are in Vietnamese, the shortfall of 2.1 is the API's, and the export links
give the list as CSV and .xlsx. Screenshots go to tests/artifacts/ (and docs/ with
UPDATE_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, ViewportSize

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
from services.api.periods import published_periods
from services.common.kafka_settings import KafkaSettings
from tests.support import suite_clock
from tests.support.api import WARD_A, api_settings, figures_producer, period, running_api
from tests.support.browser import screenshot_folders, shows, watched_page
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
SHOTS = {"desktop": "dashboard-filings.png", "phone": "dashboard-filings-phone.png"}
HOUR_US = 3_600 * 1_000_000
REASONS = {"past_due": "Giải quyết sau hạn", "second_supplement_request": "Yêu cầu bổ sung lần hai",
           "open_past_due": "Chưa giải quyết, đã quá hạn"}


def records() -> tuple[dict[str, Any], dict[str, Any]]:
    """WARD_A's figures (2.1: 34 of 40 on time in every period) and its filing lists at the suite's
    now: 27 open and overdue (two pages of 20), 2 due within the next working day, 5 ended late and
    one late by its second supplement request, all received three days ago."""
    now = suite_clock.now()
    now_us = int(now.timestamp() * 1_000_000)
    figures = {"unit_code": WARD_A, "as_of": now.isoformat(timespec="milliseconds"),
               "day": now.date().isoformat(),
               "periods": {p: period(received_total=40, portal_on_time=34)
                           for p in published_periods(now.date())}}
    ledger = FilingLedger()
    received = now_us - 3 * DAY_US
    for i in range(27):
        ledger.put(f"G22.31-O{i:02d}", (OPEN, received, now_us - (i + 1) * HOUR_US, None, None, "1.0001"))
    for i in range(2):
        ledger.put(f"G22.31-S{i}", (OPEN, received, now_us + (i + 1) * HOUR_US, None, None, "1.0002"))
    for i in range(5):
        over = (i + 1) * DAY_US
        ledger.put(f"G22.31-L{i}", (LATE, received, received + HOUR_US, over, PAST_DUE, "=1.0003"))
    ledger.put("G22.31-R0", (LATE, received, received + DAY_US, None, SECOND_REQUEST, "1.0004"))
    return figures, orjson.loads(orjson.dumps(filings_record(WARD_A, ledger, now_us, spans(now_us))))


async def publish_filings(kafka: KafkaSettings, record: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(kafka.filings_topic, orjson.dumps(record), key=WARD_A.encode())
    finally:
        await producer.stop()


async def test_the_filings_section_on_a_desktop_and_a_phone(kafka_settings: KafkaSettings,
                                                            browser: Browser) -> None:
    figures, filings = records()
    await publish_filings(kafka_settings, filings)
    async with figures_producer(kafka_settings) as publish:
        await publish(figures)
        async with running_api(api_settings(kafka_settings)) as api:
            async def served() -> bool:
                return bool((await api.client.get(f"/v1/units/{WARD_A}/filings")).json()["count"] == 27)
            await eventually(served, 20, "the API to read unit-filings")
            for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
                await on_screen(browser, name, viewport, api.client, api.url)


async def on_screen(browser: Browser, name: str, viewport: ViewportSize, client: httpx.AsyncClient,
                    url: str) -> None:
    context, page, problems = await watched_page(browser, viewport)
    try:
        await check_section(page, client, url)
    finally:
        for folder in screenshot_folders():
            await page.locator("#filings766").screenshot(path=str(folder / SHOTS[name]))
        await context.close()
    assert problems == [], problems


async def rows_on_page(page: Page) -> list[list[str]]:
    # Read in one go: the section replaces its rows while a row-by-row read would be under way.
    rows: list[list[str]] = await page.eval_on_selector_all(
        "#filings766 tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")
    return rows


async def rows_are(page: Page, expected_ids: list[str]) -> None:
    async def check() -> bool:
        return [r[0] for r in await rows_on_page(page)] == expected_ids
    await eventually(check, 10, f"the filings rows to be {expected_ids[:3]}...")


async def check_section(page: Page, client: httpx.AsyncClient, url: str) -> None:
    base = f"/v1/units/{WARD_A}/filings"
    await page.goto(f"{url}/#u={WARD_A}&p=month_to_date")
    first = (await client.get(base, params={"per_page": 20})).json()
    second = (await client.get(base, params={"per_page": 20, "page": 2})).json()
    assert (first["count"], len(first["filings"]), len(second["filings"])) == (27, 20, 7)
    await rows_are(page, [f["filing_id"] for f in first["filings"]])
    shown = (await rows_on_page(page))[0]
    top = first["filings"][0]
    assert shown[4] == f"{top['days_over']} ngày" and shown[5] == REASONS["open_past_due"]
    await shows(page, "#filings766 .filing-shortfall",
                "Chỉ số 2.1: cần thêm 6 hồ sơ đúng hạn để đạt điểm tối đa")  # 34 of 40: 6 to go
    await shows(page, "#filings766 .page", "Trang 1/2")

    await page.locator("#filings766 .pager.next").click()
    await rows_are(page, [f["filing_id"] for f in second["filings"]])
    await shows(page, "#filings766 .page", "Trang 2/2")

    await page.locator("#filings766 [data-list=due_soon]").click()
    soon = (await client.get(base, params={"list": "due_soon", "per_page": 20})).json()
    await rows_are(page, [f["filing_id"] for f in soon["filings"]])
    assert [r[4] for r in await rows_on_page(page)] == [f"còn {f['hours_left']} giờ" for f in soon["filings"]]

    await page.locator("#filings766 [data-list=late]").click()
    late = (await client.get(base, params={"list": "late", "period": "month_to_date", "per_page": 20})).json()
    await rows_are(page, [f["filing_id"] for f in late["filings"]])
    assert [r[5] for r in await rows_on_page(page)] == [REASONS[f["reason"]] for f in late["filings"]]
    await page.locator("#filings766 .pager.next").click()
    late_2 = (await client.get(base, params={"list": "late", "period": "month_to_date", "per_page": 20,
                                             "page": 2})).json()
    await rows_are(page, [f["filing_id"] for f in late_2["filings"]])
    assert [r[5] for r in await rows_on_page(page)] == [REASONS[f["reason"]] for f in late_2["filings"]]
    # 27 open past due, 5 ended late, and last the one late by its requests, which has no end yet.
    assert {f["reason"] for f in late["filings"] + late_2["filings"]} == set(REASONS)
    assert late_2["filings"][-1]["filing_id"] == "G22.31-R0"

    href = await page.locator("#filings766 a.csv").get_attribute("href")
    assert href == f"{base}?list=late&period=month_to_date&format=csv"
    exported = list(csv.DictReader(io.StringIO((await client.get(href)).text)))
    every = late["filings"] + late_2["filings"]
    assert [row["filing_id"] for row in exported] == [f["filing_id"] for f in every]
    assert {row["procedure_code"] for row in exported if row["reason"] == "past_due"} == {"'=1.0003"}
    xlsx = await page.locator("#filings766 a.xlsx").get_attribute("href")
    workbook = await client.get(str(xlsx))
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
