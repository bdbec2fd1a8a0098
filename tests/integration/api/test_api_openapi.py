"""schemathesis against the API's own OpenAPI document: every operation, with generated parameters and
bodies (admin key included, so the admin handlers run too), over real HTTP on loopback to an API on the
real broker. No answer may be a server error. And the document is complete: every operation has a
summary, a description and documented answers, every parameter and request body an example."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from deploy.local.broker import LocalKafka, free_port
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.topics import ensure_topics
from tests.support.api import ADMIN, WARD_A, api_settings, figures_producer, figures_record
from tests.support.broker import unique_settings
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    # schemathesis's own strategies draw from `random`; hypothesis says so, nothing for us to change.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES_PER_OPERATION = 20
STREAM = "/v1/stream"  # never ends by itself: opened, its status read, closed
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, unsupported_method]


async def _publish(settings: Any) -> None:
    await ensure_topics(settings)
    async with figures_producer(settings) as publish:
        await publish(figures_record("31.S06.01", received_total=7, received_online=5, pending_overdue=1),
                      figures_record(WARD_A, received_total=3, received_online=1))


@pytest.fixture(scope="module")
def api_url(kafka_broker: LocalKafka) -> Iterator[str]:
    """The API under uvicorn in a thread of its own (schemathesis calls it synchronously), ready."""
    kafka = unique_settings(kafka_broker.bootstrap)
    asyncio.run(_publish(kafka))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_settings(kafka)), host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="api under test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.started, 30, "uvicorn to start")
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "readiness")
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


# The document the app serves, built without starting it (pytest collects a test per operation from it);
# test_served_document_is_this_one holds the served one to it.
DOCUMENT = create_app(ApiSettings()).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_error(case: schemathesis.Case, api_url: str) -> None:
    headers = {**ADMIN, **(case.headers or {})}
    if case.path == STREAM:
        kwargs = case.as_transport_kwargs(base_url=api_url, headers=headers)
        with httpx.stream(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                          headers=kwargs.get("headers"), timeout=10) as answer:
            assert answer.status_code < 500, answer.read()
        return
    # No server error, and every answer is one the document describes: status, content type, headers, body.
    case.call_and_validate(base_url=api_url, headers=headers, timeout=10, checks=CHECKS)


def test_served_document_is_this_one(api_url: str) -> None:
    assert httpx.get(f"{api_url}/openapi.json").json() == DOCUMENT


def test_document_is_complete() -> None:
    document = DOCUMENT
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for field in ("summary", "description", "responses"):
                if not operation.get(field):
                    missing.append(f"{where}: {field}")
            for parameter in operation.get("parameters", []):
                schema_ = parameter.get("schema", {})
                if not any(k in parameter or k in schema_ for k in ("example", "examples", "enum")):
                    missing.append(f"{where}: an example of parameter {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                ref = body["schema"].get("$ref", "")
                model = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], body["schema"])
                if "examples" not in model and "example" not in body:
                    missing.append(f"{where}: an example body")
    assert not missing, missing
