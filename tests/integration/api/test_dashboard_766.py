"""The 766 view and the trend charts in a real headless Chromium, against the real broker and API, as
a person uses them: on a desktop and on a 390-pixel phone, the page shows the API's Decision 766
score, groups, indicators (each with the filings it is short of full marks and of its target, as
the API's shortfalls say), rank and ranked children, its charts hold the API's series, a calendar
period is picked from the list, and a new figure reaches the page without a reload. Screenshots go
to tests/artifacts/, and to docs/ (the README shows them) with UPDATE_DOC_SCREENSHOTS=1."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, ViewportSize

from services.common.kafka_settings import KafkaSettings
from services.contract.figures import COUNTERS, PERIODS
from tests.support.api import ADMIN, WARD_A, WARD_B, api_settings, figures_producer, period, running_api
from tests.support.browser import screenshot_folders, shows, text_of, watched_page
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
SHOTS = {"desktop": "dashboard-766.png", "phone": "dashboard-766-phone.png"}
NBSP, MINUS = "\u00a0", "\u2212"
THIS_MONTH, LAST_MONTH = "2026-12", "2026-11"  # the suite's clock: Sunday 6 December 2026


def vi_score(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}".replace(".", ",")


def vi_count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def vi_percent(x: float | None) -> str:
    return "—" if x is None else f"{vi_score(x)}{NBSP}%"


def unit_record(unit: str, month: dict[str, int], last_month: dict[str, int],
                older: dict[str, int] | None = None, **reported: int) -> dict[str, Any]:
    """This month's counts in every rolling period but all_time and in 2026-12, last month's in
    2026-11, `older` in 2026-10; all_time is their sum plus `reported` (which makes indicators measured)."""
    months = {THIS_MONTH: month, LAST_MONTH: last_month, "2026-10": older or {}}
    all_time = {name: sum(m.get(name, 0) for m in months.values()) for name in COUNTERS}
    for name, value in reported.items():
        all_time[name] = all_time.get(name, 0) + value
    periods = {p: period(**month) for p in PERIODS}
    periods["all_time"] = period(**all_time)
    periods.update({name: period(**counts) for name, counts in months.items()})
    return {"unit_code": unit, "as_of": "2026-12-06T10:00:00.000+07:00", "day": "2026-12-06",
            "periods": periods}


RECORDS = (
    # 2.1: 34/40 = 85 %, 17.00; 3.6: 7/10, 4.20; 5.4: 8/10, full at 90 %: 5.33; 3.3 shown at 0 points.
    unit_record(WARD_A, dict(received_total=40, received_online=30, portal_online=30, portal_on_time=30,
                             portal_pending_on_time=4, fee_filings=10, fee_paid_online=7, ratings=10,
                             ratings_satisfied=8),
                dict(received_total=30, received_online=20, portal_online=20, portal_on_time=27),
                dict(received_total=12, received_online=3, portal_online=3, portal_on_time=6),
                fee_reported=10),
    unit_record(WARD_B, dict(received_total=50, received_online=20, portal_online=20, portal_on_time=35),
                dict(received_total=44, received_online=11, portal_online=11, portal_on_time=40)),
    unit_record("31.S06", dict(received_total=100, received_online=80, portal_online=80, portal_on_time=60,
                               portal_pending_overdue=5),
                dict(received_total=90, received_online=70, portal_online=70, portal_on_time=81)),
    unit_record("31.S06.01", dict(received_total=20, received_online=20, portal_online=20, portal_on_time=19),
                dict(received_total=10, received_online=9, portal_online=9, portal_on_time=10)),
)
DAYS = {(WARD_A, "2026-12-01"): dict(received_total=9, received_online=6, portal_on_time=6, portal_overdue=2),
        (WARD_A, "2026-12-03"): dict(received_total=5, received_online=5, portal_on_time=4),
        (WARD_B, "2026-12-03"): dict(received_total=6, received_online=1, portal_on_time=1, portal_overdue=3)}


async def publish_days(kafka: KafkaSettings) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    try:
        for (unit, day), counts in DAYS.items():
            row = {"unit_code": unit, "day": day, **{name: counts.get(name, 0) for name in COUNTERS}}
            await producer.send_and_wait(kafka.days_topic, orjson.dumps(row), key=f"{unit}|{day}".encode())
    finally:
        await producer.stop()


async def test_the_766_view_and_its_charts_on_a_desktop_and_a_phone(kafka_settings: KafkaSettings,
                                                                    browser: Browser) -> None:
    await publish_days(kafka_settings)
    async with figures_producer(kafka_settings) as publish:
        await publish(*RECORDS)
        async with running_api(api_settings(kafka_settings)) as api:
            client = api.client

            async def days_served() -> bool:
                days = (await client.get("/v1/units/31/trends")).json()["days"]
                return bool(days[2]["received_total"] == 11)
            await eventually(days_served, 20, "the API to read unit-days")
            # 2.1's target for the ward: 34/40 this month is 2 filings short of 90 %, November's 27/30 on it.
            answer = await client.put(f"/v1/admin/targets/{WARD_A}/on_time_rate/2026", json={"value": 0.9},
                                      headers=ADMIN)
            assert answer.status_code == 200, answer.text

            async def target_served() -> bool:
                answer = await client.get(f"/v1/units/{WARD_A}/filings", params={"period": "month_to_date"})
                return any(s["target"] == 0.9 for s in answer.json()["shortfalls"])
            await eventually(target_served, 10, "the API to read the target")
            await on_screen(browser, "phone", PHONE, client, api.url, publish)
            await on_screen(browser, "desktop", DESKTOP, client, api.url, publish)


async def on_screen(browser: Browser, name: str, viewport: ViewportSize, client: httpx.AsyncClient, url: str,
                    publish: Any) -> None:
    context, page, problems = await watched_page(browser, viewport)
    try:
        await check_766_view(page, client, url, viewport)
        if name == "desktop":
            await check_calendar_period_and_live(page, client, publish)
    finally:
        for folder in screenshot_folders():
            await page.screenshot(path=str(folder / SHOTS[name]), full_page=True)
        await context.close()
    # A CSP violation (Chart.js included), a failed request or a script error shows here.
    assert problems == [], problems


async def check_766_view(page: Page, client: httpx.AsyncClient, url: str, viewport: ViewportSize) -> None:
    await page.goto(f"{url}/#u=31&p=month_to_date")
    await shows(page, "h1", "Thành phố Hải Phòng")
    score = (await client.get("/v1/units/31/score", params={"period": "month_to_date"})).json()
    await score_matches(page, score)
    assert await shortfalls_match(page, client, "31", "month_to_date", score) == []  # no filings of its own
    await shows(page, "#score766 .score-rank", "Đơn vị cấp cao nhất: không xếp hạng")
    href = await page.locator("#report-xlsx").get_attribute("href")
    assert href == "/v1/reports/targets?figure=online_rate&period=month_to_date&unit=31&format=xlsx"
    workbook = await client.get(href)
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")  # a zip: the .xlsx

    # The children ranked by score, in the API's order, each with its score of its measured points.
    children = (await client.get("/v1/units/31/children/scores", params={"period": "month_to_date"})).json()
    ranked = [row for row in children["units"] if row["rank"] is not None]
    assert [r["code"] for r in ranked[:3]] == [WARD_A, WARD_B, "31.S06"]  # 83 %, 70 %, 79/120 of 20 points

    async def ranking_is_the_apis() -> bool:
        rows = page.locator("#rank-score li.row")
        return [await rows.nth(i).get_attribute("data-code") for i in range(await rows.count())] == \
            [r["code"] for r in ranked[:10]]
    await eventually(ranking_is_the_apis, 5, "the score ranking in the API's order")
    first = ranked[0]
    assert await text_of(page, f'#rank-score li[data-code="{WARD_A}"] .value') == \
        f"{vi_score(first['score'])} / {first['maxScore']}" == "26,53 / 32"

    # The charts hold the API's series, and are drawn.
    trends = (await client.get("/v1/units/31/trends")).json()
    months = await chart_data(page, "chart-months")
    assert months["labels"][-1] == "12/2026" and len(months["labels"]) == 13
    assert months["data"][0] == [m["score"] for m in trends["months"]]
    assert months["data"][1] == [percent(m["on_time_rate"]) for m in trends["months"]]
    assert months["data"][2] == [percent(m["online_rate"]) for m in trends["months"]]
    assert months["data"][1][-2:] == [percent(158 / 174), percent(148 / 210)]  # 2.1 summed over the units
    days = await chart_data(page, "chart-days")
    assert days["labels"] == ["01/12", "02/12", "03/12", "04/12", "05/12", "06/12"]
    assert days["data"][1] == [percent(d["on_time_rate"]) for d in trends["days"]]
    assert days["data"][1][:3] == [75.0, None, 62.5]  # 6/8 decided; none; (4 + 1)/(4 + 4)
    assert days["data"][0] == [d["score"] for d in trends["days"]]
    spread = await chart_data(page, "chart-spread")
    assert spread["data"][0] == [percent(r["share"]) for r in ranked]
    assert spread["labels"][0] == next(r["name"] for r in ranked if r["code"] == WARD_A)
    for canvas in ("chart-months", "chart-days", "chart-spread"):
        box = await page.locator(f"#{canvas}").bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150, canvas
        assert await page.evaluate(f"Chart.getChart('{canvas}').getDatasetMeta(0).data.length") > 0
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], "nothing wider than the screen"

    # A department whose office has filings too: its own filings' shortfalls, said to be its own.
    await page.evaluate("location.hash = 'u=31.S06&p=month_to_date'")
    department = (await client.get("/v1/units/31.S06/score", params={"period": "month_to_date"})).json()
    await score_matches(page, department)
    own = await shortfalls_match(page, client, "31.S06", "month_to_date", department)
    assert [(s["indicator"], s["numerator"], s["denominator"]) for s in own] == \
        [("2.1", 60, 100), ("3.3", 80, 100)]  # of 79/120 and 100/120 with the office's

    # A ward: its own score, and its rank among the province's units as the API ranks it.
    await page.evaluate(f"location.hash = 'u={WARD_A}&p=month_to_date'")
    ward = (await client.get(f"/v1/units/{WARD_A}/score", params={"period": "month_to_date"})).json()
    await score_matches(page, ward)
    # Under each indicator with filings, the API's shortfalls: 2.1 short of both, 3.3 at full marks.
    short = await shortfalls_match(page, client, WARD_A, "month_to_date", ward)
    assert {s["indicator"]: (s["to_full_marks"], s["to_target"]) for s in short} == \
        {"2.1": (6, 2), "3.3": (0, None), "3.6": (3, None), "5.4": (1, None)}
    assert ward["total"] == {"score": 26.53, "maxScore": 32, "points": 100}  # 17.00 + 4.20 + 5.33
    await shows(page, "#score766 .score-rank",
                f"Hạng {first['rank']}/{len(children['units'])} trong các đơn vị cùng cấp")
    await shows(page, '#score766 tr[data-indicator="5.4"] .lost', f"{MINUS}0,67")


async def check_calendar_period_and_live(page: Page, client: httpx.AsyncClient, publish: Any) -> None:
    # Last month, picked from the list of calendar periods.
    await page.select_option("#calendar-period", LAST_MONTH)
    await page.wait_for_url(f"**p={LAST_MONTH}")
    november = (await client.get(f"/v1/units/{WARD_A}/score", params={"period": LAST_MONTH})).json()
    await score_matches(page, november)
    assert november["progress"]["ratio"] == 90.0
    # 3.6 and 5.4 are measured but had no filings in November: no line.
    short = await shortfalls_match(page, client, WARD_A, LAST_MONTH, november)
    assert {s["indicator"]: (s["to_full_marks"], s["to_target"]) for s in short} == \
        {"2.1": (3, 0), "3.3": (0, None)}
    await shows(page, "#calendar-period option:checked", "Tháng 11/2026")

    # Live: a new record for the ward reaches the page through the stream, without a reload.
    await page.evaluate("window.notReloaded = true")
    november = dict(received_total=30, received_online=20, portal_online=20, portal_on_time=30)
    await publish(unit_record(WARD_A, dict(received_total=40, portal_on_time=30), november))

    async def api_has_it() -> bool:
        answer = await client.get(f"/v1/units/{WARD_A}/score", params={"period": LAST_MONTH})
        return bool(answer.json()["progress"]["ratio"] == 100.0)
    await eventually(api_has_it, 10, "the API to take the new record")
    answer = await client.get(f"/v1/units/{WARD_A}/score", params={"period": LAST_MONTH})
    await score_matches(page, answer.json())
    assert await page.evaluate("window.notReloaded") is True

    # Back to the province's month, for the screenshot.
    await page.evaluate("location.hash = 'u=31&p=month_to_date'")
    province = await client.get("/v1/units/31/score", params={"period": "month_to_date"})
    await score_matches(page, province.json())


async def score_matches(page: Page, score: dict[str, Any]) -> None:
    """The page shows this score answer: total, every group, every indicator's ratio, points and loss."""
    total = score["total"]
    await shows(page, "#score766 .score-total .value", vi_score(total["score"]))
    await shows(page, "#score766 .score-total .of", f"/ {total['maxScore']} điểm")
    for group in score["groups"]:
        value = ("Chưa đo được" if group["score"] is None
                 else f"{vi_score(group['score'])} / {group['maxScore']}")
        await shows(page, f'#score766 li[data-group="{group["group"]}"] .value', value)
    for indicator in score["indicators"]:
        row = f'#score766 tr[data-indicator="{indicator["indicator"]}"]'
        if not indicator["measured"]:
            await shows(page, f"{row} .ratio", "Chưa đo")
            continue
        lost = round(indicator["maxScore"] - indicator["score"], 2)
        await shows(page, f"{row} .ratio", vi_percent(indicator["ratio"]))
        await shows(page, f"{row} .points", f"{vi_score(indicator['score'])} / {indicator['maxScore']}")
        await shows(page, f"{row} .lost", f"{MINUS}{vi_score(lost)}" if lost else "0,00")


# Which way a filing must go for each indicator, as the page says it (score766.js WAYS).
WAYS = {"2.1": "đúng hạn", "3.3": "nộp trực tuyến", "full-online": "trực tuyến toàn trình",
        "3.6": "thanh toán trực tuyến", "4.1": "có kết quả điện tử", "4.2": "được số hóa",
        "4.3": "tái sử dụng dữ liệu số hóa", "4.4": "đồng bộ Kho dữ liệu cá nhân",
        "4.5b": "khai thác CSDL quốc gia về dân cư", "5.4": "được đánh giá hài lòng"}


def shortfall_line(short: dict[str, Any], indicator: dict[str, Any]) -> str:
    """The line the page shows under `indicator` for the API's shortfall `short`."""
    way = WAYS[short["indicator"]]
    text = ("đạt điểm tối đa" if short["to_full_marks"] == 0 else
            f"cần thêm {vi_count(short['to_full_marks'])} hồ sơ {way} để đạt điểm tối đa")
    if short["to_target"] is not None:
        text += (" · đã đạt mục tiêu" if short["to_target"] == 0
                 else f" · {vi_count(short['to_target'])} hồ sơ để đạt mục tiêu")
    if (short["numerator"], short["denominator"]) == (indicator["numerator"], indicator["denominator"]):
        return text[0].upper() + text[1:]
    return f"Riêng hồ sơ của đơn vị ({vi_count(short['numerator'])}/{vi_count(short['denominator'])}): {text}"


async def shortfalls_match(page: Page, client: httpx.AsyncClient, unit: str, period_name: str,
                           score: dict[str, Any]) -> list[dict[str, Any]]:
    """Under each indicator of the 766 view, the API's shortfall for the unit and period, and no line
    under the others; the API's shortfalls returned."""
    answer = await client.get(f"/v1/units/{unit}/filings", params={"period": period_name})
    shortfalls: list[dict[str, Any]] = answer.json()["shortfalls"]
    indicators = {row["indicator"]: row for row in score["indicators"]}
    for short in shortfalls:
        await shows(page, f'#score766 tr[data-indicator="{short["indicator"]}"] + tr.shortfall td',
                    shortfall_line(short, indicators[short["indicator"]]))

    async def only_those() -> bool:
        lines = await page.eval_on_selector_all("#score766 tr.shortfall",
                                                "rows => rows.map(r => r.dataset.shortfall)")
        return bool(lines == [s["indicator"] for s in shortfalls])
    await eventually(only_those, 10, f"lines under {[s['indicator'] for s in shortfalls]} only")
    return shortfalls


def percent(rate: float | None) -> float | None:
    """As charts.js: Math.round(rate × 10000) / 100."""
    return None if rate is None else math.floor(rate * 10000 + 0.5) / 100


async def chart_data(page: Page, canvas: str) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(f"""() => {{
        const chart = Chart.getChart('{canvas}');
        return {{labels: chart.data.labels, data: chart.data.datasets.map((d) => d.data)}};
    }}""")
    return result
