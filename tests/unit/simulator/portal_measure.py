"""Decision 766's per-filing rules, written again from docs/figures.md, to measure the simulator.

Small on purpose: it reads the simulator's clean feed (each event once, well formed, v2), so it
skips what the aggregator and the oracle must handle (duplicates, held filings, clamping, v1).
It measures every indicator's numerator and denominator over a sample, per unit and in total,
so that the tests can check the simulated shares and the report can quote them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

RANK = {"submitted": 0, "supplement_completed": 1, "overdue": 2, "updated": 3, "processed": 4,
        "result_returned": 5, "supplement_requested": 6, "rejected": 7, "withdrawn": 8, "stopped": 9}
ENDING_PREFERENCE = (("processed",), ("result_returned",), ("stopped", "rejected"), ("withdrawn",))
FLAGS = ("online_payment", "fee_due", "digitised", "electronic_result", "paper_result", "data_reused",
         "personal_store", "population_db", "full_online_service", "full_online_eligible", "satisfied")
INDICATORS = ("2.1 on time", "3.3 online", "full-online", "3.6 online payment", "4.1 electronic result",
              "4.2 digitised", "4.3 reuse", "4.4 personal data store", "4.5b population database",
              "5.4 satisfaction")


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def canonical(events: Iterable[dict]) -> list[dict]:
    return sorted(events, key=lambda e: (instant(e["occurred_at"]), RANK[e["event_type"]], e["event_id"]))


def flags_of(events: list[dict]) -> dict[str, bool]:
    """Each flag's value on the last event carrying it (events in canonical order)."""
    out: dict[str, bool] = {}
    for event in events:
        for name in FLAGS:
            if name in event:
                out[name] = event[name]
        if "online_payment_via" in event:
            out["online_payment"] = True
    return out


def on_time(events: list[dict], cutoff: float) -> tuple[bool, float | None]:
    """The 2.1 verdict of a filing (events in canonical order) and its processing seconds (2.2),
    None when it has no ending status."""
    first = next(e for e in events if e["event_type"] == "submitted")
    start = instant(first["occurred_at"])
    due = (instant(first["due_at"]) if "due_at" in first
           else start + first["statutory_max_hours"] * 3600)
    end = None
    for kinds in ENDING_PREFERENCE:
        times = [instant(e["occurred_at"]) for e in events if e["event_type"] in kinds]
        if times:
            end = min(times)
            break
    first_end = next((i for i, e in enumerate(events) if e["event_type"] in
                      ("processed", "result_returned", "stopped", "rejected", "withdrawn")), len(events))
    before = events[:first_end]
    requests = [i for i, e in enumerate(before) if e["event_type"] == "supplement_requested"]
    pause = 0.0
    if len(requests) >= 2:
        verdict = False
    else:
        if requests:
            asked = instant(before[requests[0]]["occurred_at"])
            completion = next((e for e in before[requests[0] + 1:]
                               if e["event_type"] == "supplement_completed"), None)
            if completion is None:
                end = asked
            elif "due_at" in completion:
                due = instant(completion["due_at"])
            else:
                pause = instant(completion["occurred_at"]) - asked
        verdict = (end if end is not None else cutoff) - pause <= due
    seconds = None if end is None else max(0.0, end - pause - start)
    return verdict, seconds


@dataclass
class Counts:
    """Numerators and denominators by indicator, and the other shares the tests check."""

    num: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    den: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reported: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    received: int = 0
    completed: int = 0
    processing_seconds: float = 0.0

    def ratio(self, indicator: str) -> float:
        return self.num[indicator] / self.den[indicator] if self.den[indicator] else float("nan")

    def add(self, events: list[dict], cutoff: float) -> None:
        first = next(e for e in events if e["event_type"] == "submitted")
        flags = flags_of(events)
        self.received += 1
        for name in flags:
            self.reported[name] += 1
        verdict, seconds = on_time(events, cutoff)
        if seconds is not None:
            self.completed += 1
            self.processing_seconds += seconds

        def count(indicator: str, numerator: bool, denominator: bool = True) -> None:
            self.den[indicator] += denominator
            self.num[indicator] += numerator and denominator

        paper, electronic = flags.get("paper_result", False), flags.get("electronic_result", False)
        count("2.1 on time", verdict)
        count("3.3 online", first["channel"] == "online" and (not paper or electronic))
        if "full_online_eligible" in flags or "full_online_service" in flags:
            count("full-online", flags.get("full_online_service", False),
                  flags.get("full_online_eligible", False) or flags.get("full_online_service", False))
        if "fee_due" in flags or "online_payment" in flags:
            count("3.6 online payment", flags.get("online_payment", False),
                  flags.get("fee_due", False) or flags.get("online_payment", False)
                  or ("fee_due" not in flags and "online_payment" in flags))
        if "paper_result" in flags:
            count("4.1 electronic result", paper and electronic, paper)
        count("4.2 digitised", flags.get("digitised", False) and (not paper or electronic))
        count("4.3 reuse", flags.get("data_reused", False))
        count("4.4 personal data store", flags.get("personal_store", False))
        count("4.5b population database", flags.get("population_db", False))
        if "satisfied" in flags:
            count("5.4 satisfaction", flags["satisfied"])


def by_filing(events: Iterable[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        out[(event["unit_code"], event["filing_id"])].append(event)
    return {key: canonical(evs) for key, evs in out.items()}


def measure(events: Iterable[dict], cutoff: float) -> tuple[Counts, dict[str, Counts]]:
    """The province's counts and each unit's, over filings received in the sample."""
    total = Counts()
    units: dict[str, Counts] = defaultdict(Counts)
    for (unit, _), evs in by_filing(events).items():
        total.add(evs, cutoff)
        units[unit].add(evs, cutoff)
    return total, dict(units)
