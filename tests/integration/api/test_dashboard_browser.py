"""The dashboard in a real headless Chromium (Debian's `chromium`) against the real broker and API: it
shows the API's figures, formatted the Vietnamese way, drills into a subtree and back, follows the
live stream without a reload, fits a phone's screen, and runs under its Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize

from services.api.dashboard import PAGE_HEADERS
from services.common.kafka_settings import KafkaSettings
from tests.support.api import (
    ADMIN,
    UNITS,
    WARD_A,
    WARD_B,
    api_settings,
    figures_producer,
    figures_record,
    running_api,
)
from tests.support.browser import shows, text_of, watched_page
from tests.support.paths import ROOT
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SCREENSHOT = ROOT / "tests" / "artifacts" / "dashboard.png"
PHONE = ViewportSize(width=375, height=812)
NBSP, MINUS = "\u00a0", "\u2212"


# The page's formatting (services/api/static/format.js), written again independently.
def vi_count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _one_decimal(x: float) -> str:
    # Decimal(float) is exact, and toFixed rounds the exact binary value half away from zero.
    rounded = Decimal(abs(x)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    whole, fraction = str(rounded).split(".")
    sign = MINUS if x < 0 and rounded != 0 else ""
    return f"{sign}{vi_count(int(whole))},{fraction}"


def vi_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{_one_decimal(rate * 100)}{NBSP}%"


def vi_gap(gap: float) -> str:
    text = _one_decimal(gap * 100)
    plus = "" if text.startswith(MINUS) or text == "0,0" else "+"
    return f"{plus}{text}{NBSP}điểm"


async def headline_matches(page: Page, rollup: dict[str, Any], period: str) -> None:
    figures = rollup["periods"][period]
    for figure, text in (("received_total", vi_count(figures["received_total"])),
                         ("online_rate", vi_rate(figures["online_rate"])),
                         ("on_time_rate", vi_rate(figures["on_time_rate"])),
                         ("pending_overdue", vi_count(figures["pending_overdue"])),
                         ("returned_total", vi_count(figures["returned_total"]))):
        await shows(page, f'.card[data-figure="{figure}"] .value', text)


async def ranked_codes(page: Page, section: str) -> list[str | None]:
    rows = page.locator(f"{section} .ranking li.row")
    return [await rows.nth(i).get_attribute("data-code") for i in range(await rows.count())]


# Counters of a few units; figures_record multiplies them by 1..7 over the periods. Large enough to
# need a thousands separator in the month, with rates that need rounding.
PROVINCE_RECORDS = (
    figures_record("31.S06", received_total=2500, received_online=2093, resolved_total=900,
                   resolved_early=700, resolved_on_time=150, resolved_late=50, pending_within_due=40,
                   pending_overdue=3, returned_total=12, returned_supplement_requested=9,
                   returned_rejected=3, portal_on_time=2010, portal_overdue=400, portal_pending_on_time=40,
                   portal_pending_overdue=50),
    figures_record("31.S06.01", received_total=400, received_online=397, resolved_total=300,
                   resolved_on_time=290, resolved_late=10, pending_overdue=7, portal_on_time=371,
                   portal_overdue=29),
    figures_record(WARD_A, received_total=37, received_online=11, resolved_total=20, resolved_early=19,
                   resolved_late=1, portal_on_time=33, portal_overdue=4),
    figures_record(WARD_B, received_total=80, received_online=70, resolved_total=60, resolved_on_time=60,
                   pending_overdue=2, portal_on_time=75, portal_overdue=5),
)
# Enough more wards for a ranking longer than the rows the page shows at first.
WARDS = [u.code for u in UNITS if u.level in ("ward", "commune")]
EXTRA_WARDS = tuple(figures_record(code, received_total=1, received_online=1) for code in WARDS[3:15])
TARGETS = (("31", 0.9), ("31.S06", 0.8), (WARD_A, 0.5), (WARD_B, 0.85))


async def test_dashboard_shows_the_api_figures_live_on_a_phone(kafka_settings: KafkaSettings,
                                                                browser: Browser) -> None:
    async with figures_producer(kafka_settings) as publish:
        await publish(*PROVINCE_RECORDS, *EXTRA_WARDS)
        async with running_api(api_settings(kafka_settings)) as api:
            client = api.client
            for unit, value in TARGETS:
                answer = await client.put(f"/v1/admin/targets/{unit}/online_rate/2026", json={"value": value},
                                          headers=ADMIN)
                assert answer.status_code == 200, answer.text
            context, page, problems = await watched_page(browser, PHONE, scale=2)
            try:
                await check_dashboard(page, client, api.url, publish)
            finally:
                SCREENSHOT.parent.mkdir(exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
                print(f"\ndashboard screenshot: {SCREENSHOT}")
                await context.close()
            # A CSP violation, a failed request or a script error shows on the console.
            assert problems == []


async def check_dashboard(page: Page, client: httpx.AsyncClient, url: str,
                          publish: Callable[..., Awaitable[None]]) -> None:
    answer = await page.goto(url + "/")
    assert answer is not None and answer.status == 200
    for name, value in PAGE_HEADERS.items():
        assert answer.headers[name.lower()] == value
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    script = await client.get("/dashboard/dashboard.js")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith("text/javascript")
    # JSON answers keep the strict policy every service sets (services/common/http_security.py);
    # the dashboard's own policy is for its page and files only.
    json_policy = (await client.get("/v1/units/31")).headers["content-security-policy"]
    assert json_policy.startswith("default-src 'none'")

    # The province, by default, for the month: the headline equals the API's rollup.
    await shows(page, "h1", "Thành phố Hải Phòng")
    await shows(page, "#live", "Trực tiếp")
    province = (await client.get("/v1/units/31/rollup")).json()
    await headline_matches(page, province, "month_to_date")
    month = province["periods"]["month_to_date"]
    assert vi_count(month["received_total"]) == "12.116"  # a check of the check: Vietnamese grouping
    assert vi_rate(month["online_rate"]) == f"85,3{NBSP}%"
    await shows(page, '.card[data-figure="online_rate"] .note',
                f"Mục tiêu 90,0{NBSP}% · chưa đạt ({vi_gap(month['online_rate'] - 0.9)})")

    # Units ranked by online rate against their targets, in the API's order, with the gap.
    ranking = (await client.get("/v1/rankings", params={"figure": "online_rate", "period": "month_to_date",
                                                          "parent": "31"})).json()["units"]
    ranked = [r["code"] for r in ranking if r["rank"] is not None]
    assert len(ranked) == 15
    await eventually(lambda: _codes_are(page, "#rank-online", ranked[:10]), 5,
                     "the online-rate ranking in the API's order")
    await shows(page, "#rank-online li.empty", f"{len(ranking) - 15} đơn vị chưa có hồ sơ trong kỳ.")
    await page.locator("#rank-online .more").click()
    await eventually(lambda: _codes_are(page, "#rank-online", ranked), 5, "the whole ranking")
    await shows(page, "#rank-online .more", "Thu gọn")
    await fits_the_phone(page)
    ward_b = next(r for r in ranking if r["code"] == WARD_B)
    row = f'#rank-online li[data-code="{WARD_B}"]'
    assert await text_of(page, f"{row} .rank") == str(ward_b["rank"])
    assert await text_of(page, f"{row} .value") == vi_rate(ward_b["value"]) == f"87,5{NBSP}%"
    assert await text_of(page, f"{row} .target") == f"Mục tiêu 85,0{NBSP}%"
    assert await text_of(page, f"{row} .gap") == vi_gap(ward_b["gap"]) == f"+2,5{NBSP}điểm"
    on_time = (await client.get("/v1/rankings", params={"figure": "on_time_rate", "period": "month_to_date",
                                                        "parent": "31"})).json()["units"]
    # 2.1 ranks every unit that received filings (the extra wards: one each, none on time): the
    # first rows the page shows, in the API's order.
    first_rows = [r["code"] for r in on_time if r["rank"]][:10]
    await eventually(lambda: _codes_are(page, "#rank-on-time", first_rows), 5,
                     "the on-time ranking in the API's order")
    # Overdue now, most first, only units that have some.
    await eventually(lambda: _codes_are(page, "#overdue", ["31.S06", WARD_B]), 5, "the overdue list")
    await shows(page, '#overdue li[data-code="31.S06"] .value', f"{vi_count(4 * 10)} hồ sơ")

    # The period picker.
    await page.get_by_role("button", name="Hôm nay").click()
    await headline_matches(page, province, "today")
    assert "p=today" in page.url

    # Drill down into a department (13th, shown since the ranking was opened), then back through
    # the breadcrumb.
    await page.locator('#rank-online a[href*="u=31.S06&"]').click()
    await shows(page, "h1", (await client.get("/v1/units/31.S06")).json()["unit"]["name"])
    department = (await client.get("/v1/units/31.S06/rollup")).json()
    await headline_matches(page, department, "today")
    await eventually(lambda: _codes_are(page, "#rank-online", ["31.S06.01"]), 5, "the department's office")
    await shows(page, "#breadcrumb a", "Thành phố Hải Phòng")
    await page.locator("#breadcrumb a").click()
    await shows(page, "h1", "Thành phố Hải Phòng")
    await headline_matches(page, province, "today")

    # Live: new figures on the topic reach the page through the stream, without a reload.
    await page.evaluate("window.notReloaded = true")
    await publish(figures_record(WARD_A, received_total=5037, received_online=5011, resolved_total=20,
                                 resolved_early=19, resolved_late=1, pending_overdue=9))

    async def api_has_it() -> bool:
        today = (await client.get("/v1/units/31/rollup")).json()["periods"]["today"]
        return bool(today["received_total"] != province["periods"]["today"]["received_total"])
    await eventually(api_has_it, 5, "the API to take the new record")
    updated = (await client.get("/v1/units/31/rollup")).json()
    await headline_matches(page, updated, "today")
    assert await text_of(page, '.card[data-figure="received_total"] .value') == "8.029"
    await eventually(lambda: _codes_are(page, "#overdue", ["31.S06", WARD_A, WARD_B]), 5,
                     "the new overdue list")
    assert await page.evaluate("window.notReloaded") is True

    # A phone's width: nothing wider than the screen, even with a department's long name on top
    # (opened by its address, as from a bookmark).
    await page.evaluate("location.hash = 'u=31.S06&p=today'")
    await shows(page, '#rank-online li.row .name', "Văn phòng Đăng ký đất đai")
    await fits_the_phone(page)
    await page.go_back()
    await shows(page, "h1", "Thành phố Hải Phòng")
    await fits_the_phone(page)

    # An address naming no unit: said so, and the province instead.
    await page.evaluate("location.hash = 'u=nope&p=today'")
    await shows(page, "#error", "Không có đơn vị mã nope; đang hiển thị đơn vị cấp cao nhất.")
    await headline_matches(page, updated, "today")


async def fits_the_phone(page: Page) -> None:
    """No horizontal scrolling: the page is no wider than the phone's screen."""
    width, screen = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert screen == PHONE["width"] and width <= screen


async def _codes_are(page: Page, section: str, codes: list[str]) -> bool:
    return await ranked_codes(page, section) == codes


async def test_number_formats_match_vietnamese_usage(kafka_settings: KafkaSettings, browser: Browser) -> None:
    """format.js itself, on the edge cases: grouping, rounding ties, no "−0,0", empty values."""
    settings = api_settings(kafka_settings)
    async with running_api(settings, wait_ready=False) as api:
        page = await browser.new_page()
        try:
            await page.goto(api.url + "/")
            got = await page.evaluate("""async () => {
                const f = await import('/dashboard/format.js');
                return {
                    counts: [0, 7, 999, 1000, 12345, 1234567].map(f.formatCount),
                    rates: [0.953, 1, 0, 0.0005, 0.00049, 0.125, 0.9995, null].map(f.formatRate),
                    gaps: [0.031, -0.025, -0.0004, 0, 0.0006, -1].map(f.formatGap),
                    asOf: f.formatAsOf('2026-03-10T09:05:07.123+07:00'),
                };
            }""")
        finally:
            await page.close()
    assert got["counts"] == ["0", "7", "999", "1.000", "12.345", "1.234.567"]
    assert got["counts"] == [vi_count(n) for n in (0, 7, 999, 1000, 12345, 1234567)]
    percent = NBSP + "%"
    assert got["rates"] == [f"95,3{percent}", f"100,0{percent}", f"0,0{percent}", f"0,1{percent}",
                            f"0,0{percent}", f"12,5{percent}", f"100,0{percent}", "—"]
    assert got["rates"] == [vi_rate(r) for r in (0.953, 1, 0, 0.0005, 0.00049, 0.125, 0.9995, None)]
    points = NBSP + "điểm"
    assert got["gaps"] == [f"+3,1{points}", f"{MINUS}2,5{points}", f"0,0{points}", f"0,0{points}",
                           f"+0,1{points}", f"{MINUS}100,0{points}"]
    assert got["gaps"] == [vi_gap(g) for g in (0.031, -0.025, -0.0004, 0, 0.0006, -1)]
    assert got["asOf"] == "09:05:07 ngày 10/03/2026"
