"""The replay command on the real broker, with a real aggregator worker: a simulated history replayed,
interrupted mid-way, resumed; the figures equal the oracle's, each event counted once though the
interrupted run's unacknowledged tail was sent again. And the sync format, placed by the agency codes
on the topic."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common.kafka_settings import KafkaSettings
from services.contract.agencies import encode_agency
from services.ingest.replay.__main__ import parser, run
from services.ingest.replay.position import Position, load
from services.ingest.settings import IngestSettings
from services.simulator.dvcqg_sync import agency_code, personal_data, province_day_calls
from services.simulator.feed import Feed, FeedConfig, generate
from services.simulator.ndjson_file import write_file
from tests.support.aggregator import FiguresReader, Worker
from tests.support.oracle import compare, recompute
from tests.support.oracle_check import FAST_WORKER

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
LINES = 30_000
ACK_EVERY = 2_000
DEADLINE_S = 180


class Interrupted(Exception):
    """Stands for a crash: raised from inside the replay once a few positions are saved."""


def interrupt_after(positions: int) -> Any:
    seen: list[Position] = []

    def on_position(position: Position) -> None:
        seen.append(position)
        if len(seen) == positions:
            raise Interrupted
    return on_position


async def topic_records(kafka: KafkaSettings) -> int:
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(kafka.events_topic, p) for p in range(kafka.events_partitions)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def assert_figures_equal(kafka: KafkaSettings, expected: dict[str, Any], worker: Worker) -> None:
    async with FiguresReader(kafka) as reader:
        def settled(latest: dict[str, Any]) -> bool:
            return latest.keys() == expected.keys() and not compare(expected, latest)
        if not await reader.wait_for(settled, DEADLINE_S, [worker]):
            raise AssertionError(f"figures differ from the oracle: {compare(expected, reader.latest)[:10]}")


async def test_an_interrupted_replay_resumed_counts_every_event_once(kafka_settings: KafkaSettings,
                                                                     tmp_path: Path) -> None:
    now = datetime.fromisoformat(FROZEN_NOW)
    history = tmp_path / "history.ndjson"
    # Duplicates, reordering, late and malformed deliveries, as the simulator writes them.
    write_file(generate(FeedConfig(start=now - timedelta(days=30), end=now, seed=17, filings_per_day=500)),
               history, limit=LINES)
    settings = IngestSettings(kafka=kafka_settings)
    worker = Worker(kafka_settings, tmp_path / "worker", f"agg-{kafka_settings.events_topic}", FROZEN_NOW,
                    FAST_WORKER).start()
    try:
        args = ["--ack-every", str(ACK_EVERY), str(history)]
        with pytest.raises(Interrupted):
            await run(parser().parse_args(args), settings, interrupt_after(3))
        stopped = load(tmp_path / "history.ndjson.position.json")
        assert stopped is not None and not stopped.finished and 0 < stopped.line < LINES
        # Sent beyond the position (shipped, not yet acknowledged when it stopped): sent again below.
        assert await topic_records(kafka_settings) > stopped.counts.events

        # Run again without saying what to do: refused, with the way out named.
        with pytest.raises(Exception, match="--resume continues it"):
            await run(parser().parse_args(args), settings)
        done = await run(parser().parse_args([*args, "--resume"]), settings)
        assert done.finished and done.line == LINES and done.offset == history.stat().st_size

        oracle = recompute(history, now)
        assert done.counts.lines == LINES
        # Ingest's checks take what the oracle takes (duplicates included), and refuse the rest.
        assert done.counts.events == oracle.accepted and done.counts.refused == sum(oracle.skipped.values())
        rejects = [orjson.loads(line) for line in (tmp_path / "history.ndjson.rejects.ndjson").read_bytes()
                   .splitlines()]
        assert len(rejects) == done.counts.refused > 0  # the interrupted run's tail not written twice
        assert len({r["line"] for r in rejects}) == len(rejects)
        assert all(r["errors"] and {"field", "reason"} <= r["errors"][0].keys() for r in rejects)
        resent = await topic_records(kafka_settings) - done.counts.events
        assert resent > 0
        await assert_figures_equal(kafka_settings, oracle.units, worker)
        print(f"\n{done.counts.events:,} events, {resent:,} of them sent twice; figures equal the oracle")

        # A finished replay refuses to run again.
        with pytest.raises(Exception, match="already replayed to its end"):
            await run(parser().parse_args([*args, "--resume"]), settings)
    finally:
        worker.stop()


async def test_a_sync_history_is_placed_by_the_agency_codes_and_equals_the_oracle(
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    now = datetime.fromisoformat(FROZEN_NOW)
    events = [e for _, e in Feed(FeedConfig(start=now - timedelta(days=6), end=now, seed=23,
                                            filings_per_day=120)).events()]
    calls, said = province_day_calls(events, random.Random(3), per_call=50)
    (tmp_path / "said.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in said))
    oracle = recompute(tmp_path / "said.ndjson", now)
    # Envelopes and bare lists alternate; one more line's dossier names an agency nobody mapped.
    history = tmp_path / "sync.ndjson"
    stray = {**calls[0][0], "MaDonViXuLy": "000.00.99.H99", **personal_data(999_999)}
    lines = [orjson.dumps({"madonvi": "000.00.00.H31", "service": "DongBoHoSoMC", "data": call}
                          if n % 2 else call) for n, call in enumerate(calls)] + [orjson.dumps([stray])]
    history.write_bytes(b"\n".join(lines) + b"\n")

    producer = AIOKafkaProducer(**kafka_settings.client_kwargs())
    await producer.start()
    try:
        for unit in sorted({e["unit_code"] for e in events}):
            await producer.send_and_wait(kafka_settings.agencies_topic, encode_agency(unit),
                                         key=agency_code(unit).encode())
    finally:
        await producer.stop()

    worker = Worker(kafka_settings, tmp_path / "worker", f"agg-{kafka_settings.events_topic}", FROZEN_NOW,
                    FAST_WORKER).start()
    try:
        done = await run(parser().parse_args(["--format", "sync", "--key-id", "kprov", str(history)]),
                         IngestSettings(kafka=kafka_settings))
        assert done.finished and done.counts.lines == len(lines) and done.counts.refused == 1
        assert done.counts.taken == sum(len(call) for call in calls)
        reject = orjson.loads((tmp_path / "sync.ndjson.rejects.ndjson").read_bytes())
        where = (reject["line"], reject["index"], reject["errors"][0]["field"])
        assert where == (len(lines), 0, "MaDonViXuLy")
        assert not any(value in orjson.dumps(reject).decode() for value in personal_data(999_999).values())
        await assert_figures_equal(kafka_settings, oracle.units, worker)
    finally:
        worker.stop()
