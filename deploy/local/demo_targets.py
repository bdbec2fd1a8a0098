"""`make run`'s targets: every unit's online-rate and on-time targets for the year, shared out of a
province goal with the Hải Phòng allocation (docs/targets.md), so that rankings against targets, the
gaps and the monthly report have data from the first minute.

Through the API's own admin endpoint (`POST /v1/admin/allocations/{code}`), as an operator would:
the province's goal over its departments and communes, then each department's target over its
offices. It first waits, at most `wait_s`, until the simulated feed has put some filings into the
reference period, so that the targets start from where the units are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("run")

REFERENCE_PERIOD = "last_30_days"


@dataclass(frozen=True)
class DemoGoals:
    """The province's goals for the year: Hà Nội's 2024 online target was 60 %, Hải Phòng's city
    reached 94 % in 2023; Decision 766's 2.1 gives full marks only at 100 % on time."""

    goals: Mapping[str, float] = field(default_factory=lambda: {"online_rate": 0.8, "on_time_rate": 0.9})
    min_filings: int = 2000  # in the reference period, before the starts are read
    wait_s: float = 60.0


def wait_for_filings(client: httpx.Client, root: str, min_filings: int, wait_s: float,
                     sleep: Callable[[float], None] = time.sleep,
                     monotonic: Callable[[], float] = time.monotonic) -> int:
    """The root's filings in the reference period, once at least `min_filings` (or at the deadline)."""
    deadline = monotonic() + wait_s
    while True:
        answer = client.get(f"/v1/units/{root}/rollup")
        received = 0
        if answer.is_success:
            received = int(answer.json()["periods"][REFERENCE_PERIOD]["received_total"])
        if received >= min_filings or monotonic() >= deadline:
            return received
        sleep(0.5)


def parents_below(tree: Mapping[str, Any]) -> list[str]:
    """The codes of the units below `tree`'s root that have units below them, parents first."""
    out: list[str] = []
    stack = list(reversed(tree["children"]))
    while stack:
        node = stack.pop()
        if node["children"]:
            out.append(node["code"])
            stack.extend(reversed(node["children"]))
    return out


def allocate(client: httpx.Client, code: str, figure: str, goal: float, year: str) -> dict[str, float]:
    """Writes the targets of the units below `code` that meet `goal` together; returns them by unit."""
    body = {"figure": figure, "goal": goal, "reference_period": REFERENCE_PERIOD, "target_period": year}
    answer = client.post(f"/v1/admin/allocations/{code}", json=body)
    answer.raise_for_status()
    return {unit["code"]: unit["target"] for unit in answer.json()["units"]}


def set_demo_targets(client: httpx.Client, root: str, year: str,
                     goals: DemoGoals) -> dict[str, dict[str, float]]:
    """Every unit's target for each goal's figure, for `year`: the root's goal shared over its
    children, then each child's target over its own children, down the tree. `client` carries the
    admin key. Returns the targets written, by figure and unit (the root's is its goal)."""
    received = wait_for_filings(client, root, goals.min_filings, goals.wait_s)
    tree = client.get("/v1/units", params={"root": root}).raise_for_status().json()["roots"][0]
    written: dict[str, dict[str, float]] = {}
    for figure, goal in goals.goals.items():
        targets = {root: goal}
        for code in [root, *parents_below(tree)]:
            targets |= allocate(client, code, figure, targets[code], year)
        written[figure] = targets
        log.info("targets for %s: %d units, province goal %.0f %% for %s (from %d filings in %s)",
                 figure, len(targets), 100 * goal, year, received, REFERENCE_PERIOD)
    return written
