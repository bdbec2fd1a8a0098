"""Everything the API service can be told, read from `API_*` (and `KAFKA_*`) by the entry point."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.api.rollup import FIGURES
from services.common.clock import ClockSettings
from services.common.http_settings import KIB, HttpServerSettings
from services.common.kafka_settings import KafkaSettings
from services.contract.figures import PERIODS
from services.contract.units import DEFAULT_PROVINCE, resolve_province

ALL_PERIODS = PERIODS
ALL_PROVINCES = "all"


class ApiSettings(HttpServerSettings):
    """Also the header, deadline and proxy settings of every HTTP service (`http_settings.py`)."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    # Only the SHA-256 (hex) of the admin key is configured, so the key itself is in no file or env.
    # Empty: the admin endpoints answer 403 to everyone.
    admin_key_sha256: str = ""
    # Admin requests per second per client address, counted before the key is checked, so guessing
    # the key is slow too; over it the answer is 429 with Retry-After. Behind a reverse proxy every
    # admin shares the proxy's address, and so one bucket, unless it is in trusted_proxies.
    admin_rate_per_s: float = Field(default=10.0, gt=0)
    admin_rate_burst: int = Field(default=50, ge=1)
    # Only the admin writes take a body, a unit or a target of well under 1 KiB; over it: 413.
    max_body_bytes: int = Field(default=64 * KIB, gt=0)
    # Browser origins (e.g. ["https://dashboard.example.gov.vn"]) allowed to GET the read endpoints
    # from their own pages; none by default. Admin writes are never allowed cross-origin.
    cors_origins: tuple[str, ...] = ()

    registry_topic: str = "unit-registry"
    targets_topic: str = "unit-targets"
    # The compacted topics the API owns are created at start-up when missing, with this many partitions.
    registry_partitions: int = Field(default=3, ge=1)
    # The provinces of the deployment: one ("31" or "hai_phong"), a list ("31,01,79") or `all`. An empty
    # registry topic is filled with their real units at start-up, under the national root `VN` when
    # there is more than one; what /metrics exports by default depends on it too (metrics_scope).
    seed_province: str = str(DEFAULT_PROVINCE)
    seed_registry: bool = True

    # At most one stream event per unit per interval: the aggregator publishes at most every 0.5 s too.
    stream_coalesce_s: float = Field(default=0.5, gt=0)
    stream_heartbeat_s: float = Field(default=15.0, gt=0)
    # Recent changes kept for clients that reconnect with Last-Event-ID: the most a resume replays. A
    # client further behind (resuming, or live but reading slowly) gets a `reset` and a snapshot of
    # its subtree instead: past about a province's number of units a replay costs more than that.
    stream_buffer: int = Field(default=1_000, ge=1)
    # Bytes a stream hands the server at once; the next piece waits until the client has read, so each
    # client holds at most this plus the connection's 64 KiB write buffer here, whatever it asked for.
    stream_piece_bytes: int = Field(default=64 * 1024, ge=1024)
    # A client that takes nothing in this long while bytes wait for it (it does not read) is
    # disconnected: its pending bytes and connection are freed, and it is counted in
    # api_stream_clients_dropped_total. An idle stream waits for nothing, so this never drops it.
    stream_write_timeout_s: float = Field(default=30.0, gt=0)

    # What /metrics exports of the figures (services/api/figure_metrics.py ExportPlan; docs/operations.md):
    # - metrics_periods: the periods of units in detail and of rollups;
    # - metrics_unit_levels: the levels whose units export every figure of those periods. Unset: every
    #   unit in a one-province deployment, none in a national one (350 samples a unit would make
    #   millions a scrape);
    # - metrics_unit_series: the `figure:period` pairs every other unit exports;
    # - metrics_rollup_levels: the levels whose units export every figure over their subtree;
    # - metrics_target_periods: the periods of the target standing series. Unset: metrics_periods in a
    #   one-province deployment, month_to_date (what the alert judges) in a national one.
    metrics_periods: tuple[str, ...] = ALL_PERIODS
    metrics_unit_levels: tuple[str, ...] | None = None
    metrics_unit_series: tuple[str, ...] = ("received_total:month_to_date", "online_rate:month_to_date",
                                            "on_time_rate:month_to_date", "pending_overdue:all_time")
    metrics_rollup_levels: tuple[str, ...] = ("country", "province")
    metrics_target_periods: tuple[str, ...] | None = None
    # How long an admin write waits for Kafka's acknowledgement and for this replica to see it.
    write_timeout_s: float = Field(default=10.0, gt=0)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    # "Today" for rankings and target reports (ONESTOP_CLOCK_START, shared by every service).
    now: ClockSettings = Field(default_factory=ClockSettings)

    @field_validator("admin_key_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("must be the SHA-256 of the admin key as 64 hex digits")
        return value

    @field_validator("seed_province")
    @classmethod
    def _known_province(cls, value: str) -> str:
        value = value.strip()
        if value.lower() != ALL_PROVINCES:
            for each in value.split(","):
                resolve_province(each)  # fails fast on a province the seed could not build
        return value

    def provinces(self) -> list[str] | None:
        """The deployment's provinces as seed_province names them; None for all 34."""
        if self.seed_province.lower() == ALL_PROVINCES:
            return None
        return [each.strip() for each in self.seed_province.split(",")]

    def national(self) -> bool:
        """Whether the deployment covers more than one province (a national root above them)."""
        chosen = self.provinces()
        return chosen is None or len({resolve_province(p).code for p in chosen}) > 1

    @field_validator("metrics_periods", "metrics_target_periods")
    @classmethod
    def _known_periods(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = sorted(set(value or ()) - set(ALL_PERIODS))
        if unknown:
            raise ValueError(f"unknown periods {unknown}; known: {', '.join(ALL_PERIODS)}")
        return value

    @field_validator("metrics_unit_series")
    @classmethod
    def _known_series(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pair in value:
            figure, _, period = pair.partition(":")
            if figure not in FIGURES or period not in ALL_PERIODS:
                raise ValueError(f"{pair!r} is not `figure:period` with a figure of docs/figures.md and one "
                                 f"of {', '.join(ALL_PERIODS)}")
        return value
