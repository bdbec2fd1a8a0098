"""The unit tree as plain data: units with a parent each, of any depth (provinces, departments, offices,
communes, and districts in pre-2025 history). Pure: the registry feeds it from Kafka."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UnitInfo:
    code: str
    name: str
    level: str
    parent_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnitTree:
    """Units by code and children by parent. A unit whose parent is unknown counts as a root, so a
    registry edited out of order (child before parent) still shows every unit."""

    def __init__(self, units: Iterable[UnitInfo] = ()) -> None:
        self.units: dict[str, UnitInfo] = {}
        self._children: dict[str, dict[str, None]] = {}  # a dict keeps insertion order, unlike a set
        self.version = 0  # counts the changes, as FiguresView.version does
        for unit in units:
            self.put(unit)

    def __len__(self) -> int:
        return len(self.units)

    def __contains__(self, code: object) -> bool:
        return code in self.units

    def get(self, code: str) -> UnitInfo | None:
        return self.units.get(code)

    def put(self, unit: UnitInfo) -> None:
        self.delete(unit.code)
        self.version += 1
        self.units[unit.code] = unit
        if unit.parent_code is not None:
            self._children.setdefault(unit.parent_code, {})[unit.code] = None

    def delete(self, code: str) -> None:
        old = self.units.pop(code, None)
        self.version += 1
        if old is not None and old.parent_code is not None:
            siblings = self._children.get(old.parent_code, {})
            siblings.pop(code, None)
            if not siblings:
                self._children.pop(old.parent_code, None)

    def children(self, code: str) -> list[str]:
        return sorted(self._children.get(code, ()))

    def roots(self) -> list[str]:
        return sorted(c for c, u in self.units.items() if u.parent_code is None or u.parent_code not in self)

    def subtree(self, code: str) -> list[str]:
        """`code` and every unit below it, parents before children. The visited set guards against a
        cycle, which the admin endpoint refuses but a hand-written record on the topic could make."""
        seen = {code}
        order = [code]
        i = 0
        while i < len(order):
            for child in self.children(order[i]):
                if child not in seen:
                    seen.add(child)
                    order.append(child)
            i += 1
        return order

    def is_within(self, code: str, root: str) -> bool:
        """Whether `code` is `root` or below it."""
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen:
            if current == root:
                return True
            seen.add(current)
            unit = self.units.get(current)
            current = unit.parent_code if unit else None
        return False

    def would_cycle(self, code: str, parent_code: str | None) -> bool:
        """Whether giving `code` this parent would put it below itself."""
        return parent_code is not None and self.is_within(parent_code, code)

    def nested(self, code: str) -> dict[str, Any]:
        """The subtree at `code` as nested dicts, each with its `children`."""
        built: dict[str, dict[str, Any]] = {}
        for each in reversed(self.subtree(code)):
            unit = self.units.get(each)
            node: dict[str, Any] = (unit.as_dict() if unit else
                                    {"code": each, "name": None, "level": None, "parent_code": None})
            node["children"] = [built.pop(c) for c in self.children(each) if c in built]
            built[each] = node
        return built[code]
