"""The worker's /state and /metrics bodies (services/aggregator/web.py); the pages themselves are
served in tests/test_aggregator_web.py by a real worker."""

from __future__ import annotations

from types import SimpleNamespace

from services.aggregator.compiled import running_compiled
from services.aggregator.web import StatePage, metrics_body
from tests.unit.aggregator.fakes import engine


def test_state_says_what_the_worker_holds_and_when_it_last_applied() -> None:
    page = StatePage(engine(), SimpleNamespace(last_applied_at=12.5), clock=lambda: 20.0,  # type: ignore[arg-type]
                     applying_share=lambda: 0.25)
    assert page.body() == {"units": 0, "applied": 0, "last_applied_at": 12.5, "dirty": 0,
                           "applying_share": 0.25, "compiled": running_compiled(), "at": 20.0}


def test_metrics_are_the_workers_own_registry() -> None:
    assert b"aggregator_stalled_partitions_total" in metrics_body()
