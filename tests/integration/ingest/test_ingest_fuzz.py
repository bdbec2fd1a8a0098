"""Bad input over real sockets, into a real Kafka: only 4xx (or 202 for what is valid), never a 5xx,
never a stack trace, and every refusal says where: the field, or the line and column.

The service runs under uvicorn in a thread, with its real transactional producer on the session's
broker, so what a hostile body could do to the producer (a record Kafka refuses) is exercised too.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from deploy.local.broker import LocalKafka, free_port
from services.common.topics import ensure_topics
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.broker import unique_settings
from tests.support.ingest import bearer, make_event, write_keys

pytestmark = pytest.mark.integration

MAX_BODY = 256 * 1024
MAX_EVENTS = 200
ALLOWED = {202, 400, 413, 415, 422}
LEAKS = ("Traceback", 'File "', "site-packages", "services/", "Error(", "orjson.")
SCHEMA_FIELDS = ("event_id", "event_type", "filing_id", "unit_code", "occurred_at", "source", "channel",
                 "due_at", "procedure_code", "schema_version", "online_payment")
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@dataclass
class Intake:
    client: httpx.Client
    key: str
    registry: CollectorRegistry

    def post(self, body: bytes, content_type: str = "application/json", **headers: str) -> httpx.Response:
        answer = self.client.post("/v1/events", content=body, headers=bearer(self.key) | {
            "Content-Type": content_type, **headers})
        check_answer(answer)
        return answer


def check_answer(answer: httpx.Response) -> None:
    assert answer.status_code in ALLOWED, (answer.status_code, answer.text[:500])
    assert answer.headers["x-content-type-options"] == "nosniff"
    for leak in LEAKS:
        assert leak not in answer.text, answer.text[:500]
    body = answer.json()
    if answer.status_code in (202, 422):
        assert body["accepted"] + body["rejected"] == len(body["results"])
        for result in body["results"]:
            if result["status"] == "rejected":
                assert result["errors"] and all(set(e) == {"field", "reason"} for e in result["errors"])
                assert all(len(e["reason"]) <= 200 for e in result["errors"])  # no echo of a huge value
    else:
        assert {"error", "message"} <= set(body) and len(body["message"]) <= 300


@pytest.fixture(scope="module")
def intake(kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    kafka = unique_settings(kafka_broker.bootstrap, partitions=2)
    asyncio.run(ensure_topics(kafka))
    [key] = write_keys(tmp / "keys.json", ["*"])
    registry = CollectorRegistry()
    app = create_app(IngestSettings(
        kafka=kafka, keys_file=tmp / "keys.json", instance_id=f"fuzz-{uuid.uuid4().hex[:8]}",
        max_body_bytes=MAX_BODY, max_events=MAX_EVENTS,
        rate_per_key_per_s=1e6, rate_burst_per_key=10**6), registry)  # a fuzzer is no flood
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ingest under fuzz", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "ingest did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield Intake(client, key, registry)
        server_errors = [s for m in registry.collect() if m.name == "ingest_requests"
                         for s in m.samples if s.labels.get("status", "").startswith("5")]
        assert not server_errors, server_errors
    finally:
        server.should_exit = True
        thread.join(30)


# --- hostile values in one field, as raw JSON text, so that non-JSON tokens can be sent too ---

def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


hostile_tokens = st.one_of(
    st.sampled_from(["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "0x10", "01",
                     "+1", ".5", "1.", "true", "false", "null", '""', "[]", "{}", '"\\u0000"',
                     '"\\ud800"', '"\\udfff\\ud800"', '"\u2028\u2029"', "'single'", "undefined",
                     '"' + "\x01" + '"', '"tab\there"', "123456789012345678901234567890",
                     "-9223372036854775809", "18446744073709551616"]),
    st.integers(1, 3000).map(_nested),
    st.integers(1, 1500).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.integers(65, 70_000).map(lambda n: orjson.dumps("é" * n).decode()),
    st.text(max_size=50).map(lambda s: orjson.dumps(s).decode()),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
)


def event_text_with(field: str, token: str) -> str:
    base = make_event()
    base.pop(field, None)
    prefix = orjson.dumps(base).decode()[:-1]
    return f'{prefix},"{field}":{token}}}'


@FUZZ
@given(field=st.sampled_from((*SCHEMA_FIELDS, "x_extra")), token=hostile_tokens,
       framing=st.sampled_from(["json", "array", "ndjson"]))
def test_a_hostile_value_is_refused_naming_its_field_or_position(intake: Intake, field: str, token: str,
                                                                 framing: str) -> None:
    text = event_text_with(field, token)
    body = {"json": text, "array": f"[{text}]", "ndjson": f"{orjson.dumps(make_event()).decode()}\n{text}\n"}
    content_type = "application/x-ndjson" if framing == "ndjson" else "application/json"
    answer = intake.post(body[framing].encode(), content_type)
    if answer.status_code == 400:
        where = "line 2" if framing == "ndjson" else "line 1 column"
        assert where in answer.json()["message"]
    elif answer.status_code == 422 or (framing == "ndjson" and answer.json()["rejected"]):
        [errors] = [r["errors"] for r in answer.json()["results"] if r["status"] == "rejected"]
        # Only the hostile field is wrong: each error names it (or the event, when it cannot be re-encoded).
        assert all(e["field"] in (field, "") or e["field"].startswith(field + ".") for e in errors), errors


# --- broken bytes: a valid batch mutated at random, and invalid UTF-8 ---

@FUZZ
@given(data=st.data(), content_type=st.sampled_from(["application/json", "application/x-ndjson"]))
def test_a_mutated_batch_never_gets_a_server_error(intake: Intake, data: st.DataObject,
                                                   content_type: str) -> None:
    events = [make_event() for _ in range(3)]
    body = bytearray(orjson.dumps(events) if content_type == "application/json"
                     else b"\n".join(orjson.dumps(e) for e in events))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        junk = data.draw(st.binary(min_size=1, max_size=8))
        if action == "insert":
            body[at:at] = junk
        elif action == "delete":
            del body[at:at + len(junk)]
        else:
            body[at:at + len(junk)] = junk
    intake.post(bytes(body), content_type)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
                                 b"\x80", b"\xe2\x82"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_invalid_utf8_anywhere_is_400_naming_the_position(intake: Intake, raw: bytes,
                                                          content_type: str) -> None:
    good = orjson.dumps(make_event())
    in_a_string = good.replace(b'"test-mcdt"', b'"test' + raw + b'"')
    for body in (in_a_string, raw + good, good[:10] + raw + good[10:]):
        answer = intake.post(body, content_type)
        assert answer.status_code == 400
        assert "line 1" in answer.json()["message"]


# --- the framing: content types, empty batches, NDJSON edge cases, limits ---

@FUZZ
@given(content_type=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60)
       .map(str.strip),  # h11 itself refuses a header value with blanks around it
       encoding=st.sampled_from([None, "identity", "gzip", "br", "x-nonsense", ""]))
def test_any_content_type_is_accepted_or_415(intake: Intake, content_type: str, encoding: str | None) -> None:
    extra = {} if encoding is None else {"Content-Encoding": encoding}
    answer = intake.post(orjson.dumps(make_event()), content_type, **extra)
    media = content_type.split(";")[0].strip().lower()
    if media not in ("application/json", "application/x-ndjson") or (encoding or "identity") != "identity":
        assert answer.status_code == 415 and answer.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "application/json"), (b"   \n\t ", "application/json"), (b"[]", "application/json"),
    (b"", "application/x-ndjson"), (b"\n\n\r\n \n", "application/x-ndjson"),
    (b"\n" * 100_000, "application/x-ndjson"),
])
def test_an_empty_batch_is_400(intake: Intake, body: bytes, content_type: str) -> None:
    answer = intake.post(body, content_type)
    assert answer.status_code == 400 and "empty" in answer.json()["message"]


@pytest.mark.parametrize(("lines", "status", "words"), [
    ([b"\xef\xbb\xbf" + orjson.dumps(make_event())], 400, "line 1"),     # a byte order mark
    ([b"{} {}"], 400, "line 1"),                                          # two values on a line
    ([orjson.dumps(make_event()), b'{"event_id": "x",'], 400, "line 2"),  # a truncated last line
    ([b"null", b"[]", b"7"], 422, ""),                                    # JSON, but no events
    ([orjson.dumps(make_event(source="a\u2028b\u2029c")) + b"\r"], 202, ""),  # JS line separators, CRLF
    ([b"  " + orjson.dumps(make_event()) + b"\t "], 202, ""),             # whitespace around a line
])
def test_ndjson_edge_cases(intake: Intake, lines: list[bytes], status: int, words: str) -> None:
    answer = intake.post(b"\n".join(lines), "application/x-ndjson")
    assert answer.status_code == status
    if status == 400:
        assert words in answer.json()["message"]


def test_limits_over_a_real_socket(intake: Intake) -> None:
    over = b"[" + b" " * MAX_BODY + b"]"
    assert intake.post(over).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    chunked = intake.client.post("/v1/events", content=chunks(),
                                 headers=bearer(intake.key) | {"Content-Type": "application/json"})
    check_answer(chunked)
    assert chunked.status_code == 413
    too_many = intake.post(b"{}\n" * (MAX_EVENTS + 1), "application/x-ndjson")
    assert too_many.status_code == 413 and too_many.json()["error"] == "too_many_events"
    big_event = intake.post(orjson.dumps([make_event(x_pad="p" * 70_000), make_event()]))
    assert big_event.status_code == 202
    assert big_event.json()["results"][0]["errors"][0]["field"] == ""


def test_huge_numbers_and_strings_in_every_field_are_named(intake: Intake) -> None:
    values: list[Any] = ["z" * 100_000, 10**300, -(2**63) - 1, 1.5e308, [[[[]]]], {"a": {"b": None}}]
    for field in SCHEMA_FIELDS:
        for value in values:
            token = str(value) if isinstance(value, int) else orjson.dumps(value).decode()
            answer = intake.post(event_text_with(field, token).encode())
            assert answer.status_code == 422, (field, token[:40])
            assert {e["field"] for e in answer.json()["results"][0]["errors"]} == {field}
