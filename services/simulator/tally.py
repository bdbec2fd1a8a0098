"""Counts of what was sent, for the progress line and the final summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.simulator.delivery import MALFORMED, ORIGINAL, SYNC_KINDS, SYNC_RESENT, SYNC_STATE, Delivery
from services.simulator.localtime import rfc3339


@dataclass
class Tally:
    lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)  # good lines, by event_type
    by_kind: Counter[str] = field(default_factory=Counter)  # Delivery.kind
    malformed: Counter[str] = field(default_factory=Counter)  # by kind of breakage
    by_status: Counter[str] = field(default_factory=Counter)  # dossier states sent, by TrangThaiHoSo
    last_occurred: int | None = None

    def add(self, item: Delivery) -> None:
        self.lines += 1
        self.by_kind[item.kind] += 1
        if item.kind in SYNC_KINDS:
            assert isinstance(item.payload, dict)
            self.by_status[str(item.payload["TrangThaiHoSo"])] += 1
            if item.kind == SYNC_STATE:
                self.last_occurred = item.occurred_at
            return
        if item.kind == MALFORMED:
            self.malformed[item.detail] += 1
            return
        assert isinstance(item.payload, dict)
        self.by_type[item.payload["event_type"]] += 1
        if item.kind == ORIGINAL:
            self.last_occurred = item.occurred_at

    def progress(self, elapsed: float) -> str:
        rate = self.lines / elapsed if elapsed > 0 else 0.0
        reached = rfc3339(self.last_occurred) if self.last_occurred is not None else "-"
        return f"{self.lines:,} lines ({rate:,.0f}/s), simulated time {reached}"

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_kind.items()))
        types = ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_type.items()))
        broken = ", ".join(f"{k} {v:,}" for k, v in sorted(self.malformed.items())) or "none"
        share = (sum(self.malformed.values()) / self.lines) if self.lines else 0.0
        sync = ""
        if self.by_status:
            ordered = sorted(self.by_status.items(), key=lambda kv: int(kv[0]))
            statuses = ", ".join(f"{k} {v:,}" for k, v in ordered)
            sync = (f"  dossier states (the portal's sync): {self.by_kind[SYNC_STATE]:,} sent, "
                    f"{self.by_kind[SYNC_RESENT]:,} sent again; by TrangThaiHoSo: {statuses}\n")
        return (f"lines: {self.lines:,}\n"
                f"  by delivery: {kinds}\n"
                f"  good events by type: {types or 'none'}\n"
                f"{sync}"
                f"  duplicates (same event_id again): {self.by_kind['duplicate']:,}\n"
                f"  same transition under a new event_id: {self.by_kind['repeat']:,}\n"
                f"  malformed: {sum(self.malformed.values()):,} ({share:.2%} of lines): {broken}")
