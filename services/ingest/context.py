"""What the routes share: built once by `create_app`, reached through `deps`."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.rate_limit import RateLimiter
from services.contract.event_validation import EventValidator
from services.ingest.dvcqg.context import SyncContext
from services.ingest.keys import KeyFile
from services.ingest.metrics import IngestMetrics
from services.ingest.producer import EventWriter
from services.ingest.settings import IngestSettings


@dataclass(frozen=True)
class IngestContext:
    settings: IngestSettings
    validator: EventValidator
    keys: KeyFile
    writer: EventWriter
    metrics: IngestMetrics
    limiter: RateLimiter  # requests per writer key
    sync: SyncContext  # the national portal's sync (/dvcqg/...)
