"""The answers of the national portal's reporting API (docs: ../shared/docs/decision-766.md, "The
portal's reporting answers (shape)"), computed from our figures, so that a tool built on the portal
can read ours: a root unit (`parent`) and each unit directly below it (`children`), each scored over
its own subtree, with the portal's field names.

The parent is the root's subtree: the sum of its children plus any filings of the root unit itself
(normally none: a province receives through its departments and communes). Every row carries
`noFilings` (no filing received in the period), which the portal does not, because a unit without
filings shows ratio 0 and score 0 there and a reader must be able to tell it from a unit scoring 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.api.queries import State, subtree_records
from services.api.scores import records_score

# Our unit levels that the portal reports as communes (since 2025 its only levels are PROVINCE and
# COMMUNE); every other level (the province, its departments and their offices) is PROVINCE.
COMMUNE_LEVELS = frozenset({"commune", "ward", "special_zone"})

# Indicator codes of the portal's metrics lists, by answer, in the order the portal lists them.
ONLINE_CODES = ("ONLINE_DOSSIER", "FULL_ONLINE_DOSSIER", "ONLINE_PAYMENT_DOSSIER")
DIGITISATION_CODES = ("ORIGINAL_RESULT_AVAILABLE", "SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA",
                      "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "CITIZEN_DATA_CONNECTED_DOSSIER")
SATISFACTION_CODES = ("DOSSIER_RECEIVING_SATISFACTION",)
# The Decision's group numbers (score_period's `groups`) of the answers with a group score.
ONLINE_GROUP, DIGITISATION_GROUP, SATISFACTION_GROUP = 3, 4, 5

# The online tree's flat fields per indicator: (code, field prefix, numerator field, denominator field).
ONLINE_FIELDS = (
    ("ONLINE_DOSSIER", "online", "totalOnline", "totalReceived"),
    ("FULL_ONLINE_DOSSIER", "fullOnline", "totalFullOnline", "totalFullOnlineEligible"),
    ("ONLINE_PAYMENT_DOSSIER", "onlinePayment", "totalPaidOnline", "totalWithFee"),
)

# A metric of a metrics list: the portal's fields, and our indicator number and flags.
METRIC_FIELDS = ("code", "name", "indicator", "numerator", "denominator", "ratio", "score", "maxScore",
                 "flags")

Row = Callable[[dict[str, Any], bool], dict[str, Any]]  # (score_period's answer, is parent) → fields


def portal_level(level: str | None) -> str:
    return "COMMUNE" if level in COMMUNE_LEVELS else "PROVINCE"


def tree_answer(state: State, root: str, period: str, row: Row) -> dict[str, Any]:
    """`{"code": "OK", "data": {"parent": …, "children": […]}}` with `row`'s fields for each unit."""
    records = subtree_records(state, root)
    as_ofs = sorted(r.get("as_of", "") for r in records)
    parent = {**_identity(state, root), **row(records_score(records, period), True)}
    children = [{**_identity(state, child),
                 **row(records_score(subtree_records(state, child), period), False)}
                for child in state.tree.children(root)]
    return {"code": "OK", "message": "OK",
            "data": {"period": period, "asOf": as_ofs[-1] if as_ofs else None,
                     "parent": parent, "children": children}}


def _identity(state: State, code: str) -> dict[str, Any]:
    # Our unit code stands for the portal's departmentId (a UUID there) as well as its code.
    unit = state.tree.get(code)
    return {"departmentId": code, "departmentName": unit.name if unit else None, "departmentCode": code,
            "level": portal_level(unit.level if unit else None)}


def _score_fields(score: Any, max_score: Any, parent: bool) -> dict[str, Any]:
    # The portal names a parent's score fields totalScore and totalMaxScore, a child's score and maxScore.
    return ({"totalScore": score, "totalMaxScore": max_score} if parent
            else {"score": score, "maxScore": max_score})


def progress_row(scored: dict[str, Any], parent: bool) -> dict[str, Any]:
    """dvc-progress-tree: 2.1 and 2.2's average processing days."""
    p = scored["progress"]
    row = {"totalReceived": p["totalReceived"], "totalOnTime": p["totalOnTime"],
           "totalOverdue": p["totalOverdue"]}
    if parent:
        row["totalCompleted"] = p["totalCompleted"]
    return {**row, "avgProcessingDays": p["avgProcessingDays"], "ratio": p["ratio"],
            **_score_fields(p["score"], p["maxScore"], parent), "noFilings": scored["noFilings"]}


def online_row(scored: dict[str, Any], parent: bool) -> dict[str, Any]:
    """The online service and payment tree: 3.3, full-online and 3.6, each's counts, ratio, score and
    flags as flat fields, and the group's score over its measured indicators."""
    by_code = {i["code"]: i for i in scored["indicators"]}
    row: dict[str, Any] = {}
    for code, prefix, numerator, denominator in ONLINE_FIELDS:
        indicator = by_code[code]
        row |= {denominator: indicator["denominator"], numerator: indicator["numerator"],
                f"{prefix}Ratio": indicator["ratio"], f"{prefix}Score": indicator["score"],
                f"{prefix}MaxScore": indicator["maxScore"], f"{prefix}Flags": indicator["flags"]}
    group = _group(scored, ONLINE_GROUP)
    return {**row, **_score_fields(group["score"], group["maxScore"], parent),
            "noFilings": scored["noFilings"]}


def metrics_row(codes: tuple[str, ...], group_number: int) -> Row:
    """A metrics-list answer's row: the indicators `codes` as the portal lists metrics, then the group's
    score. A metric that is not measured keeps its nulls; its flags travel with it."""

    def row(scored: dict[str, Any], parent: bool) -> dict[str, Any]:
        by_code = {i["code"]: i for i in scored["indicators"]}
        metrics = [{key: by_code[code][key] for key in METRIC_FIELDS} for code in codes]
        group = _group(scored, group_number)
        return {"metrics": metrics, **_score_fields(group["score"], group["maxScore"], parent),
                "noFilings": scored["noFilings"]}

    return row


def _group(scored: dict[str, Any], number: int) -> dict[str, Any]:
    return next(g for g in scored["groups"] if g["group"] == number)
