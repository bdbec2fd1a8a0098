"""Decision 766's indicators and scores for one unit (or one subtree) and one period, from its
counters, as the national portal computes them (docs/figures.md, "Decision 766 as the national
portal computes it").

Pure: no I/O. The API calls it for a single unit's period and for a subtree's, whose counters it has
summed first: a rollup scores the summed numerators and denominators, never an average of scores.

Every ratio and score is computed as an exact fraction and rounded once, to 2 decimals half up, as
the portal shows them (29/32 → 90.63 %, 18.13 points; binary floats would give 90.62 and 18.12).
Group and total scores are exact sums of the shown scores, so 18.13 + 0.1 is 18.23.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

SECONDS_PER_DAY = 86_400
NO_FILINGS = "NO_FILINGS"
TOTAL_POINTS = 100


@dataclass(frozen=True)
class Indicator:
    """One dossier ratio of Decision 766: which counters make it, when it is measured, its points."""

    indicator: str                # the Decision's number ("2.1"), or the spec's name where it has none
    code: str                     # the portal's metric code
    name: str
    group: int
    points: int                   # its maxScore when measured
    numerator: tuple[str, ...]    # period counters (and snapshots) summed
    denominator: str              # a period counter
    reported: str | None          # the all_time counter that makes it measured when > 0; None: always
    full_at: Fraction = Fraction(1)  # the share that earns full marks; below it, points × share / full_at


@dataclass(frozen=True)
class Group:
    group: int
    name: str
    points: int                   # the group's full points in the Decision, measured or not


GROUPS = (
    Group(1, "Công khai, minh bạch (transparency)", 18),
    Group(2, "Tiến độ, kết quả giải quyết (progress)", 20),
    Group(3, "Cung cấp dịch vụ trực tuyến, thanh toán (online service and payment)", 22),
    Group(4, "Số hóa hồ sơ (digitisation)", 22),
    Group(5, "Mức độ hài lòng (satisfaction)", 18),
)

# In the order the API shows them. Only these are decided by filings; every other indicator of the
# Decision needs data the product does not have, so it is in no maxScore.
INDICATORS = (
    Indicator("2.1", "ON_TIME_DOSSIER", "Hồ sơ giải quyết đúng hạn (on time)", 2, 20,
              ("portal_on_time", "portal_pending_on_time"), "received_total", None),
    # Shown with 0 points, as the portal shows it; its rule (full marks at 50 %) is kept so that its
    # points are one number to change.
    Indicator("3.3", "ONLINE_DOSSIER", "Hồ sơ trực tuyến (online filings)", 3, 0,
              ("portal_online",), "received_total", None, Fraction(1, 2)),
    # The portal's formula for full-online is not public: its default rule, points × ratio.
    Indicator("full-online", "FULL_ONLINE_DOSSIER", "Hồ sơ trực tuyến toàn trình (full-online filings)",
              3, 12, ("full_online_filings",), "full_online_eligible", "full_online_reported"),
    Indicator("3.6", "ONLINE_PAYMENT_DOSSIER", "Thanh toán trực tuyến (online payment)", 3, 6,
              ("fee_paid_online",), "fee_filings", "fee_reported"),
    Indicator("4.1", "ORIGINAL_RESULT_AVAILABLE", "Cấp kết quả điện tử (electronic result)", 4, 6,
              ("electronic_result_filings",), "paper_result_filings", "paper_result_reported"),
    Indicator("4.2", "SO_HOA_GIAY_TO_GIAI_QUYET", "Số hóa hồ sơ (digitised filings)", 4, 4,
              ("portal_digitised",), "received_total", "digitised_reported"),
    Indicator("4.3", "REUSED_DIGITIZED_DATA", "Tái sử dụng dữ liệu số hóa (reuse of digitised data)", 4, 2,
              ("data_reused_filings",), "received_total", "data_reused_reported", Fraction(4, 5)),
    Indicator("4.4", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
              "Kho dữ liệu cá nhân trên Cổng DVCQG (personal data store)", 4, 4,
              ("personal_store_filings",), "received_total", "personal_store_reported"),
    Indicator("4.5b", "CITIZEN_DATA_CONNECTED_DOSSIER",
              "Khai thác CSDL quốc gia về dân cư (population database)", 4, 2,
              ("population_db_filings",), "received_total", "population_db_reported"),
    Indicator("5.4", "DOSSIER_RECEIVING_SATISFACTION",
              "Hài lòng tiếp nhận, giải quyết hồ sơ (satisfaction)", 5, 6,
              ("ratings_satisfied",), "ratings", "ratings", Fraction(9, 10)),
)
ON_TIME = INDICATORS[0]


def round_half_up(value: Fraction | int, places: int = 2) -> float:
    """`value` rounded to `places` decimals, halves away from zero, as the portal shows figures:
    Fraction(90625, 1000) → 90.63. Exact: a float argument is refused, since its binary value is
    already off (90.625 happens to be exact, 1.005 is not)."""
    return float(_rounded(value, places))


def _rounded(value: Fraction | int, places: int = 2) -> Fraction:
    # The rounded value as an exact fraction, so that sums of shown figures stay exact.
    if isinstance(value, float) or not isinstance(value, Fraction | int):
        raise TypeError(f"round_half_up needs an exact Fraction or int, not {type(value).__name__}")
    scale = 10 ** places
    scaled = abs(Fraction(value)) * scale
    units = math.floor(scaled + Fraction(1, 2))
    return Fraction(units if value >= 0 else -units, scale)


def indicator_score(share: Fraction, points: int, full_at: Fraction = Fraction(1)) -> Fraction:
    """The exact points a share (0..1) earns: full marks from `full_at` up, below it in proportion."""
    return points * min(Fraction(1), share / full_at)


def score_period(period: Mapping[str, int], all_time: Mapping[str, int]) -> dict[str, Any]:
    """Decision 766's figures of one period: `period` holds every counter and snapshot of
    services/contract/figures.py (summed over a subtree for a rollup), `all_time` the same unit's or
    subtree's all_time counters, which say whether a field was ever reported (measured)."""
    scored = [_score_indicator(spec, period, all_time) for spec in INDICATORS]
    measured = [one for one in scored if one.shown_score is not None]
    return {
        "noFilings": period["received_total"] == 0,
        "progress": _progress(period, scored[0].row),
        "indicators": [one.row for one in scored],
        "groups": [_group_total(group, [one for one in measured if one.spec.group == group.group])
                   for group in GROUPS],
        "total": {**_sum_of(measured), "points": TOTAL_POINTS},
    }


@dataclass(frozen=True)
class _Scored:
    spec: Indicator
    row: dict[str, Any]
    shown_score: Fraction | None  # the score as shown, exactly (None: not measured), for the sums


def _score_indicator(spec: Indicator, period: Mapping[str, int], all_time: Mapping[str, int]) -> _Scored:
    row: dict[str, Any] = {"indicator": spec.indicator, "code": spec.code, "name": spec.name}
    # Not measured (no filing of the unit ever carried the field) is null, never 0: a 0 would be a
    # judgement the product cannot make.
    if spec.reported is not None and all_time[spec.reported] <= 0:
        row |= {"numerator": None, "denominator": None, "ratio": None, "score": None,
                "maxScore": spec.points, "measured": False, "flags": []}
        return _Scored(spec, row, None)
    numerator = sum(period[name] for name in spec.numerator)
    denominator = period[spec.denominator]
    if not 0 <= numerator <= denominator:
        # Counters that break this were written or summed wrongly; a ratio above 100 % would hide it.
        raise ValueError(f"{spec.indicator} ({spec.code}): numerator {numerator} is not within "
                         f"0..denominator {denominator}")
    if denominator == 0:
        # As the portal shows a unit without filings: 0 of its points, not missing.
        ratio, score, flags = Fraction(0), Fraction(0), [NO_FILINGS]
    else:
        share = Fraction(numerator, denominator)
        ratio, score, flags = 100 * share, indicator_score(share, spec.points, spec.full_at), []
    shown_score = _rounded(score)
    row |= {"numerator": numerator, "denominator": denominator, "ratio": round_half_up(ratio),
            "score": float(shown_score), "maxScore": spec.points, "measured": True, "flags": flags}
    return _Scored(spec, row, shown_score)


def _progress(period: Mapping[str, int], on_time: Mapping[str, Any]) -> dict[str, Any]:
    # The unit's row of the portal's progress answer (dvc-progress-tree): 2.1, with 2.2 beside it.
    completed = period["portal_completed"]
    days = Fraction(period["portal_processing_seconds"], SECONDS_PER_DAY * completed) if completed else 0
    return {
        "totalReceived": on_time["denominator"],
        "totalOnTime": on_time["numerator"],
        "totalOverdue": on_time["denominator"] - on_time["numerator"],
        "totalCompleted": completed,
        "avgProcessingDays": round_half_up(days),
        "ratio": on_time["ratio"],
        "score": on_time["score"],
        "maxScore": ON_TIME.points,
    }


def _group_total(group: Group, measured: list[_Scored]) -> dict[str, Any]:
    # A group none of whose indicators is measured (transparency always; satisfaction before any
    # rating) has no score: null, like an indicator, rather than a 0 it did not earn.
    totals = _sum_of(measured) if measured else {"score": None, "maxScore": 0}
    return {"group": group.group, "name": group.name, **totals, "points": group.points}


def _sum_of(measured: list[_Scored]) -> dict[str, Any]:
    score = sum((one.shown_score for one in measured if one.shown_score is not None), Fraction(0))
    return {"score": float(score), "maxScore": sum(one.spec.points for one in measured)}
