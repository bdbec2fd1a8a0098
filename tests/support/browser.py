"""The dashboard tests' pages: opened with the console watched, and an element's text, waited for
with a deadline."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.support.paths import ROOT
from tests.support.waiting import eventually

# Set to 1 to write the screenshots the README shows into docs/ as well: a test run leaves the
# repository's files as they were unless asked (their pixels vary from run to run).
UPDATE_DOCS_ENV = "UPDATE_DOC_SCREENSHOTS"


def screenshot_folders() -> list[Path]:
    """Where a test keeps its screenshots: tests/artifacts, and docs/ when UPDATE_DOC_SCREENSHOTS=1."""
    folders = [ROOT / "tests" / "artifacts"]
    if os.environ.get(UPDATE_DOCS_ENV) == "1":
        folders.append(ROOT / "docs")
    for folder in folders:
        folder.mkdir(exist_ok=True)
    return folders


async def watched_page(browser: Browser, viewport: ViewportSize,
                       scale: float = 1) -> tuple[BrowserContext, Page, list[str]]:
    """A page in a new Vietnamese-locale context, and the list its console errors and warnings and
    its script errors go to (a CSP violation, a failed request or a script error shows there)."""
    context = await browser.new_context(viewport=viewport, device_scale_factor=scale, locale="vi-VN")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


async def text_of(page: Page, selector: str) -> str | None:
    return await page.locator(selector).first.text_content(timeout=1000)


async def shows(page: Page, selector: str, text: str, deadline_s: float = 10) -> None:
    """Wait until the first element matching `selector` has exactly `text`."""
    seen: list[str | None] = [None]

    async def check() -> bool:
        seen[0] = await text_of(page, selector) if await page.locator(selector).count() else None
        return seen[0] == text
    try:
        await eventually(check, deadline_s, f"{selector} to show {text!r}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it shows {seen[0]!r}") from None
