"""The simulated sender's working calendar: working days, office hours, due dates.

Only the sender's calendar matters to the figures, and it reaches them through `due_at`: the
aggregator never recomputes a due date. So this calendar can stay simple: Monday to Friday minus
the fixed-date public holidays. Tết and the Hùng Kings' day follow the lunar calendar and change
every year; they are left out on purpose rather than guessed.
"""

from __future__ import annotations

import random
from functools import cache, lru_cache

from services.simulator.localtime import HOUR, day_date, day_start, local_day, weekday

# New Year, Reunification Day, Labour Day, National Day and the day before it.
FIXED_HOLIDAYS = frozenset({(1, 1), (4, 30), (5, 1), (9, 1), (9, 2)})

OFFICE_OPEN = 7 * HOUR + 30 * 60  # 07:30
OFFICE_CLOSE = 17 * HOUR  # 17:00, also the time of day of every due date
DUE_TIME = OFFICE_CLOSE


@cache
def is_working_day(day: int) -> bool:
    if weekday(day) >= 5:
        return False
    d = day_date(day)
    return (d.month, d.day) not in FIXED_HOLIDAYS


@lru_cache(maxsize=65_536)
def add_working_days(day: int, count: int) -> int:
    """The `count`-th working day after `day` (count ≥ 1); `day` itself never counts."""
    if count < 1:
        raise ValueError("count must be at least 1")
    found = 0
    while found < count:
        day += 1
        if is_working_day(day):
            found += 1
    return day


def due_at(submitted: int, working_days: int) -> int:
    """The due time for a filing received at `submitted`: 17:00 on the n-th working day after.

    Counting starts the day after receipt, as one-stop software does, so a filing received on
    a Friday evening with one working day is due on Monday at 17:00.
    """
    return day_start(add_working_days(local_day(submitted), working_days)) + DUE_TIME


def office_moment(rng: random.Random, day: int, not_before: int = 0) -> int | None:
    """A random second of office hours on `day`, no earlier than `not_before`; None if none left."""
    opens = day_start(day) + OFFICE_OPEN
    closes = day_start(day) + OFFICE_CLOSE
    first = max(opens, not_before)
    if first >= closes:
        return None
    return first + rng.randrange(closes - first)
