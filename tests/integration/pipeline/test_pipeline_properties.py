"""Whatever a sender sends that passes the schema, no service stops, and every accepted event is
counted or in the DLQ with a reason (issue 12, class 1: one event dated at the calendar's end,
accepted with 202, stopped the aggregator on every restart).

Hypothesis generates batches of schema-valid events biased to the extremes: instants at both ends
of the calendar and in 1970, 2000 and 2500, offsets from -23:59 to +23:59, leap days, the first and
last microsecond of a second, nine fractional digits, huge strings and 64-bit integers in unknown
fields, any Unicode, every event type of a filing in any order, repeated event ids. Each batch goes
through the real ingest service (HTTP, a key) to the real broker, aggregator and API, each in its own
process. Every answer is 202 or 422 naming the fields, and every service stays up. Then the figures
on `unit-figures` and those the API serves equal the oracle's recomputation of exactly the events
ingest accepted, and the DLQ holds exactly the accepted events the oracle does not count, each with
its reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.local.broker import LocalKafka
from tests.support.aggregator import FiguresReader, read_dlq
from tests.support.oracle import compare, recompute
from tests.support.pipeline import NDJSON, Pipeline

pytestmark = pytest.mark.integration

# The aggregator's clock (frozen) and the oracle's as_of; ingest's clock starts there and runs.
FROZEN_NOW = "2026-12-06T10:00:00+07:00"
NOW = datetime.fromisoformat(FROZEN_NOW)
EXAMPLES = 200  # batches, each of 1 to 12 events
SETTLE_S = 120

OFFSETS = ["Z", "+00:00", "-00:00", "+07:00", "-23:59", "+23:59", "+14:00", "-12:00", "+05:45", "-09:30"]
FRACTIONS = ["", ".0", ".000001", ".999999", ".5", ".123456789", ".999999999"]
EXTREME_INSTANTS = [
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.999999+23:59", "0001-01-01T00:00:00+23:59",
    "1970-01-01T00:00:00Z", "1999-12-31T23:59:59.999999+07:00", "2000-01-01T00:00:00+07:00",
    "2024-02-29T23:59:59.999999999+07:00", "2099-12-31T23:59:59Z", "2500-01-01T00:00:00+07:00",
    (NOW + timedelta(days=1)).isoformat(), (NOW + timedelta(days=1, microseconds=1)).isoformat(),
]
UNITS = ["U.1", "U-2", "u_3", "9", "Z" * 64]
FILINGS = ["F0", "F1", "F2", "F/3:@x.y-z", "f" * 128]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=64)


def rfc3339(moment: datetime, fraction: str, offset: str) -> str:
    # By field, not strftime: years before 1000 keep their four digits.
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}{fraction}{offset}")


def instants() -> st.SearchStrategy[str]:
    """Mostly near the clock (so that most events count), often at the edges, sometimes anywhere."""
    near = st.datetimes(min_value=(NOW - timedelta(days=45)).replace(tzinfo=None),
                        max_value=(NOW + timedelta(days=2)).replace(tzinfo=None))
    anywhere = st.datetimes()
    leap_days = st.sampled_from([datetime(2024, 2, 29, 23, 59, 59), datetime(2028, 2, 29),
                                 datetime(2000, 2, 29)])
    def written(local: st.SearchStrategy[datetime]) -> st.SearchStrategy[str]:
        return st.builds(rfc3339, local, st.sampled_from(FRACTIONS), st.sampled_from(OFFSETS))

    return st.one_of(written(near), written(near), written(near), written(near), written(anywhere),
                     written(leap_days), st.sampled_from(EXTREME_INSTANTS))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["submitted", "processed", "overdue", "returned"]))
    fresh_id = st.uuids().map(lambda u: f"ev-{u.hex}")
    event: dict[str, Any] = {
        # Mostly new ids; often a repeated one (the same event sent again, or another with its id).
        "event_id": draw(st.one_of(fresh_id, fresh_id, st.sampled_from([f"e{n}" for n in range(400)]),
                                   st.from_regex(r"[A-Za-z0-9._:@/-]{1,128}", fullmatch=True))),
        "event_type": kind, "filing_id": draw(st.sampled_from(FILINGS)),
        "unit_code": draw(st.sampled_from(UNITS)), "occurred_at": draw(instants()), "source": draw(TEXT),
    }
    if draw(st.booleans()):
        event["schema_version"] = 1
    if kind == "submitted":
        event.update(channel=draw(st.sampled_from(["online", "in_person", "postal"])),
                     due_at=draw(instants()), procedure_code=draw(TEXT))
    if kind == "returned":
        event["reason"] = draw(st.sampled_from(["rejected", "supplement_requested", "withdrawn"]))
    for flag in ("online_payment", "digitised"):
        value = draw(st.none() | st.booleans())
        if value is not None:
            event[flag] = value
    # Unknown fields are allowed: huge integers and strings, nesting, any Unicode.
    # (Integers within 64 bits: JSON has no limit, but orjson, which writes these, has.)
    int64 = st.integers(-(2**63), 2**63 - 1)
    event.update(draw(st.dictionaries(
        st.from_regex(r"x_[a-z]{1,8}", fullmatch=True),
        st.one_of(int64, st.text(max_size=3000), st.just("s" * 20_000), st.lists(int64, max_size=5),
                  st.floats(allow_nan=False, allow_infinity=False)),
        max_size=3)))
    return event


def post(http: httpx.Client, key: str, batch: list[dict[str, Any]], as_ndjson: bool) -> httpx.Response:
    if as_ndjson:
        body = b"".join(orjson.dumps(e) + b"\n" for e in batch)
        return http.post("/v1/events", content=body, headers={"Authorization": f"Bearer {key}",
                                                              "Content-Type": NDJSON})
    return http.post("/v1/events", content=orjson.dumps(batch),
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


def send_examples(pipeline: Pipeline, accepted_log: Path) -> Counter[str]:
    """Post EXAMPLES generated batches; keep the accepted events in `accepted_log`, in the order
    Kafka has them; return the reasons of the refused ones."""
    refused: Counter[str] = Counter()

    with httpx.Client(base_url=pipeline.ingest_url, timeout=30) as http, accepted_log.open("ab") as log:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(batch=st.lists(events(), min_size=1, max_size=12), as_ndjson=st.booleans())
        def send(batch: list[dict[str, Any]], as_ndjson: bool) -> None:
            answer = post(http, pipeline.key, batch, as_ndjson)
            assert answer.status_code in (202, 422), (answer.status_code, answer.text[:500])
            results = answer.json()["results"]
            assert [r["index"] for r in results] == list(range(len(batch)))
            for result, event in zip(results, batch, strict=True):
                if result["status"] == "accepted":
                    log.write(orjson.dumps(event) + b"\n")
                else:
                    assert result["errors"] and all(isinstance(e["field"], str) for e in result["errors"])
                    refused[result["errors"][0]["field"] or "event"] += 1
            log.flush()
            pipeline.check_alive()

        send()
    return refused


async def test_no_schema_valid_event_stops_a_service_and_each_is_counted_or_dead_lettered(
        kafka_broker: LocalKafka, tmp_path: Path) -> None:
    pipeline = Pipeline(kafka_broker.bootstrap, tmp_path / "pipeline", FROZEN_NOW, partitions=3)
    pipeline.ingest.env["ONESTOP_CLOCK_START"] = FROZEN_NOW
    accepted_log = tmp_path / "accepted.ndjson"
    await pipeline.start()
    try:
        refused = await asyncio.to_thread(send_examples, pipeline, accepted_log)
        oracle = recompute(accepted_log, NOW)
        accepted = len(accepted_log.read_bytes().splitlines())
        print(f"{EXAMPLES} batches: {accepted} events accepted by ingest, refused there by field "
              f"{dict(refused)}; the oracle counts {oracle.accepted} in {len(oracle.units)} units "
              f"({oracle.duplicates} duplicates), and the DLQ should hold "
              f"{dict(Counter(reason for _, reason in oracle.refused))}")
        # The generator must reach both outcomes, or the test proves nothing.
        assert oracle.accepted > EXAMPLES and len(oracle.units) == len(UNITS)
        assert refused["occurred_at"] > 0 and refused["due_at"] > 0 and oracle.refused

        async with FiguresReader(pipeline.kafka) as reader:
            def settled(latest: dict[str, dict[str, Any]]) -> bool:
                return latest.keys() == oracle.units.keys() and not compare(oracle.units, latest)

            assert await reader.wait_for(settled, SETTLE_S), compare(oracle.units, reader.latest)[:10]
        dead = await read_dlq(pipeline.kafka, len(oracle.refused), deadline_s=30)
        assert Counter((orjson.loads(r.value)["event_id"],
                        dict(r.headers)["dlq.reason"].decode().split(":")[0]) for r in dead) \
            == Counter(oracle.refused)

        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=10) as api:
            async def served() -> dict[str, dict[str, Any]]:
                answers = {code: (await api.get(f"/v1/units/{code}")).json() for code in oracle.units}
                return {code: {"unit_code": code, "periods": a["figures"]["periods"]}
                        for code, a in answers.items() if a.get("figures")}

            deadline = time.monotonic() + 30
            while differences := compare(oracle.units, await served()):
                assert time.monotonic() < deadline, differences[:10]
                await asyncio.sleep(0.2)
            assert (await api.get("/healthz")).status_code == 200
        async with httpx.AsyncClient(base_url=pipeline.ingest_url, timeout=10) as ingest:
            assert (await ingest.get("/healthz")).status_code == 200
        pipeline.check_alive()
    finally:
        pipeline.stop()
