"""The oracle's own rules for Decision 766 as the portal computes it (docs/figures.md), each on small
filings whose figures are computed by hand here: the 2.1 verdict's every rule, the dossier ratios'
counters, the press-style lifecycle with the v2 types, the calendar periods and their cutoffs, the
schema versions, and compare / subtree_periods over every period.

Times are fixed instants (no clock): T is a filing's first submission, D its due date.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from services.contract.figures import COUNTERS, RATES, SNAPSHOTS, calendar_periods
from tests.support import oracle
from tests.support.oracle import HCM, compare, recompute, subtree_periods, walk_filing
from tests.support.paths import SCHEMA

T = datetime(2026, 8, 10, 8, 0, tzinfo=HCM)
D = T + timedelta(days=3)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)
_ids = count()


def ev(kind: str, at: datetime, filing: str = "F", unit: str = "U", **fields: Any) -> dict[str, Any]:
    """A schema v2 event; a submission gets channel online and due D unless told otherwise."""
    e: dict[str, Any] = {"schema_version": 2, "event_id": f"e{next(_ids):05d}", "event_type": kind,
                         "filing_id": filing, "unit_code": unit, "occurred_at": at.isoformat(), "source": "s"}
    if kind == "submitted":
        e.update(channel="online", procedure_code="1.000001")
        if "statutory_max_hours" not in fields:
            e["due_at"] = D.isoformat()
    for name, value in fields.items():
        e[name] = value.isoformat() if isinstance(value, datetime) else value
    return e


def v1(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    e = ev(kind, at, **fields)
    del e["schema_version"]
    return e


def verdict(*events: dict[str, Any]) -> oracle.Verdict:
    walk = walk_filing(list(events))
    assert walk.verdict is not None
    return walk.verdict


def facts_by_name(*events: dict[str, Any]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (_day, fact), amount in walk_filing(list(events)).facts.items():
        out[fact] += amount
    return out


# ---------------------------------------------------------------------------------------------
# 2.1, one rule at a time


@pytest.mark.parametrize(("endings", "on_time", "seconds"), [
    # processed beats result_returned, even when it came later
    ([("result_returned", 1), ("processed", 4)], False, 4 * 86_400),
    # result_returned beats stopped/rejected and withdrawn
    ([("stopped", 1), ("result_returned", 4)], False, 4 * 86_400),
    # stopped and rejected rank together: the earlier of them, before withdrawn
    ([("stopped", 2), ("rejected", 1), ("withdrawn", 4)], True, 86_400),
    ([("withdrawn", 1), ("rejected", 4), ("stopped", 5)], False, 4 * 86_400),
    ([("withdrawn", 2)], True, 2 * 86_400),
])
def test_the_end_time_is_the_earliest_event_of_the_most_preferred_ending_status(
        endings: list[tuple[str, int]], on_time: bool, seconds: int) -> None:
    v = verdict(ev("submitted", T), *(ev(kind, T + days * DAY) for kind, days in endings))
    assert (v.on_time, v.completed, v.processing_seconds) == (on_time, True, seconds)


def test_on_time_at_the_due_instant_and_overdue_one_microsecond_later() -> None:
    assert verdict(ev("submitted", T), ev("processed", D)).on_time is True
    assert verdict(ev("submitted", T), ev("processed", D + US)).on_time is False
    # Compared as instants, not days: the same calendar day as D, an hour later, is overdue.
    assert verdict(ev("submitted", T), ev("processed", D + timedelta(hours=1))).on_time is False


def test_no_due_date_means_the_statutory_maximum_after_the_first_submission() -> None:
    submitted = ev("submitted", T, statutory_max_hours=24)
    assert "due_at" not in submitted
    assert verdict(submitted, ev("processed", T + timedelta(hours=24))).on_time is True
    assert verdict(submitted, ev("processed", T + timedelta(hours=24) + US)).on_time is False
    # The press-style due is the same instant (a resolution on the due's day, at it, is on time).
    assert facts_by_name(submitted, ev("processed", T + timedelta(hours=24)))["resolved_on_time"] == 1
    assert facts_by_name(submitted, ev("processed", T + timedelta(hours=24) + US))["resolved_late"] == 1


def test_two_supplement_requests_make_a_filing_overdue_whatever_the_times() -> None:
    events = [ev("submitted", T), ev("supplement_requested", T + timedelta(hours=1)),
              ev("supplement_completed", T + timedelta(hours=2)),
              ev("supplement_requested", T + timedelta(hours=3)),
              ev("supplement_completed", T + timedelta(hours=4))]
    ended = verdict(*events, ev("processed", T + timedelta(hours=5)))
    # Processing time leaves out both answered pauses (an hour each).
    assert (ended.on_time, ended.completed, ended.processing_seconds) == (False, True, 3 * 3600)
    assert verdict(*events).on_time is False  # still open: fixed overdue all the same
    assert facts_by_name(*events)["portal_overdue"] == 1


def test_one_completed_supplement_is_subtracted_from_the_end_time() -> None:
    # S = 2 days; E - S = T + 2 days <= D. Without the subtraction it would be a day late.
    supplement = [ev("submitted", T), ev("supplement_requested", T + DAY),
                  ev("supplement_completed", T + 3 * DAY)]
    v = verdict(*supplement, ev("processed", T + 4 * DAY))
    assert (v.on_time, v.processing_seconds) == (True, 2 * 86_400)
    assert verdict(*supplement, ev("processed", T + 5 * DAY)).on_time is True  # E - S == D
    assert verdict(*supplement, ev("processed", T + 5 * DAY + US)).on_time is False
    assert verdict(*supplement).limit == D + 2 * DAY  # open: on time while cutoff <= D + S


def test_a_completion_with_a_due_date_moves_the_due_date_and_subtracts_nothing() -> None:
    moved = [ev("submitted", T), ev("supplement_requested", T + DAY),
             ev("supplement_completed", T + 2 * DAY, due_at=T + 10 * DAY)]
    assert verdict(*moved, ev("processed", T + 8 * DAY)).on_time is True  # late against the old D
    assert verdict(*moved, ev("processed", T + 10 * DAY)).on_time is True
    # Subtracting S (1 day) as well would make this on time.
    late = verdict(*moved, ev("processed", T + 10 * DAY + US))
    # Processing time leaves out the pause (1 day) even though the verdict does not subtract it.
    assert (late.on_time, late.processing_seconds) == (False, 9 * 86_400)


def test_a_v1_submission_while_waiting_for_a_supplement_is_its_completion_with_a_moved_due() -> None:
    events = [v1("submitted", T), v1("returned", T + DAY, reason="supplement_requested"),
              v1("submitted", T + 2 * DAY, due_at=T + 10 * DAY)]
    assert verdict(*events, v1("processed", T + 10 * DAY)).on_time is True
    assert verdict(*events, v1("processed", T + 10 * DAY + US)).on_time is False
    facts = facts_by_name(*events, v1("processed", T + 10 * DAY))
    # Received once; the press-style lifecycle resolves it against the new due (its day: on time).
    assert (facts["received"], facts["returned_supplement_requested"], facts["resolved_on_time"]) == (1, 1, 1)


def test_an_outstanding_request_ends_the_clock_at_the_request_even_if_withdrawn_later() -> None:
    v = verdict(ev("submitted", T), ev("supplement_requested", T + DAY), ev("withdrawn", T + 20 * DAY))
    assert (v.on_time, v.completed, v.processing_seconds) == (True, True, 86_400)
    # Waiting, no ending status: the verdict is fixed (not pending), but it is not completed.
    waiting = verdict(ev("submitted", T), ev("supplement_requested", T + 4 * DAY))
    assert (waiting.on_time, waiting.completed) == (False, False)
    facts = facts_by_name(ev("submitted", T), ev("supplement_requested", T + DAY))
    assert (facts["portal_on_time"], facts["portal_completed"]) == (1, 0)


def test_supplement_events_after_the_first_ending_status_are_ignored() -> None:
    # Two requests after a withdrawal: not counted, so not overdue; E is the processing (preferred).
    v = verdict(ev("submitted", T), ev("withdrawn", T + DAY),
                ev("supplement_requested", T + DAY + timedelta(hours=1)),
                ev("supplement_requested", T + DAY + timedelta(hours=2)), ev("processed", T + 2 * DAY))
    assert (v.on_time, v.processing_seconds) == (True, 2 * 86_400)
    # A completion after the first ending does not complete the request: E is the request's time.
    v = verdict(ev("submitted", T), ev("supplement_requested", T + DAY), ev("withdrawn", T + 2 * DAY),
                ev("supplement_completed", T + 3 * DAY), ev("processed", T + 10 * DAY))
    assert (v.on_time, v.processing_seconds) == (True, 86_400)
    # Same instant: processed (rank 4) sorts before supplement_requested (rank 6), which is ignored.
    assert verdict(ev("submitted", T), ev("supplement_requested", T + DAY),
                   ev("supplement_requested", T + 2 * DAY), ev("processed", T + DAY)).on_time is True


def test_the_sender_overdue_mark_counts_press_style_only() -> None:
    events = [ev("submitted", T), ev("overdue", T + DAY), ev("processed", T + 2 * DAY)]
    assert verdict(*events).on_time is True
    assert facts_by_name(*events)["resolved_late"] == 1


# ---------------------------------------------------------------------------------------------
# Periods: receipt day, cutoffs, resolved after the period

AS_OF = datetime(2026, 9, 15, 12, 0, tzinfo=HCM)


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    """v1 as in the repository and a stand-in v2 (another helper writes the real one)."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    (folder / "filing-event.v1.json").write_text(json.dumps(schema))
    schema["$id"] = schema["$id"].replace("v1", "v2")
    schema["required"] = [*schema["required"], "schema_version"]
    props = schema["properties"]
    props["schema_version"] = {"const": 2}
    props["event_type"] = {"enum": list(oracle.RANK)}
    del props["reason"]
    props["statutory_max_hours"] = {"type": "integer", "minimum": 1, "maximum": 26_352}
    props["online_payment_via"] = {"enum": ["national_portal", "provincial_gateway"]}
    for flag in oracle.FLAGS:
        props[flag] = {"type": "boolean"}
    schema["allOf"] = [{"if": {"properties": {"event_type": {"const": "submitted"}},
                               "required": ["event_type"]},
                        "then": {"required": ["channel", "procedure_code"],
                                 "anyOf": [{"required": ["due_at"]}, {"required": ["statutory_max_hours"]}]}}]
    (folder / "filing-event.v2.json").write_text(json.dumps(schema))
    return folder


def run(tmp_path: Path, schema_dir: Path, events: list[dict[str, Any]],
        clean: bool = True) -> oracle.OracleResult:
    """The oracle over `events` at AS_OF; `clean`: every event must be accepted."""
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in events))
    result = recompute(path, AS_OF, schema_dir=schema_dir)
    assert not clean or (result.skipped, result.accepted) == (Counter(), len(events))
    return result


def periods(result: oracle.OracleResult, unit: str = "U") -> dict[str, dict[str, Any]]:
    return result.units[unit]["periods"]


def pick(figures: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(figures[n] for n in names)


PORTAL = ("received_total", "portal_on_time", "portal_overdue", "portal_pending_on_time",
          "portal_pending_overdue")


def test_an_open_filing_is_judged_at_each_period_cutoff(tmp_path: Path, schema_dir: Path) -> None:
    # Received 20 August, due 5 September, still open on 15 September.
    start = datetime(2026, 8, 20, 9, 0, tzinfo=HCM)
    due = datetime(2026, 9, 5, 17, 0, tzinfo=HCM)
    got = periods(run(tmp_path, schema_dir, [ev("submitted", start, due_at=due)]))
    assert pick(got["2026-08"], *PORTAL) == (1, 0, 0, 1, 0)  # at 1 September 00:00: within its due date
    for name in ("2026-Q3", "2026", "all_time", "year_to_date", "last_30_days"):
        assert pick(got[name], *PORTAL) == (1, 0, 0, 0, 1), name  # at as_of: overdue
    assert pick(got["2026-09"], *PORTAL) == pick(got["month_to_date"], *PORTAL) == (0, 0, 0, 0, 0)
    assert got["2026-08"]["on_time_rate"] == 1.0 and got["2026"]["on_time_rate"] == 0.0


def test_a_past_period_cutoff_is_midnight_after_its_last_day(tmp_path: Path, schema_dir: Path) -> None:
    start = datetime(2026, 8, 20, 9, 0, tzinfo=HCM)
    midnight = datetime(2026, 9, 1, tzinfo=HCM)
    got = periods(run(tmp_path, schema_dir, [ev("submitted", start, filing="A", due_at=midnight),
                                             ev("submitted", start, filing="B", due_at=midnight - US)]))
    assert pick(got["2026-08"], *PORTAL) == (2, 0, 0, 1, 1)


def test_a_filing_belongs_to_the_period_of_its_receipt_day(tmp_path: Path, schema_dir: Path) -> None:
    late_august = datetime(2026, 8, 31, 23, 30, tzinfo=HCM)  # 16:30 UTC: still 31 August in Vietnam
    early_september = datetime.fromisoformat("2026-08-31T17:30:00+00:00")  # 00:30 on 1 September in Vietnam
    events = [ev("submitted", late_august, filing="A", due_at=late_august + 3 * DAY),
              ev("processed", late_august + 2 * DAY, filing="A"),
              ev("submitted", early_september, filing="B", due_at=early_september + 3 * DAY),
              ev("processed", early_september + 5 * DAY, filing="B")]
    got = periods(run(tmp_path, schema_dir, events))
    assert pick(got["2026-08"], *PORTAL, "portal_completed", "resolved_total") == (1, 1, 0, 0, 0, 1, 0)
    # September holds B (received, late) and both press-style resolutions (by resolution day).
    assert pick(got["2026-09"], *PORTAL, "portal_completed", "resolved_total") == (1, 0, 1, 0, 0, 1, 2)
    assert got["2026-08"]["portal_processing_seconds"] == 2 * 86_400


def test_a_filing_resolved_after_its_month_is_judged_by_its_own_end(tmp_path: Path, schema_dir: Path) -> None:
    # At August's cutoff it was within due (5 September), but it ended late on 10 September.
    start = datetime(2026, 8, 20, 9, 0, tzinfo=HCM)
    events = [ev("submitted", start, due_at=datetime(2026, 9, 5, 17, 0, tzinfo=HCM)),
              ev("processed", datetime(2026, 9, 10, 9, 0, tzinfo=HCM))]
    got = periods(run(tmp_path, schema_dir, events))
    assert pick(got["2026-08"], *PORTAL) == (1, 0, 1, 0, 0)
    assert pick(got["2026-09"], *PORTAL) == (0, 0, 0, 0, 0)


def test_period_names_and_cutoffs_agree_with_the_contract() -> None:
    for today in (date(2026, 1, 1), date(2026, 3, 31), date(2026, 9, 15), date(2026, 12, 31),
                  date(2028, 2, 29)):
        assert oracle.calendar_spans(today) == calendar_periods(today)
    made = oracle.all_periods(AS_OF)
    assert [p.name for p in made] == [*oracle.PERIODS, *calendar_periods(AS_OF.date())]
    cutoffs = {p.name: p.cutoff for p in made}
    assert cutoffs["2026-09"] == cutoffs["2026-Q3"] == cutoffs["2026"] == cutoffs["last_7_days"] == AS_OF
    assert cutoffs["2026-08"] == datetime(2026, 9, 1, tzinfo=HCM)
    assert cutoffs["2025-09"] == cutoffs["2025-Q3"] == datetime(2025, 10, 1, tzinfo=HCM)
    assert cutoffs["2025"] == cutoffs["2025-Q4"] == datetime(2026, 1, 1, tzinfo=HCM)


def test_a_future_day_counts_only_in_all_time_calendar_periods_included(
        tmp_path: Path, schema_dir: Path) -> None:
    tomorrow = AS_OF + timedelta(hours=13)  # 16 September 01:00, within a day of as_of
    events = [ev("submitted", AS_OF, filing="A"),
              ev("submitted", tomorrow, filing="B", due_at=tomorrow + DAY)]
    got = periods(run(tmp_path, schema_dir, events))
    assert got["all_time"]["received_total"] == 2
    for name in ("2026-09", "2026-Q3", "2026", "month_to_date", "today"):
        assert got[name]["received_total"] == 1, name
    # A is due D (13 August), long past: overdue at as_of; B is within due.
    assert pick(got["all_time"], *PORTAL) == (2, 0, 0, 1, 1)


def test_every_period_carries_every_figure_in_the_contract_order(tmp_path: Path, schema_dir: Path) -> None:
    assert [*COUNTERS, *SNAPSHOTS, *RATES] == oracle.FIGURE_ORDER
    got = periods(run(tmp_path, schema_dir, [ev("submitted", AS_OF)]))
    assert len(got) == len(oracle.PERIODS) + 13 + 3 + 4 + 2  # 13 months, Q3 to Q1, last year's four, 2 years
    assert all(list(figures) == oracle.FIGURE_ORDER for figures in got.values())


def test_on_time_rate_is_2_1_over_received(tmp_path: Path, schema_dir: Path) -> None:
    day = datetime(2026, 9, 14, 9, 0, tzinfo=HCM)
    hour = timedelta(hours=1)
    events = [ev("submitted", day, filing="A", due_at=day + DAY), ev("processed", day + hour, filing="A"),
              ev("submitted", day, filing="B", due_at=day + hour), ev("processed", day + DAY, filing="B"),
              ev("submitted", day, filing="C", due_at=day + 3 * DAY),
              ev("submitted", day, filing="D", due_at=day + timedelta(hours=2)),
              ev("submitted", day, filing="E", due_at=day + 3 * DAY),
              ev("supplement_requested", day + DAY, filing="E")]
    got = periods(run(tmp_path, schema_dir, events))["last_7_days"]
    # A on time, B overdue, E waiting since a request before its due: on time; C open within, D open overdue.
    assert pick(got, *PORTAL) == (5, 2, 1, 1, 1)
    assert got["on_time_rate"] == 3 / 5
    assert (got["pending_within_due"], got["pending_overdue"]) == (1, 1)  # E is paused: in neither


# ---------------------------------------------------------------------------------------------
# Dossier ratios


def flags(**values: Any) -> dict[str, bool | None]:
    return {flag: values.get(flag) for flag in oracle.FLAGS}


@pytest.mark.parametrize(("channel", "values", "online"), [
    ("online", {}, 1), ("online", {"paper_result": False}, 1), ("online", {"paper_result": True}, 0),
    ("online", {"paper_result": True, "electronic_result": False}, 0),
    ("online", {"paper_result": True, "electronic_result": True}, 1),
    ("in_person", {}, 0), ("postal", {"paper_result": True, "electronic_result": True}, 0),
])
def test_3_3_online_needs_an_electronic_result_where_the_result_is_paper(
        channel: str, values: dict[str, bool], online: int) -> None:
    assert oracle.dossier_facts(flags(**values), channel)["portal_online"] == online


@pytest.mark.parametrize(("values", "expected"), [
    ({}, (0, 0, 0)), ({"full_online_service": True}, (1, 1, 1)), ({"full_online_eligible": True}, (0, 1, 1)),
    ({"full_online_eligible": False, "full_online_service": True}, (1, 1, 1)),
    ({"full_online_eligible": False, "full_online_service": False}, (0, 0, 1)),
    ({"full_online_service": False}, (0, 0, 1)),
])
def test_full_online(values: dict[str, bool], expected: tuple[int, int, int]) -> None:
    got = oracle.dossier_facts(flags(**values), "online")
    assert pick(got, "full_online_filings", "full_online_eligible", "full_online_reported") == expected


@pytest.mark.parametrize(("values", "expected"), [
    ({}, (0, 0, 0)), ({"fee_due": True}, (1, 0, 1)), ({"fee_due": False}, (0, 0, 1)),
    ({"online_payment": False}, (1, 0, 1)),  # fee unreported, payment reported: a fee was due
    ({"online_payment": True}, (1, 1, 1)), ({"fee_due": False, "online_payment": True}, (1, 1, 1)),
    ({"fee_due": False, "online_payment": False}, (0, 0, 1)),
    ({"fee_due": True, "online_payment": False}, (1, 0, 1)),
])
def test_3_6_online_payment(values: dict[str, bool], expected: tuple[int, int, int]) -> None:
    got = oracle.dossier_facts(flags(**values), "in_person")
    assert pick(got, "fee_filings", "fee_paid_online", "fee_reported") == expected


@pytest.mark.parametrize(("values", "expected"), [
    ({}, (0, 0, 0)), ({"electronic_result": True}, (0, 0, 0)),
    ({"paper_result": False, "electronic_result": True}, (0, 0, 1)),
    ({"paper_result": True}, (1, 0, 1)), ({"paper_result": True, "electronic_result": False}, (1, 0, 1)),
    ({"paper_result": True, "electronic_result": True}, (1, 1, 1)),
])
def test_4_1_electronic_result(values: dict[str, bool], expected: tuple[int, int, int]) -> None:
    got = oracle.dossier_facts(flags(**values), "online")
    assert pick(got, "paper_result_filings", "electronic_result_filings", "paper_result_reported") == expected


@pytest.mark.parametrize(("values", "expected"), [
    ({}, (0, 0, 0)), ({"digitised": False}, (0, 0, 1)), ({"digitised": True}, (1, 1, 1)),
    ({"digitised": True, "paper_result": True}, (0, 1, 1)),
    ({"digitised": True, "paper_result": True, "electronic_result": True}, (1, 1, 1)),
])
def test_4_2_digitised(values: dict[str, bool], expected: tuple[int, int, int]) -> None:
    got = oracle.dossier_facts(flags(**values), "online")
    assert pick(got, "portal_digitised", "digitised_yes", "digitised_reported") == expected


@pytest.mark.parametrize("flag", ["data_reused", "personal_store", "population_db"])
def test_4_3_to_4_5b_count_true_over_reported(flag: str) -> None:
    names = (f"{flag}_filings", f"{flag}_reported")
    assert pick(oracle.dossier_facts(flags(), "online"), *names) == (0, 0)
    assert pick(oracle.dossier_facts(flags(**{flag: False}), "online"), *names) == (0, 1)
    assert pick(oracle.dossier_facts(flags(**{flag: True}), "online"), *names) == (1, 1)
    others = [f for f in ("data_reused", "personal_store", "population_db") if f != flag]
    assert all(oracle.dossier_facts(flags(**{flag: True}), "online")[f"{o}_reported"] == 0 for o in others)


def test_5_4_satisfaction() -> None:
    names = ("ratings", "ratings_satisfied")
    assert pick(oracle.dossier_facts(flags(), "online"), *names) == (0, 0)
    assert pick(oracle.dossier_facts(flags(satisfied=False), "online"), *names) == (1, 0)
    assert pick(oracle.dossier_facts(flags(satisfied=True), "online"), *names) == (1, 1)


def test_the_last_flag_in_canonical_order_wins_and_via_implies_paid_online() -> None:
    history = [ev("submitted", T, satisfied=True, online_payment=False),
               ev("processed", T + DAY, satisfied=True),
               ev("updated", T + DAY, satisfied=False),  # same instant: updated (3) before processed (4)
               ev("updated", T + 2 * DAY, online_payment_via="national_portal"),
               ev("updated", T + 3 * DAY, paper_result=True)]  # after closing: still counts
    facts = facts_by_name(*history)
    assert pick(facts, "ratings", "ratings_satisfied", "payment_reported", "payment_online",
                "fee_paid_online", "paper_result_filings", "portal_online") == (1, 1, 1, 1, 1, 1, 0)
    later = facts_by_name(*history, ev("updated", T + 4 * DAY, online_payment=False))
    assert pick(later, "payment_online", "fee_filings") == (0, 1)


def test_flags_count_on_the_receipt_day_for_submitted_filings_only(tmp_path: Path, schema_dir: Path) -> None:
    start = datetime(2026, 8, 20, 9, 0, tzinfo=HCM)
    events = [ev("submitted", start, filing="A", due_at=start + 3 * DAY),
              ev("updated", datetime(2026, 9, 2, 9, 0, tzinfo=HCM), filing="A", data_reused=True,
                 satisfied=True),
              ev("updated", start, filing="held", data_reused=True)]
    result = run(tmp_path, schema_dir, events)
    got = periods(result)
    assert pick(got["2026-08"], "data_reused_filings", "ratings_satisfied") == (1, 1)
    assert pick(got["2026-09"], "data_reused_filings", "ratings_satisfied") == (0, 0)
    assert got["all_time"]["data_reused_reported"] == 1
    assert result.days["U|2026-08-20"]["data_reused_filings"] == 1 and "U|2026-09-02" not in result.days


# ---------------------------------------------------------------------------------------------
# The press-style lifecycle with the v2 types


def test_v2_types_in_the_press_style_lifecycle() -> None:
    stopped = facts_by_name(ev("submitted", T), ev("stopped", T + DAY), ev("processed", T + 2 * DAY))
    assert pick(stopped, "returned_stopped", "resolved_on_time", "resolved_early") == (1, 0, 0)
    assert oracle.counters(stopped)["returned_total"] == 1
    # result_returned resolves; the later processed is ignored.
    first = facts_by_name(ev("submitted", T), ev("result_returned", T + DAY), ev("processed", T + 5 * DAY))
    assert pick(first, "resolved_early", "resolved_late", "resolution_seconds") == (1, 0, 86_400)
    # A completion without due_at moves the due by the pause (1 day): D + 1 day is on time, a µs later late.
    paused = [ev("submitted", T), ev("supplement_requested", T + DAY),
              ev("supplement_completed", T + 2 * DAY)]
    assert facts_by_name(*paused, ev("processed", D + DAY))["resolved_on_time"] == 1
    assert facts_by_name(*paused, ev("processed", D + DAY + US))["resolved_late"] == 1
    # The completion clears the sender's overdue mark; updated changes nothing.
    marked = [ev("submitted", T), ev("overdue", T + timedelta(hours=1)), ev("supplement_requested", T + DAY),
              ev("supplement_completed", T + 2 * DAY), ev("updated", T + 2 * DAY),
              ev("processed", T + 3 * DAY)]
    # Due moved to D + 1 day (14 August), resolved the 13th: early, not late.
    assert pick(facts_by_name(*marked), "resolved_early", "resolved_late") == (1, 0)
    v1_returns = facts_by_name(v1("submitted", T), v1("returned", T + DAY, reason="withdrawn"))
    assert pick(v1_returns, "returned_withdrawn", "portal_on_time", "portal_completed") == (1, 1, 1)


def test_rejected_and_withdrawn_close_and_a_request_pauses() -> None:
    w = walk_filing([ev("submitted", T), ev("supplement_requested", T + DAY)])
    assert w.pending is None and w.facts[T.date(), "received"] == 1
    w = walk_filing([ev("submitted", T), ev("supplement_requested", T + DAY),
                     ev("supplement_completed", T + 2 * DAY)])
    assert w.pending == (D + DAY, False)
    w = walk_filing([ev("submitted", T), ev("rejected", T + DAY), ev("supplement_completed", T + 2 * DAY)])
    assert w.pending is None and w.facts[(T + DAY).date(), "returned_rejected"] == 1


# ---------------------------------------------------------------------------------------------
# Schema versions and bounds


def test_each_line_is_validated_against_the_schema_its_version_names(
        tmp_path: Path, schema_dir: Path) -> None:
    good_v2 = ev("submitted", AS_OF, filing="A", statutory_max_hours=8)
    good_v1 = v1("submitted", AS_OF, filing="B")
    v1_with_a_v2_type = v1("stopped", AS_OF, filing="B")
    v2_without_due = {k: v for k, v in ev("submitted", AS_OF, filing="C").items() if k != "due_at"}
    lines = [json.dumps(e).encode() for e in (good_v2, good_v1, v1_with_a_v2_type, v2_without_due,
                                              {**good_v1, "schema_version": 3},
                                              {**good_v1, "schema_version": True},
                                              {**good_v1, "schema_version": 1.0})]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = recompute(path, AS_OF, schema_dir=schema_dir)
    assert (result.accepted, result.skipped) == (2, Counter(invalid=5))
    (schema_dir / "filing-event.v2.json").unlink()
    only_v1 = recompute(path, AS_OF, schema_dir=schema_dir)
    assert (only_v1.accepted, only_v1.skipped) == (1, Counter(invalid=6))


def test_due_at_is_bounded_on_submitted_and_supplement_completed_only(
        tmp_path: Path, schema_dir: Path) -> None:
    far = AS_OF + timedelta(days=3 * 366) + US
    events = [ev("supplement_completed", AS_OF, filing="A", due_at=far),
              ev("submitted", AS_OF, filing="B", due_at=far),
              ev("processed", AS_OF, filing="C", due_at=far)]
    result = run(tmp_path, schema_dir, events, clean=False)
    assert result.skipped == Counter(out_of_bounds=2)
    assert result.refused == [(events[0]["event_id"], "bounds"), (events[1]["event_id"], "bounds")]
    assert result.accepted == 1


# ---------------------------------------------------------------------------------------------
# compare and subtree_periods over every period


def test_compare_and_subtree_periods_cover_the_calendar_periods(tmp_path: Path, schema_dir: Path) -> None:
    start = datetime(2026, 8, 20, 9, 0, tzinfo=HCM)
    events = [ev("submitted", start, unit="U1", due_at=datetime(2026, 9, 5, tzinfo=HCM)),
              ev("submitted", start, unit="U2", due_at=start + DAY),
              ev("processed", start + 2 * DAY, unit="U2")]
    units = run(tmp_path, schema_dir, events).units
    summed = subtree_periods([units["U1"], units["U2"]])
    assert pick(summed["2026-08"], *PORTAL, "on_time_rate") == (2, 0, 1, 1, 0, 0.5)
    assert pick(summed["2026"], *PORTAL, "on_time_rate") == (2, 0, 1, 0, 1, 0.0)
    empty = subtree_periods([], AS_OF)
    assert list(empty) == list(summed) and empty["2025-Q4"]["received_total"] == 0
    assert empty["2025-Q4"]["on_time_rate"] is None

    assert compare(units, units) == []
    changed = json.loads(json.dumps(units))
    changed["U1"]["periods"]["2026-08"]["portal_pending_on_time"] = 0
    del changed["U2"]["periods"]["2025-09"]
    assert compare(units, changed) == ["U1 2026-08 portal_pending_on_time: expected 1, got 0",
                                       "U2 2025-09: missing period"]
