"""The simulator's sync calls, mapped as ingest maps them, give the oracle's figures of the same
filings' events as the format can say them: the renderer and the mapping agree, with re-sent and
out-of-order states, on a province's simulated days."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from services.ingest.dvcqg.mapping import map_dossier
from services.simulator.__main__ import main
from services.simulator.delivery import DUPLICATE, SYNC_KINDS, SYNC_RESENT, SYNC_STATE, DeliveryRates
from services.simulator.dvcqg_sync import agency_code, as_sync, expressible, province_day_calls
from services.simulator.feed import Feed, FeedConfig, generate
from services.simulator.live import IngestRefused, LiveTally, send_live
from services.simulator.localtime import to_epoch
from services.simulator.sync_live import SyncSender
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


# --- live: as_sync and the sync sender -------------------------------------------------------------

SYNCED = frozenset({"31.S03", "10510", "10525"})


def test_as_sync_states_mapped_give_the_figures_of_those_units_events(tmp_path: Path) -> None:
    """Live rendering, clean delivery: the synced units' states, sent again and out of order and
    mapped as ingest maps them, give the oracle's figures of those units' events as the format can
    say them; the other units' items pass unchanged, in their order."""
    config = FeedConfig(start=NOW - timedelta(days=6), end=NOW, seed=11, filings_per_day=400,
                        delivery=DeliveryRates.clean())
    items = list(generate(config))
    out = list(as_sync(iter(items), random.Random(3), SYNCED.__contains__))
    assert [i.deliver_at for i in out] == sorted(i.deliver_at for i in out)
    assert [i for i in out if i.kind not in SYNC_KINDS] == [
        i for i in items if i.payload["unit_code"] not in SYNCED]  # type: ignore[index]
    states = [i for i in out if i.kind in SYNC_KINDS]
    assert {i.kind for i in states} == {SYNC_STATE, SYNC_RESENT}
    units = {agency_code(u): u for u in SYNCED}
    mapped = []
    for item in states:
        dossier = item.payload
        assert isinstance(dossier, dict)
        result = map_dossier(dossier, units[dossier["MaDonViXuLy"]], "dvcqg:sim")
        assert result.problems == [], (dossier, result.problems)
        mapped.extend(result.events)
    histories: dict[str, list[dict]] = {}
    for _, event in Feed(config).events():
        if event["unit_code"] in SYNCED:
            histories.setdefault(event["filing_id"], []).append(event)
    said = [e for history in histories.values() for e in expressible(history)]
    (tmp_path / "mapped.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in mapped))
    (tmp_path / "said.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in said))
    from_sync = recompute(tmp_path / "mapped.ndjson", NOW)
    from_events = recompute(tmp_path / "said.ndjson", NOW)
    assert set(from_events.units) == SYNCED
    assert from_sync.units == from_events.units
    # Re-sent, and out of order: some dossier's older state arrives after a newer one.
    first_sent: dict[bytes, int] = {}  # a state → its place among its dossier's states
    newest: dict[str, int] = {}
    overtaken = 0
    for item in states:
        dossier = item.payload
        assert isinstance(dossier, dict)
        code, state = dossier["MaHoSo"], orjson.dumps(dossier)
        if item.kind == SYNC_STATE:
            first_sent[state] = newest.get(code, -1) + 1
        place = first_sent[state]
        overtaken += place < newest.get(code, -1)
        newest[code] = max(place, newest.get(code, -1))
    assert overtaken > 0


def test_as_sync_leaves_out_the_feeds_own_repeats_for_synced_units() -> None:
    config = FeedConfig(start=NOW - timedelta(days=3), end=NOW, seed=4, filings_per_day=400,
                        delivery=DeliveryRates(duplicate=0.05, repeat=0.05, malformed=0.02, reorder=0.1))
    out = list(as_sync(generate(config), random.Random(1), SYNCED.__contains__))
    for item in out:
        if isinstance(item.payload, dict) and item.kind not in SYNC_KINDS:
            assert item.payload.get("unit_code") not in SYNCED
    assert any(i.kind == DUPLICATE for i in out)  # the other units' mess is untouched
    assert sum(i.kind == SYNC_STATE for i in out) >= 10


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_sync_sender_logs_in_sends_envelopes_by_agency_and_renews_an_expired_session() -> None:
    config = FeedConfig(start=NOW - timedelta(days=1), end=NOW, seed=5, filings_per_day=600,
                        delivery=DeliveryRates.clean())
    items = list(as_sync(generate(config), random.Random(2), SYNCED.__contains__))
    states = sum(i.kind in SYNC_KINDS for i in items)
    seen: list[tuple[str, Any]] = []
    sessions = iter(["s1", "s2"])
    answers = iter([httpx.Response(503, headers={"Retry-After": "1"})])

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content) if request.url.path != "/v1/events" else request.content
        seen.append((request.url.path, body))
        if request.url.path == "/dvcqg/login":
            assert body == {"username": "k1", "password": "secret"}
            return httpx.Response(200, json={"error_code": 0, "session": next(sessions)})
        if request.url.path == "/v1/events":
            return httpx.Response(202, json={"accepted": len(body.splitlines()), "rejected": 0})
        answer = next(answers, None)
        if answer is not None:
            return answer
        if body["session"] == "s1" and sum(path == "/dvcqg/sync" for path, _ in seen) > 5:
            return httpx.Response(401, json={"error_code": "401", "message": "expired"})
        data = body["data"]
        return httpx.Response(200, json={"error_code": "00", "accepted": len(data) - 1, "rejected": 1})

    clock = FakeClock(to_epoch(NOW))
    tally = LiveTally()
    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://127.0.0.1:8001") as client:
        sender = SyncSender(client, "k1.secret", tally, per_call=40, clock=clock, sleep=clock.sleep)
        send_live(iter(items), sender, rate=10, backfill_rate=1000, live_from=clock.now + 1, batch_size=500)
    calls = [body for path, body in seen if path == "/dvcqg/sync" and body]
    taken = [c for c in calls if c["session"] == "s2"]
    assert [path for path, _ in seen].count("/dvcqg/login") == 2 and tally.logins == 2
    for call in calls:
        assert call["service"] == "DongBoHoSoMC" and 1 <= len(call["data"]) <= 40
        assert {d["MaDonViXuLy"] for d in call["data"]} == {call["madonvi"]}
    agencies = {c["madonvi"] for c in calls}
    assert agencies <= {agency_code(u) for u in SYNCED} and len(agencies) >= 2
    # Every state in a call answered 200: the first call's 503 retried (calls[1] is calls[0] again),
    # four calls taken with s1, the fifth refused as expired (calls[5]) and sent again with s2.
    assert calls[0] == calls[1] and calls[5]["data"] == taken[0]["data"] and calls[5]["session"] == "s1"
    answered = calls[1:5] + taken
    assert sum(len(c["data"]) for c in answered) == states
    assert tally.taken + tally.refused == states and tally.refused == tally.sync_calls == len(answered)
    assert tally.retries == 1
    events = [e for path, body in seen if path == "/v1/events" for e in body.splitlines()]
    assert len(events) == len(items) - states == tally.accepted
    assert "ingest's sync" in tally.summary() and "by TrangThaiHoSo" in tally.summary()


def test_sync_sender_stops_when_the_login_is_refused() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(401, json={"error_code": "401"}))
    clock = FakeClock(to_epoch(NOW))
    config = FeedConfig(start=NOW - timedelta(hours=12), end=NOW, seed=5, filings_per_day=600,
                        delivery=DeliveryRates.clean())
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8001") as client:
        sender = SyncSender(client, "k1.nope", LiveTally(), clock=clock, sleep=clock.sleep)
        with pytest.raises(IngestRefused, match="401"):
            send_live(as_sync(generate(config), random.Random(1), lambda _: True), sender, rate=10,
                      backfill_rate=100, live_from=clock.now)


@pytest.mark.parametrize("argv", [["--out", "x.ndjson", "--sync-units", "all"],
                                  ["--ingest-url", "http://127.0.0.1:1", "--api-key", "k.s",
                                   "--sync-units", "31.S03,nowhere"]])
def test_the_cli_refuses_sync_in_file_mode_and_units_outside_the_province(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "--sync-units" in capsys.readouterr().err
