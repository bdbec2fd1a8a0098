"""What the sync's routes share, beside the ingest context: sessions, the agency codes, counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.contract.agencies import AgencyBook
from services.ingest.dvcqg.metrics import SyncMetrics
from services.ingest.dvcqg.sessions import Sessions


class Agencies(Protocol):
    """The agency → unit mapping as ingest holds it (`agencies.AgencyDirectory`; a stand-in in tests)."""

    book: AgencyBook

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class SyncContext:
    sessions: Sessions
    agencies: Agencies
    metrics: SyncMetrics
