"""The calendar comes from the shared clock (ONESTOP_CLOCK_START), never the machine's date: the
simulator's default range and the API's "today", at a Sunday, the first of a month and 1 January."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.api.targets import Target
from services.common.clock import CLOCK_START_ENV
from services.simulator.__main__ import main
from tests.support.suite_clock import INSTANTS, at_each_instant


def event_days(path: Path) -> set[date]:
    return {datetime.fromisoformat(orjson.loads(line)["occurred_at"]).date()
            for line in path.read_bytes().splitlines()}


def test_the_simulators_default_range_ends_where_the_shared_clock_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards issue 12, class 7: with no --start, a file holds the days before the shared clock's
    today, as a live backfill does; before, the machine's date chose them, so figures and tests
    changed with the day the suite ran. Every instant in turn: a machine's date is at most one."""
    for instant in INSTANTS:
        monkeypatch.setenv(CLOCK_START_ENV, instant.isoformat())
        out = tmp_path / f"{instant.date()}.ndjson"
        assert main(["--out", str(out), "--days", "2", "--clean", "--filings-per-day", "300"]) == 0
        today = instant.date()  # the instants are in Ho Chi Minh time, as occurred_at is
        assert event_days(out) <= {today - timedelta(days=2), today - timedelta(days=1)}, instant
        assert today - timedelta(days=1) in event_days(out), instant


@at_each_instant
async def test_a_unit_without_figures_is_judged_by_the_shared_clocks_month(suite_now: datetime) -> None:
    """The target standing on /metrics (and the rankings) take the period's target from the record's
    day, or, before a unit has figures, from the API's today: the shared clock's."""
    app = create_app(ApiSettings(seed_province="31"), CollectorRegistry())
    targets = app.state.api.runtime.state.targets
    this_month = f"{suite_now:%Y-%m}"
    last_month = f"{suite_now.replace(day=1) - timedelta(days=1):%Y-%m}"
    targets.put(Target("U.NOW", "online_rate", this_month, 0.8))
    targets.put(Target("U.BEFORE", "online_rate", last_month, 0.8))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as http:
        text = (await http.get("/metrics")).text
    found = {(s.labels["unit"], s.labels["level"], s.labels["figure"], s.labels["period"]): s.value
             for family in text_string_to_metric_families(text) if family.name == "onestop_unit_target"
             for s in family.samples}
    assert found == {("U.NOW", "unknown", "online_rate", period): 0.8
                     for period in ("today", "last_7_days", "last_30_days", "month_to_date", "all_time")}
