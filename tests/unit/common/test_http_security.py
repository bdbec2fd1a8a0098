"""Nobody in: keys, admin key, rate limits (429), CORS, security headers, no internals in errors.

Ingest runs under a real uvicorn (real sockets) with a stand-in for Kafka; the API in process (its
admin key check, limiter, headers and CORS come before any Kafka access, so it is not started).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.api.app import create_app as create_api
from services.api.settings import ApiSettings
from services.common.docs_pages import PAGE_CSP
from services.ingest.app import create_app as create_ingest
from services.ingest.producer import Record
from services.ingest.settings import IngestSettings
from tests.support.ingest import FakeWriter, bearer, make_event, serving, write_keys

ADMIN_KEY = "admin-secret-for-tests"
SECRET_DETAIL = "password=hunter2 in /srv/onestop/secret_module.py"


class BrokenWriter(FakeWriter):
    """A bug below the routes: an exception no handler knows."""

    async def write(self, records: Sequence[Record]) -> None:
        raise RuntimeError(SECRET_DETAIL)


def assert_security_headers(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-request-id"]


def assert_no_internals(answer: httpx.Response) -> None:
    for leak in ("Traceback", 'File "', ".py", "hunter2", "RuntimeError", "/srv/", "site-packages"):
        assert leak not in answer.text


async def running_ingest(tmp_path: Path, writer: FakeWriter | None = None,
                         **overrides: Any) -> tuple[FastAPI, list[str]]:
    keys = write_keys(tmp_path / "keys.json", ["*"], ["26734"])
    settings = IngestSettings(keys_file=tmp_path / "keys.json", instance_id="test", **overrides)
    return create_ingest(settings, CollectorRegistry(), writer or FakeWriter()), keys


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[str], CollectorRegistry]]:
    keys = write_keys(tmp_path / "keys.json", ["*"], ["26734"])
    registry = CollectorRegistry()
    settings = IngestSettings(keys_file=tmp_path / "keys.json", instance_id="test",
                              rate_per_key_per_s=0.5, rate_burst_per_key=3)
    app = create_ingest(settings, registry, FakeWriter())
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client, keys, registry


async def test_ingest_rate_limit_is_per_key_with_429_and_retry_after(
        ingest: tuple[httpx.AsyncClient, list[str], CollectorRegistry]) -> None:
    client, (first, second), registry = ingest
    answers = [await client.post("/v1/events", json=make_event(), headers=bearer(first)) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    assert refused.headers["retry-after"] == "2"  # a token every 2 s at 0.5 a second
    assert refused.json()["error"] == "rate_limited"
    assert_security_headers(refused)
    # Another key has its own bucket; a wrong key is refused as unknown, spending nobody's tokens.
    assert (await client.post("/v1/events", json=make_event(), headers=bearer(second))).status_code == 202
    for _ in range(5):
        wrong = await client.post("/v1/events", json=make_event(), headers=bearer(first + "x"))
        assert wrong.status_code == 401
    assert registry.get_sample_value("ingest_rate_limited_total") == 1
    assert registry.get_sample_value("ingest_requests_total", {"route": "/v1/events", "status": "429"}) == 1


async def test_ingest_answers_carry_security_headers_and_intake_is_no_store(
        ingest: tuple[httpx.AsyncClient, list[str], CollectorRegistry]) -> None:
    client, (key, _), _ = ingest
    accepted = await client.post("/v1/events", json=make_event(), headers=bearer(key))
    unauthorized = await client.post("/v1/events", json=make_event())
    for answer in (accepted, unauthorized, await client.get("/healthz"), await client.get("/nothing"),
                   await client.get("/metrics")):
        assert_security_headers(answer)
    assert accepted.headers["cache-control"] == "no-store"
    assert unauthorized.headers["cache-control"] == "no-store"
    ids = {accepted.headers["x-request-id"], unauthorized.headers["x-request-id"]}
    assert len(ids) == 2  # one per request


@pytest.mark.parametrize(("presented", "kept"), [("abc-123.X_y", True), ("a" * 65, False),
                                                 ("bad id\\n", False), ("", False)])
async def test_a_plain_request_id_is_kept_anything_else_replaced(
        ingest: tuple[httpx.AsyncClient, list[str], CollectorRegistry], presented: str, kept: bool) -> None:
    client, _, _ = ingest
    answer = await client.get("/healthz", headers={"X-Request-ID": presented})
    assert (answer.headers["x-request-id"] == presented) is kept
    assert answer.headers["x-request-id"].isalnum() or kept


async def test_ingest_allows_no_cross_origin_browser_request(
        ingest: tuple[httpx.AsyncClient, list[str], CollectorRegistry]) -> None:
    client, (key, _), _ = ingest
    preflight = await client.options("/v1/events", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    simple = await client.post("/v1/events", json=make_event(),
                               headers=bearer(key) | {"Origin": "https://evil.example"})
    for answer in (preflight, simple):
        assert not any(h.startswith("access-control-") for h in answer.headers)


async def test_an_internal_error_is_a_generic_500_with_the_request_id_the_detail_only_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app, (key, _) = await running_ingest(tmp_path, BrokenWriter())
    with caplog.at_level(logging.ERROR):
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            answer = await client.post("/v1/events", json=make_event(),
                                       headers=bearer(key) | {"X-Request-ID": "req-42"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal", "request_id": "req-42",
                             "message": "internal error; quote the request id when reporting it"}
    assert answer.headers["x-request-id"] == "req-42"
    assert_security_headers(answer)
    assert_no_internals(answer)
    [logged] = [r for r in caplog.records if "req-42" in r.getMessage()]
    assert logged.exc_info is not None and SECRET_DETAIL in str(logged.exc_info[1])


# --- the API ---------------------------------------------------------------------------------------

def api_app(**overrides: Any) -> FastAPI:
    settings = ApiSettings(admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                           seed_registry=False, **overrides)
    return create_api(settings, CollectorRegistry())


async def api_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api")


def admin_operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every admin (method, concrete path) the OpenAPI document lists."""
    spec = app.openapi()
    samples = {"{code}": "31", "{figure}": "online_rate", "{period}": "2026"}
    operations = []
    for template, methods in spec["paths"].items():
        if template.startswith("/v1/admin"):
            path = template
            for name, value in samples.items():
                path = path.replace(name, value)
            operations += [(method.upper(), path) for method in methods]
    return operations


async def test_every_admin_endpoint_needs_the_admin_key() -> None:
    app = api_app()
    operations = admin_operations(app)
    # Units and targets (PUT, DELETE), target allocation (GET a proposal, POST to apply it).
    assert {m for m, _ in operations} == {"GET", "POST", "PUT", "DELETE"} and len(operations) >= 6
    bodies = {"PUT": {"json": {"value": 0.5}}, "POST": {"json": {"goal": 0.8, "target_period": "2027"}}}
    async with await api_client(app) as client:
        for method, path in operations:
            body = bodies.get(method, {})
            missing = await client.request(method, path, **body)
            assert missing.status_code == 401, (method, path)
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = await client.request(method, path, headers={"Authorization": "Bearer nope"}, **body)
            assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden", (method, path)
            assert wrong.headers["cache-control"] == "no-store"
            assert_security_headers(wrong)


async def test_without_a_configured_admin_key_nobody_is_admin() -> None:
    app = create_api(ApiSettings(seed_registry=False), CollectorRegistry())
    async with await api_client(app) as client:
        answer = await client.delete("/v1/admin/units/31", headers={"Authorization": "Bearer "})
        assert answer.status_code == 401
        answer = await client.delete("/v1/admin/units/31", headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 403


async def test_the_admin_key_is_compared_as_a_digest_in_constant_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    app = api_app()
    async with await api_client(app) as client:
        await client.delete("/v1/admin/units/31", headers={"Authorization": "Bearer guess"})
    stored = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    assert compared == [(hashlib.sha256(b"guess").hexdigest(), stored)]


async def test_admin_rate_limit_per_client_comes_before_the_key_check() -> None:
    app = api_app(admin_rate_per_s=0.2, admin_rate_burst=5)
    async with await api_client(app) as client:
        guesses = [await client.delete("/v1/admin/units/31", headers={"Authorization": f"Bearer guess{i}"})
                   for i in range(7)]
        assert [g.status_code for g in guesses] == [403] * 5 + [429] * 2
        assert guesses[-1].headers["retry-after"] == "5"
        assert guesses[-1].json()["error"] == "rate_limited"
        # Even the right key waits its turn; reading is not limited.
        right = await client.delete("/v1/admin/units/31", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert right.status_code == 429
        assert [(await client.get("/healthz")).status_code for _ in range(20)] == [200] * 20


async def test_cors_is_closed_by_default() -> None:
    async with await api_client(api_app()) as client:
        answer = await client.get("/healthz", headers={"Origin": "https://somewhere.example"})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers


async def test_cors_lets_configured_origins_read_and_nobody_write() -> None:
    origin = "https://dashboard.example.gov.vn"
    async with await api_client(api_app(cors_origins=(origin,))) as client:
        read = await client.get("/healthz", headers={"Origin": origin})
        assert read.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in read.headers
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight_get = await client.options("/v1/units/31", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET"})
        assert preflight_get.status_code == 200
        preflight_put = await client.options("/v1/admin/units/31", headers={
            "Origin": origin, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight_put.status_code == 400
        assert "PUT" not in preflight_put.headers.get("access-control-allow-methods", "")


async def test_api_internal_error_is_generic_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    app = api_app()

    async def explode() -> None:
        raise KeyError(SECRET_DETAIL)

    app.add_api_route("/v1/explode", explode)
    with caplog.at_level(logging.ERROR):
        async with await api_client(app) as client:
            answer = await client.get("/v1/explode")
    assert answer.status_code == 500
    body = answer.json()
    assert body["error"] == "internal" and body["request_id"] == answer.headers["x-request-id"]
    assert_no_internals(answer)
    assert_security_headers(answer)
    assert any(body["request_id"] in r.getMessage() and r.exc_info for r in caplog.records)


async def test_api_json_answers_carry_security_headers() -> None:
    async with await api_client(api_app()) as client:
        for path in ("/healthz", "/readyz", "/v1/units/nowhere", "/openapi.json", "/metrics"):
            answer = await client.get(path)
            assert_security_headers(answer)
            assert "cache-control" not in answer.headers  # reads may be cached; admin answers may not
        docs = await client.get("/docs")  # an HTML page keeps its own policy
        assert docs.headers["x-content-type-options"] == "nosniff"
        assert docs.headers["content-security-policy"] == PAGE_CSP
