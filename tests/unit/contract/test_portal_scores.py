"""Decision 766's indicators and scores from counters (services/contract/portal_scores.py), rule by
rule as docs/figures.md states them ("Dossier ratios", "Rounding, groups and the total")."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contract.figures import COUNTERS, SNAPSHOTS
from services.contract.portal_scores import INDICATORS, indicator_score, round_half_up, score_period

# The all_time counter that makes each optional indicator measured.
REPORTED = {"full-online": "full_online_reported", "3.6": "fee_reported", "4.1": "paper_result_reported",
            "4.2": "digitised_reported", "4.3": "data_reused_reported", "4.4": "personal_store_reported",
            "4.5b": "population_db_reported", "5.4": "ratings"}
# (numerator counter, denominator counter) of each indicator with points proportional to its ratio.
LINEAR = {"full-online": ("full_online_filings", "full_online_eligible", 12),
          "3.6": ("fee_paid_online", "fee_filings", 6),
          "4.1": ("electronic_result_filings", "paper_result_filings", 6),
          "4.2": ("portal_digitised", "received_total", 4),
          "4.4": ("personal_store_filings", "received_total", 4),
          "4.5b": ("population_db_filings", "received_total", 2)}


def counters(**values: int) -> dict[str, int]:
    """A period's counters and snapshots: 0 except `values`."""
    unknown = set(values) - set(COUNTERS) - set(SNAPSHOTS)
    assert not unknown, unknown
    return {name: 0 for name in (*COUNTERS, *SNAPSHOTS)} | values


# all_time counters in which every optional indicator's field was reported.
EVERYTHING_REPORTED = counters(**dict.fromkeys(REPORTED.values(), 1))


def indicator(result: dict[str, Any], number: str) -> dict[str, Any]:
    (row,) = [row for row in result["indicators"] if row["indicator"] == number]
    return row


def group(result: dict[str, Any], number: int) -> dict[str, Any]:
    (row,) = [row for row in result["groups"] if row["group"] == number]
    return row


# --- rounding ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "shown"), [
    (Fraction(90625, 1000), 90.63),          # the spec's example, a half exactly
    (Fraction(100 * 29, 32), 90.63),         # the same from the portal's counts; float round() gives 90.62
    (Fraction(20 * 29, 32), 18.13),          # its score, 18.125
    (Fraction(79, 40), 1.98),                # 1.975: a binary float of it lies below the half
    (Fraction(90624999, 1000000), 90.62),    # just below a half goes down
    (Fraction(2, 3), 0.67),
    (7, 7.0),
    (Fraction(-18125, 1000), -18.13),        # halves away from zero, as Decimal's ROUND_HALF_UP
])
def test_round_half_up_rounds_the_exact_value_once_halves_up(value: Fraction | int, shown: float) -> None:
    assert round_half_up(value) == shown


def test_round_half_up_takes_the_number_of_places() -> None:
    assert round_half_up(Fraction(905, 10), 0) == 91.0
    assert round_half_up(Fraction(12345, 10000), 3) == 1.235


def test_round_half_up_refuses_a_float_whose_binary_value_is_already_off() -> None:
    with pytest.raises(TypeError):
        round_half_up(1.005)  # type: ignore[arg-type]


# --- 2.1 and the progress row -----------------------------------------------------------------------

def test_on_time_counts_pending_on_time_filings_and_rounds_29_of_32_to_90_63_and_18_13() -> None:
    result = score_period(counters(received_total=32, portal_on_time=20, portal_pending_on_time=9,
                                   portal_overdue=2, portal_pending_overdue=1), counters())
    assert result["progress"] | {"avgProcessingDays": None} == {
        "totalReceived": 32, "totalOnTime": 29, "totalOverdue": 3, "totalCompleted": 0,
        "avgProcessingDays": None, "ratio": 90.63, "score": 18.13, "maxScore": 20}
    assert indicator(result, "2.1") | {"name": None} == {
        "indicator": "2.1", "code": "ON_TIME_DOSSIER", "name": None, "numerator": 29, "denominator": 32,
        "ratio": 90.63, "score": 18.13, "maxScore": 20, "measured": True, "flags": []}
    assert result["noFilings"] is False


def test_average_processing_days_is_seconds_over_completed_filings_rounded_half_up() -> None:
    # 3 filings, 1.125 days each on average: shown 1.13.
    progress = score_period(counters(received_total=3, portal_on_time=3, portal_completed=3,
                                     portal_processing_seconds=3 * 97_200), counters())["progress"]
    assert (progress["totalCompleted"], progress["avgProcessingDays"]) == (3, 1.13)


def test_a_unit_without_filings_shows_ratio_0_score_0_and_says_it_had_none() -> None:
    result = score_period(counters(), counters())
    assert result["noFilings"] is True
    assert result["progress"] == {"totalReceived": 0, "totalOnTime": 0, "totalOverdue": 0,
                                  "totalCompleted": 0, "avgProcessingDays": 0, "ratio": 0, "score": 0,
                                  "maxScore": 20}
    on_time = indicator(result, "2.1")
    assert (on_time["ratio"], on_time["score"], on_time["measured"], on_time["flags"]) == (0, 0, True,
                                                                                         ["NO_FILINGS"])
    # Still in the points measured: the portal's rank tables count it as 0 of 20.
    assert result["total"] == {"score": 0, "maxScore": 20, "points": 100}


# --- the dossier ratios -----------------------------------------------------------------------------

@pytest.mark.parametrize("number", sorted(LINEAR))
def test_a_linear_indicator_scores_its_points_times_its_ratio(number: str) -> None:
    numerator, denominator, points = LINEAR[number]
    period = counters(**{"received_total": 9, denominator: 9, numerator: 7})
    row = indicator(score_period(period, EVERYTHING_REPORTED), number)
    assert (row["numerator"], row["denominator"], row["ratio"]) == (7, 9, 77.78)
    assert row["score"] == round_half_up(Fraction(points * 7, 9))
    assert (row["maxScore"], row["measured"]) == (points, True)


@pytest.mark.parametrize(("number", "numerator", "denominator", "ratio", "score"), [
    # 3.6: 6 × 1/48 = 0.125 → 0.13, but 6 × the shown 2.08 % = 0.1248 → 0.12.
    ("3.6", ("fee_paid_online", 1), ("fee_filings", 48), 2.08, 0.13),
    # full-online: 12 × 6/17 = 4.2353 → 4.24, but 12 × the shown 35.29 % → 4.23.
    ("full-online", ("full_online_filings", 6), ("full_online_eligible", 17), 35.29, 4.24),
])
def test_a_score_comes_from_the_exact_ratio_not_the_shown_one(
        number: str, numerator: tuple[str, int], denominator: tuple[str, int], ratio: float,
        score: float) -> None:
    period = counters(**{"received_total": denominator[1], **dict((numerator, denominator))})
    row = indicator(score_period(period, EVERYTHING_REPORTED), number)
    assert (row["ratio"], row["score"]) == (ratio, score)


@pytest.mark.parametrize(("share", "points"), [
    (Fraction(1, 2), 4),       # at 50 %: full marks
    (Fraction(2, 5), Fraction(16, 5)),  # below: in proportion, 4 × 40 % / 50 %
    (Fraction(9, 10), 4),      # above: capped
])
def test_online_filings_earn_full_marks_from_50_percent(share: Fraction, points: Fraction) -> None:
    online = next(spec for spec in INDICATORS if spec.indicator == "3.3")
    assert indicator_score(share, 4, online.full_at) == points


def test_online_filings_are_shown_always_and_worth_0_points() -> None:
    result = score_period(counters(received_total=4, portal_on_time=4, portal_online=3), counters())
    row = indicator(result, "3.3")
    assert (row["code"], row["numerator"], row["denominator"], row["ratio"], row["score"], row["maxScore"],
            row["measured"]) == ("ONLINE_DOSSIER", 3, 4, 75.0, 0, 0, True)
    assert (group(result, 3)["score"], group(result, 3)["maxScore"]) == (0, 0)


@pytest.mark.parametrize(("reused", "score"), [
    (80, 2.0),   # at 80 %: full marks
    (79, 1.98),  # below: 2 × 79 / 80 = 1.975, half up
    (95, 2.0),   # above: capped at 2
])
def test_reuse_earns_full_marks_from_80_percent(reused: int, score: float) -> None:
    period = counters(received_total=100, data_reused_filings=reused)
    row = indicator(score_period(period, EVERYTHING_REPORTED), "4.3")
    assert (row["code"], row["ratio"], row["score"], row["maxScore"]) == (
        "REUSED_DIGITIZED_DATA", float(reused), score, 2)


@pytest.mark.parametrize(("satisfied", "score"), [
    (90, 6.0),   # at 90 %: full marks
    (89, 5.93),  # below: 6 × 89 / 90
    (97, 6.0),   # above: capped at 6
])
def test_satisfaction_earns_full_marks_from_90_percent(satisfied: int, score: float) -> None:
    period = counters(ratings=100, ratings_satisfied=satisfied)
    row = indicator(score_period(period, EVERYTHING_REPORTED), "5.4")
    assert (row["code"], row["ratio"], row["score"], row["maxScore"]) == (
        "DOSSIER_RECEIVING_SATISFACTION", float(satisfied), score, 6)


@pytest.mark.parametrize("number", sorted(REPORTED))
def test_an_indicator_never_reported_by_the_unit_is_null_and_not_in_the_points(number: str) -> None:
    # The period has filings for every indicator; only the one field was never reported.
    period = counters(received_total=10, portal_on_time=10, full_online_filings=5, full_online_eligible=10,
                      fee_filings=10, fee_paid_online=5, paper_result_filings=10, electronic_result_filings=5,
                      portal_digitised=5, data_reused_filings=5, personal_store_filings=5,
                      population_db_filings=5, ratings=10, ratings_satisfied=5)
    result = score_period(period, EVERYTHING_REPORTED | {REPORTED[number]: 0})
    row = indicator(result, number)
    assert (row["numerator"], row["denominator"], row["ratio"], row["score"], row["measured"]) == (
        None, None, None, None, False)
    assert result["total"]["maxScore"] == 62 - row["maxScore"]


@pytest.mark.parametrize("number", sorted(REPORTED))
def test_an_indicator_reported_before_but_without_filings_this_period_is_0_flagged_no_filings(
        number: str) -> None:
    # The period has filings unless the indicator's denominator is the filings received.
    (spec,) = [spec for spec in INDICATORS if spec.indicator == number]
    received = 0 if spec.denominator == "received_total" else 5
    result = score_period(counters(received_total=received, portal_on_time=received), EVERYTHING_REPORTED)
    row = indicator(result, number)
    assert (row["numerator"], row["denominator"], row["ratio"], row["score"], row["measured"],
            row["flags"]) == (0, 0, 0, 0, True, ["NO_FILINGS"])
    # 0 of its points, still counted among the points measured.
    assert result["total"]["maxScore"] == 62


def test_the_portal_digitised_share_is_measured_by_digitised_reported() -> None:
    period = counters(received_total=4, portal_on_time=4, portal_digitised=1)
    assert indicator(score_period(period, counters()), "4.2")["measured"] is False
    assert indicator(score_period(period, counters(digitised_reported=3)), "4.2")["score"] == 1.0


def test_counters_with_more_in_a_numerator_than_its_denominator_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^3\.6 \(ONLINE_PAYMENT_DOSSIER\)"):
        score_period(counters(received_total=2, fee_filings=1, fee_paid_online=2), EVERYTHING_REPORTED)


# --- groups and the total ---------------------------------------------------------------------------

def test_every_indicator_measured_covers_62_of_the_100_points() -> None:
    # Full marks everywhere but the population database, 13 of 20 filings: 1.3 of its 2 points.
    period = counters(received_total=20, portal_on_time=20, portal_online=20,
                      full_online_filings=5, full_online_eligible=5, fee_filings=3, fee_paid_online=3,
                      paper_result_filings=2, electronic_result_filings=2, portal_digitised=20,
                      data_reused_filings=20, personal_store_filings=20, population_db_filings=13,
                      ratings=10, ratings_satisfied=10)
    result = score_period(period, EVERYTHING_REPORTED)
    assert result["total"] == {"score": 61.3, "maxScore": 62, "points": 100}
    assert [(row["group"], row["score"], row["maxScore"], row["points"]) for row in result["groups"]] == [
        (1, None, 0, 18), (2, 20.0, 20, 20), (3, 18.0, 18, 22), (4, 17.3, 18, 22), (5, 6.0, 6, 18)]


def test_a_group_and_the_total_add_the_shown_scores_exactly() -> None:
    # 2.1: 20 × 145/160 = 18.125 → 18.13; 4.4: 4 × 4/160 = 0.1; 4.5b: 2 × 16/160 = 0.2. In binary
    # floats 0.1 + 0.2 is 0.30000000000000004.
    period = counters(received_total=160, portal_on_time=145, personal_store_filings=4,
                      population_db_filings=16)
    result = score_period(period, counters(personal_store_reported=1, population_db_reported=1))
    assert (indicator(result, "2.1")["score"], indicator(result, "4.4")["score"],
            indicator(result, "4.5b")["score"]) == (18.13, 0.1, 0.2)
    assert group(result, 4) | {"name": None} == {"group": 4, "name": None, "score": 0.3, "maxScore": 6,
                                                 "points": 22}
    assert result["total"] == {"score": 18.43, "maxScore": 26, "points": 100}


def test_a_group_with_nothing_measured_has_no_score() -> None:
    result = score_period(counters(received_total=1, portal_on_time=1), counters())
    assert (group(result, 4)["score"], group(result, 4)["maxScore"]) == (None, 0)
    assert (group(result, 5)["score"], group(result, 5)["maxScore"]) == (None, 0)
    assert result["total"]["maxScore"] == 20


# --- rollups ----------------------------------------------------------------------------------------

def test_a_rollup_pools_the_counters_and_never_averages_the_children() -> None:
    # One filing on time in a unit of 1, none of 99 in the other: 1 %, not the mean 50 %.
    children = [counters(received_total=1, portal_on_time=1), counters(received_total=99, portal_overdue=99)]
    parent = score_period(add(children), counters())
    assert (parent["progress"]["ratio"], parent["progress"]["score"]) == (1.0, 0.2)


def add(units: list[dict[str, int]]) -> dict[str, int]:
    return {name: sum(unit[name] for unit in units) for name in units[0]}


@st.composite
def unit_counters(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int]]:
    """One unit's period counters, consistent as the aggregator writes them (each numerator within its
    denominator, the 2.1 verdicts adding to received_total), and its all_time reported counters."""
    small = st.integers(0, 40)
    on_time, overdue, pending_on_time, pending_overdue = (draw(small) for _ in range(4))
    received = on_time + overdue + pending_on_time + pending_overdue

    def part(of: int) -> int:
        return draw(st.integers(0, of))

    eligible, fees, paper, ratings = part(received), part(received), part(received), part(received)
    period = counters(
        received_total=received, portal_on_time=on_time, portal_overdue=overdue,
        portal_pending_on_time=pending_on_time, portal_pending_overdue=pending_overdue,
        portal_completed=part(on_time + overdue), portal_processing_seconds=draw(st.integers(0, 10**9)),
        portal_online=part(received), full_online_eligible=eligible, full_online_filings=part(eligible),
        fee_filings=fees, fee_paid_online=part(fees), paper_result_filings=paper,
        electronic_result_filings=part(paper), portal_digitised=part(received),
        data_reused_filings=part(received), personal_store_filings=part(received),
        population_db_filings=part(received), ratings=ratings, ratings_satisfied=part(ratings))
    all_time = counters(**{name: draw(st.integers(0, 2)) for name in REPORTED.values()})
    return period, all_time


@settings(max_examples=200, deadline=None)
@given(st.lists(unit_counters(), min_size=1, max_size=5))
def test_a_subtree_scores_its_summed_counters_within_bounds(units: list[tuple[dict[str, int],
                                                                               dict[str, int]]]) -> None:
    children = [period for period, _ in units]
    parent_all_time = add([all_time for _, all_time in units])
    parent = score_period(add(children), parent_all_time)
    # Each child scored with the subtree's all_time, so that the same indicators are measured.
    scored = [score_period(child, parent_all_time) for child in children]
    for spec, row in zip(INDICATORS, parent["indicators"], strict=True):
        rows = [indicator(child, spec.indicator) for child in scored]
        # Measured when any child ever reported the field.
        reported = spec.reported is None or any(all_time[spec.reported] > 0 for _, all_time in units)
        assert row["measured"] is reported
        if not reported:
            assert row["ratio"] is row["score"] is None
            continue
        # The parent's counts are its children's sums, and its figures come from those counts.
        assert row["numerator"] == sum(child["numerator"] for child in rows)
        assert row["denominator"] == sum(child["denominator"] for child in rows)
        share = Fraction(row["numerator"], row["denominator"] or 1)
        assert row["ratio"] == round_half_up(100 * share)
        assert row["score"] == round_half_up(indicator_score(share, spec.points, spec.full_at))
        assert 0 <= row["ratio"] <= 100
        assert 0 <= row["score"] <= row["maxScore"]
    for row in parent["groups"]:
        assert row["score"] is None or 0 <= row["score"] <= row["maxScore"] <= row["points"]
    assert 0 <= parent["total"]["score"] <= parent["total"]["maxScore"] <= 62
    progress = parent["progress"]
    assert progress["totalReceived"] == sum(child["progress"]["totalReceived"] for child in scored)
    assert progress["totalOnTime"] + progress["totalOverdue"] == progress["totalReceived"]
