"""Asia/Ho_Chi_Minh time as integer epoch seconds, and its RFC 3339 text.

The feed works in whole epoch seconds and numbered local days because it makes millions of
timestamps: integer arithmetic is many times faster than datetime objects. Viet Nam has kept
UTC+7 with no daylight saving since 1975, so a fixed offset is exact for every date we simulate.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFSET = 7 * 3600
DAY = 86_400
HOUR = 3600
_EPOCH_DATE = date(1970, 1, 1)

# rfc3339() runs once or twice per event, so it caches the text of each minute it has seen;
# events crowd into office hours and every due date is at 17:00, so most calls hit the cache.
_SECOND_TEXT = tuple(f"{s:02d}+07:00" for s in range(60))
_minute_text: dict[int, str] = {}
_MINUTE_CACHE_SIZE = 100_000


def to_epoch(moment: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime (rejects naive ones: no guessed zone)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone")
    return int(moment.timestamp())


def from_epoch(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, TZ)


def local_day(ts: int) -> int:
    """The Asia/Ho_Chi_Minh calendar day of `ts`, numbered from 1970-01-01."""
    return (ts + OFFSET) // DAY


def day_start(day: int) -> int:
    """Epoch seconds of local midnight opening `day`."""
    return day * DAY - OFFSET


def day_date(day: int) -> date:
    return _EPOCH_DATE + timedelta(days=day)


def weekday(day: int) -> int:
    """Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def rfc3339(ts: int) -> str:
    """`2026-11-23T08:15:00+07:00` for epoch seconds `ts`."""
    minute, second = divmod(ts + OFFSET, 60)
    head = _minute_text.get(minute)
    if head is None:
        if len(_minute_text) >= _MINUTE_CACHE_SIZE:
            _minute_text.clear()
        day, of_day = divmod(minute, 1440)
        hour, mins = divmod(of_day, 60)
        head = _minute_text[minute] = f"{day_date(day).isoformat()}T{hour:02d}:{mins:02d}:"
    return head + _SECOND_TEXT[second]


def parse_local(text: str) -> datetime:
    """A date or datetime from the command line; without an offset it is local (Asia/Ho_Chi_Minh)."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment
