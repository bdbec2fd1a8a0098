"""The HTTP services' server settings as uvicorn options: pure logic, no server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.api.settings import ApiSettings
from services.common.server_limits import LimitedHttpToolsProtocol, server_options
from services.ingest.settings import IngestSettings


def test_trusted_proxies_are_addresses_or_networks_and_turn_proxy_headers_on() -> None:
    """issue 12, class 5: off by default; "*" (uvicorn's trust-anyone) is refused."""
    assert server_options(ApiSettings())["proxy_headers"] is False
    trusted = server_options(ApiSettings(trusted_proxies=("10.0.0.0/8", "::1")))
    assert trusted["proxy_headers"] is True and trusted["forwarded_allow_ips"] == ["10.0.0.0/8", "::1"]
    for wrong in ("*", "proxy.example", "10.0.0.0/33"):
        with pytest.raises(ValidationError, match="not an IP address"):
            ApiSettings(trusted_proxies=(wrong,))


def test_each_service_reads_the_limits_under_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("API_HEADER_TIMEOUT_S", "2.5")
    ingest, api = IngestSettings(instance_id="test"), ApiSettings()
    assert (ingest.max_header_bytes, ingest.header_timeout_s) == (4096, 10.0)
    assert (api.max_header_bytes, api.header_timeout_s) == (32 * 1024, 2.5)
    protocol = server_options(ingest)["http"]
    assert issubclass(protocol, LimitedHttpToolsProtocol)
    assert (protocol.limits.max_header_bytes, protocol.limits.body_timeout_s) == (4096, 30.0)
