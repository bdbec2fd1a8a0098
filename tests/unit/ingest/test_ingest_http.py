"""POST /v1/events and the operator endpoints, in process, with a stand-in for Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.common.clock import ClockSettings
from services.contract.event_validation import SCHEMA_FILES
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.ingest import FakeWriter, StubAgencies, bearer, make_event, ndjson, write_keys

NDJSON_TYPE = {"Content-Type": "application/x-ndjson"}


@dataclass
class Service:
    client: httpx.AsyncClient
    writer: FakeWriter
    registry: CollectorRegistry
    all_units: str  # a key for every unit
    scoped: str     # a key for units 26734 and 26737 only

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def written(self) -> list[tuple[bytes, bytes]]:
        return [record for batch in self.writer.batches for record in batch]


def make_settings(tmp_path: Path, **overrides: Any) -> IngestSettings:
    return IngestSettings(keys_file=tmp_path / "keys.json", instance_id="test", **overrides)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    all_units, scoped = write_keys(tmp_path / "keys.json", ["*"], ["26734", "26737"])
    writer, registry = FakeWriter(), CollectorRegistry()
    app = create_app(make_settings(tmp_path, max_body_bytes=256 * 1024, max_events=500,
                                   max_event_bytes=2048), registry, writer, StubAgencies())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        yield Service(client, writer, registry, all_units, scoped)


async def post(service: Service, body: Any, key: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = bearer(key or service.all_units) | kwargs.pop("headers", {})
    return await service.client.post("/v1/events", json=body, headers=headers, **kwargs)


async def test_one_event_is_accepted_and_written_keyed_by_unit(service: Service) -> None:
    event = make_event(unit_code="26737", x_extra={"kept": [1, 2]})
    answer = await post(service, event)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 1, "rejected": 0,
                             "results": [{"index": 0, "status": "accepted", "event_id": event["event_id"]}]}
    [(key, value)] = service.written()
    assert key == b"26737"
    assert orjson.loads(value) == event  # unknown fields pass through


async def test_a_batch_is_one_write_in_order(service: Service) -> None:
    events = [make_event(unit_code=u) for u in ("26734", "26737", "26734")]
    answer = await post(service, events)
    assert answer.status_code == 202
    assert len(service.writer.batches) == 1  # one transaction per request
    assert [orjson.loads(v)["event_id"] for _, v in service.written()] == [e["event_id"] for e in events]


async def test_partly_valid_accepts_the_valid_and_names_the_bad_fields(service: Service) -> None:
    good, late = make_event(), make_event()
    bad = make_event(due_at="2025-13-01T00:00:00+07:00")
    del bad["source"]
    answer = await post(service, [good, bad, "not an event", late])
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert body["results"][0] == {"index": 0, "status": "accepted", "event_id": good["event_id"]}
    assert body["results"][1]["status"] == "rejected"
    assert {e["field"] for e in body["results"][1]["errors"]} == {"due_at", "source"}
    assert body["results"][2] == {"index": 2, "status": "rejected", "errors": [
        {"field": "", "reason": "an event must be a JSON object, not a string"}]}
    assert body["results"][3]["event_id"] == late["event_id"]
    assert [orjson.loads(v)["event_id"] for _, v in service.written()] == [good["event_id"], late["event_id"]]


async def test_all_invalid_is_422_and_nothing_is_written(service: Service) -> None:
    answer = await post(service, [make_event(event_type="returned"), make_event(channel="fax")])
    assert answer.status_code == 422
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (0, 2)
    assert body["results"][0]["errors"] == [{"field": "reason",
                                             "reason": 'required when event_type is "returned"'}]
    assert body["results"][1]["errors"][0]["field"] == "channel"
    assert service.writer.batches == []


async def test_instants_out_of_bounds_are_422_naming_the_field_and_nothing_is_written(
        tmp_path: Path) -> None:
    """Issue 12, class 1: events at the calendar's end, in 1970 or in 2500 were accepted (202), and
    the first stopped the aggregator for good. The receiver's clock here is the suite's own."""
    key = write_keys(tmp_path / "keys.json", ["*"])[0]
    writer, registry = FakeWriter(), CollectorRegistry()
    clock = ClockSettings(clock_start=datetime.fromisoformat("2026-12-06T10:00:00+07:00"))
    settings = make_settings(tmp_path, now=clock)
    end = "9999-12-31T23:59:59-23:59"
    events = [make_event(occurred_at=end, due_at=end),
              make_event(occurred_at="1970-01-01T00:00:00Z", due_at="1970-01-02T00:00:00Z"),
              make_event(occurred_at="2500-01-01T00:00:00+07:00", due_at="2500-01-02T00:00:00+07:00"),
              make_event(occurred_at="2026-12-05T08:00:00+07:00", due_at=end)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(create_app(settings, registry, writer)),
                                 base_url="http://ingest") as client:
        answer = await client.post("/v1/events", json=events, headers=bearer(key))
    assert answer.status_code == 422, answer.text
    assert [[e["field"] for e in r["errors"]] for r in answer.json()["results"]] == [
        ["occurred_at"], ["occurred_at", "due_at"], ["occurred_at"], ["due_at"]]
    assert writer.batches == []
    assert registry.get_sample_value("ingest_events_rejected_total", {"reason": "bounds"}) == 4


async def test_ndjson_batch(service: Service) -> None:
    events = [make_event() for _ in range(20)]
    answer = await service.client.post("/v1/events", content=ndjson(events),
                                       headers=bearer(service.all_units) | NDJSON_TYPE)
    assert answer.status_code == 202 and answer.json()["accepted"] == 20
    assert len(service.written()) == 20


async def test_a_large_body_is_examined_off_the_event_loop_with_the_same_answer(service: Service) -> None:
    events = [make_event(x_pad="p" * 300) for _ in range(400)]  # well over the 64 KiB threshold
    body = ndjson(events)
    assert len(body) > 64 * 1024
    answer = await service.client.post("/v1/events", content=body,
                                       headers=bearer(service.all_units) | NDJSON_TYPE)
    assert answer.status_code == 202 and answer.json()["accepted"] == 400


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer kfoo.bar"}, {"X-API-Key": "nonsense"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
async def test_no_or_wrong_key_is_401(service: Service, headers: dict[str, str]) -> None:
    answer = await service.client.post("/v1/events", json=make_event(), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthorized"
    assert service.writer.batches == []


async def test_the_key_may_come_as_x_api_key_or_lowercase_bearer(service: Service) -> None:
    for headers in ({"X-API-Key": service.scoped}, {"authorization": f"bearer {service.scoped}"}):
        answer = await service.client.post("/v1/events", json=make_event(), headers=headers)
        assert answer.status_code == 202


async def test_a_unit_outside_the_keys_scope_is_403_naming_index_and_unit(service: Service) -> None:
    events = [make_event(unit_code="26734"), make_event(unit_code="26737"), make_event(unit_code="26740")]
    answer = await post(service, events, key=service.scoped)
    assert answer.status_code == 403
    body = answer.json()
    assert (body["error"], body["index"], body["unit_code"]) == ("forbidden_unit", 2, "26740")
    assert "26740" in body["message"]
    assert service.writer.batches == []  # not even the in-scope events


async def test_declared_oversize_body_is_413(service: Service) -> None:
    headers = bearer(service.all_units) | {"Content-Type": "application/json"}
    answer = await service.client.post("/v1/events", content=b"[" + b" " * (300 * 1024) + b"]",
                                       headers=headers)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


async def test_streamed_oversize_body_is_413(service: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(300):
            yield b" " * 1024

    answer = await service.client.post("/v1/events", content=chunks(),
                                       headers=bearer(service.all_units) | NDJSON_TYPE)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413


async def test_too_many_events_is_413(service: Service) -> None:
    answer = await service.client.post("/v1/events", content=b"{}\n" * 501,
                                       headers=bearer(service.all_units) | NDJSON_TYPE)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_many_events"


async def test_an_event_over_the_size_limit_is_rejected_by_itself(service: Service) -> None:
    big, small = make_event(x_pad="p" * 3000), make_event()
    answer = await post(service, [big, small])
    assert answer.status_code == 202
    [rejected, accepted] = answer.json()["results"]
    assert rejected["status"] == "rejected" and "bytes" in rejected["errors"][0]["reason"]
    assert accepted["status"] == "accepted"


async def test_an_event_too_deep_to_re_encode_is_rejected_not_a_500(service: Service) -> None:
    deep: Any = 1
    for _ in range(400):
        deep = [deep]
    answer = await post(service, [make_event(x_deep=deep)])
    assert answer.status_code == 422
    assert "nested too deeply" in answer.json()["results"][0]["errors"][0]["reason"]


@pytest.mark.parametrize("headers", [{"Content-Type": "text/plain"}, {"Content-Type": ""},
                                     {"Content-Type": "application/json; charset=latin-1"},
                                     {"Content-Type": "application/json", "Content-Encoding": "gzip"}])
async def test_unsupported_media_is_415(service: Service, headers: dict[str, str]) -> None:
    answer = await service.client.post("/v1/events", content=orjson.dumps(make_event()),
                                       headers=bearer(service.all_units) | headers)
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"


async def test_json_with_a_utf8_charset_is_fine(service: Service) -> None:
    answer = await service.client.post("/v1/events", content=orjson.dumps(make_event()), headers=bearer(
        service.all_units) | {"Content-Type": "application/json; charset=UTF-8"})
    assert answer.status_code == 202


@pytest.mark.parametrize(("body", "content_type", "words"), [
    (b'{"a": 1}\n{"b": \n', "application/x-ndjson", "line 2"),
    (b"[]", "application/json", "empty batch"),
    (b"", "application/json", "empty body"),
    (b"{nope", "application/json", "line 1 column 2"),
])
async def test_malformed_or_empty_is_400(service: Service, body: bytes, content_type: str,
                                         words: str) -> None:
    answer = await service.client.post("/v1/events", content=body,
                                       headers=bearer(service.all_units) | {"Content-Type": content_type})
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed"
    assert words in answer.json()["message"]


async def test_kafka_unavailable_is_503_with_retry_after(service: Service) -> None:
    service.writer.available = False
    answer = await post(service, [make_event(), make_event(event_type="nope")])
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == "kafka_unavailable"
    assert "Traceback" not in answer.text
    # A refused request counts no event either way.
    assert service.sample("ingest_events_accepted_total") == 0
    assert service.sample("ingest_events_rejected_total", reason="enum") == 0


async def test_metrics_count_events_and_requests(service: Service) -> None:
    await post(service, [make_event(), make_event(), make_event(event_type="nope")])
    await post(service, [make_event(unit_code=5)])
    await service.client.post("/v1/events", json=make_event())  # 401
    assert service.sample("ingest_events_accepted_total") == 2
    assert service.sample("ingest_events_rejected_total", reason="enum") == 1
    assert service.sample("ingest_events_rejected_total", reason="type") == 1
    assert service.sample("ingest_requests_total", route="/v1/events", status="202") == 1
    assert service.sample("ingest_requests_total", route="/v1/events", status="422") == 1
    assert service.sample("ingest_requests_total", route="/v1/events", status="401") == 1
    assert service.sample("ingest_request_duration_seconds_count", route="/v1/events", status="202") == 1
    assert service.sample("ingest_request_events_sum") == 4

    scrape = await service.client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    assert 'ingest_events_rejected_total{reason="enum"} 1.0' in scrape.text


async def test_health_and_readiness(service: Service) -> None:
    assert (await service.client.get("/healthz")).json() == {"status": "ok"}
    ready = await service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"kafka": True, "agency_codes": True}}
    service.writer.available = False
    not_ready = await service.client.get("/readyz")
    assert not_ready.status_code == 503 and "retry-after" in not_ready.headers
    assert not_ready.json()["checks"] == {"kafka": False, "agency_codes": True}
    assert "Kafka" in not_ready.json()["reason"]
    assert (await service.client.get("/healthz")).status_code == 200  # alive all the same


async def test_not_ready_until_the_agency_codes_are_read(tmp_path: Path) -> None:
    """The sync answers 503 until ingest has read the unit-agencies topic; so does /readyz, so that an
    orchestrator sends no traffic to a replica that would refuse every sync call."""
    write_keys(tmp_path / "keys.json", ["*"])
    agencies = StubAgencies(ready=False)
    app = create_app(make_settings(tmp_path), CollectorRegistry(), FakeWriter(), agencies)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503 and "retry-after" in not_ready.headers
        assert not_ready.json()["checks"] == {"kafka": True, "agency_codes": False}
        assert "unit-agencies" in not_ready.json()["reason"]
        agencies.ready = True
        assert (await client.get("/readyz")).status_code == 200


async def test_unknown_paths_and_methods_answer_json(service: Service) -> None:
    assert (await service.client.get("/v1/nothing")).json()["error"] == "not_found"
    wrong = await service.client.get("/v1/events")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_the_factory_fails_fast_without_a_keys_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        create_app(make_settings(tmp_path), CollectorRegistry(), FakeWriter())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False,
                                                                           allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)
event_like = st.fixed_dictionaries({}, optional={
    "event_id": st.text(max_size=10) | st.integers(), "event_type": st.sampled_from(
        ["submitted", "processed", "overdue", "returned", "x"]), "filing_id": st.text(max_size=10),
    "unit_code": st.sampled_from(["26734", "", "a b"]) | st.integers(), "occurred_at": st.sampled_from(
        ["2025-07-01T08:30:00+07:00", "2025-07-01", ""]), "source": st.text(max_size=5),
    "channel": st.text(max_size=8), "due_at": st.text(max_size=30), "procedure_code": st.text(max_size=5),
    "reason": st.text(max_size=8), "schema_version": json_values})


@pytest.fixture
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.AsyncClient, str]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    [key] = write_keys(tmp / "keys.json", ["*"])
    # A fuzzer is no flood: lift the rate limit, which has tests of its own.
    app = create_app(make_settings(tmp, rate_per_key_per_s=1e6, rate_burst_per_key=10**6),
                     CollectorRegistry(), FakeWriter())
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest"), key


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.lists(event_like | json_values, max_size=5), event_like))
async def test_no_json_body_gets_a_server_error(fuzz_client: tuple[httpx.AsyncClient, str],
                                                body: Any) -> None:
    client, key = fuzz_client
    answer = await client.post("/v1/events", content=json.dumps(body).encode(),
                               headers=bearer(key) | {"Content-Type": "application/json"})
    assert answer.status_code in (202, 400, 422)
    assert set(answer.json()) in ({"accepted", "rejected", "results"}, {"error", "message"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
async def test_no_byte_string_gets_a_server_error(fuzz_client: tuple[httpx.AsyncClient, str],
                                                  body: bytes) -> None:
    client, key = fuzz_client
    for content_type in ("application/json", "application/x-ndjson"):
        answer = await client.post("/v1/events", content=body,
                                   headers=bearer(key) | {"Content-Type": content_type})
        assert answer.status_code in (202, 400, 422)


async def test_openapi_documents_both_framings_and_the_refusals(service: Service) -> None:
    spec = (await service.client.get("/openapi.json")).json()
    post_events = spec["paths"]["/v1/events"]["post"]
    assert set(post_events["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"202", "401", "403", "413", "422", "503"} <= set(post_events["responses"])


@pytest.fixture
async def on_a_fixed_clock(tmp_path: Path) -> AsyncIterator[Service]:
    """The service with its default schema files, its clock the suite's own, not the wall's."""
    all_units, scoped = write_keys(tmp_path / "keys.json", ["*"], ["26734", "26737"])
    writer, registry = FakeWriter(), CollectorRegistry()
    clock = ClockSettings(clock_start=datetime.fromisoformat("2025-07-10T10:00:00+07:00"))
    settings = make_settings(tmp_path, now=clock)
    assert settings.schema_files == SCHEMA_FILES  # both versions, unless INGEST_SCHEMA_FILES says otherwise
    app = create_app(settings, registry, writer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        yield Service(client, writer, registry, all_units, scoped)


def v2_event(**overrides: Any) -> dict[str, Any]:
    event = make_event(schema_version=2, **overrides)
    return {k: v for k, v in event.items() if v is not None}


async def test_v1_events_are_accepted_exactly_as_before(on_a_fixed_clock: Service) -> None:
    unnamed = make_event(online_payment=True, digitised=False)
    del unnamed["schema_version"]
    events = [unnamed, make_event(event_type="returned", reason="supplement_requested"),
              make_event(event_type="processed", fee_due=True, satisfied=False)]
    answer = await post(on_a_fixed_clock, events)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 3
    assert [orjson.loads(v) for _, v in on_a_fixed_clock.written()] == events


async def test_v2_events_with_the_new_types_and_flags_are_accepted(on_a_fixed_clock: Service) -> None:
    filing = {"filing_id": "HS-v2-1"}
    events = [
        v2_event(**filing, due_at=None, statutory_max_hours=72, fee_due=True, full_online_eligible=True),
        v2_event(**filing, event_type="supplement_requested", occurred_at="2025-07-02T09:00:00+07:00",
                 channel=None, due_at=None, procedure_code=None),
        v2_event(**filing, event_type="supplement_completed", occurred_at="2025-07-03T09:00:00+07:00",
                 channel=None, due_at="2025-07-08T17:00:00+07:00", procedure_code=None),
        v2_event(**filing, event_type="result_returned", occurred_at="2025-07-07T15:00:00+07:00",
                 channel=None, due_at=None, procedure_code=None, online_payment_via="national_portal",
                 electronic_result=True, paper_result=True, data_reused=True, personal_store=False,
                 population_db=True, full_online_service=True, digitised=True),
        v2_event(**filing, event_type="updated", occurred_at="2025-07-08T08:00:00+07:00", channel=None,
                 due_at=None, procedure_code=None, satisfied=True),
    ]
    answer = await post(on_a_fixed_clock, events)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == len(events)
    assert [orjson.loads(v) for _, v in on_a_fixed_clock.written()] == events


async def test_a_v2_submission_without_a_due_time_is_rejected_naming_the_fields(
        on_a_fixed_clock: Service) -> None:
    answer = await post(on_a_fixed_clock, [v2_event(due_at=None),
                                           v2_event(due_at=None, statutory_max_hours=0)])
    assert answer.status_code == 422
    first, second = answer.json()["results"]
    assert [e["field"] for e in first["errors"]] == ["due_at", "statutory_max_hours"]
    assert all("unless" in e["reason"] for e in first["errors"])
    assert [e["field"] for e in second["errors"]] == ["statutory_max_hours"]
    assert on_a_fixed_clock.writer.batches == []


async def test_a_version_the_service_does_not_know_is_rejected_naming_schema_version(
        on_a_fixed_clock: Service) -> None:
    answer = await post(on_a_fixed_clock, make_event(schema_version=3))
    assert answer.status_code == 422
    assert answer.json()["results"][0]["errors"] == [
        {"field": "schema_version", "reason": "unsupported version; this service accepts 1, 2"}]


async def test_a_moved_due_date_out_of_bounds_is_rejected(on_a_fixed_clock: Service) -> None:
    moved = v2_event(event_type="supplement_completed", channel=None, procedure_code=None,
                     due_at="9999-12-31T23:59:59-23:59")
    answer = await post(on_a_fixed_clock, moved)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["results"][0]["errors"]] == ["due_at"]


async def test_ingest_schema_files_still_narrows_the_versions(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_SCHEMA_FILES", json.dumps([str(SCHEMA_FILES[0])]))
    assert make_settings(tmp_path).schema_files == (SCHEMA_FILES[0],)
