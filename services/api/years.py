"""The years the API takes a date or a target period in: 2000 to 2099.

Figures are kept per Ho Chi Minh calendar day of this century; a date outside it is a mistake (and
9999-12-31 has no day after it to count to), so it is refused with a 422, never computed with."""

from __future__ import annotations

from datetime import date

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
# The same years in a regular expression, with ASCII digits: `\d` also matches other scripts' digits.
YEAR_PATTERN = "20[0-9]{2}"
