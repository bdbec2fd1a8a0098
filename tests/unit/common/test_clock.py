"""The shared clock: the machine's, or one started at a set instant that runs from there."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from pydantic import ValidationError

from services.common.clock import ClockSettings, frozen_at, running_from


def test_a_started_clock_reads_its_start_and_then_runs_at_the_given_pace() -> None:
    ticks = iter([100.0, 100.0, 102.5])
    clock = running_from(datetime.fromisoformat("2026-12-06T09:00:00+07:00"), lambda: next(ticks))
    start = datetime.fromisoformat("2026-12-06T02:00:00+00:00").timestamp()
    assert clock() == start
    assert clock() == start + 2.5


def test_a_frozen_clock_never_moves() -> None:
    clock = frozen_at(datetime.fromisoformat("2026-01-01T00:00:00+07:00"))
    assert clock() == clock() == datetime.fromisoformat("2025-12-31T17:00:00+00:00").timestamp()


def test_without_a_start_the_clock_is_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONESTOP_CLOCK_START", raising=False)
    assert ClockSettings().clock() is time.time


def test_the_start_comes_from_the_environment_and_needs_an_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESTOP_CLOCK_START", "2026-03-01T00:00:00+07:00")
    start = datetime.fromisoformat("2026-03-01T00:00:00+07:00").timestamp()
    assert abs(ClockSettings().clock()() - start) < 5
    monkeypatch.setenv("ONESTOP_CLOCK_START", "2026-03-01T00:00:00")
    with pytest.raises(ValidationError, match="offset"):
        ClockSettings()


def test_one_settings_object_gives_one_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESTOP_CLOCK_START", "2026-03-01T00:00:00+07:00")
    settings = ClockSettings()
    assert settings.clock() is settings.clock()

def test_a_started_clock_is_handed_on_where_it_reads_now_and_the_machines_is_not() -> None:
    settings = ClockSettings(clock_start=datetime.fromisoformat("2027-01-01T10:00:00+07:00"))
    env = settings.handed_on(lambda: datetime.fromisoformat("2027-01-01T10:00:30+07:00").timestamp())
    child = ClockSettings.model_validate({"clock_start": env["ONESTOP_CLOCK_START"]})
    assert child.clock_start == datetime.fromisoformat("2027-01-01T10:00:30+07:00")
    assert ClockSettings(clock_start=None).handed_on(time.time) == {}
