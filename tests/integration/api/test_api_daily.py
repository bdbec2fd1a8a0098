"""A unit's daily series, served from the compacted `unit-days` topic on the real broker."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.api.daily import DailyView
from services.common.kafka_settings import KafkaSettings
from services.contract.figures import COUNTERS
from tests.support.api import WARD_A, api_settings, running_api
from tests.support.waiting import eventually


def day_row(unit: str, day: str, **counts: int) -> dict[str, Any]:
    return {"unit_code": unit, "day": day, **{c: counts.get(c, 0) for c in COUNTERS}}


def test_a_malformed_record_is_refused_whole() -> None:
    view = DailyView()
    with pytest.raises(ValueError, match="unit-days key"):
        view.apply("no-separator", orjson.dumps(day_row("U", "2026-11-01")))
    with pytest.raises(ValueError):
        view.apply("U|2026-13-01", orjson.dumps(day_row("U", "2026-13-01")))
    with pytest.raises(KeyError):
        view.apply("U|2026-11-01", orjson.dumps({"unit_code": "U", "day": "2026-11-01"}))
    assert view.rows == {}


@pytest.mark.integration
async def test_daily_series_over_a_range(kafka_settings: KafkaSettings) -> None:
    settings = api_settings(kafka_settings)
    producer = AIOKafkaProducer(**kafka_settings.client_kwargs(), acks="all")
    await producer.start()
    rows = [day_row(WARD_A, "2026-11-01", received_total=4, received_online=3),
            day_row(WARD_A, "2026-11-03", received_total=2, received_in_person=2, resolved_total=2,
                    resolved_on_time=1, resolved_late=1, resolution_seconds=7200,
                   portal_on_time=1, portal_overdue=1),
            day_row(WARD_A, "2026-11-04", received_total=9)]
    try:
        for row in rows:
            await producer.send_and_wait(kafka_settings.days_topic, orjson.dumps(row),
                                         key=f"{WARD_A}|{row['day']}".encode())
        # A later record of the same day replaces the earlier one, as compaction keeps it.
        rows[0] = day_row(WARD_A, "2026-11-01", received_total=5, received_online=3)
        await producer.send_and_wait(kafka_settings.days_topic, orjson.dumps(rows[0]),
                                     key=f"{WARD_A}|2026-11-01".encode())
        async with running_api(settings) as api:
            url = f"/v1/units/{WARD_A}/daily?from=2026-11-01&to=2026-11-03"

            async def served() -> bool:
                response = await api.client.get(url)
                return response.status_code == 200 and response.json()["days"][0]["received_total"] == 5

            await eventually(served, 20, "the daily series")
            body = (await api.client.get(url)).json()
            assert [d["day"] for d in body["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
            first, empty, third = body["days"]
            assert first["received_online"] == 3 and first["online_rate"] == pytest.approx(0.6)
            assert all(empty[c] == 0 for c in COUNTERS) and empty["online_rate"] is None
            assert third["resolved_total"] == 2 and third["avg_resolution_hours"] == 1.0
            # 2.1 over the day's decided filings (no snapshot judges a day's open ones).
            assert third["on_time_rate"] == 0.5
            # The day after the range is not included.
            assert all(d["day"] != "2026-11-04" for d in body["days"])

            backwards = await api.client.get(f"/v1/units/{WARD_A}/daily?from=2026-11-03&to=2026-11-01")
            assert backwards.status_code == 422 and "to" in backwards.json()["message"]
            too_long = await api.client.get(f"/v1/units/{WARD_A}/daily?from=2025-01-01&to=2026-11-01")
            assert too_long.status_code == 422
            malformed = await api.client.get(f"/v1/units/{WARD_A}/daily?from=2026-11-31&to=2026-12-01")
            assert malformed.status_code == 422 and "from" in malformed.json()["message"]
            unknown = await api.client.get("/v1/units/NO-SUCH/daily?from=2026-11-01&to=2026-11-02")
            assert unknown.status_code == 404
    finally:
        await producer.stop()
