"""TLS and SASL from the environment reach every Kafka client: the aiokafka ones through
`client_kwargs()`, Faust's through `broker_credentials`, with the same protocol, mechanism and user."""

from __future__ import annotations

import re
import ssl

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from services.common.kafka_settings import KafkaSettings
from tests.support.paths import ROOT

SERVICES = ROOT / "services"
CLIENT_CALL = re.compile(r"AIOKafka(?:Producer|Consumer|AdminClient)\((?P<args>[^)]*)")


@pytest.mark.parametrize("protocol, mechanism", [
    ("PLAINTEXT", None), ("SSL", None), ("SASL_PLAINTEXT", "PLAIN"), ("SASL_SSL", "SCRAM-SHA-512"),
])
def test_faust_and_aiokafka_clients_get_the_same_security(monkeypatch: pytest.MonkeyPatch, protocol: str,
                                                          mechanism: str | None) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", mechanism or "")  # empty, as compose passes an unset one
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "onestop")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = KafkaSettings()
    plain = settings.client_kwargs()
    faust = credentials_to_aiokafka_auth(settings.faust_credentials())
    assert plain["security_protocol"] == faust["security_protocol"] == protocol
    assert isinstance(plain.get("ssl_context"), ssl.SSLContext) == ("SSL" in protocol)
    assert isinstance(faust.get("ssl_context"), ssl.SSLContext) == ("SSL" in protocol)
    if protocol.startswith("SASL"):
        for key, value in (("sasl_mechanism", mechanism), ("sasl_plain_username", "onestop"),
                           ("sasl_plain_password", "s3cret")):
            assert plain[key] == faust[key] == value
    else:
        assert "sasl_plain_password" not in plain and "sasl_plain_password" not in faust
    assert "s3cret" not in repr(settings)  # the password never shows in a log line of the settings


def test_a_mistyped_protocol_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValueError, match="security_protocol"):
        KafkaSettings()


def test_every_kafka_client_in_the_services_takes_the_security_settings() -> None:
    """A client built without `client_kwargs()` would connect in plaintext to a SASL_SSL cluster."""
    calls = []
    for path in SERVICES.rglob("*.py"):
        source = path.read_text()
        for call in CLIENT_CALL.finditer(source):
            calls.append((path.relative_to(SERVICES), "client_kwargs(" in call["args"]))
        if "faust.App(" in source:
            calls.append((path.relative_to(SERVICES), "broker_credentials=settings.kafka.faust_credentials()"
                          in source))
    assert len(calls) >= 9
    assert [str(path) for path, secured in calls if not secured] == []
