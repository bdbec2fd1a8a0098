"""The one place every service reads "now" from.

By default the machine's clock. With `ONESTOP_CLOCK_START` set (an RFC 3339 instant with an
offset), a clock that reads that instant when the service starts and then runs at the machine's
pace: the test suite pins the calendar (a Sunday, the first of a month, 1 January) for every
service at once without touching the machine's clock, and figures whose rules follow the clock
(the overdue count, rolling periods) still move.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Clock = Callable[[], float]  # epoch seconds now
CLOCK_START_ENV = "ONESTOP_CLOCK_START"


def running_from(start: datetime, monotonic: Clock = time.monotonic) -> Clock:
    """A clock that reads `start` now and runs forward from it at the machine's pace."""
    began = monotonic()
    origin = start.timestamp()
    return lambda: origin + (monotonic() - began)


def frozen_at(moment: datetime) -> Clock:
    """A clock that always reads `moment` (replays whose figures must not move)."""
    instant = moment.timestamp()
    return lambda: instant


class ClockSettings(BaseSettings):
    """`ONESTOP_CLOCK_START`: shared by every service, so that they agree on the calendar."""

    model_config = SettingsConfigDict(env_prefix="ONESTOP_", extra="ignore", env_ignore_empty=True)

    clock_start: datetime | None = None
    _clock: Clock | None = PrivateAttr(default=None)

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("must have an offset, e.g. 2026-12-06T09:00:00+07:00")
        return value

    def clock(self) -> Clock:
        """The clock, made once: every part of a process reads the same one. (A child process started
        later gets the start where this clock then reads: `handed_on`.)"""
        if self._clock is None:
            self._clock = time.time if self.clock_start is None else running_from(self.clock_start)
        return self._clock

    def handed_on(self, clock: Clock) -> dict[str, str]:
        """The environment for a child process started now: its clock starts where `clock` reads, so
        that processes started one after another agree (each started clock runs from its own start).
        Nothing with the machine's clock, which every process reads alike."""
        if self.clock_start is None:
            return {}
        return {CLOCK_START_ENV: datetime.fromtimestamp(clock(), UTC).isoformat()}
