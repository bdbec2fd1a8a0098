"""How every service reaches Kafka: the cluster, its security, and the topic names.

One settings object shared by ingest, aggregator and API, read from the environment
(`KAFKA_*`) by each service's entry point. TLS and SASL apply to every client.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    # An empty variable counts as unset: compose passes `KAFKA_SASL_MECHANISM=` when .env leaves it out.
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", env_ignore_empty=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    events_topic: str = "filing-events"
    dlq_topic: str = "filing-events-dlq"
    figures_topic: str = "unit-figures"
    days_topic: str = "unit-days"
    # Compacted, keyed by unit: its open, overdue and late filings (aggregator/late_filings.py).
    filings_topic: str = "unit-filings"
    # Compacted: agency code (the national portal's sync, `madonvi`) -> unit code. The API's admin
    # writes it; ingest reads it to place the dossiers it is sent.
    agencies_topic: str = "unit-agencies"
    events_partitions: int = 12

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.security_protocol:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if (context := self.ssl_context()) is not None:
            kwargs["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return kwargs

    def faust_broker(self) -> str:
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap_servers.split(","))

    def faust_credentials(self) -> Any:
        """The same security settings in the shape faust.App's `broker_credentials` takes."""
        import faust  # only the aggregator needs faust; keep it out of the others' imports

        context = self.ssl_context()
        if self.security_protocol.startswith("SASL"):
            credentials = faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password.get_secret_value() if self.sasl_password else None,
                ssl_context=context, mechanism=self.sasl_mechanism or "PLAIN")
            return credentials
        if context is not None:
            return faust.SSLCredentials(context)
        return None
