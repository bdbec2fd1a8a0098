"""The dashboard's accessibility in a real headless Chromium, against the real broker and API, with
figures, scores, trends and filing lists published: axe-core's WCAG 2 A/AA rules (colour contrast
included; axe-playwright-python's copy of axe, nothing from the internet) find no violation on a
desktop or a 390-pixel phone, in the views people use (a province's overview, a ward's 766 view and
its filings lists, the national view); and the page works from the keyboard: Tab reaches the controls
in reading order, each with a visible focus ring, and Enter, Space and the arrow keys do what a click
does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, ViewportSize

from services.common.kafka_settings import KafkaSettings
from tests.integration.api.test_dashboard_766 import RECORDS, publish_days, unit_record
from tests.integration.api.test_dashboard_filings import publish_filings
from tests.integration.api.test_dashboard_filings import records as filings_records
from tests.integration.api.test_dashboard_national_browser import RECORDS as NATIONAL_RECORDS
from tests.support.api import (
    ADMIN,
    UNITS,
    WARD_A,
    WARD_B,
    WARD_OUTSIDE,
    Api,
    api_settings,
    figures_producer,
    figures_record,
    running_api,
)
from tests.support.browser import shows, watched_page
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
# axe's tags for the success criteria of WCAG 2.0, 2.1 and 2.2 at levels A and AA; color-contrast
# is one of wcag2aa's rules.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE = Axe()
RULES_THAT_APPLY = {"color-contrast", "button-name", "link-name", "select-name", "aria-valid-attr-value",
                    "aria-required-children", "target-size"}

# A ward with filings overdue now (the overdue card and list in red), beside the 766 test's units.
OVERDUE_WARD = unit_record(WARD_OUTSIDE, dict(received_total=8, received_online=2, portal_online=2,
                                              portal_on_time=3, portal_overdue=2, pending_overdue=3,
                                              pending_within_due=1, returned_total=1),
                           dict(received_total=4, portal_on_time=4))
# More wards, for rankings longer than the rows shown at first (a "more" button).
EXTRA_WARDS = tuple(figures_record(u.code, received_total=1, received_online=1) for u in UNITS
                    if u.level in ("ward", "commune"))[3:15]
# Online-rate targets met by some and missed by others: the gaps in green and in red.
TARGETS = (("31", 0.9), ("31.S06", 0.7), (WARD_A, 0.5), (WARD_B, 0.85))


async def violations(page: Page) -> list[str]:
    """axe's WCAG 2 A/AA violations on the page as it is, one line each: id, impact, the nodes."""
    results = await AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA},
                                           "resultTypes": ["violations"]})
    found: list[dict[str, Any]] = results.response["violations"]
    # A check of the check: the rules that matter here ran (passes list them, if not their nodes).
    ran = {rule["id"] for rule in results.response["passes"] + found}
    assert ran >= RULES_THAT_APPLY, f"axe did not run {RULES_THAT_APPLY - ran}"
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"]) for v in found]


@asynccontextmanager
async def dashboard_api(kafka: KafkaSettings) -> AsyncIterator[Api]:
    """The API with every view's data read: the 766 records, days and filing lists, the overdue
    ward, the extra wards, and the online-rate targets."""
    await publish_days(kafka)
    _, filings = filings_records()
    await publish_filings(kafka, filings)
    async with figures_producer(kafka) as publish:
        await publish(*RECORDS, OVERDUE_WARD, *EXTRA_WARDS)
        async with running_api(api_settings(kafka)) as api:
            await set_targets(api.client)
            await eventually(lambda: served(api.client), 20, "the API to read unit-days and unit-filings")
            yield api


async def set_targets(client: httpx.AsyncClient) -> None:
    for unit, value in TARGETS:
        answer = await client.put(f"/v1/admin/targets/{unit}/online_rate/2026", json={"value": value},
                                  headers=ADMIN)
        assert answer.status_code == 200, answer.text


async def served(client: httpx.AsyncClient) -> bool:
    filings = (await client.get(f"/v1/units/{WARD_A}/filings")).json()
    days = (await client.get("/v1/units/31/trends")).json()["days"]
    return bool(filings["count"] == 27 and days[2]["received_total"] == 11)


async def test_no_axe_violation_on_a_desktop_and_a_phone(kafka_settings: KafkaSettings,
                                                         browser: Browser) -> None:
    async with dashboard_api(kafka_settings) as api:
        for viewport in (PHONE, DESKTOP):
            context, page, problems = await watched_page(browser, viewport)
            try:
                found = await views_found(page, api.url)
            finally:
                await context.close()
            assert found == {}, "\n".join(f"{view} at {viewport['width']} px:\n  " + "\n  ".join(lines)
                                         for view, lines in found.items())
            assert problems == [], problems


async def views_found(page: Page, url: str) -> dict[str, list[str]]:
    """Each view, opened and filled, with what axe finds on it."""
    found: dict[str, list[str]] = {}

    async def check(view: str) -> None:
        lines = await violations(page)
        if lines:
            found[view] = lines

    # The province's overview: headline, 766 score, rankings, charts; the live stream connected.
    await page.goto(f"{url}/#u=31&p=month_to_date")
    await shows(page, "h1", "Thành phố Hải Phòng")
    await shows(page, "#live", "Trực tiếp")
    await page.locator("#rank-online .more").click()  # every unit: the gaps met in green, missed in red
    await eventually(lambda: _count_at_least(page, "#rank-online li.row .gap.missed", 1), 10, "the gaps")
    await eventually(lambda: _count_at_least(page, "#overdue li.row", 1), 10, "the overdue list")
    await check("the province's overview")

    # A calendar month picked: the picker and the pressed period shown as chosen.
    await page.select_option("#calendar-period", "2026-11")
    await page.wait_for_url("**p=2026-11")
    await shows(page, "#calendar-period option:checked", "Tháng 11/2026")
    await check("a calendar month")

    # A ward: its 766 table and rank, and its filings lists with their pages.
    await page.evaluate(f"location.hash = 'u={WARD_A}&p=month_to_date'")
    await shows(page, "#filings766 .page", "Trang 1/2")
    await eventually(lambda: _starts(page, "#score766 .score-rank", "Hạng "), 10, "the ward's rank")
    await check("a ward's 766 view and its overdue filings")
    await page.locator("#filings766 .pager.next").click()
    await shows(page, "#filings766 .page", "Trang 2/2")
    await check("the second page of overdue filings")
    await page.locator("#filings766 [role=tab][data-list=late]").click()
    await eventually(lambda: _starts(page, "#filings766 .filing-count", "33 hồ sơ tính trễ hạn"), 10,
                     "the late filings")
    await shows(page, "#filings766 .page", "Trang 1/2")
    await check("the late filings")

    # An address naming no unit: the error said on the page.
    await page.evaluate("location.hash = 'u=nope&p=today'")
    await shows(page, "#error", "Không có đơn vị mã nope; đang hiển thị đơn vị cấp cao nhất.")
    await check("an unknown unit's address")
    return found


async def test_no_axe_violation_in_the_national_view(kafka_settings: KafkaSettings,
                                                     browser: Browser) -> None:
    async with figures_producer(kafka_settings) as publish:
        await publish(*NATIONAL_RECORDS)
        async with running_api(api_settings(kafka_settings, seed_province="31,01")) as api:
            async def ranked() -> bool:
                rollup = (await api.client.get("/v1/units/VN/rollup")).json()
                return bool(rollup.get("units_with_figures") == len(NATIONAL_RECORDS))
            await eventually(ranked, 20, "the records in the view")
            for viewport in (PHONE, DESKTOP):
                context, page, problems = await watched_page(browser, viewport)
                try:
                    found = await national_found(page, api.url)
                finally:
                    await context.close()
                assert found == [], f"the national view at {viewport['width']} px:\n  " + "\n  ".join(found)
                assert problems == [], problems


async def national_found(page: Page, url: str) -> list[str]:
    """The country's page, its provinces ranked: what axe finds on it."""
    await page.goto(url + "/")
    await shows(page, "h1", "Việt Nam")
    await eventually(lambda: _count_at_least(page, "#national-ranking li.row", 2), 10, "the provinces ranked")
    return await violations(page)


# The keyboard ------------------------------------------------------------------------------------

# What the focused element is, in words a test can compare: its kind, and where it is.
FOCUSED = """() => {
  const el = document.activeElement;
  if (el === null || el === document.body) return "body";
  const section = el.closest("section[id], nav[id], #periods")?.id ?? "";
  if (el.matches("#periods button")) return `period ${el.dataset.period}`;
  if (el.matches("[role=tab]")) return `tab ${el.dataset.list}`;
  if (el.matches(".pager")) return `pager ${el.classList.contains("next") ? "next" : "prev"}`;
  if (el.matches(".more")) return `more ${section}`;
  if (el.matches("li.row a")) return `unit ${section} ${el.closest("li").dataset.code}`;
  if (el.matches(".table-wrap")) return `table ${section}`;
  if (el.matches("#breadcrumb a")) return `crumb ${new URLSearchParams(el.hash.slice(1)).get("u")}`;
  if (el.id) return `${el.tagName.toLowerCase()} #${el.id}`;
  if (el.matches("a")) return `link ${section} ${el.className || el.getAttribute("href")}`;
  return `${el.tagName.toLowerCase()} ${section}`;
}"""

# The focused element's ring: its outline and shadow as drawn with the keyboard's focus on it, and as
# drawn without (blurred, then focused again: after a key press, Chromium matches :focus-visible on a
# focus given by a script too); and whether it is on the screen.
RING = """() => {
  const el = document.activeElement;
  const look = () => {
    const s = getComputedStyle(el);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow };
  };
  const focused = look();
  el.blur();
  const unfocused = look();
  el.focus();
  const box = el.getBoundingClientRect();
  const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight;
  return { focused, unfocused, onScreen, back: document.activeElement === el };
}"""


def ring_problem(key: str, ring: dict[str, Any]) -> str | None:
    """What is wrong with the focus indicator of `key`, if anything: it must be an outline of at least
    2 px (or a shadow) that the element does not have unfocused, on the screen."""
    now, before = ring["focused"], ring["unfocused"]
    drawn = (now["style"] not in ("none", "hidden", "auto") and now["width"] >= 2) or now["shadow"] != "none"
    if not drawn or now == before:
        return f"{key}: no visible focus ring (focused {now}, unfocused {before})"
    if not ring["onScreen"] or not ring["back"]:
        return f"{key}: focused off the screen"
    return None


async def focused(page: Page) -> str:
    key: str = await page.evaluate(FOCUSED)
    return key


async def tab_to(page: Page, key: str, limit: int = 80) -> list[str]:
    """Press Tab until `key` has the focus; the keys passed on the way, `key` last."""
    seen: list[str] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        seen.append(await focused(page))
        if seen[-1] == key:
            return seen
    raise AssertionError(f"Tab never reached {key} in {limit} presses: {seen}")


async def _count_at_least(page: Page, selector: str, n: int) -> bool:
    return await page.locator(selector).count() >= n


async def _starts(page: Page, selector: str, text: str) -> bool:
    return (await page.locator(selector).text_content() or "").startswith(text)


async def rows_of(page: Page, section: str) -> list[str]:
    codes: list[str] = await page.eval_on_selector_all(f"#{section} li.row",
                                                       "rows => rows.map(r => r.dataset.code)")
    return codes


async def test_the_keyboard_reaches_and_works_every_control(kafka_settings: KafkaSettings,
                                                            browser: Browser) -> None:
    async with dashboard_api(kafka_settings) as api:
        context, page, problems = await watched_page(browser, DESKTOP)
        try:
            await tab_order_and_rings(page, api.url)
            await keys_on_the_province(page, api.client, api.url)
            await keys_on_the_filings(page, api.client, api.url)
        finally:
            await context.close()
        assert problems == [], problems


async def province_page(page: Page, url: str) -> None:
    """The province's page freshly loaded (not a change of the address's hash), no focus on it."""
    await page.goto("about:blank")
    await page.goto(f"{url}/#u=31&p=month_to_date")
    await shows(page, "h1", "Thành phố Hải Phòng")
    await eventually(lambda: _count_at_least(page, "#overdue li.row", 1), 10, "the overdue list")
    await eventually(lambda: _count_at_least(page, "#rank-score li.row", 1), 10, "the score ranking")
    await eventually(lambda: _count_at_least(page, "#filings766 a.csv[href]", 1), 10, "the export links")


async def tab_order_and_rings(page: Page, url: str) -> None:
    """From the top of the province's page to its last link: every control in the order it reads,
    top to bottom, each list's units in their rank order, each with a focus ring."""
    await province_page(page, url)
    units = {section: await rows_of(page, section)
             for section in ("rank-score", "rank-online", "rank-on-time", "overdue")}
    assert len(units["rank-online"]) == 10 and len(units["overdue"]) >= 1, units
    more = {s for s in units if await page.locator(f"#{s} .more").is_visible()}
    assert "rank-online" in more  # more than 10 units with a rate: the first 10 shown

    def listed(section: str) -> list[str]:
        rows = [f"unit {section} {c}" for c in units[section]]
        return [*rows, f"more {section}"] if section in more else rows
    expected = [
        *(f"period {p}" for p in ("today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date",
                                  "year_to_date")),
        "select #calendar-period",
        "table score766",
        "tab overdue_now",  # one stop for the three tabs
        "table filings766",
        "link filings766 csv", "link filings766 xlsx",
        *listed("rank-score"),
        *listed("rank-online"),
        "a #report-xlsx", "a #report-csv",
        *listed("rank-on-time"),
        *listed("overdue"),
        "link  /docs",
    ]
    walked: list[str] = []
    rings: list[str] = []
    for _ in range(len(expected) + 10):
        await page.keyboard.press("Tab")
        walked.append(await focused(page))
        problem = ring_problem(walked[-1], await page.evaluate(RING))
        if problem:
            rings.append(problem)
        if walked[-1] == "link  /docs":
            break
    assert walked == expected
    assert rings == []


async def keys_on_the_province(page: Page, client: httpx.AsyncClient, url: str) -> None:
    await province_page(page, url)
    # Space and Enter on the period buttons pick the period, as a click does.
    assert await tab_to(page, "period today") == ["period today"]
    await page.keyboard.press("Space")
    await page.wait_for_url("**p=today")
    await eventually(lambda: _attribute_is(page, '#periods [data-period="today"]', "aria-pressed", "true"), 5,
                     "today pressed")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**p=last_7_days")

    # Enter on "more" shows the whole ranking, and says so; Space folds it again.
    await tab_to(page, "more rank-online")
    assert await page.get_attribute("#rank-online .more", "aria-expanded") == "false"
    await page.keyboard.press("Enter")
    await eventually(lambda: _count_at_least(page, "#rank-online li.row", 11), 5, "the whole ranking")
    assert await page.get_attribute("#rank-online .more", "aria-expanded") == "true"
    assert await focused(page) == "more rank-online"
    await page.keyboard.press("Space")
    await eventually(lambda: _attribute_is(page, "#rank-online .more", "aria-expanded", "false"), 5,
                     "the ranking folded")

    # Enter on a unit's link drills into it; the focus goes to its name, and Tab then to the crumb
    # that leads back, where Enter goes back.
    first = (await rows_of(page, "rank-online"))[0]
    await page.keyboard.press("Shift+Tab")
    await tab_to(page, f"unit rank-online {first}")
    await page.keyboard.press("Enter")
    name = (await client.get(f"/v1/units/{first}")).json()["unit"]["name"]
    await shows(page, "h1", name)
    await eventually(lambda: _focus_is(page, "h1 #unit-name"), 5, "the focus on the unit's name")
    assert ring_problem("h1", await page.evaluate(RING)) is None
    assert await tab_to(page, "crumb 31") == ["crumb 31"]
    await page.keyboard.press("Enter")
    await shows(page, "h1", "Thành phố Hải Phòng")
    await eventually(lambda: _focus_is(page, "h1 #unit-name"), 5, "the focus on the province's name")


async def keys_on_the_filings(page: Page, client: httpx.AsyncClient, url: str) -> None:
    """The filings' tabs as WAI-ARIA's tabs: the arrows move the focus, Enter or Space picks the list,
    as a click does; paging by Enter keeps the focus on the pager."""
    base = f"/v1/units/{WARD_A}/filings"
    await page.goto("about:blank")
    await page.goto(f"{url}/#u={WARD_A}&p=month_to_date")
    await shows(page, "#filings766 .page", "Trang 1/2")
    await tab_to(page, "tab overdue_now")
    await page.keyboard.press("ArrowRight")
    assert await focused(page) == "tab due_soon"
    assert await page.get_attribute("#filings-tab-due_soon", "aria-selected") == "false"  # not picked yet
    await page.keyboard.press("Enter")
    soon = (await client.get(base, params={"list": "due_soon", "per_page": 20})).json()["filings"]
    await filings_are(page, [f["filing_id"] for f in soon])
    assert await page.get_attribute("#filings-tab-due_soon", "aria-selected") == "true"
    assert await page.get_attribute("#filings-panel", "aria-labelledby") == "filings-tab-due_soon"
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Space")
    late = (await client.get(base, params={"list": "late", "period": "month_to_date", "per_page": 20})).json()
    await filings_are(page, [f["filing_id"] for f in late["filings"]])
    assert await focused(page) == "tab late"
    for key, tab in (("ArrowRight", "overdue_now"), ("End", "late"), ("Home", "overdue_now"),
                     ("ArrowLeft", "late")):
        await page.keyboard.press(key)
        assert await focused(page) == f"tab {tab}", key
    # The list shown is the one Tab stops at; from it, Tab goes on into the list.
    tabs = ("overdue_now", "due_soon", "late")
    assert [await page.get_attribute(f"#filings-tab-{t}", "tabindex") for t in tabs] == ["-1", "-1", "0"]
    assert await tab_to(page, "pager next") == ["table filings766", "pager next"]  # "previous" is disabled
    await page.keyboard.press("Enter")
    await shows(page, "#filings766 .page", "Trang 2/2")
    late_2 = (await client.get(base, params={"list": "late", "period": "month_to_date", "per_page": 20,
                                             "page": 2})).json()
    await filings_are(page, [f["filing_id"] for f in late_2["filings"]])
    # "next" is disabled on the last page: the focus is on "previous", not lost to the page's top.
    assert await focused(page) == "pager prev"
    await page.keyboard.press("Space")
    await shows(page, "#filings766 .page", "Trang 1/2")
    assert await focused(page) == "pager next"


async def filings_are(page: Page, ids: list[str]) -> None:
    async def check() -> bool:
        shown = await page.eval_on_selector_all("#filings766 tbody tr",
                                                "rows => rows.map(r => r.dataset.filing)")
        return bool(shown == ids)
    await eventually(check, 10, f"the filings {ids[:3]}...")


async def _attribute_is(page: Page, selector: str, name: str, value: str) -> bool:
    return await page.get_attribute(selector, name) == value


async def _focus_is(page: Page, key: str) -> bool:
    return await focused(page) == key
