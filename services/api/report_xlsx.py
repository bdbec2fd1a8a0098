"""The above/below-target report as an Excel workbook (.xlsx): the CSV's rows and columns, numbers as
numbers, text always as text (a cell never becomes a formula, whatever the registry holds)."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from services.api.ranking import CSV_COLUMNS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Shares and gaps as percentages with one decimal, as the dashboard shows them.
PERCENT_COLUMNS = frozenset({"value", "target", "gap"})


def report_xlsx(report: dict[str, list[dict[str, Any]]], figure: str) -> bytes:
    """One sheet: a header, then above, below and no_value rows, as `report_csv` writes them."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet("targets")
    bold = workbook.add_format({"bold": True})
    percent = workbook.add_format({"num_format": "0.0%"}) if figure.endswith(("_rate", "_share")) else None
    for column, name in enumerate(CSV_COLUMNS):
        sheet.write_string(0, column, name, bold)
    row_number = 1
    for status in ("above", "below", "no_value"):
        for row in report[status]:
            for column, name in enumerate(CSV_COLUMNS):
                value = status if name == "status" else row[name]
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(row_number, column, value)
                else:
                    shown = percent if name in PERCENT_COLUMNS else None
                    sheet.write_number(row_number, column, value, shown)
            row_number += 1
    sheet.set_column(3, 3, 40)  # names
    sheet.freeze_panes(1, 0)
    workbook.close()
    return out.getvalue()
