"""Reading the national portal's sync values liberally: codes, flags and dates as senders write them.

Senders differ (dvcqg-sync.md): a code or flag is `"1"`, `1`, `1.0` or `true`; a date is
`yyyyMMddHHmmss` in Viet Nam time, or ISO 8601, and `""` means missing. Each reader answers the
value, None for missing, or raises `Unreadable` with a message in Vietnamese and English that the
caller prefixes with the field's Vietnamese name.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7))
MAX_TEXT = 200  # characters of a code we read; a longer one is not a code

YES = frozenset({"1", "true", "yes", "y", "có", "co"})
NO = frozenset({"0", "false", "no", "n", "không", "khong"})
_DIGITS = re.compile(r"[0-9]{8}(?:[0-9]{4}(?:[0-9]{2})?)?")
_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")


class Unreadable(ValueError):
    """A value present but not readable as what its field holds."""


def code(value: object) -> str | None:
    """A code as text: `"1"`, `1`, `1.0` and `true` all read `"1"`; missing or blank is None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        raise Unreadable(f"{value!r} không phải là mã (not a code)")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TEXT:
            raise Unreadable(f"dài quá {MAX_TEXT} ký tự (longer than {MAX_TEXT} characters)")
        return text or None
    raise Unreadable("phải là chuỗi hoặc số (must be a string or a number)")


def flag(value: object) -> bool | None:
    """A yes/no flag: 1, "1", true, "True" are yes; 0, "0", false are no; missing or blank is None."""
    text = code(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    raise Unreadable(f"{_quote(text)} không phải là 0 hoặc 1 (must be 0 or 1)")


def instant(value: object) -> datetime | None:
    """A date: `yyyyMMddHHmmss` (also `yyyyMMddHHmm`, `yyyyMMdd`), `dd/MM/yyyy[ HH:mm[:ss]]` or ISO
    8601; without an offset it is Viet Nam time. Missing or blank is None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Unreadable("phải là chuỗi ngày giờ (must be a date string)")
    text = value.strip()
    if not text:
        return None
    try:
        return _parse(text)
    except ValueError:
        raise Unreadable(f"{_quote(text)} không phải là ngày giờ yyyyMMddHHmmss hoặc ISO 8601 "
                         "(not a date as yyyyMMddHHmmss or ISO 8601)") from None


def _parse(text: str) -> datetime:
    if _DIGITS.fullmatch(text):
        padded = text.ljust(14, "0")
        return datetime(int(padded[0:4]), int(padded[4:6]), int(padded[6:8]), int(padded[8:10]),
                        int(padded[10:12]), int(padded[12:14]), tzinfo=VIETNAM)
    if match := _DMY.fullmatch(text):
        day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM)
    if len(text) > 40:
        raise ValueError(text)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=VIETNAM) if moment.tzinfo is None else moment.astimezone(VIETNAM)


def rfc3339(moment: datetime) -> str:
    """The contract's form of an instant: Viet Nam time with its offset."""
    return moment.astimezone(VIETNAM).isoformat()


def compact(moment: datetime) -> str:
    """`yyyyMMddHHmmss` in Viet Nam time (with `.ffffff` when it has a fraction): sorts as time does,
    which event ids rely on."""
    local = moment.astimezone(VIETNAM)
    text = local.strftime("%Y%m%d%H%M%S")
    return f"{text}.{local.microsecond:06d}" if local.microsecond else text


def _quote(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")
