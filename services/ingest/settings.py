"""Everything the ingest service can be told, read from `INGEST_*` (and `KAFKA_*`) by the entry point."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.clock import ClockSettings
from services.common.http_settings import HttpServerSettings
from services.common.kafka_settings import KafkaSettings
from services.contract.event_validation import SCHEMA_FILES

MIB = 1024 * 1024


class IngestSettings(HttpServerSettings):
    """Also the header, deadline and proxy settings of every HTTP service (`http_settings.py`)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)

    # Over it: 413, before a byte of the body is read when Content-Length says so.
    max_body_bytes: int = Field(default=5 * MIB, gt=0)
    max_events: int = Field(default=10_000, gt=0)
    # Kafka refuses records over its max.message.bytes (1 MiB by default); a real status event is under
    # 1 KiB, so a much lower limit turns a would-be producer failure (a misleading 503) into a clear 422.
    max_event_bytes: int = Field(default=64 * 1024, gt=0)

    # Requests per second per writer key: a flood guard, not a quota. Senders batch (up to max_events
    # a request), so this is far above a province's need; over it the answer is 429 with Retry-After.
    rate_per_key_per_s: float = Field(default=100.0, gt=0)
    rate_burst_per_key: int = Field(default=200, ge=1)

    keys_file: Path = Path(".run/ingest-keys.json")
    # Every version listed is accepted, chosen per event by its schema_version (default: every version).
    schema_files: tuple[Path, ...] = SCHEMA_FILES

    # How long one request may wait for Kafka (a free producer and the committed transaction) before 503.
    produce_timeout_s: float = Field(default=10.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    producer_pool_size: int = Field(default=4, ge=1, le=64)
    # Requests waiting while a transaction is in flight go together in the next one (producer.py), up to
    # this many bytes of records; beyond it, further producers of the pool start transactions of their own.
    transaction_max_bytes: int = Field(default=4 * MIB, gt=0)
    # transactional.id = <prefix>-<instance_id>-<slot>. It must be stable across restarts of one replica
    # (so a restarted replica fences its own zombie transactions) and unique between live replicas
    # (two replicas sharing one would keep fencing each other).
    transactional_id_prefix: str = "onestop-ingest"
    instance_id: str = Field(default_factory=socket.gethostname)
    # The broker aborts a transaction left open this long by a replica that died mid-request; until then
    # read_committed consumers of its partitions wait, so keep it short, yet above produce_timeout_s.
    transaction_timeout_ms: int = Field(default=30_000, gt=0)
    # Above aiokafka's 16 KiB default, so that a 1,000-event request leaves in a few produce requests
    # rather than dozens of round trips; below the broker's 1 MiB message limit.
    producer_batch_bytes: int = Field(default=256 * 1024, gt=0, le=1024 * 1024)

    # The national portal's sync (/dvcqg/...): how long a login's session lasts, and the secret that
    # signs sessions. Replicas behind one address must share the secret (a session from one is then
    # good on all); unset, each process draws its own, so a session works only on its own replica.
    sync_session_ttl_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    sync_session_secret: SecretStr | None = None
    # Dossiers (or progress steps) a sync call may carry. A dossier state gives up to about a dozen
    # events, so 1,000 stays within max_events' order of magnitude per request.
    sync_max_items: int = Field(default=1_000, gt=0)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    # The receiver's clock, which an event's occurred_at may not be more than a day ahead of.
    now: ClockSettings = Field(default_factory=ClockSettings)

    @model_validator(mode="after")
    def _consistent(self) -> IngestSettings:
        if self.transaction_timeout_ms <= self.produce_timeout_s * 1000:
            raise ValueError("transaction_timeout_ms must exceed produce_timeout_s, or the broker aborts "
                             "transactions that ingest is still waiting on")
        if not self.instance_id.strip():
            raise ValueError("instance_id must not be empty")
        return self
