"""The dashboard's national view in a real headless Chromium against the real broker and API: with the
registry of two provinces under the national root, the page opens on the country, ranks the provinces
by Decision 766's score as /v1/rankings/scores does, drills down to a province's communes by a click
or the province picker, and back."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page

from services.common.kafka_settings import KafkaSettings
from services.contract.units import province_units
from tests.support.api import api_settings, figures_producer, figures_record, running_api
from tests.support.browser import shows
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

HA_NOI = [u.code for u in province_units("01") if u.level in ("ward", "commune")][:2]
HAI_PHONG = [u.code for u in province_units("31") if u.level in ("ward", "commune")][:2]
# Hải Phòng's wards on time (2.1 of 100 %), Hà Nội's half late: Hải Phòng ranks first.
RECORDS = (
    *(figures_record(code, received_total=10, received_online=8, portal_on_time=10) for code in HAI_PHONG),
    *(figures_record(code, received_total=10, received_online=2, portal_on_time=5, portal_overdue=5)
      for code in HA_NOI),
)


async def ranked(page: Page) -> list[str | None]:
    rows = page.locator("#national-ranking li.row")
    return [await rows.nth(i).get_attribute("data-code") for i in range(await rows.count())]


async def test_national_view_ranks_provinces_and_drills_down(kafka_settings: KafkaSettings,
                                                             browser: Browser) -> None:
    async with figures_producer(kafka_settings) as publish:
        await publish(*RECORDS)
        async with running_api(api_settings(kafka_settings, seed_province="31,01")) as api:
            await eventually(lambda: has_figures(api.client), 20, "the records in the view")
            context = await browser.new_context(locale="vi-VN")
            page = await context.new_page()
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            try:
                await check_national_view(page, api.client, api.url)
            finally:
                await context.close()
            assert problems == []


async def has_figures(client: httpx.AsyncClient) -> bool:
    rollup = (await client.get("/v1/units/VN/rollup")).json()
    return bool(rollup.get("units_with_figures") == len(RECORDS))


async def check_national_view(page: Page, client: httpx.AsyncClient, url: str) -> None:
    await page.goto(url + "/")
    await shows(page, "h1", "Việt Nam")  # the largest subtree: the country
    # The national section comes with its own two requests, after the dashboard's title.
    await eventually(lambda: page.locator("#national").is_visible(), 10, "the national section shown")
    options = page.locator("#province-picker option")
    await eventually(lambda: _count_is(options, 3), 5, "the picker's options")
    assert [await options.nth(i).text_content() for i in range(3)] == [
        "Cả nước", "Thành phố Hà Nội", "Thành phố Hải Phòng"]
    assert await page.locator("#province-picker").input_value() == "VN"

    # The provinces in the API's order, each with its score over its units.
    params = {"parent": "VN", "period": "month_to_date"}
    scores = (await client.get("/v1/rankings/scores", params=params)).json()
    order = [row["code"] for row in scores["units"]]
    assert order == ["31", "01"] and scores["units"][0]["share"] > scores["units"][1]["share"]
    await eventually(lambda: _ranked_is(page, order), 5, "the provinces ranked as the API ranks them")
    first = scores["units"][0]
    score = f"{first['score']:.1f}".replace(".", ",")
    # toFixed(1) rounds the float's exact value half up, as Decimal does here.
    share = str(Decimal(first["share"] * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)).replace(".", ",")
    await shows(page, '#national-ranking li[data-code="31"] .value',
                f"{score} / {first['maxScore']} điểm ({share} %)")

    # A click drills down to the province: its communes ranked by the dashboard, the picker on it.
    await page.locator('#national-ranking li[data-code="31"] a').click()
    await shows(page, "h1", "Thành phố Hải Phòng")
    await eventually(lambda: _hidden(page, "#national-ranking-panel"), 5, "the national ranking hidden")
    assert await page.locator("#province-picker").input_value() == "31"
    await eventually(lambda: _has_row(page, "#rank-online", HAI_PHONG[0]), 5, "the province's wards ranked")

    # The picker goes to another province, then back to the country.
    await page.locator("#province-picker").select_option("01")
    await shows(page, "h1", "Thành phố Hà Nội")
    await eventually(lambda: _has_row(page, "#rank-online", HA_NOI[0]), 5, "Hà Nội's wards ranked")
    await page.locator("#province-picker").select_option("VN")
    await shows(page, "h1", "Việt Nam")
    await eventually(lambda: _ranked_is(page, order), 5, "the national ranking again")


async def _count_is(locator: Locator, n: int) -> bool:
    return await locator.count() == n


async def _ranked_is(page: Page, order: list[str]) -> bool:
    return await page.locator("#national-ranking-panel").is_visible() and await ranked(page) == order


async def _hidden(page: Page, selector: str) -> bool:
    return not await page.locator(selector).is_visible()


async def _has_row(page: Page, section: str, code: str) -> bool:
    return bool(await page.locator(f'{section} li.row[data-code="{code}"]').count())
