"""The vocabulary of the figures records on `unit-figures` and `unit-days`: the counters, the
periods, the snapshots and the rates, and how a rate is computed from counters (docs/figures.md).

The aggregator writes these records and the API reads them, sums them over subtrees and serves
them; both take the names and the rates from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

# The counters kept in day buckets, in the order of a bucket's list. The pending snapshots are not
# here: they describe the present, not a day.
COUNTERS = (
    "received_total", "received_online", "received_in_person", "received_postal",
    "resolved_early", "resolved_on_time", "resolved_late", "resolved_total",
    "returned_rejected", "returned_supplement_requested", "returned_withdrawn", "returned_stopped",
    "returned_total",
    "resolution_seconds",
    "payment_reported", "payment_online", "digitised_reported", "digitised_yes",
    # Decision 766 as the portal computes it: each on the filing's receipt day (docs/figures.md).
    "portal_on_time", "portal_overdue", "portal_completed", "portal_processing_seconds", "portal_online",
    "full_online_filings", "full_online_eligible", "full_online_reported",
    "fee_filings", "fee_paid_online", "fee_reported",
    "paper_result_filings", "electronic_result_filings", "paper_result_reported",
    "portal_digitised",
    "data_reused_filings", "data_reused_reported",
    "personal_store_filings", "personal_store_reported",
    "population_db_filings", "population_db_reported",
    "ratings", "ratings_satisfied",
)
# The rolling periods, which end at as_of. Calendar periods ("2026-08", "2026-Q3", "2026") are
# named by calendar_periods() and published beside them.
PERIODS = ("today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date",
           "all_time")
# pending_*: press-style, judged now; portal_pending_*: Decision 766, judged at the period's cutoff.
SNAPSHOTS = ("pending_within_due", "pending_overdue", "portal_pending_on_time", "portal_pending_overdue")
RATES = ("online_rate", "on_time_rate", "avg_resolution_hours", "online_payment_share", "digitised_share")


def calendar_periods(today: date) -> dict[str, tuple[date, date]]:
    """The calendar periods published when `today` is as_of's day, each with its first and last day:
    the current month and the 12 before it (`2026-08`), every quarter of this year up to the current
    one and the four of last year (`2026-Q3`), this year and last (`2026`), newest first."""
    periods: dict[str, tuple[date, date]] = {}
    year, month = today.year, today.month
    for _ in range(13):
        first = date(year, month, 1)
        periods[f"{year:04d}-{month:02d}"] = (first, _month_after(first) - timedelta(days=1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    current_quarter = (today.month - 1) // 3 + 1
    for year, last_quarter in ((today.year, current_quarter), (today.year - 1, 4)):
        for quarter in range(last_quarter, 0, -1):
            first = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            periods[f"{year:04d}-Q{quarter}"] = (first, end - timedelta(days=1))
    for year in (today.year, today.year - 1):
        periods[f"{year:04d}"] = (date(year, 1, 1), date(year, 12, 31))
    return periods


def _month_after(first: date) -> date:
    return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def rates(c: Mapping[str, Any]) -> dict[str, float | None]:
    """The rates of any counters (one unit's, or summed over a subtree); None when undefined."""
    resolved = c["resolved_total"]
    return {
        "online_rate": _ratio(c["received_online"], c["received_total"]),
        # The headline: Decision 766's 2.1 as the portal computes it.
        "on_time_rate": _ratio(c["portal_on_time"] + c.get("portal_pending_on_time", 0), c["received_total"]),
        "avg_resolution_hours": _ratio(c["resolution_seconds"], resolved * 3600),
        "online_payment_share": _ratio(c["payment_online"], c["payment_reported"]),
        "digitised_share": _ratio(c["digitised_yes"], c["digitised_reported"]),
    }
