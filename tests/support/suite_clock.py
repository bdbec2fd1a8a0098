"""The suite's "now": the one place the tests take the calendar from, never the machine's date.

Every service reads "now" from ONESTOP_CLOCK_START (services/common/clock.py). The autouse fixtures
of conftest.py set it for each test module and each test from the clock below, so every service a
test starts, in this process or as a child, is on the suite's calendar. That clock starts at SUNDAY
and runs at the machine's pace; `ONESTOP_CLOCK_START=<instant> make test` starts it elsewhere (any
instant after 2026-11-24: the fixed-date tests send events of 2026-11-20 to 2026-11-23 through the
ingest, which refuses events from its future). Tests whose figures turn on the calendar run at each
of INSTANTS instead, through `at_each_instant`.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from services.api.queries import HCM
from services.common.clock import ClockSettings

# 10:00 Ho Chi Minh time: well inside the day, so that no process, started a few seconds after
# another, is on another day; and inside office hours, so that live feeds send filings.
SUNDAY = datetime.fromisoformat("2026-12-06T10:00:00+07:00")  # the Sunday issue 12 found the suite red
FIRST_OF_MONTH = datetime.fromisoformat("2027-02-01T10:00:00+07:00")  # a Monday: the month is 3 hours old
NEW_YEAR = datetime.fromisoformat("2027-01-01T10:00:00+07:00")  # a Friday and a public holiday
INSTANTS = (SUNDAY, FIRST_OF_MONTH, NEW_YEAR)

at_each_instant = pytest.mark.parametrize("suite_now", INSTANTS, indirect=True,
                                          ids=["sunday", "first-of-month", "new-year"])

_START = ClockSettings().clock_start or SUNDAY
_clock = ClockSettings(clock_start=_START).clock()


def now() -> datetime:
    """The suite's running clock, in Ho Chi Minh time."""
    return datetime.fromtimestamp(_clock(), HCM)
