"""Decision 766's rules for one filing (services/aggregator/portal_rules.py), one test or more per
rule of docs/figures.md "2.1 on time" and "Dossier ratios", with explicit instants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.aggregator.hcm_time import DAY_US, US_PER_SECOND, day_from_iso, parse_instant
from services.aggregator.portal_rules import (
    CHANNELS,
    DATA_REUSED,
    DIGITISED,
    ELECTRONIC_RESULT,
    FEE_DUE,
    FULL_ONLINE_ELIGIBLE,
    FULL_ONLINE_SERVICE,
    ONLINE_PAYMENT,
    OVERDUE,
    PAPER_RESULT,
    PERSONAL_STORE,
    POPULATION_DB,
    PROCESSED,
    REJECTED,
    RESULT_RETURNED,
    SATISFIED,
    STOPPED,
    SUBMITTED,
    SUPPLEMENT_COMPLETED,
    SUPPLEMENT_REQUESTED,
    UPDATED,
    WITHDRAWN,
    PortalFiling,
    advance,
    due_of,
    effective_due,
    end_time,
    fixed_verdict,
    flag,
    flag_bits,
    flag_change,
    flag_counts,
    judged_on_time,
    lifecycle_moved,
    merge_flags,
    pending_entry,
    processing_seconds,
    receipt_counts,
    receipt_day,
    start,
)
from services.contract.figures import COUNTERS

HOUR = 3600 * US_PER_SECOND
T0 = parse_instant("2026-08-10T09:00:00+07:00")
DUE = parse_instant("2026-08-14T17:00:00+07:00")


def filing(*events: tuple[int, ...], channel: str = "online", due: int = DUE, flags: int = 0) -> PortalFiling:
    """A received filing after `events`, each (at, type) or (at, type, due_at), in canonical order."""
    p = start(T0, CHANNELS.index(channel), due, flags)
    for at, kind, *due_at in events:
        p = advance(p, at, kind, due_at[0] if due_at else None, 0)
    return p


def counts(p: PortalFiling) -> dict[str, int]:
    return {COUNTERS[index]: amount for index, amount in receipt_counts(p).items()}


def test_lifecycle_moved_sees_every_change_but_the_flags() -> None:
    p = start(T0, CHANNELS.index("online"), DUE, 0)
    flagged = advance(p, T0 + HOUR, UPDATED, None, flag_bits(DIGITISED, True))
    assert flagged != p and not lifecycle_moved(p, flagged)
    for kind in (SUPPLEMENT_REQUESTED, PROCESSED, WITHDRAWN):
        moved = advance(p, T0 + HOUR, kind, None, 0)
        assert lifecycle_moved(p, moved), kind
    paused = advance(p, T0 + HOUR, SUPPLEMENT_REQUESTED, None, 0)
    assert lifecycle_moved(paused, advance(paused, T0 + 2 * HOUR, SUPPLEMENT_COMPLETED, DUE + HOUR, 0))
    assert not lifecycle_moved(p, advance(p, T0 + HOUR, OVERDUE, None, 0))


# -- the end time and its order of preference -----------------------------------------------------


def test_processed_is_preferred_to_a_result_returned_earlier() -> None:
    p = filing((DUE - HOUR, RESULT_RETURNED), (DUE + HOUR, PROCESSED))
    assert end_time(p) == DUE + HOUR
    assert fixed_verdict(p) is False


def test_result_returned_is_preferred_to_stopped_and_rejected() -> None:
    p = filing((DUE - 2 * HOUR, STOPPED), (DUE + HOUR, RESULT_RETURNED))
    assert end_time(p) == DUE + HOUR


def test_stopped_and_rejected_rank_together_the_earlier_wins() -> None:
    assert end_time(filing((DUE - HOUR, REJECTED), (DUE + HOUR, STOPPED))) == DUE - HOUR
    assert end_time(filing((DUE - HOUR, STOPPED), (DUE + HOUR, REJECTED))) == DUE - HOUR


def test_withdrawal_ends_a_filing_but_ranks_last() -> None:
    assert end_time(filing((DUE + HOUR, WITHDRAWN))) == DUE + HOUR
    assert end_time(filing((DUE - HOUR, WITHDRAWN), (DUE + 2 * HOUR, REJECTED))) == DUE + 2 * HOUR


def test_the_earliest_event_of_the_preferred_kind_is_the_end() -> None:
    assert end_time(filing((DUE - HOUR, PROCESSED), (DUE + HOUR, PROCESSED))) == DUE - HOUR


def test_overdue_and_updated_events_do_not_end_a_filing() -> None:
    p = filing((DUE + HOUR, OVERDUE), (DUE + 2 * HOUR, UPDATED))
    assert end_time(p) is None and fixed_verdict(p) is None


# -- on time when end time <= due, as instants --------------------------------------------------


def test_ended_exactly_at_the_due_instant_is_on_time_one_microsecond_later_overdue() -> None:
    assert fixed_verdict(filing((DUE, PROCESSED))) is True
    assert fixed_verdict(filing((DUE + 1, PROCESSED))) is False


def test_the_comparison_is_by_instant_not_by_calendar_day() -> None:
    # Resolved at 20:00 on the due day, due at 17:00: the same calendar day, and overdue.
    assert fixed_verdict(filing((DUE + 3 * HOUR, PROCESSED))) is False


# -- open filings judged at the period's end -----------------------------------------------------


def test_an_open_filing_is_judged_at_the_cutoff() -> None:
    p = filing()
    assert fixed_verdict(p) is None
    assert pending_entry(p) == (receipt_day(T0), DUE)
    assert judged_on_time(DUE, cutoff=DUE) is True  # not yet past due
    assert judged_on_time(DUE, cutoff=DUE + 1) is False  # past due at the period's end


def test_an_ended_filing_has_no_pending_entry() -> None:
    assert pending_entry(filing((DUE, PROCESSED))) is None


# -- supplements ----------------------------------------------------------------------------------


def test_more_than_one_supplement_request_is_overdue_whatever_the_times() -> None:
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 2 * HOUR, SUPPLEMENT_COMPLETED),
               (T0 + 3 * HOUR, SUPPLEMENT_REQUESTED), (T0 + 4 * HOUR, SUPPLEMENT_COMPLETED),
               (T0 + 5 * HOUR, PROCESSED))
    assert fixed_verdict(p) is False
    assert pending_entry(p) is None
    # Still open, two requests: overdue already, no cutoff judges it.
    assert fixed_verdict(filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 2 * HOUR, SUPPLEMENT_COMPLETED),
                                (T0 + 3 * HOUR, SUPPLEMENT_REQUESTED))) is False


def test_answered_supplement_time_is_subtracted_from_the_end_time() -> None:
    # Paused for two days; resolved a day after the due date: on time once the pause is subtracted.
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + HOUR + 2 * DAY_US, SUPPLEMENT_COMPLETED),
               (DUE + DAY_US, PROCESSED))
    assert fixed_verdict(p) is True
    paused = ((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + HOUR + 2 * DAY_US, SUPPLEMENT_COMPLETED))
    assert fixed_verdict(filing(*paused, (DUE + 2 * DAY_US + 1, PROCESSED))) is False
    # Open: the due date moves later by the pause.
    open_filing = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + HOUR + 2 * DAY_US, SUPPLEMENT_COMPLETED))
    assert effective_due(open_filing) == DUE + 2 * DAY_US
    assert pending_entry(open_filing) == (receipt_day(T0), DUE + 2 * DAY_US)


def test_a_due_date_moved_by_the_sender_replaces_the_subtraction() -> None:
    moved = DUE + 5 * DAY_US
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 2 * DAY_US, SUPPLEMENT_COMPLETED, moved),
               (moved, PROCESSED))
    assert fixed_verdict(p) is True
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 2 * DAY_US, SUPPLEMENT_COMPLETED, moved),
               (moved + 1, PROCESSED))
    assert fixed_verdict(p) is False  # nothing subtracted on top of the moved date


def test_a_v1_resubmission_while_waiting_completes_the_supplement_with_its_due_date() -> None:
    moved = DUE + 5 * DAY_US
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 2 * DAY_US, SUBMITTED, moved))
    assert p.open_request_at is None and p.moved_due == moved
    assert pending_entry(p) == (receipt_day(T0), moved)


def test_an_unanswered_request_is_the_end_time() -> None:
    p = filing((DUE - HOUR, SUPPLEMENT_REQUESTED))
    assert end_time(p) == DUE - HOUR and fixed_verdict(p) is True
    assert fixed_verdict(filing((DUE + HOUR, SUPPLEMENT_REQUESTED))) is False
    assert pending_entry(p) is None  # judged by its own end, not by a cutoff


def test_an_unanswered_request_stays_the_end_time_when_the_filing_ends_later() -> None:
    p = filing((DUE - HOUR, SUPPLEMENT_REQUESTED), (DUE + 30 * DAY_US, WITHDRAWN))
    assert end_time(p) == DUE - HOUR and fixed_verdict(p) is True
    assert processing_seconds(p) == (DUE - HOUR - T0) // US_PER_SECOND


def test_supplement_events_after_the_filing_ended_mean_nothing() -> None:
    p = filing((DUE - HOUR, PROCESSED), (DUE, SUPPLEMENT_REQUESTED), (DUE + HOUR, SUPPLEMENT_REQUESTED))
    assert p.requests == 0 and fixed_verdict(p) is True


# -- no due date: the statutory maximum -------------------------------------------------------------


def test_no_due_date_takes_receipt_plus_the_statutory_maximum() -> None:
    assert due_of(None, T0, 24) == T0 + 24 * HOUR
    assert due_of(DUE, T0, 24) == DUE  # the sender's due date wins
    assert due_of(None, T0, None) is None
    p = filing((T0 + 24 * HOUR, PROCESSED), due=due_of(None, T0, 24))  # type: ignore[arg-type]
    assert fixed_verdict(p) is True
    p = filing((T0 + 24 * HOUR + 1, PROCESSED), due=due_of(None, T0, 24))  # type: ignore[arg-type]
    assert fixed_verdict(p) is False


# -- the period by the date of receipt --------------------------------------------------------------


def test_a_filing_belongs_to_its_ho_chi_minh_receipt_day() -> None:
    assert receipt_day(parse_instant("2026-08-31T16:59:59.999999Z")) == day_from_iso("2026-08-31")
    assert receipt_day(parse_instant("2026-08-31T17:00:00Z")) == day_from_iso("2026-09-01")


# -- processing time ------------------------------------------------------------------------------


def test_processing_time_is_end_minus_receipt_minus_supplement_time() -> None:
    p = filing((T0 + HOUR, SUPPLEMENT_REQUESTED), (T0 + 3 * HOUR, SUPPLEMENT_COMPLETED),
               (T0 + 10 * HOUR, PROCESSED))
    assert processing_seconds(p) == 8 * 3600
    assert processing_seconds(filing()) is None  # open: not completed
    assert counts(p)["portal_completed"] == 1 and counts(p)["portal_processing_seconds"] == 8 * 3600


# -- flags -----------------------------------------------------------------------------------------


def test_the_last_event_carrying_a_flag_wins_and_others_stay() -> None:
    flags = merge_flags(flag_bits(ONLINE_PAYMENT, True) | flag_bits(DIGITISED, True),
                        flag_bits(ONLINE_PAYMENT, False))
    assert flag(flags, ONLINE_PAYMENT) is False
    assert flag(flags, DIGITISED) is True
    assert flag(flags, SATISFIED) is None


def flagged(**values: bool) -> dict[str, int]:
    index = {"paper": PAPER_RESULT, "electronic": ELECTRONIC_RESULT, "digitised": DIGITISED,
             "paid": ONLINE_PAYMENT, "fee": FEE_DUE, "service": FULL_ONLINE_SERVICE,
             "eligible": FULL_ONLINE_ELIGIBLE, "reused": DATA_REUSED, "store": PERSONAL_STORE,
             "population": POPULATION_DB, "satisfied": SATISFIED}
    bits = 0
    for name, value in values.items():
        bits |= flag_bits(index[name], value)
    return counts(filing(flags=bits))


def ratio_counters(found: dict[str, int]) -> dict[str, int]:
    # The 2.1 verdict of an open filing is not in receipt_counts; what is left is the flags' part.
    return {name: n for name, n in found.items() if name not in ("portal_online",)}


@pytest.mark.parametrize(("values", "expected"), [
    # 3.3: online, and with a paper result only if it was issued electronically too.
    ({}, {}),
    ({"paper": True}, {"paper_result_reported": 1, "paper_result_filings": 1}),
    ({"paper": True, "electronic": True},
     {"paper_result_reported": 1, "paper_result_filings": 1, "electronic_result_filings": 1}),
])
def test_online_share_and_electronic_result(values: dict[str, bool], expected: dict[str, int]) -> None:
    found = flagged(**values)
    assert ratio_counters(found) == expected
    assert ("portal_online" in found) == (values.get("paper") is not True or values.get("electronic") is True)


def test_an_in_person_filing_is_not_online() -> None:
    assert "portal_online" not in counts(filing(channel="in_person"))
    assert "portal_online" not in counts(filing(channel="postal"))


def test_full_online_a_filing_through_the_service_counts_as_eligible() -> None:
    assert flagged(service=True) == {"portal_online": 1, "full_online_reported": 1,
                                     "full_online_eligible": 1, "full_online_filings": 1}
    assert flagged(eligible=True) == {"portal_online": 1, "full_online_reported": 1,
                                      "full_online_eligible": 1}
    assert flagged(eligible=False) == {"portal_online": 1, "full_online_reported": 1}


@pytest.mark.parametrize(("values", "fee_filings", "paid"), [
    ({"fee": True}, 1, 0),
    ({"fee": False}, 0, 0),
    ({"fee": True, "paid": True}, 1, 1),
    ({"paid": True}, 1, 1),  # paid online: a fee was due
    ({"paid": False}, 1, 0),  # a payment reported, no fee_due: a fee was due
    ({"fee": False, "paid": False}, 0, 0),
])
def test_online_payment_over_filings_with_a_fee(values: dict[str, bool], fee_filings: int, paid: int) -> None:
    found = flagged(**values)
    assert found["fee_reported"] == 1
    assert found.get("fee_filings", 0) == fee_filings and found.get("fee_paid_online", 0) == paid


def test_digitised_needs_the_electronic_result_where_the_result_is_paper() -> None:
    assert flagged(digitised=True)["portal_digitised"] == 1
    assert "portal_digitised" not in flagged(digitised=True, paper=True)
    assert flagged(digitised=True, paper=True, electronic=True)["portal_digitised"] == 1
    assert flagged(digitised=False)["digitised_reported"] == 1


@pytest.mark.parametrize(("name", "reported", "yes"), [
    ("reused", "data_reused_reported", "data_reused_filings"),
    ("store", "personal_store_reported", "personal_store_filings"),
    ("population", "population_db_reported", "population_db_filings"),
    ("satisfied", "ratings", "ratings_satisfied"),
])
def test_simple_flags_count_reported_and_yes(name: str, reported: str, yes: str) -> None:
    assert {reported, yes} <= set(flagged(**{name: True}))
    found = flagged(**{name: False})
    assert found[reported] == 1 and yes not in found


_FLAGS = (PAPER_RESULT, ELECTRONIC_RESULT, DIGITISED, ONLINE_PAYMENT, FEE_DUE, FULL_ONLINE_SERVICE,
          FULL_ONLINE_ELIGIBLE, DATA_REUSED, PERSONAL_STORE, POPULATION_DB, SATISFIED)
some_flags = st.lists(st.sampled_from([None, False, True]), min_size=len(_FLAGS), max_size=len(_FLAGS)).map(
    lambda values: sum(flag_bits(index, value) for index, value in zip(_FLAGS, values, strict=True)
                       if value is not None))


@given(before=some_flags, after=some_flags, channel=st.sampled_from(range(len(CHANNELS))))
def test_a_change_of_flags_moves_exactly_the_counters_that_differ(before: int, after: int,
                                                                  channel: int) -> None:
    moved = flag_change(before, after, channel)
    assert all(moved.values())  # only counters that move
    row = [0] * len(COUNTERS)
    for index, amount in flag_counts(before, channel).items():
        row[index] += amount
    for index, amount in moved.items():
        row[index] += amount
    expected = [0] * len(COUNTERS)
    for index, amount in flag_counts(after, channel).items():
        expected[index] += amount
    assert row == expected


def test_a_fixed_verdict_counts_on_time_or_overdue_on_the_receipt_day() -> None:
    assert counts(filing((DUE, PROCESSED)))["portal_on_time"] == 1
    assert counts(filing((DUE + 1, PROCESSED)))["portal_overdue"] == 1
    assert not {"portal_on_time", "portal_overdue"} & set(counts(filing()))

