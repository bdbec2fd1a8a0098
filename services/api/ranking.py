"""Rankings and the above/below-target report, as pure functions over plain standings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.api.rollup import LOWER_IS_BETTER


@dataclass(frozen=True, slots=True)
class Standing:
    """One unit's value of a figure over a period, and the target that judges it (if any)."""

    code: str
    name: str | None
    level: str | None
    value: float | None
    target: float | None = None
    target_period: str | None = None


def rank(standings: Iterable[Standing], figure: str) -> list[dict[str, Any]]:
    """Best first; equal values share a rank (1, 2, 2, 4); units without a value last, unranked.

    `gap` is value − target (negative: below the target); `met` says whether the target is reached,
    which for a lower-is-better figure means staying at or under it.
    """
    lower = figure in LOWER_IS_BETTER
    items = list(standings)
    valued = sorted(((s.value, s) for s in items if s.value is not None),
                    key=lambda vs: (vs[0] if lower else -vs[0], vs[1].code))
    rows: list[dict[str, Any]] = []
    previous: float | None = None
    current_rank = 0
    for position, (value, s) in enumerate(valued, start=1):
        if value != previous:
            current_rank, previous = position, value
        rows.append(_row(s, current_rank, lower))
    rows.extend(_row(s, None, lower) for s in sorted(items, key=lambda s: s.code) if s.value is None)
    return rows


def judged(value: float | None, target: float | None, lower: bool) -> tuple[float | None, bool | None]:
    """(gap, met) of a value against its target: value − target, and whether the target is reached
    (for a lower-is-better figure, at or under it); (None, None) when either is missing."""
    if value is None or target is None:
        return None, None
    gap = value - target
    return gap, gap <= 0 if lower else gap >= 0


def _row(s: Standing, rank_: int | None, lower: bool) -> dict[str, Any]:
    gap, met = judged(s.value, s.target, lower)
    return {"rank": rank_, "code": s.code, "name": s.name, "level": s.level, "value": s.value,
            "target": s.target, "target_period": s.target_period, "gap": gap, "met": met}


def target_report(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Ranked rows with a target, split: `above` met it, `below` did not, `no_value` had no figures
    to judge (no filings in the period). Rows without a target are left out."""
    report: dict[str, list[dict[str, Any]]] = {"above": [], "below": [], "no_value": []}
    for row in rows:
        if row["target"] is None:
            continue
        status = "no_value" if row["met"] is None else "above" if row["met"] else "below"
        report[status].append(row)
    return report


CSV_COLUMNS = ("status", "rank", "code", "name", "level", "value", "target", "target_period", "gap")
# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection): a text cell beginning
# with one of these gets a leading `'`, which spreadsheets take as "text". Numbers stay numbers: a
# negative gap is not a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: None as empty, a text that a spreadsheet would read as a formula with a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def report_csv(report: dict[str, list[dict[str, Any]]]) -> str:
    """The report as CSV, one row per unit: above first, then below, then no_value; every text cell
    from the registry (code, name, level) safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends, which spreadsheets expect
    writer.writerow(CSV_COLUMNS)
    for status in ("above", "below", "no_value"):
        for row in report[status]:
            writer.writerow([status, *(csv_cell(row[c]) for c in CSV_COLUMNS[1:])])
    return out.getvalue()
