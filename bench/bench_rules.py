"""How fast the pure counting logic runs on one core: `python -m bench.bench_rules`.

Applies a realistic mix of events (most filings submitted then resolved, some returned for a
supplement and resubmitted, some marked overdue, some still pending, a few duplicates and a few
out of order) through event_from_json / step / UnitState.apply, with and without the JSON decode,
then times figures() for a unit with 400 days of buckets. CPU time of this process (process_time),
so that other work on a shared machine disturbs the figures less.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import orjson

from services.aggregator.figures import figures
from services.aggregator.rules import EMPTY_FILING, RECEIVED_TOTAL, Delta, event_from_json, step
from services.aggregator.unit_state import UnitState

HCM = timedelta(hours=7)


def stamp(t: datetime) -> str:
    return (t + HCM).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+07:00"


def filing_events(rng: random.Random, unit: str, n: int, start: datetime) -> list[tuple[datetime, dict]]:
    fid = f"HS-{unit}-{n}"
    t = start + timedelta(seconds=rng.uniform(0, 30 * 86400))
    due = t + timedelta(days=rng.choice([1, 3, 5, 10, 15]))
    flags = {"online_payment": rng.random() < 0.5} if rng.random() < 0.6 else {}
    out = [(t, {"event_id": f"{fid}-s", "event_type": "submitted", "filing_id": fid, "unit_code": unit,
                "occurred_at": stamp(t), "source": "bench", "procedure_code": "1.001",
                "channel": rng.choice(["online", "online", "in_person", "postal"]),
                "due_at": stamp(due), **flags})]
    fate = rng.random()
    done = t + timedelta(seconds=rng.uniform(600, 12 * 86400))
    if fate < 0.05:
        out.append((due, {"event_id": f"{fid}-o", "event_type": "overdue", "filing_id": fid,
                          "unit_code": unit, "occurred_at": stamp(due), "source": "bench"}))
    if fate < 0.08:
        back = t + timedelta(hours=5)
        out.append((back, {"event_id": f"{fid}-r", "event_type": "returned", "filing_id": fid,
                           "unit_code": unit, "occurred_at": stamp(back), "source": "bench",
                           "reason": "supplement_requested"}))
        again = back + timedelta(days=2)
        out.append((again, {"event_id": f"{fid}-s2", "event_type": "submitted", "filing_id": fid,
                            "unit_code": unit, "occurred_at": stamp(again), "source": "bench",
                            "procedure_code": "1.001", "channel": "online",
                            "due_at": stamp(again + timedelta(days=5))}))
        done = again + timedelta(days=1)
    if fate < 0.11:
        out.append((done, {"event_id": f"{fid}-x", "event_type": "returned", "filing_id": fid,
                           "unit_code": unit, "occurred_at": stamp(done), "source": "bench",
                           "reason": rng.choice(["rejected", "withdrawn"])}))
    elif fate < 0.92:
        out.append((done, {"event_id": f"{fid}-p", "event_type": "processed", "filing_id": fid,
                           "unit_code": unit, "occurred_at": stamp(done), "source": "bench",
                           "digitised": rng.random() < 0.8}))
    return out


def make_stream(n_filings: int, n_units: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    timed = []
    for n in range(n_filings):
        timed.extend(filing_events(rng, f"U{n % n_units:04d}", n, start))
    timed.sort(key=lambda te: te[0])
    events = [e for _t, e in timed]
    for _ in range(len(events) // 50):  # 2% out of order, 1% duplicates
        i, j = rng.randrange(len(events)), rng.randrange(len(events))
        events[i], events[j] = events[j], events[i]
    events.extend(rng.sample(events, len(events) // 100))
    return events


def apply_all(objs: list[dict]) -> tuple[dict, dict]:
    filings: dict = {}
    units: dict[str, UnitState] = {}
    for obj in objs:
        event = event_from_json(obj)
        key = (event.unit_code, event.filing_id)
        new, change, _ = step(filings.get(key, EMPTY_FILING), event)
        if change is not None:
            filings[key] = new
            unit = units.get(event.unit_code)
            if unit is None:
                unit = units[event.unit_code] = UnitState()
            unit.apply(change)
    return filings, units


def main() -> None:
    objs = make_stream(200_000, 300)
    raw = [orjson.dumps(o) for o in objs]
    print(f"{len(objs)} events")
    for label, run in (("dicts", lambda: apply_all(objs)),
                       ("bytes (orjson.loads included)", lambda: apply_all([orjson.loads(r) for r in raw]))):
        best = float("inf")
        for _ in range(3):
            t = time.process_time()
            run()
            best = min(best, time.process_time() - t)
        print(f"apply from {label}: {len(objs) / best:,.0f} events/s")

    # One unit with 400 days of buckets and a few thousand pending filings.
    rng = random.Random(1)
    unit = UnitState()
    start = datetime(2025, 10, 20, tzinfo=UTC)
    filings: dict = {}
    for n in range(40_000):
        for _t, obj in filing_events(rng, "U1", n, start + timedelta(days=rng.uniform(0, 370))):
            event = event_from_json(obj)
            new, change, _ = step(filings.get(event.filing_id, EMPTY_FILING), event)
            filings[event.filing_id] = new
            if change is not None:
                unit.apply(change)
    now = datetime(2026, 11, 23, 7, 5, tzinfo=UTC).timestamp()
    print(f"unit with {len(unit.days)} days of buckets")
    t = time.process_time()
    figures("U1", unit, now)
    print(f"figures() first call (sums the past days): {(time.process_time() - t) * 1e6:,.0f} µs")
    n = 2000
    t = time.process_time()
    for _ in range(n):
        figures("U1", unit, now)
    print(f"figures() again, same day: {(time.process_time() - t) / n * 1e6:,.1f} µs")
    # After an event dated in the past (a late one), the past sums are redone once.
    oldest = min(unit.days)
    n = 200
    t = time.process_time()
    for i in range(n):
        unit.apply(Delta({(oldest, RECEIVED_TOTAL): 1 if i % 2 else -1}, None, None, None, None))
        figures("U1", unit, now)
    print(f"figures() after each late event: {(time.process_time() - t) / n * 1e6:,.0f} µs")

if __name__ == "__main__":
    main()
