"""The vocabulary of the figures records on `unit-figures` and `unit-days`: the counters, the
periods, the snapshots and the rates, and how a rate is computed from counters (docs/figures.md).

The aggregator writes these records and the API reads them, sums them over subtrees and serves
them; both take the names and the rates from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The counters kept in day buckets, in the order of a bucket's list. The pending snapshots are not
# here: they describe the present, not a day.
COUNTERS = (
    "received_total", "received_online", "received_in_person", "received_postal",
    "resolved_early", "resolved_on_time", "resolved_late", "resolved_total",
    "returned_rejected", "returned_supplement_requested", "returned_withdrawn", "returned_total",
    "resolution_seconds",
    "payment_reported", "payment_online", "digitised_reported", "digitised_yes",
)
PERIODS = ("today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date",
           "all_time")
SNAPSHOTS = ("pending_within_due", "pending_overdue")
RATES = ("online_rate", "on_time_rate", "avg_resolution_hours", "online_payment_share", "digitised_share")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def rates(c: Mapping[str, Any]) -> dict[str, float | None]:
    """The rates of any counters (one unit's, or summed over a subtree); None when undefined."""
    within = c.get("pending_within_due", 0)
    returned = c["returned_total"]
    resolved = c["resolved_total"]
    handled = resolved + returned + within + c.get("pending_overdue", 0)
    in_time = c["resolved_early"] + c["resolved_on_time"] + returned + within
    return {
        "online_rate": _ratio(c["received_online"], c["received_total"]),
        "on_time_rate": _ratio(in_time, handled),
        "avg_resolution_hours": _ratio(c["resolution_seconds"], resolved * 3600),
        "online_payment_share": _ratio(c["payment_online"], c["payment_reported"]),
        "digitised_share": _ratio(c["digitised_yes"], c["digitised_reported"]),
    }
