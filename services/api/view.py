"""The latest unit-figures record of every unit, as the aggregator last published it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

# Told of every change: (unit code, its new record, or None when the unit's figures were deleted).
Listener = Callable[[str, dict[str, Any] | None], None]


class FiguresView:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.listeners: list[Listener] = []
        self.version = 0  # counts the changes: a result computed at this version is still current

    def apply(self, unit_code: str, value: bytes | None) -> None:
        """One record of `unit-figures`; the latest offset wins, as compaction keeps it."""
        if value is None:
            if self.records.pop(unit_code, None) is None:
                return
            record = None
        else:
            record = orjson.loads(value)
            if not isinstance(record, dict) or not isinstance(record.get("periods"), dict):
                raise ValueError("not a unit-figures record: no periods object")
            self.records[unit_code] = record
        self.version += 1
        for listener in self.listeners:
            listener(unit_code, record)
