"""The simulator's sync calls, mapped as ingest maps them, give the oracle's figures of the same
filings' events as the format can say them: the renderer and the mapping agree, with re-sent and
out-of-order states, on a province's simulated days."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from services.ingest.dvcqg.mapping import map_dossier
from services.simulator.dvcqg_sync import agency_code, expressible, province_day_calls
from services.simulator.feed import Feed, FeedConfig
from tests.support.oracle import recompute

NOW = datetime.fromisoformat("2026-11-23T12:00:00+07:00")


def test_sync_states_mapped_give_the_figures_of_the_events(tmp_path: Path) -> None:
    config = FeedConfig(start=NOW - timedelta(days=6), end=NOW, seed=7, filings_per_day=150)
    events = [event for _, event in Feed(config).events()]
    calls, said = province_day_calls(events, random.Random(1))
    units = {agency_code(e["unit_code"]): e["unit_code"] for e in events}
    mapped = []
    for call in calls:
        for dossier in call:
            result = map_dossier(dossier, units[dossier["MaDonViXuLy"]], "dvcqg:sim")
            assert result.problems == [], (dossier, result.problems)
            mapped.extend(result.events)
    (tmp_path / "mapped.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in mapped))
    (tmp_path / "said.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in said))
    from_sync = recompute(tmp_path / "mapped.ndjson", NOW)
    from_events = recompute(tmp_path / "said.ndjson", NOW)
    assert from_sync.skipped == from_events.skipped
    assert from_sync.units == from_events.units
    assert sum(len(c) for c in calls) > len({e["filing_id"] for e in events})  # states re-sent
    supplements = [r["periods"]["all_time"]["returned_supplement_requested"]
                   for r in from_sync.units.values()]
    assert sum(supplements) > 0


def test_expressible_drops_what_the_format_cannot_say() -> None:
    submitted = {"event_type": "submitted", "occurred_at": "2026-11-20T08:00:00+07:00",
                 "statutory_max_hours": 24, "full_online_service": True, "paper_result": True,
                 "satisfied": True}
    closing = {"event_type": "processed", "occurred_at": "2026-11-20T10:00:00+07:00",
               "electronic_result": False}
    said = expressible([submitted, {"event_type": "overdue"}, closing])
    assert said[0] == {"event_type": "submitted", "occurred_at": "2026-11-20T08:00:00+07:00",
                       "due_at": "2026-11-21T08:00:00+07:00"}
    assert said[1]["paper_result"] is True and said[1]["electronic_result"] is False
    assert len(said) == 2
