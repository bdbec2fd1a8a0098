"""The replay's parts without Kafka: progress and ETA, the position file and its rules, the
acknowledgement bookkeeping, and the examiners against ingest's own answers."""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.contract.agencies import AgencyBook, encode_agency
from services.contract.event_validation import default_validator
from services.ingest.dvcqg.intake import Intake, examine_call, parse_call
from services.ingest.intake import check_events
from services.ingest.keys import ApiKey
from services.ingest.replay.examine import NdjsonExaminer, SyncExaminer
from services.ingest.replay.position import (
    Counts,
    Identity,
    Position,
    PositionRefused,
    Segment,
    Segments,
    load,
    save,
    starting_point,
)
from services.ingest.replay.progress import ProgressReporter, duration_text, progress_line, size_text
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.localtime import TZ
from services.simulator.ndjson_file import line_bytes
from tests.support.ingest import make_event

NOW_US = 1_800_000_000 * 1_000_000


# --- progress ---------------------------------------------------------------------------------------


def test_sizes_and_durations_read_as_a_person_writes_them() -> None:
    assert size_text(999) == "999 B"
    assert size_text(1_500) == "1.5 kB"
    assert size_text(6_300_000_000) == "6.3 GB"
    assert size_text(12_000_000_000_000) == "12,000.0 GB"
    assert duration_text(59.6) == "1:00"
    assert duration_text(3_725) == "1:02:05"
    assert duration_text(-3) == "0:00"


def test_progress_line_rates_and_eta_are_over_this_run() -> None:
    # 1 GB of 4 GB done, of which this run did 0.5 GB and 100,000 events in 10 s: 50 MB/s, so the
    # 3 GB left take 60 s; the events/s is this run's, not the total's over this run's time.
    line = progress_line(1_000_000_000, 4_000_000_000, 300_000, 500_000_000, 100_000, 10.0)
    assert line == "1.0 GB / 4.0 GB (25.0%)  300,000 events  10,000 events/s  ETA 1:00"


def test_progress_line_at_the_start_and_at_the_end() -> None:
    assert progress_line(0, 100, 0, 0, 0, 0.0).endswith("0 events/s  ETA ?")
    assert progress_line(100, 100, 5, 100, 5, 1.0).endswith("ETA 0:00")
    assert "(100.0%)" in progress_line(0, 0, 0, 0, 0, 0.0)  # an empty file is done


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_one_line_is_rewritten_in_place_a_few_times_a_second() -> None:
    out, clock = io.StringIO(), Clock()
    reporter = ProgressReporter(1000, 0, 0, out, tty=True, clock=clock)
    for step in range(1, 11):
        clock.now = step * 0.1
        reporter.update(step * 100, step * 10)
    reporter.finish(1000, 100)
    text = out.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")
    assert text.count("\r") == 4  # at 0.3, 0.6 and 0.9 s (at most every 0.25 s), and the last
    assert text.count("\x1b[K") == text.count("\r")
    assert "1.0 kB / 1.0 kB (100.0%)  100 events  100 events/s  ETA 0:00" in text


def test_in_a_log_a_line_every_few_seconds() -> None:
    out, clock = io.StringIO(), Clock()
    reporter = ProgressReporter(10_000, 2_000, 50, out, tty=False, clock=clock)
    for second in range(1, 13):
        clock.now = float(second)
        reporter.update(2_000 + second * 500, 50 + second * 100)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 5 s and 10 s
    # At 5 s: 2,500 bytes this run (500/s), so 5,500 left take 11 s; 500 events in 5 s.
    assert lines[0] == "4.5 kB / 10.0 kB (45.0%)  550 events  100 events/s  ETA 0:11"
    reporter.finish(10_000, 1_250)
    assert out.getvalue().splitlines()[-1].endswith("ETA 0:00") and "\r" not in out.getvalue()


# --- the position file ------------------------------------------------------------------------------


def identity(tmp_path: Path, content: bytes = b'{"a": 1}\n') -> Identity:
    path = tmp_path / "history.ndjson"
    path.write_bytes(content)
    return Identity.of(path)


def test_a_position_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    at = Position(identity(tmp_path), "ndjson", "filing-events", 9, 1, 0, Counts(1, 1, 0, 0))
    save(at, tmp_path / "p.json")
    assert load(tmp_path / "p.json") == at
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.ndjson", "p.json"]  # no temp file left
    assert load(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(PositionRefused, match="not a replay position file"):
        load(tmp_path / "bad.json")


def test_where_a_run_starts(tmp_path: Path) -> None:
    file = identity(tmp_path)
    stopped = Position(file, "ndjson", "t", 5, 1, 10, Counts(1, 1, 0, 0))
    finished = Position(file, "ndjson", "t", 9, 1, 10, Counts(1, 1, 0, 0), finished=True)
    # Nothing saved: from the beginning; --resume has nothing to resume.
    assert starting_point(None, file, "ndjson", "t", False, False).offset == 0
    with pytest.raises(PositionRefused, match="nothing to resume"):
        starting_point(None, file, "ndjson", "t", True, False)
    # A stopped replay: --resume continues it, --restart starts over, neither is refused.
    assert starting_point(stopped, file, "ndjson", "t", True, False) is stopped
    assert starting_point(stopped, file, "ndjson", "t", False, True).offset == 0
    with pytest.raises(PositionRefused, match=r"stopped at line 1 .*--resume continues it"):
        starting_point(stopped, file, "ndjson", "t", False, False)
    # A finished one says so and runs again only with --restart.
    with pytest.raises(PositionRefused, match="already replayed to its end"):
        starting_point(finished, file, "ndjson", "t", False, False)
    with pytest.raises(PositionRefused, match="already replayed"):
        starting_point(finished, file, "ndjson", "t", True, False)
    assert starting_point(finished, file, "ndjson", "t", False, True).finished is False
    # Another file (or the file changed), another format or topic: not resumed.
    changed = identity(tmp_path, b'{"a": 2}\n')
    with pytest.raises(PositionRefused, match="changed since"):
        starting_point(stopped, changed, "ndjson", "t", True, False)
    with pytest.raises(PositionRefused, match="as ndjson to t, not as sync to t"):
        starting_point(stopped, file, "sync", "t", True, False)


# --- acknowledgements -------------------------------------------------------------------------------


def segment(end: int, *deliveries: asyncio.Future[Any]) -> Segment:
    return Segment(end, end, 0, Counts(lines=end), list(deliveries))


async def test_the_position_moves_only_past_segments_acknowledged_with_all_before_them() -> None:
    loop = asyncio.get_running_loop()
    a1, a2, b1, c1 = (loop.create_future() for _ in range(4))
    segments = Segments(limit=3)
    segments.add(segment(10, a1, a2))
    segments.add(segment(20, b1))
    assert not segments.full
    segments.add(segment(30, c1))
    assert segments.full
    assert segments.acknowledged() is None
    # A later segment acknowledged first does not move the position past an earlier one.
    b1.set_result(None)
    c1.set_result(None)
    a1.set_result(None)
    assert segments.acknowledged() is None
    a2.set_result(None)
    done = segments.acknowledged()
    assert done is not None and done.offset == 30 and not segments.pending


async def test_a_failed_delivery_stops_the_position_before_it() -> None:
    loop = asyncio.get_running_loop()
    ok, failed = loop.create_future(), loop.create_future()
    segments = Segments(limit=4)
    segments.add(segment(10, ok))
    segments.add(segment(20, failed))
    ok.set_result(None)
    failed.set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        segments.acknowledged()


async def test_wait_oldest_waits_for_the_oldest_segment_only() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    segments = Segments(limit=2)
    segments.add(segment(10, first))
    segments.add(segment(20, second))
    loop.call_soon(first.set_result, None)
    await segments.wait_oldest()
    done = segments.acknowledged()
    assert done is not None and done.offset == 10 and len(segments.pending) == 1


# --- the examiners: ingest's answers, line numbers, no personal data ---------------------------------


def test_ndjson_lines_give_ingests_records_and_name_refused_lines() -> None:
    validator = default_validator()
    good = make_event(occurred_at="2026-11-20T08:00:00+07:00", due_at="2026-11-25T17:00:00+07:00")
    bad = make_event(channel="pigeon")
    lines = [(1, orjson.dumps(good)), (3, b"{not json"), (4, orjson.dumps(bad)), (5, b"x" * 1000)]
    counts = Counts()
    examined = NdjsonExaminer(validator, 64 * 1024, 999).examine(lines, NOW_US, counts)
    assert examined.records == check_events([good], validator, 64 * 1024, NOW_US).records
    assert [(r["line"], r["errors"][0]["field"]) for r in examined.rejects] == [(3, ""), (4, "channel"),
                                                                                  (5, "")]
    assert "malformed JSON at column" in examined.rejects[0]["errors"][0]["reason"]
    assert "at most 999" in examined.rejects[2]["errors"][0]["reason"]
    assert counts == Counts(lines=4, events=1, refused=3)


def test_sync_lines_give_the_sync_intakes_records_without_the_applicants_data() -> None:
    book = AgencyBook()
    book.apply("000.00.31.H31", encode_agency("31.S04"))
    dossier = {"MaHoSo": "000.00.31.H31-261120-0001", "MaTTHC": "1.001234", "KenhThucHien": "2",
               "TrangThaiHoSo": "4", "NgayTiepNhan": "20261120083000", "NgayHenTra": "20261125170000",
               "ChuHoSo": "Nguyễn Văn Thử 000001", "SoDienThoai": "0900000001"}
    refused = {**dossier, "MaHoSo": "X-2", "TrangThaiHoSo": "42"}
    envelope = {"madonvi": "000.00.31.H31", "service": "DongBoHoSoMC", "data": [dossier, refused]}
    unmapped = [{**dossier, "MaDonViXuLy": "000.00.99.H31"}]
    lines = [(1, orjson.dumps(envelope)), (2, orjson.dumps(unmapped)), (3, b'{"data": 5}')]
    counts = Counts()
    examiner = SyncExaminer(default_validator(), book, 64 * 1024, 1 << 20, 1000, "kreplay")
    examined = examiner.examine(lines, NOW_US, counts)
    events = [orjson.loads(value) for _, value in examined.records]
    assert {e["source"] for e in events} == {"dvcqg:kreplay"}
    assert {k for k, _ in examined.records} == {b"31.S04"}
    # The very records the sync intake writes for the same body.
    intake = Intake(ApiKey("kreplay", frozenset({"*"})), book, default_validator(), 64 * 1024, NOW_US)
    assert examined.records == examine_call(parse_call(lines[0][1], None, None, 1000), intake).records
    assert [(r["line"], r.get("index"), r["errors"][0]["field"]) for r in examined.rejects] == [
        (1, 1, "TrangThaiHoSo"), (2, 0, "MaDonViXuLy"), (3, None, "")]
    assert counts == Counts(lines=3, events=len(events), refused=3, taken=1)
    written = orjson.dumps(examined.rejects) + b"".join(v for _, v in examined.records)
    assert b"Nguy" not in written and b"0900000001" not in written


def test_ndjson_verdicts_on_the_lines_bytes_are_those_of_the_http_intake() -> None:
    """The examiner hands check_events each line's bytes (the fast check runs on them); over a feed
    with every kind of malformed line the simulator writes, records and refusals are the intake's."""
    start = datetime(2026, 10, 5, tzinfo=TZ)
    config = FeedConfig(start=start, end=start + timedelta(days=3), seed=4, filings_per_day=2000,
                        delivery=DeliveryRates(malformed=0.05, not_json=True))
    lines = [line_bytes(item) for item in generate(config)]
    validator = default_validator()
    examined = NdjsonExaminer(validator, 64 * 1024, 1 << 20).examine(
        list(enumerate(lines, start=1)), NOW_US, Counts())
    decoded = []
    for number, line in enumerate(lines, start=1):
        with contextlib.suppress(orjson.JSONDecodeError):
            decoded.append((number, orjson.loads(line)))
    intake = check_events([value for _, value in decoded], validator, 64 * 1024, NOW_US)
    assert examined.records == intake.records
    refused_by_intake = {decoded[r["index"]][0]: r["errors"] for r in intake.results
                         if r["status"] == "rejected"}
    refused = {r["line"]: r["errors"] for r in examined.rejects if r["line"] in refused_by_intake}
    assert refused == refused_by_intake and len(refused) > 100
    assert len(examined.rejects) - len(refused) == len(lines) - len(decoded) > 10  # not JSON at all
