"""Reading a page in the dashboard tests: an element's text, waited for with a deadline."""

from __future__ import annotations

from playwright.async_api import Page

from tests.support.waiting import eventually


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
