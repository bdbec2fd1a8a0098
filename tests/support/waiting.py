"""Polling until a condition holds, or failing with what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll `condition` until it holds or `timeout` seconds pass (then fail naming `what`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def async_wait_until(condition: Callable[[], bool], deadline_s: float, what: str,
                           every: float = 0.05) -> None:
    """Like `wait_until`, without blocking the event loop."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


async def eventually(check: Callable[[], Awaitable[bool]], deadline_s: float, what: str) -> None:
    """Like `async_wait_until`, for a condition that must itself be awaited."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
