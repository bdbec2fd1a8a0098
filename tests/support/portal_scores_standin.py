"""A stand-in for services/contract/portal_scores.py while it is written on another branch: the same
`score_period` interface, just enough of docs/figures.md ("Decision 766 as the national portal
computes it") for the API's tests to have true figures to reshape. tests/unit/api/conftest.py puts it
in place only when the real module is missing, so once that lands the API's tests run against it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

# (indicator, code, group, points, numerator counters, denominator, all_time "reported" counter, full at)
_SPECS = (
    ("2.1", "ON_TIME_DOSSIER", 2, 20, ("portal_on_time", "portal_pending_on_time"), "received_total", None,
     1),
    ("3.3", "ONLINE_DOSSIER", 3, 0, ("portal_online",), "received_total", None, Fraction(1, 2)),
    ("full_online", "FULL_ONLINE_DOSSIER", 3, 12, ("full_online_filings",), "full_online_eligible",
     "full_online_reported", 1),
    ("3.6", "ONLINE_PAYMENT_DOSSIER", 3, 6, ("fee_paid_online",), "fee_filings", "fee_reported", 1),
    ("4.1", "ORIGINAL_RESULT_AVAILABLE", 4, 6, ("electronic_result_filings",), "paper_result_filings",
     "paper_result_reported", 1),
    ("4.2", "SO_HOA_GIAY_TO_GIAI_QUYET", 4, 4, ("portal_digitised",), "received_total", "digitised_reported",
     1),
    ("4.3", "REUSED_DIGITIZED_DATA", 4, 2, ("data_reused_filings",), "received_total", "data_reused_reported",
     Fraction(4, 5)),
    ("4.4", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", 4, 4, ("personal_store_filings",), "received_total",
     "personal_store_reported", 1),
    ("4.5b", "CITIZEN_DATA_CONNECTED_DOSSIER", 4, 2, ("population_db_filings",), "received_total",
     "population_db_reported", 1),
    ("5.4", "DOSSIER_RECEIVING_SATISFACTION", 5, 6, ("ratings_satisfied",), "ratings", "ratings",
     Fraction(9, 10)),
)
_GROUPS = ((1, "transparency", 18), (2, "progress", 20), (3, "online service and payment", 22),
           (4, "digitisation", 22), (5, "satisfaction", 18))


def _half_up(value: Fraction) -> Fraction:
    return Fraction(int(value * 100 + Fraction(1, 2)), 100)


def score_period(period: Mapping[str, int], all_time: Mapping[str, int]) -> dict[str, Any]:
    rows, shown = [], {}
    for indicator, code, group, points, numerators, denominator_name, reported, full_at in _SPECS:
        row: dict[str, Any] = {"indicator": indicator, "code": code, "name": code.lower(), "maxScore": points}
        if reported is not None and all_time[reported] <= 0:
            rows.append({**row, "numerator": None, "denominator": None, "ratio": None, "score": None,
                         "measured": False, "flags": []})
            continue
        numerator, denominator = sum(period[n] for n in numerators), period[denominator_name]
        share = Fraction(numerator, denominator) if denominator else Fraction(0)
        score = _half_up(points * min(Fraction(1), share / full_at))
        shown[code] = (group, score, points)
        rows.append({**row, "numerator": numerator, "denominator": denominator,
                     "ratio": float(_half_up(100 * share)), "score": float(score), "measured": True,
                     "flags": [] if denominator else ["NO_FILINGS"]})
    on_time = rows[0]
    completed = period["portal_completed"]
    days = Fraction(period["portal_processing_seconds"], 86_400 * completed) if completed else Fraction(0)
    groups = []
    for number, name, points in _GROUPS:
        mine = [(s, p) for g, s, p in shown.values() if g == number]
        groups.append({"group": number, "name": name,
                       "score": float(sum(s for s, _ in mine)) if mine else None,
                       "maxScore": sum(p for _, p in mine), "points": points})
    return {
        "noFilings": period["received_total"] == 0,
        "progress": {"totalReceived": on_time["denominator"], "totalOnTime": on_time["numerator"],
                     "totalOverdue": on_time["denominator"] - on_time["numerator"],
                     "totalCompleted": completed,
                     "avgProcessingDays": float(_half_up(days)), "ratio": on_time["ratio"],
                     "score": on_time["score"], "maxScore": 20},
        "indicators": rows,
        "groups": groups,
        "total": {"score": float(sum(s for _, s, _ in shown.values())),
                  "maxScore": sum(p for _, _, p in shown.values()), "points": 100},
    }


def install_if_missing() -> None:
    """This module as services.contract.portal_scores, unless the real one is there."""
    if importlib.util.find_spec("services.contract.portal_scores") is None:
        sys.modules["services.contract.portal_scores"] = sys.modules[__name__]
