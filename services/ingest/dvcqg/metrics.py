"""The sync's own counters, on the ingest service's registry. Labels are bounded by what we choose
(service, outcome, our key ids): never a value a sender wrote, so never an applicant's data."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.items = Counter(
            "ingest_sync_items_total",
            "Items of the national portal's sync calls: service DongBoHoSoMC (dossiers) or "
            "CapNhatTienDoHoSoMC (progress steps); outcome taken, refused, or not_received (a dossier "
            "not yet received, taken and not counted).", ["service", "outcome"], registry=registry)
        self.unmapped = Counter(
            "ingest_sync_unmapped_agency_total",
            "Sync items refused because no unit is mapped to their agency code, by the writer key that "
            "sent them: map the agency under /v1/admin/agencies of the API.", ["key_id"], registry=registry)
        self.logins = Counter(
            "ingest_sync_logins_total", "Sync logins by outcome (ok, refused).", ["outcome"],
            registry=registry)
