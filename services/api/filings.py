"""The filings behind a unit's figures, as the aggregator last published them on `unit-filings`
(services/aggregator/late_filings.py; docs/figures.md, "The filings behind a figure"): the latest
record per unit, a page of one of its lists, the list as CSV or .xlsx, and, per indicator, how many
filings would have had to go the other way for the unit to reach full marks or its target.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from datetime import date
from fractions import Fraction
from typing import Any

import orjson
import xlsxwriter

from services.api.ranking import csv_cell
from services.api.targets import TargetBook
from services.contract.portal_scores import INDICATORS, Indicator

LISTS = ("overdue_now", "due_soon", "late")
MAX_PER_PAGE = 100  # the aggregator keeps at most 100 filings a list (late_filings.LIST_BOUND)
COLUMNS = ("filing_id", "procedure_code", "received_at", "due_at", "days_over", "hours_left", "reason")
# The target figure that judges an indicator (services/api/targets.py): only where the figure is the
# indicator's own ratio. on_time_rate is 2.1; online_rate, online_payment_share and digitised_share
# count other fields than 3.3, 3.6 and 4.2 (docs/figures.md), so a target of theirs judges no indicator.
TARGET_FIGURE = {"2.1": "on_time_rate"}


class FilingsView:
    """The latest `unit-filings` record of every unit, kept as published (bytes) and parsed when asked
    for: a busy province's lists, up to 100 filings for each of some 28 lists per unit, take far less
    memory as JSON text than as Python objects in every replica."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def apply(self, unit_code: str, value: bytes | None) -> None:
        """One record of `unit-filings`; the latest offset wins, as compaction keeps it."""
        if value is None:
            self.records.pop(unit_code, None)
            return
        record = orjson.loads(value)
        if not isinstance(record, dict) or not all(isinstance(record.get(name), dict) for name in LISTS):
            raise ValueError("not a unit-filings record: no overdue_now, due_soon and late objects")
        self.records[unit_code] = bytes(value)

    def get(self, unit_code: str) -> dict[str, Any] | None:
        value = self.records.get(unit_code)
        return None if value is None else orjson.loads(value)


def chosen_list(record: Mapping[str, Any], which: str, period: str) -> dict[str, Any] | None:
    """The record's list `which` (for `late`, of `period`): its exact count and its kept filings;
    None when the record holds no such period."""
    if which == "late":
        found = record["late"].get(period)
        return found if isinstance(found, dict) else None
    return record[which]


def page_of(filings: list[dict[str, Any]], page: int, per_page: int) -> list[dict[str, Any]]:
    start = (page - 1) * per_page
    return filings[start:start + per_page]


def _row(filing: Mapping[str, Any]) -> list[Any]:
    return [filing.get(name) for name in COLUMNS]


def filings_csv(filings: list[dict[str, Any]]) -> str:
    """One row per filing; a text cell that a spreadsheet would read as a formula gets a leading '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for filing in filings:
        writer.writerow([csv_cell(v) for v in _row(filing)])
    return out.getvalue()


def filings_xlsx(filings: list[dict[str, Any]]) -> bytes:
    """The CSV's rows in one sheet: numbers as numbers, text always as text (never a formula)."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet("filings")
    bold = workbook.add_format({"bold": True})
    for column, name in enumerate(COLUMNS):
        sheet.write_string(0, column, name, bold)
    for number, filing in enumerate(filings, start=1):
        for column, value in enumerate(_row(filing)):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(number, column, value)
            else:
                sheet.write_number(number, column, value)
    sheet.set_column(0, 3, 28)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return out.getvalue()


# -- how many filings from full marks or the target ------------------------------------------------

def filings_to_reach(numerator: int, denominator: int, share: Fraction) -> int | None:
    """The fewest filings that, going the other way (late to on time, offline to online, ...), bring
    numerator/denominator to at least `share`: 0 when it is there already; None when no number can
    (no filings, or a share above 1)."""
    if denominator <= 0 or share > 1:
        return None
    return max(0, math.ceil(share * denominator) - numerator)


def exact_share(value: float) -> Fraction:
    """A target as the decimal it was written as: 0.3 is 3/10, not the binary float just above it
    (whose 10 filings would need 4 rather than 3)."""
    return Fraction(repr(value))


def shortfalls(indicators: list[dict[str, Any]], targets: TargetBook, unit_code: str, period: str,
               today: date) -> list[dict[str, Any]]:
    """For each measured indicator with filings in the period (score_period's rows): the filings
    short of full marks, and of the unit's target for it where it has one."""
    specs: dict[str, Indicator] = {spec.indicator: spec for spec in INDICATORS}
    out = []
    for row in indicators:
        spec = specs[row["indicator"]]
        numerator, denominator = row["numerator"], row["denominator"]
        if not row["measured"] or not denominator:
            continue
        figure = TARGET_FIGURE.get(spec.indicator)
        target = None if figure is None else targets.lookup(unit_code, figure, period, today)
        out.append({
            "indicator": spec.indicator, "code": spec.code, "numerator": numerator,
            "denominator": denominator, "full_at": float(spec.full_at),
            "to_full_marks": filings_to_reach(numerator, denominator, spec.full_at),
            "target_figure": figure, "target": None if target is None else target.value,
            "to_target": None if target is None else filings_to_reach(numerator, denominator,
                                                                      exact_share(target.value)),
        })
    return out
