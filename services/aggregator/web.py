"""The worker's pages for its operators: /metrics (Prometheus) and /state (what it holds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import generate_latest

from services.aggregator import metrics
from services.aggregator.compiled import running_compiled
from services.aggregator.engine import Engine
from services.aggregator.pack_applier import PackApplier


class StatePage:
    def __init__(self, engine: Engine, applier: PackApplier, clock: Callable[[], float] = time.time,
                 applying_share: Callable[[], float] = lambda: 0.0) -> None:
        self.engine = engine
        self.applier = applier
        self.clock = clock
        self.applying_share = applying_share  # (busy_share.py)

    def body(self) -> dict[str, Any]:
        """Units held, events applied, when a batch was last applied, units due to publish, the
        share of the last second spent applying, whether the engine runs compiled (compiled.py)."""
        return {"units": self.engine.unit_count(), "applied": self.engine.applied,
                "last_applied_at": self.applier.last_applied_at, "dirty": self.engine.dirty_count(),
                "applying_share": round(self.applying_share(), 3), "compiled": running_compiled(),
                "at": self.clock()}


def metrics_body() -> bytes:
    return generate_latest(metrics.REGISTRY)


def add_pages(app: faust.App, state: StatePage) -> None:
    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics_body(), content_type="text/plain; version=0.0.4")

    @app.page("/state")
    async def state_page(web: Any, request: Any) -> Any:
        return web.json(state.body())
