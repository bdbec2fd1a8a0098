"""The API against a real Kafka: what it serves equals what was published on unit-figures (and summed
over subtrees), admin writes reach every replica, the stream follows changes, /metrics agrees, and
/readyz waits for the catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.broker import free_port
from services.api import models
from services.common.kafka_settings import KafkaSettings
from services.contract.figures import COUNTERS, PERIODS, RATES, SNAPSHOTS, rates
from tests.support.api import (
    ADMIN,
    UNITS,
    WARD_A,
    WARD_B,
    WARD_OUTSIDE,
    SseReader,
    api_settings,
    figures_producer,
    figures_record,
    running_api,
    status_is,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def assert_figures(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Counters exactly, rates to 1e-12 relative (docs/figures.md)."""
    for name in (*COUNTERS, *SNAPSHOTS):
        assert got[name] == want[name], name
    for name in RATES:
        assert got[name] == (None if want[name] is None else pytest.approx(want[name], rel=1e-12)), name


def summed(*records: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in PERIODS:
        counters = {c: sum(r["periods"][name][c] for r in records) for c in (*COUNTERS, *SNAPSHOTS)}
        out[name] = {**counters, **rates(counters)}
    return out


async def test_figures_rollups_rankings_and_reports(kafka_settings: KafkaSettings) -> None:
    dept = figures_record("31.S06", received_total=10, received_online=4, resolved_total=5, resolved_early=5)
    office = figures_record("31.S06.01", received_total=20, received_online=19, pending_overdue=2,
                            pending_within_due=3, resolved_total=4, resolved_late=4, resolution_seconds=7200)
    ward_a = figures_record(WARD_A, received_total=5, received_online=1)
    ward_b = figures_record(WARD_B, received_total=8, received_online=8)
    async with figures_producer(kafka_settings) as publish:
        await publish(dept, office, ward_a, ward_b)
        async with running_api(api_settings(kafka_settings)) as api:
            client = api.client
            answer = (await client.get("/v1/units/31.S06.01")).json()
            models.UnitDetail.model_validate(answer)
            assert answer["unit"]["parent_code"] == "31.S06" and answer["unit"]["level"] == "office"
            assert answer["figures"]["periods"] == office["periods"]

            rollup = (await client.get("/v1/units/31.S06/rollup")).json()
            models.Rollup.model_validate(rollup)
            assert rollup["units"] == 2 and rollup["units_with_figures"] == 2
            want = summed(dept, office)
            for name in PERIODS:
                assert_figures(rollup["periods"][name], want[name])
            assert rollup["periods"]["today"]["online_rate"] == pytest.approx(23 / 30)
            province = (await client.get("/v1/units/31/rollup")).json()
            want = summed(dept, office, ward_a, ward_b)
            for name in PERIODS:
                assert_figures(province["periods"][name], want[name])
            assert province["units"] == len(UNITS)

            # The view follows the topic: a new record replaces the unit's figures.
            ward_a = figures_record(WARD_A, received_total=6, received_online=6)
            await publish(ward_a)

            async def updated() -> bool:
                got = (await client.get(f"/v1/units/{WARD_A}")).json()
                return bool(got["figures"]["periods"] == ward_a["periods"])
            await eventually(updated, 5, "the new record")

            tree = (await client.get("/v1/units", params={"root": "31.S06"})).json()
            models.UnitTreeOut.model_validate(tree)
            assert [c["code"] for c in tree["roots"][0]["children"]] == ["31.S06.01"]

            for unit, value in (("31.S06", 0.8), (WARD_A, 0.9), (WARD_B, 0.5)):
                answer = await client.put(f"/v1/admin/targets/{unit}/online_rate/2026", json={"value": value},
                                          headers=ADMIN)
                assert answer.status_code == 200, answer.text
            ranking = (await client.get("/v1/rankings", params={"figure": "online_rate", "parent": "31",
                                                                "period": "year_to_date"})).json()
            models.Ranking.model_validate(ranking)
            ranked = [(r["code"], r["rank"]) for r in ranking["units"] if r["rank"] is not None]
            assert ranked == [(WARD_A, 1), (WARD_B, 1), ("31.S06", 3)]
            s06 = next(r for r in ranking["units"] if r["code"] == "31.S06")
            assert s06["value"] == pytest.approx(23 / 30) and s06["gap"] == pytest.approx(23 / 30 - 0.8)
            assert s06["met"] is False and s06["target_period"] == "2026"
            wards = (await client.get("/v1/rankings", params={"level": "ward", "figure": "received_total",
                                                              "period": "today"})).json()
            assert all(r["level"] == "ward" for r in wards["units"])

            report = (await client.get("/v1/reports/targets",
                                       params={"period": "month_to_date", "figure": "online_rate"})).json()
            models.TargetReport.model_validate(report)
            assert [r["code"] for r in report["above"]] == [WARD_A, WARD_B]
            assert [r["code"] for r in report["below"]] == ["31.S06"]
            as_csv = await client.get("/v1/reports/targets", headers={"Accept": "text/csv"})
            assert as_csv.headers["content-type"].startswith("text/csv")
            lines = as_csv.text.splitlines()
            assert lines[0].startswith("status,rank,code") and len(lines) == 4
            assert lines[3].startswith("below,3,31.S06,")
            assert (await client.get("/v1/reports/targets?format=csv")).text == as_csv.text

            missing = await client.get("/v1/units/99999")
            assert missing.status_code == 404 and missing.json()["error"] == "unknown_unit"
            assert (await client.get("/v1/units/99999/rollup")).status_code == 404
            assert (await client.get("/v1/rankings", params={"parent": "99999"})).status_code == 404
            for parameter in ("figure", "period"):
                bad = await client.get("/v1/rankings", params={parameter: "nope"})
                assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == parameter
            bad = await client.get("/v1/reports/targets", params={"period": "fortnight"})
            assert bad.status_code == 422 and "period" in bad.json()["message"]


async def test_admin_endpoints_need_the_key_and_reach_every_replica(kafka_settings: KafkaSettings) -> None:
    settings = api_settings(kafka_settings)
    body = {"name": "Ban Dân tộc", "level": "department", "parent_code": "31"}
    replica_settings = settings.model_copy(update={"seed_registry": False})
    async with running_api(settings) as api, running_api(replica_settings) as replica:
        client = api.client
        url = "/v1/admin/units/31.S20"
        assert (await client.put(url, json=body)).status_code == 401
        assert (await client.put(url, json=body, headers={"Authorization": "Basic abc"})).status_code == 401
        wrong = await client.put(url, json=body, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
        assert (await client.delete("/v1/admin/units/31.S03")).status_code == 401
        no_key = await client.put("/v1/admin/targets/31/online_rate/2026", json={"value": 0.6})
        assert no_key.status_code == 401
        assert (await client.get("/v1/units/31.S20")).status_code == 404

        assert (await client.put(url, json=body, headers=ADMIN)).status_code == 200
        assert (await client.get("/v1/units/31.S20")).json()["unit"]["name"] == "Ban Dân tộc"
        assert "31.S20" in (await client.get("/v1/units/31")).json()["children"]

        async def replica_sees(path: str, status: int) -> Callable[[], Awaitable[bool]]:
            return lambda: status_is(replica.client, path, status)
        await eventually(await replica_sees("/v1/units/31.S20", 200), 5, "the replica to see the unit")

        cycle = await client.put("/v1/admin/units/31", json={"name": "x", "level": "province",
                                                             "parent_code": "31.S20"}, headers=ADMIN)
        assert cycle.status_code == 422
        bad_code = await client.put("/v1/admin/units/a%2Fb", json=body, headers=ADMIN)
        assert bad_code.status_code in (404, 422)
        no_level = await client.put("/v1/admin/units/31.S21", json={"name": "x"}, headers=ADMIN)
        assert no_level.status_code == 422

        target = "/v1/admin/targets/31.S20/online_rate/2026-Q2"
        assert (await client.put(target, json={"value": -1}, headers=ADMIN)).status_code == 422
        assert (await client.put("/v1/admin/targets/31.S20/online_rate/2026-13", json={"value": 0.5},
                                 headers=ADMIN)).status_code == 422
        assert (await client.put("/v1/admin/targets/nope/online_rate/2026", json={"value": 0.5},
                                 headers=ADMIN)).status_code == 404
        assert (await client.put(target, json={"value": 0.7}, headers=ADMIN)).status_code == 200
        assert (await client.get("/v1/units/31.S20")).json()["targets"] == [
            {"unit_code": "31.S20", "figure": "online_rate", "period": "2026-Q2", "value": 0.7}]
        assert (await client.delete(target, headers=ADMIN)).status_code == 204
        assert (await client.get("/v1/units/31.S20")).json()["targets"] == []
        assert (await client.delete(target, headers=ADMIN)).status_code == 404

        assert (await client.delete(url, headers=ADMIN)).status_code == 204
        assert (await client.get("/v1/units/31.S20")).status_code == 404
        await eventually(await replica_sees("/v1/units/31.S20", 404), 5, "the replica to drop the unit")


async def test_agency_codes_are_mapped_by_admins_listed_to_all_and_reach_every_replica(
        kafka_settings: KafkaSettings) -> None:
    """PUT and DELETE /v1/admin/agencies/{code} need the admin key; GET /v1/agencies is read by anyone
    and follows them, here and on another replica."""
    settings = api_settings(kafka_settings)
    replica_settings = settings.model_copy(update={"seed_registry": False})
    agency, other = "000.00.12.H31", "H31.100"
    url = f"/v1/admin/agencies/{agency}"
    async with running_api(settings) as api, running_api(replica_settings) as replica:
        client = api.client

        async def listed(on: httpx.AsyncClient = client) -> dict[str, str]:
            answer = await on.get("/v1/agencies")
            assert answer.status_code == 200, answer.text
            return {a["agency_code"]: a["unit_code"] for a in answer.json()["agencies"]}

        assert await listed() == {}
        # Without the key, or with a wrong one, nothing is written.
        assert (await client.put(url, json={"unit_code": "31.S03"})).status_code == 401
        wrong = await client.put(url, json={"unit_code": "31.S03"}, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
        assert (await client.delete(url)).status_code == 401
        assert (await client.delete(url, headers={"Authorization": "Bearer wrong"})).status_code == 403
        # An unknown unit, a code outside the pattern, a body without a unit: refused.
        unknown = await client.put(url, json={"unit_code": "31.S99"}, headers=ADMIN)
        assert unknown.status_code == 404
        assert (await client.put("/v1/admin/agencies/.bad", json={"unit_code": "31.S03"},
                                 headers=ADMIN)).status_code == 422
        assert (await client.put(url, json={}, headers=ADMIN)).status_code == 422
        assert (await client.delete(url, headers=ADMIN)).json()["error"] == "unknown_agency"
        assert await listed() == {}

        put = await client.put(url, json={"unit_code": "31.S03"}, headers=ADMIN)
        assert put.status_code == 200 and put.json() == {"agency_code": agency, "unit_code": "31.S03"}
        assert (await client.put(f"/v1/admin/agencies/{other}", json={"unit_code": WARD_A},
                                 headers=ADMIN)).status_code == 200
        assert await listed() == {agency: "31.S03", other: WARD_A}
        assert [a["agency_code"] for a in (await client.get("/v1/agencies")).json()["agencies"]] == sorted(
            [agency, other])
        # Remapped: the last write wins.
        assert (await client.put(url, json={"unit_code": "31.S06"}, headers=ADMIN)).status_code == 200
        assert (await listed())[agency] == "31.S06"

        async def replica_lists(want: dict[str, str]) -> bool:
            return await listed(replica.client) == want
        await eventually(lambda: replica_lists({agency: "31.S06", other: WARD_A}), 5,
                         "the replica to list the agency codes")

        deleted = await client.delete(url, headers=ADMIN)
        assert deleted.status_code == 204 and deleted.content == b""
        assert await listed() == {other: WARD_A}
        missing = await client.delete(url, headers=ADMIN)
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_agency"
        await eventually(lambda: replica_lists({other: WARD_A}), 5, "the replica to drop the agency code")


async def test_stream_sends_changes_in_the_subtree_within_a_second(kafka_settings: KafkaSettings) -> None:
    settings = api_settings(kafka_settings, stream_heartbeat_s=0.5)
    async with figures_producer(kafka_settings) as publish, running_api(settings) as api:
        async with SseReader(api.client, {"unit": "31.S06"}) as stream:
            office = figures_record("31.S06.01", received_total=3, received_online=1)
            sent = time.monotonic()
            await publish(office)
            event, first_id, data, arrived = await stream.next_event(1.0)
            assert arrived - sent < 1.0
            assert event == "figures" and data["unit_code"] == "31.S06.01"
            assert data["periods"] == office["periods"]

            # Outside the subtree: not sent. Inside: sent, with a larger id.
            await publish(figures_record(WARD_OUTSIDE, received_total=1))
            await publish(figures_record("31.S06", received_total=2))
            event, second_id, data, _ = await stream.next_event(2.0)
            assert data["unit_code"] == "31.S06"
            assert first_id and second_id and int(second_id.rsplit("-")[1]) > int(first_id.rsplit("-")[1])

            # Rapid changes of one unit are coalesced: at most one event per 500 ms, the last one wins.
            bursts = [figures_record("31.S06.01", received_total=10 + i) for i in range(6)]
            for record in bursts:
                await publish(record)
            got = []
            with contextlib.suppress(TimeoutError):
                while True:
                    got.append(await stream.next_event(1.2))
            times = [t for _, _, d, t in got if d["unit_code"] == "31.S06.01"]
            assert 1 <= len(times) <= 3
            assert all(b - a >= 0.4 for a, b in itertools.pairwise(times))
            assert got[-1][2]["periods"] == bursts[-1]["periods"]
            last_id = got[-1][1]
            # Idle: heartbeats keep the connection alive.
            assert "heartbeat" in stream.comments

        # Missed while disconnected: replayed on reconnect with Last-Event-ID.
        missed = figures_record("31.S06.01", received_total=99)
        await publish(missed)
        await eventually(lambda: _has(api.client, "31.S06.01", 99), 5, "the missed change in the view")
        assert last_id is not None
        async with SseReader(api.client, {"unit": "31.S06"}, {"Last-Event-ID": last_id}) as resumed:
            event, _, data, _ = await resumed.next_event(2.0)
            assert event == "figures" and data["periods"] == missed["periods"]

        # An id this process never gave: a reset, then the subtree's current figures.
        async with SseReader(api.client, {"unit": "31.S06"}, {"Last-Event-ID": "elsewhere-7"}) as fresh:
            event, _, data, _ = await fresh.next_event(2.0)
            assert event == "reset"
            snapshot = {(await fresh.next_event(2.0))[2]["unit_code"] for _ in range(2)}
            assert snapshot == {"31.S06", "31.S06.01"}
        assert (await api.client.get("/v1/stream", params={"unit": "nope"})).status_code == 404


async def _has(client: httpx.AsyncClient, unit: str, received_today: int) -> bool:
    answer = (await client.get(f"/v1/units/{unit}")).json()
    return bool(answer["figures"]["periods"]["today"]["received_total"] == received_today)


async def test_metrics_parse_and_equal_the_api(kafka_settings: KafkaSettings) -> None:
    records = [figures_record("31.S06.01", received_total=7, received_online=5, pending_overdue=2,
                              resolved_total=3, resolved_on_time=3, resolution_seconds=5400),
               figures_record(WARD_A, received_total=4, received_online=0)]
    async with figures_producer(kafka_settings) as publish:
        await publish(*records)
        async with running_api(api_settings(kafka_settings)) as api:
            text = (await api.client.get("/metrics")).text
            samples = {}
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
            names = {
                "received_total": "onestop_unit_received_filings",
                "received_online": "onestop_unit_received_online_filings",
                "pending_overdue": "onestop_unit_pending_overdue_filings",
                "resolution_seconds": "onestop_unit_resolution_seconds",
                "online_rate": "onestop_unit_online_rate_ratio",
                "on_time_rate": "onestop_unit_on_time_rate_ratio",
            }
            for record in records:
                unit = record["unit_code"]
                served = (await api.client.get(f"/v1/units/{unit}")).json()
                level = served["unit"]["level"]
                for period in PERIODS:
                    labels = tuple(sorted({"unit": unit, "level": level, "period": period}.items()))
                    for field, metric in names.items():
                        assert samples.get((metric, labels)) == served["figures"]["periods"][period][field]
                    hours = served["figures"]["periods"][period]["avg_resolution_hours"]
                    average = samples.get(("onestop_unit_resolution_average_seconds", labels))
                    assert average == (None if hours is None else pytest.approx(hours * 3600))
            assert samples[("api_view_ready", ())] == 1
            figures_topic = (("topic", kafka_settings.figures_topic),)
            assert samples[("api_view_records_consumed", figures_topic)] == len(records)
            assert samples[("api_view_lag_records", figures_topic)] == 0
            assert samples[("api_view_units", ())] == len(records)
            assert any(name == "api_requests_total" for name, _ in samples)


@asynccontextmanager
async def delayed_proxy(port: int, target_port: int) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A TCP forwarder to the broker on `port` that listens only once the yielded function is called:
    until then the API cannot reach Kafka at all."""
    servers: list[asyncio.Server] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def open_() -> None:
        servers.append(await asyncio.start_server(handle, "127.0.0.1", port))

    try:
        yield open_
    finally:
        for server in servers:
            server.close()


async def test_readyz_is_503_until_caught_up(kafka_settings: KafkaSettings) -> None:
    units = [f"T{i:05d}" for i in range(3000)]
    async with figures_producer(kafka_settings) as publish:
        await publish(*(figures_record(u, received_total=i) for i, u in enumerate(units)))
    proxy_port = free_port()
    broker_port = int(kafka_settings.bootstrap_servers.rsplit(":", 1)[1])
    through_proxy = kafka_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{proxy_port}"})
    async with delayed_proxy(proxy_port, broker_port) as open_proxy, \
            running_api(api_settings(through_proxy), wait_ready=False) as api:
        assert (await api.client.get("/healthz")).status_code == 200
        for _ in range(5):
            answer = await api.client.get("/readyz")
            assert answer.status_code == 503 and answer.json()["status"] == "not_ready"
            await asyncio.sleep(0.1)
        await open_proxy()
        await eventually(lambda: status_is(api.client, "/readyz", 200), 30, "readiness")
        # Ready means everything on the topic at start-up is served.
        assert (await api.client.get(f"/v1/units/{units[-1]}")).status_code == 200
        assert api.registry.get_sample_value("api_view_units") == len(units)
