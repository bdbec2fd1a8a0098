"""The monthly report as .xlsx holds the CSV's rows, read back with openpyxl (another implementation
than XlsxWriter, which wrote it): numbers as numbers, text as text even when it looks like a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook

from services.api.ranking import Standing, rank, report_csv, target_report
from services.api.report_xlsx import report_xlsx

STANDINGS = [Standing("31.S03", "Sở Tư pháp", "department", 0.9, 0.8, "2026"),
             Standing("11311", "=HYPERLINK(\"http://x\")", "ward", 0.5, 0.75, "2026-Q4"),
             Standing("11312", "+Xã B", "commune", None, 0.6, "2026"),
             Standing("11313", "Xã không mục tiêu", "commune", 0.4)]


def sheet_rows(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True)["targets"]
    return [["" if cell is None else cell for cell in row] for row in sheet.iter_rows(values_only=True)]


def test_the_workbook_holds_the_csv_rows() -> None:
    report = target_report(rank(STANDINGS, "online_rate"))
    rows = sheet_rows(report_xlsx(report, "online_rate"))
    from_csv = list(csv.reader(io.StringIO(report_csv(report))))
    assert len(rows) == len(from_csv) == 4  # header, above, below, no value: the unit without a target is out
    for cells, text in zip(rows, from_csv, strict=True):
        # The CSV marks formula-like text with a leading ' for spreadsheets; the workbook stores it as text.
        assert [str(c) for c in cells] == [t[1:] if t.startswith("'") else t for t in text]
    assert rows[1][:3] == ["above", 1, "31.S03"] and rows[1][5] == 0.9
    assert rows[2][3] == "=HYPERLINK(\"http://x\")" and rows[2][8] == -0.25
    assert rows[3][3] == "+Xã B" and rows[3][5] == ""


def test_no_cell_is_a_formula() -> None:
    report = target_report(rank(STANDINGS, "online_rate"))
    sheet = load_workbook(io.BytesIO(report_xlsx(report, "online_rate")))["targets"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet["F2"].number_format == "0.0%"
