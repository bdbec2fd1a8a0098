"""The product's 2.1 scoring against the portal's own answer: Phú Thọ, August 2026
(tests/data/portal-766-phu-tho-2026-08-progress.json, the portal's dvc-progress-tree for the province
and its 163 units). Fed each unit's counts, services/contract/portal_scores.py must show the portal's
ratio and score to the hundredth, for every unit and for the province scored from its units' sums."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.contract.figures import COUNTERS, SNAPSHOTS
from services.contract.portal_scores import score_period
from tests.support.paths import ROOT

ANSWER = json.loads((ROOT / "tests" / "data" / "portal-766-phu-tho-2026-08-progress.json")
                    .read_text(encoding="utf-8"))["data"]
PARENT: dict[str, Any] = ANSWER["parent"]
CHILDREN: list[dict[str, Any]] = ANSWER["children"]
# The portal's answer carries only 2.1's counts, so no other indicator is reported.
NOTHING_REPORTED = dict.fromkeys((*COUNTERS, *SNAPSHOTS), 0)


def counters_of(received: int, on_time: int) -> dict[str, int]:
    return NOTHING_REPORTED | {"received_total": received, "portal_on_time": on_time}


def test_the_answer_is_the_whole_province() -> None:
    # Guards the parametrisation below against a truncated or swapped file.
    assert (PARENT["departmentCode"], len(CHILDREN)) == ("H44", 163)


@pytest.mark.parametrize("row", CHILDREN, ids=[row["departmentCode"] for row in CHILDREN])
def test_every_unit_scores_as_the_portal_shows_it(row: dict[str, Any]) -> None:
    result = score_period(counters_of(row["totalReceived"], row["totalOnTime"]), NOTHING_REPORTED)
    progress = result["progress"]
    assert (progress["ratio"], progress["score"], progress["maxScore"]) == (row["ratio"], row["score"],
                                                                            row["maxScore"])
    assert progress["totalOverdue"] == row["totalOverdue"]
    on_time = result["indicators"][0]
    assert (on_time["indicator"], on_time["ratio"], on_time["score"]) == ("2.1", row["ratio"], row["score"])


def test_the_unit_with_29_of_32_on_time_needs_half_up_on_the_exact_value() -> None:
    # The one row of the month where binary floats round the other way (90.625 → 90.62, 18.125 →
    # 18.12): it is what makes exact rounding necessary, so keep it in the data.
    (row,) = [row for row in CHILDREN if (row["totalReceived"], row["totalOnTime"]) == (32, 29)]
    assert (row["ratio"], row["score"]) == (90.63, 18.13)
    assert (round(100 * 29 / 32, 2), round(20 * 29 / 32, 2)) == (90.62, 18.12)
    progress = score_period(counters_of(32, 29), NOTHING_REPORTED)["progress"]
    assert (progress["ratio"], progress["score"]) == (90.63, 18.13)


def test_the_province_is_its_units_summed_and_scored_from_the_sums() -> None:
    received = sum(row["totalReceived"] for row in CHILDREN)
    on_time = sum(row["totalOnTime"] for row in CHILDREN)
    assert (received, on_time) == (PARENT["totalReceived"], PARENT["totalOnTime"])
    progress = score_period(counters_of(received, on_time), NOTHING_REPORTED)["progress"]
    assert (progress["ratio"], progress["score"], progress["maxScore"]) == (
        PARENT["ratio"], PARENT["totalScore"], PARENT["totalMaxScore"])


def test_the_two_units_without_filings_show_ratio_0_score_0_and_no_filings() -> None:
    empty = [row for row in CHILDREN if row["totalReceived"] == 0]
    assert len(empty) == 2
    for row in empty:
        assert (row["ratio"], row["score"]) == (0, 0)
        result = score_period(counters_of(row["totalReceived"], row["totalOnTime"]), NOTHING_REPORTED)
        assert result["noFilings"] is True
        assert (result["progress"]["ratio"], result["progress"]["score"]) == (row["ratio"], row["score"])
        assert result["indicators"][0]["flags"] == ["NO_FILINGS"]
