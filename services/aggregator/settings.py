"""The aggregator's settings: one object, read from the environment by the entry point only."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.clock import Clock, ClockSettings, frozen_at
from services.common.kafka_settings import KafkaSettings


class AggregatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    app_id: str = "onestop-aggregator"
    data_dir: Path = Path(".run/aggregator")
    store: str = "rocksdb://"
    # The address the worker's web server (/metrics, /state) listens on: loopback unless a
    # Prometheus elsewhere must reach it (the container image sets 0.0.0.0 inside its network).
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # At most one unit-figures record per unit per interval: coalesces bursts of events. Behind a
    # backlog, publishing also takes at most a share of the worker's time (publisher.py).
    publish_interval_s: float = Field(default=0.25, gt=0)
    # At most one unit-filings record (the filings behind the figures) per unit per interval: a
    # record lists up to 100 filings for each of some thirty periods, and costs more than the figures.
    filings_interval_s: float = Field(default=5.0, gt=0)
    # How often the overdue clock looks for pending filings whose due time passed.
    overdue_check_interval_s: float = Field(default=15.0, gt=0)
    retention_days: int = Field(default=400, ge=1)
    # Events per packed record: Faust's per-record cost is paid once per pack, not per event.
    pack_max_events: int = Field(default=2000, ge=1)
    # Bytes per packed record, under Kafka's default 1 MiB record limit (a bigger pack would be refused
    # again on every retry, stopping the stream). A packed event is a few hundred bytes at most.
    pack_max_bytes: int = Field(default=900 * 1024, ge=64 * 1024)
    # How long the packer gathers live events into a pack, at most: what an event waits before
    # the agent can apply it (a backlog fills packs long before).
    pack_max_wait_ms: int = Field(default=50, ge=1)
    # How much lower the packer's CPU priority is than the worker's (nice). The agent's applying is
    # what bounds the throughput; a packer that takes CPU from it only packs further ahead of what
    # can be applied. Measured: with the same priority the agent waited for a CPU 16-19 % of its
    # time; at 10 lower, 10-12 % (docs/benchmarks.md). When the agent is idle the packer still gets
    # any free CPU: a lower priority never starves it.
    packer_niceness: int = Field(default=10, ge=0, le=19)
    # Events applied and written to the tables in one go: the changelog round trip is paid once
    # for all the packs waiting in a partition, up to this many events.
    apply_max_events: int = Field(default=20000, ge=1)
    # Filings kept in memory as last written (most events find theirs there, not in RocksDB);
    # about a kilobyte each.
    filing_cache_size: int = Field(default=100_000, ge=0)
    # A partition whose packs wait this long without the stream delivering them is read directly
    # (Faust's consumer can stop fetching a partition after a rebalance).
    stall_after_s: float = Field(default=5.0, gt=0)
    # Pins the clock, for replays and tests whose figures must not move while they are checked.
    frozen_now: datetime | None = None
    session_timeout_s: float = Field(default=10.0, ge=6.0)
    replication_factor: int = Field(default=1, ge=1)
    log_level: str = "info"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    now: ClockSettings = Field(default_factory=ClockSettings)

    @property
    def packed_topic(self) -> str:
        return f"{self.app_id}-{self.kafka.events_topic}-packed"

    def clock(self) -> Clock:
        return self.now.clock() if self.frozen_now is None else frozen_at(self.frozen_now)
