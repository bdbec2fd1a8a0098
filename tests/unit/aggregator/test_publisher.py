"""The publisher (services/aggregator/publisher.py): changed units to unit-figures, their changed days
to unit-days; a round Kafka refuses is due again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from services.aggregator.engine import Engine
from services.aggregator.pack_format import decode_pack
from services.aggregator.publisher import FIGURES_ROUND_S, Publisher
from tests.unit.aggregator.fakes import T0, engine, event, pack


class Kafka:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, Any]] = []
        self.refuse = False

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refuse:
            future.set_exception(KafkaConnectionError())
        else:
            self.sent.append((topic, key, orjson.loads(value)))
            future.set_result(None)
        return future


def applied(*units: str) -> Engine:
    e = engine()
    rows = decode_pack(pack([(n, event(n, "submitted", f"F{n}", T0, unit=u)) for n, u in enumerate(units)]))
    e.apply_pack(0, rows, {}.get, {}.get)
    return e


class Slowed:
    """An engine whose `name` generator of records moves the clock `now` by `seconds` per record
    made. A proxy, not a patched method: the compiled Engine's methods cannot be replaced."""

    def __init__(self, engine: Engine, name: str, now: list[float], seconds: float) -> None:
        self._engine, self._name, self._now, self._seconds = engine, name, now, seconds

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._engine, name)
        if name != self._name:
            return found

        def slow(*args: Any) -> Iterator[Any]:
            for made in found(*args):
                self._now[0] += self._seconds
                yield made
        return slow


async def test_changed_units_and_their_days_are_published_once() -> None:
    kafka, e = Kafka(), applied("U1", "U2")
    publisher = Publisher(e, kafka.send, "figures", "days", 0.5, clock=lambda: 100.0)
    await publisher.publish_round()
    assert sorted((topic, key) for topic, key, _ in kafka.sent) == [
        ("days", b"U1|2026-11-20"), ("days", b"U2|2026-11-20"), ("figures", b"U1"), ("figures", b"U2")]
    kafka.sent.clear()
    await publisher.publish_round()
    assert kafka.sent == []


async def test_a_round_kafka_refuses_is_published_again() -> None:
    kafka, e = Kafka(), applied("U1")
    publisher = Publisher(e, kafka.send, "figures", "days", 0.5, clock=lambda: 100.0)
    kafka.refuse = True
    await publisher.publish_round()
    await publisher.settled()
    assert "U1" in e.dirty
    kafka.refuse = False
    publisher.clock = lambda: 101.0  # past the interval
    await publisher.publish_round()
    await publisher.settled()
    assert sorted(key for _, key, _ in kafka.sent) == [b"U1", b"U1|2026-11-20"]
    assert e.units["U1"].state.unacknowledged == set()


async def test_the_lists_take_a_bounded_share_of_the_workers_time_and_their_filings_are_noted_meanwhile(
        ) -> None:
    kafka, e = Kafka(), applied("U1", "U2")
    now = [100.0]
    # Each unit's lists take 0.1 s to build.
    publisher = Publisher(Slowed(e, "filings_due", now, 0.1), kafka.send, "figures", "days", 0.5,  # type: ignore[arg-type]
                          clock=lambda: now[0], filings_topic="filings", filings_interval_s=0.0)
    await publisher.publish_round()
    # One unit's lists took the round's budget (LISTS_ROUND_S): U2's wait for the next lists round.
    assert sorted(key for topic, key, _ in kafka.sent if topic == "filings") == [b"U1"]
    assert e.lists_due == {"U2"}
    # 0.1 s of lists: the next lists wait 19 times as long, so that lists are 5 % of the time.
    assert now[0] == pytest.approx(100.1) and publisher._lists_not_before == pytest.approx(100.1 + 0.1 * 19)
    kafka.sent.clear()
    e.apply_pack(0, decode_pack(pack([(9, event(9, "submitted", "F9", T0, unit="U1"))])), {}.get, {}.get)
    assert e.units["U1"].noted
    now[0] = 101.0
    await publisher.publish_round()
    assert [key for topic, key, _ in kafka.sent if topic in ("figures", "filings")] == [b"U1"]  # figures only
    assert e.units["U1"].noted == {} and e.units["U1"].filings is not None
    assert e.units["U1"].filings.get("F9") is not None  # its entry set: not held until the lists go out
    kafka.sent.clear()
    now[0] = 104.1
    await publisher.publish_round()
    lists = [value for topic, _, value in kafka.sent if topic == "filings"]
    assert [v["unit_code"] for v in lists] == ["U1"]
    assert lists[0]["due_soon"]["count"] + lists[0]["overdue_now"]["count"] == 2  # F1 and F9, open


async def test_a_round_does_not_wait_for_kafka_and_its_days_are_acknowledged_when_kafka_has_them() -> None:
    e = applied("U1")
    held: list[asyncio.Future[Any]] = []

    async def send_held(topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        held.append(asyncio.get_running_loop().create_future())
        return held[-1]

    publisher = Publisher(e, send_held, "figures", "days", 0.5, clock=lambda: 100.0)
    await asyncio.wait_for(publisher.publish_round(), 1)  # returns with every record unacknowledged
    assert len(held) == 2 and e.units["U1"].state.unacknowledged
    for future in held:
        future.set_result(None)
    await publisher.settled()
    assert e.units["U1"].state.unacknowledged == set()


async def test_behind_a_backlog_the_figures_take_a_bounded_share_of_the_workers_time() -> None:
    kafka, e = Kafka(), applied("U1", "U2")
    now = [100.0]
    behind = [True]  # the agent applies packs most of its time
    # Each unit's figures take 4 ms to make.
    publisher = Publisher(Slowed(e, "publish_due", now, 0.004), kafka.send, "figures", "days", 0.1,  # type: ignore[arg-type]
                          clock=lambda: now[0], behind=lambda: behind[0])
    await publisher.publish_round()
    assert sorted(key for topic, key, _ in kafka.sent if topic == "figures") == [b"U1", b"U2"]
    # 8 ms of figures: the next round waits 19 times as long (5 % of the worker's time).
    assert publisher._figures_not_before == pytest.approx(100.008 + 0.008 * 19)
    kafka.sent.clear()
    e.apply_pack(0, decode_pack(pack([(9, event(9, "submitted", "F9", T0, unit="U1"))])), {}.get, {}.get)
    now[0] = 100.12  # past the publish interval, not past the wait
    await publisher.publish_round()
    assert kafka.sent == []
    behind[0] = False  # caught up: the round goes out at once
    await publisher.publish_round()
    assert [key for topic, key, _ in kafka.sent if topic == "figures"] == [b"U1"]


async def test_a_round_makes_figures_for_a_bounded_time_and_leaves_the_rest_due() -> None:
    kafka, e = Kafka(), applied("U1", "U2", "U3")
    now = [100.0]
    # Each unit's figures take 15 ms to make: the round stops once it has spent FIGURES_ROUND_S.
    publisher = Publisher(Slowed(e, "publish_due", now, 0.015), kafka.send, "figures", "days", 0.1,  # type: ignore[arg-type]
                          clock=lambda: now[0])
    assert 0.015 < FIGURES_ROUND_S <= 0.03
    await publisher.publish_round()
    assert [key for topic, key, _ in kafka.sent if topic == "figures"] == [b"U1", b"U2"]
    kafka.sent.clear()
    await publisher.publish_round()
    assert [key for topic, key, _ in kafka.sent if topic == "figures"] == [b"U3"]
