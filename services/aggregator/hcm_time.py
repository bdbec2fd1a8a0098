"""Time as the counting rules see it: instants in integer microseconds, days as Ho Chi Minh day ordinals.

Why integers: a unit's figures are sums of many filings' contributions applied in any order, and
integer sums are exact and order-free where float sums are not. Microseconds are the finest unit
`datetime` keeps, so the batch oracle (which uses `datetime`) sees the very same instants; digits
beyond the sixth fractional digit are dropped (truncated), as `datetime.fromisoformat` does.

A day is `date.toordinal()` of the Asia/Ho_Chi_Minh calendar day (UTC+7 all year, no DST since
1975): one integer division per instant, and `date.fromordinal` turns it back into a date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

US_PER_SECOND: Final = 1_000_000
DAY_US: Final = 86_400 * US_PER_SECOND
HCM_OFFSET_US: Final = 7 * 3_600 * US_PER_SECOND
# day ordinal = (instant + DAY_SHIFT_US) // DAY_US: the offset to local time and the epoch's
# ordinal folded into one constant, so the hot path pays one addition and one division.
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
DAY_SHIFT_US: Final = HCM_OFFSET_US + _EPOCH_ORDINAL * DAY_US

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
_fromisoformat: Final = datetime.fromisoformat


def parse_instant(text: str) -> int:
    """An RFC 3339 timestamp with an explicit offset (schema-valid) as microseconds since the epoch."""
    return instant_us(_fromisoformat(text))


def instant_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch.

    Integer arithmetic on its fields, with the offset of each time zone worked out once: half the
    cost of `(moment - epoch) // timedelta(microseconds=1)`, which builds two timedeltas (the
    packer converts one or two timestamps per event). Exact over datetime's whole range, unlike
    `timestamp()`, a float; a property test holds it to the subtraction.
    """
    zone = moment.tzinfo
    last = _LAST_ZONE[0]  # one item, (zone, offset): a reader in another thread sees a pair
    if zone == last[0]:
        offset: int = last[1]
    else:
        found = _OFFSETS.get(zone)
        if found is None:
            found = _OFFSETS[zone] = moment.utcoffset() // _ONE_US  # type: ignore[operator]  # aware
        offset = found
        _LAST_ZONE[0] = (zone, offset)
    seconds = (moment.toordinal() - _EPOCH_ORDINAL) * 86_400 + moment.hour * 3_600 \
        + moment.minute * 60 + moment.second
    return seconds * US_PER_SECOND + moment.microsecond - offset


# Offsets of the time zones seen, in microseconds: a few dozen at most (±HH:MM).
_OFFSETS: Final[dict[tzinfo | None, int]] = {}
# The last time zone seen and its offset. A feed's timestamps nearly all carry the same offset, and
# `datetime.fromisoformat` makes a new timezone object for each: comparing two costs about a tenth of
# hashing one to look it up in _OFFSETS. UTC first: a naive datetime (no zone) never matches.
_LAST_ZONE: Final[list[Any]] = [(UTC, 0)]


def format_instant(instant_us: int) -> str:
    """The inverse of parse_instant, in UTC: e.g. 2026-11-23T05:05:00.123456+00:00."""
    return (_EPOCH + instant_us * _ONE_US).isoformat()


def hcm_day(instant_us: int) -> int:
    """The Ho Chi Minh calendar day (a `date.toordinal()` number) of an instant."""
    return (instant_us + DAY_SHIFT_US) // DAY_US


def day_start_us(day: int) -> int:
    """The first instant of a Ho Chi Minh day (an ordinal): the inverse of hcm_day."""
    return day * DAY_US - DAY_SHIFT_US


def day_iso(day: int) -> str:
    """'YYYY-MM-DD' of a day ordinal."""
    return date.fromordinal(day).isoformat()


def day_from_iso(text: str) -> int:
    """The day ordinal of 'YYYY-MM-DD'."""
    return date.fromisoformat(text).toordinal()


def epoch_to_us(seconds: float) -> int:
    """Epoch seconds (e.g. `time.time()`) as integer microseconds."""
    return round(seconds * US_PER_SECOND)


def format_as_of(instant_us: int) -> str:
    """RFC 3339 in Ho Chi Minh time with milliseconds (truncated), e.g. 2026-11-23T14:05:00.123+07:00."""
    local = instant_us + HCM_OFFSET_US
    day, in_day = divmod(local, DAY_US)
    seconds, us = divmod(in_day, US_PER_SECOND)
    hours, rest = divmod(seconds, 3_600)
    minutes, secs = divmod(rest, 60)
    ymd = day_iso(day + _EPOCH_ORDINAL)
    return f"{ymd}T{hours:02d}:{minutes:02d}:{secs:02d}.{us // 1000:03d}+07:00"
