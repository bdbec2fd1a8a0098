"""Reads one sync object's fields by their Vietnamese names, collecting what it cannot read.

Every problem names the field as the sender wrote it (`NgayTiepNhan`,
`DanhSachHoSoBoSung.0.NgayBoSung`), so that a provincial IT team finds it in its own payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from services.ingest.dvcqg import values

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Problem:
    field: str  # the sender's field name, dotted into lists
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": f"{self.field}: {self.message}"}


class Reader:
    """Fields of one object; `prefix` places it inside its dossier (`TaiLieuNop.2.`)."""

    def __init__(self, source: Mapping[str, object], problems: list[Problem], prefix: str = "") -> None:
        self.source = source
        self.problems = problems
        self.prefix = prefix

    def _read(self, name: str, read: Callable[[object], T | None]) -> T | None:
        try:
            return read(self.source.get(name))
        except values.Unreadable as exc:
            self.problems.append(Problem(self.prefix + name, str(exc)))
            return None

    def code(self, name: str) -> str | None:
        return self._read(name, values.code)

    def flag(self, name: str) -> bool | None:
        return self._read(name, values.flag)

    def instant(self, name: str) -> datetime | None:
        return self._read(name, values.instant)

    def require(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.prefix + name, message))

    def field(self, name: str) -> str:
        return self.prefix + name

    def items(self, name: str) -> list[Reader]:
        """The objects of a list field (missing, null or "" is an empty list); anything else in it
        is a problem."""
        raw = self.source.get(name)
        if raw is None or raw == "":
            return []
        if not isinstance(raw, list):
            self.require(name, "phải là danh sách (must be a list)")
            return []
        readers = []
        for index, item in enumerate(raw):
            if isinstance(item, Mapping):
                readers.append(Reader(item, self.problems, f"{self.prefix}{name}.{index}."))
            else:
                self.require(f"{name}.{index}", "phải là đối tượng (must be an object)")
        return readers

    def present(self, name: str) -> bool:
        """The field is in the object with a value (not null, not "")."""
        value = self.source.get(name)
        return value is not None and value != ""
