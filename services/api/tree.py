"""The unit tree as plain data: units with a parent each, of any depth (provinces, departments, offices,
communes, and districts in pre-2025 history). Pure: the registry feeds it from Kafka."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

# Edits kept for readers that follow the tree by its changes (SubtreeSums); one further behind
# rebuilds what it derived from the tree.
EDIT_LOG = 1024

# The most levels a tree may have, a root at level 1: real trees have 3 or 4 (province, department,
# office; district and commune before 2025). Clients walk the nested tree recursively (the
# dashboard does, and most JSON parsers nest), so the admin endpoint refuses a deeper one.
MAX_DEPTH = 32


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
        # (the version a change made, the unit's code, its parent before the change): one per change.
        self.edits: deque[tuple[int, str, str | None]] = deque(maxlen=EDIT_LOG)
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
        self.edits.append((self.version, unit.code, None))
        self.units[unit.code] = unit
        if unit.parent_code is not None:
            self._children.setdefault(unit.parent_code, {})[unit.code] = None

    def delete(self, code: str) -> None:
        old = self.units.pop(code, None)
        self.version += 1
        self.edits.append((self.version, code, old.parent_code if old is not None else None))
        if old is not None and old.parent_code is not None:
            siblings = self._children.get(old.parent_code, {})
            siblings.pop(code, None)
            if not siblings:
                self._children.pop(old.parent_code, None)

    def has_children(self, code: str) -> bool:
        return code in self._children

    def parents(self) -> list[str]:
        """Every code with children (a unit, or a parent known only from its children)."""
        return list(self._children)

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

    def depth_under(self, code: str, parent_code: str | None) -> int:
        """How many levels the tree would have down to the deepest unit below `code` if `code` hung
        from `parent_code`: the levels from the parent up to its root, plus `code`'s subtree's."""
        above = 0
        seen: set[str] = set()
        current = parent_code
        while current is not None and current not in seen:
            above += 1
            seen.add(current)
            unit = self.units.get(current)
            current = unit.parent_code if unit else None
        return above + self._height(code)

    def _height(self, code: str) -> int:
        """Levels of the subtree at `code`, `code` included (1 without children)."""
        seen = {code}
        level, height = [code], 0
        while level:
            height += 1
            below = [c for parent in level for c in self.children(parent) if c not in seen]
            seen.update(below)
            level = below
        return height

    def nested_json(self, roots: list[str]) -> bytes:
        """`{"roots": [...]}`: each root's subtree as nested objects, each with its `children`.

        Written piece by piece with an explicit stack rather than as nested dicts for orjson, whose
        recursion stops at 255 levels: a tree the admin check did not see (a record written straight
        to the topic) is served whatever its depth. The visited set guards against a cycle."""
        out = [b'{"roots":[']
        seen: set[str] = set()
        stack: list[tuple[str, bool] | None] = [(r, i == 0) for i, r in reversed(list(enumerate(roots)))]
        while stack:
            item = stack.pop()
            if item is None:  # every child of the node is written: close it
                out.append(b"]}")
                continue
            code, first = item
            seen.add(code)
            unit = self.units.get(code)
            fields = unit.as_dict() if unit else {"code": code, "name": None, "level": None,
                                                  "parent_code": None}  # known only from its children
            out.append((b"" if first else b",") + orjson.dumps(fields)[:-1] + b',"children":[')
            stack.append(None)
            children = [c for c in self.children(code) if c not in seen]
            stack.extend((c, i == 0) for i, c in reversed(list(enumerate(children))))
        out.append(b"]}")
        return b"".join(out)
