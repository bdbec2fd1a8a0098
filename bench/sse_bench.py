"""Many viewers of the live stream: `python -m bench.sse_bench [--clients 2000 --changes 20]`.

The requirement (issue 17): one API replica serves 2,000 concurrent `/v1/stream` clients, a change
reaching the 99th-percentile client within a second, with memory bounded and known per client.

Starts its own Kafka (KRaft, in a temp dir) with fresh topics and ONE API process as deployed
(`python -m services.api`, which seeds the registry with Hải Phòng's 132 real units), and gives every
unit a figures record. Then, in one run:

  (a) baseline: one stream client on the province; `--changes` figure changes are produced to
      `unit-figures` (records shaped as the aggregator's), `--spacing` seconds apart, each to the next
      unit of a fixed cycle; for each, the time from just before the produce to the client's receipt
      of the frame that carries it;
  (b) `--clients` stream clients, opened from `--client-processes` processes of their own (raw
      asyncio sockets parsing the HTTP/1.1 chunked answer into SSE frames, so that the clients cost
      little and their CPU is not the API's); by default half of them on the province (every change
      is theirs) and the other half spread over the 131 other units, each on its own unit's subtree
      (a change is theirs only if it is their unit's), so the subtree filter runs for every client on
      every change. Once every client has its first frame, the same cycle of changes again.

A bare Kafka consumer follows `unit-figures` in this process throughout: the floor of produce →
reader, without the API. Reported: change → client p50 / p99 / max over every (client, change) pair
that should arrive, and per change the time until its 99th-percentile recipient had it; the API's
RSS before the clients connect, with them connected and after the changes, and the difference per
client; the API's CPU during the changes, and the client processes'.

Times are CLOCK_MONOTONIC, one clock for every process on a Linux machine. Everything runs on this
machine: broker, API, the client processes and this producer share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.api_bench import wait_for_view
from bench.freshness_bench import figures_batches
from bench.stats import percentile, print_rows
from deploy.local.broker import free_port
from deploy.local.service import Service
from services.api.registry import seed_units
from services.api.tree import UnitTree
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.api import figures_record
from tests.support.broker import scratch_broker

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = "31"
GOAL_S = 1.0  # the 99th-percentile client has a change within this
CONNECT_AT_ONCE = 100  # connections a client process opens concurrently


# --- the client side: an HTTP/1.1 answer parsed into SSE frames ------------------------------------

class StreamParser:
    """An HTTP/1.1 answer carrying an event stream, fed as its bytes arrive: its status, then its SSE
    frames (the bytes before each blank line), chunked transfer coding undone."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.chunked = False
        self.ended = False  # the last chunk came: the server ended the stream
        self._raw = bytearray()  # received, not yet decoded
        self._body = bytearray()  # decoded, not yet a whole frame
        self._chunk_left = 0  # bytes of the current chunk still to come, its closing CRLF included

    def feed(self, data: bytes) -> list[bytes]:
        self._raw += data
        if self.status is None:
            end = self._raw.find(b"\r\n\r\n")
            if end < 0:
                return []
            lines = bytes(self._raw[:end]).split(b"\r\n")
            self.status = int(lines[0].split()[1])
            self.chunked = any(line.lower().replace(b" ", b"") == b"transfer-encoding:chunked"
                               for line in lines[1:])
            del self._raw[:end + 4]
        if self.chunked:
            self._dechunk()
        else:
            self._body += self._raw
            self._raw.clear()
        frames = []
        while (end := self._body.find(b"\n\n")) >= 0:
            frames.append(bytes(self._body[:end]))
            del self._body[:end + 2]
        return frames

    def _dechunk(self) -> None:
        while self._raw and not self.ended:
            if self._chunk_left == 0:
                line_end = self._raw.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(bytes(self._raw[:line_end]).split(b";")[0], 16)
                del self._raw[:line_end + 2]
                if size == 0:
                    self.ended = True
                    return
                self._chunk_left = size + 2
            take = min(self._chunk_left, len(self._raw))
            data = max(0, min(take, self._chunk_left - 2))  # the chunk's data, not its CRLF
            self._body += self._raw[:data]
            del self._raw[:take]
            self._chunk_left -= take


def frame_event(frame: bytes) -> bytes | None:
    """The `event:` of an SSE frame, None for a comment or a frame without one."""
    for line in frame.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip()
    return None


def change_marker(frame: bytes) -> str | None:
    """The `as_of` of a `figures` frame's record: each change the bench makes has its own."""
    if frame_event(frame) != b"figures":
        return None
    start = frame.find(b'"as_of":"')
    if start < 0:
        return None
    start += 9
    return frame[start:frame.index(b'"', start)].decode()


class StreamClient(asyncio.Protocol):
    """One `/v1/stream` connection; keeps (marker, arrival) for each `figures` frame."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.parser = StreamParser()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received: list[tuple[str, float]] = []
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Accept: text/event-stream\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        frames = self.parser.feed(data)
        if self.parser.status not in (None, 200) and not self.opened.done():
            self.opened.set_exception(RuntimeError(f"answered {self.parser.status}"))
        for frame in frames:
            if not self.opened.done():
                self.opened.set_result(None)
            if (marker := change_marker(frame)) is not None:
                self.received.append((marker, now))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the first frame: {exc!r}"))


async def client_process() -> None:
    """`--client`: reads {"port", "units", "deadline_s"} from stdin, opens a stream per entry of units
    (null: no filter), prints {"ready"} once every one has its first frame; on each later stdin line
    prints {"received", "cpu_s", "lost"}; ends at end of input."""
    config = json.loads(await asyncio.to_thread(sys.stdin.readline))
    loop = asyncio.get_running_loop()
    clients = [StreamClient("/v1/stream" + (f"?unit={unit}" if unit is not None else ""))
               for unit in config["units"]]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def connect(client: StreamClient) -> None:
        async with gate:
            await loop.create_connection(lambda: client, "127.0.0.1", config["port"])
            await client.opened

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(connect(c) for c in clients)), config["deadline_s"])
    print(json.dumps({"ready": len(clients), "seconds": time.monotonic() - started}), flush=True)
    while await asyncio.to_thread(sys.stdin.readline):
        print(json.dumps({"received": [c.received for c in clients], "cpu_s": time.process_time(),
                          "lost": sum(c.lost for c in clients)}), flush=True)
    for client in clients:
        if client.transport is not None:
            client.transport.close()


# --- the bench side ---------------------------------------------------------------------------------

class ClientProcess:
    """A `--client` child process holding some of the streams."""

    def __init__(self, units: Sequence[str | None]) -> None:
        self.units = list(units)
        self.proc: asyncio.subprocess.Process | None = None

    async def open(self, port: int, deadline_s: float) -> float:
        """Start it and wait until each of its streams has its first frame; the seconds that took."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sse_bench", "--client", cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**28)
        self._write({"port": port, "units": self.units, "deadline_s": deadline_s})
        answer = await self._read(deadline_s + 30)
        return float(answer["seconds"])

    async def report(self) -> dict[str, Any]:
        self._write("report")
        return await self._read(60)

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def _write(self, message: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read(self, within_s: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within_s)
        if not line:
            raise RuntimeError(f"a client process ended (exit {await self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer


def subscriptions(count: int, province_share: float, others: Sequence[str]) -> list[str]:
    """The unit each client follows: the first `province_share` of them the province, the rest the other
    units in turn."""
    on_province = round(count * province_share)
    return [PROVINCE] * on_province + [others[i % len(others)] for i in range(count - on_province)]


def recipients(tree: UnitTree, subscribed: Sequence[str], unit: str) -> list[int]:
    """The clients a change of `unit` is for: those whose subtree holds it."""
    return [i for i, sub in enumerate(subscribed) if tree.is_within(unit, sub)]


@dataclass
class Changes:
    """The changes of one phase: when each was produced (marker -> (index, unit, monotonic time))."""

    produced: dict[str, tuple[int, str, float]] = field(default_factory=dict)
    acked: list[float] = field(default_factory=list)  # produce -> broker's acknowledgement, seconds
    rss_kib: list[int] = field(default_factory=list)  # the API's RSS as each change was produced


@dataclass
class Delivery:
    latencies: list[float]  # every expected (client, change) pair that arrived, seconds
    per_change_p99: list[float]
    missing: int  # expected pairs that never arrived
    unexpected: int  # frames a client should not have had (outside its subtree), or duplicates


def delivery(changes: Changes, tree: UnitTree, subscribed: Sequence[str],
             received: Sequence[Sequence[tuple[str, float]]]) -> Delivery:
    """Pairs each change with its recipients' arrivals (`received`: per client, as `subscribed`)."""
    per_change: dict[str, list[float]] = {marker: [] for marker in changes.produced}
    unexpected = missing = 0
    expected = {marker: set(recipients(tree, subscribed, unit))
                for marker, (_, unit, _) in changes.produced.items()}
    for client, arrivals in enumerate(received):
        seen = set()
        for marker, arrived in arrivals:
            if marker not in changes.produced:
                continue  # a warm-up record's frame
            if client not in expected[marker] or marker in seen:
                unexpected += 1
                continue
            seen.add(marker)
            per_change[marker].append(arrived - changes.produced[marker][2])
    for marker, times in per_change.items():
        missing += len(expected[marker]) - len(times)
    latencies = [t for times in per_change.values() for t in times]
    per_change_p99 = [percentile(times, 99) for times in per_change.values() if times]
    return Delivery(latencies, per_change_p99, missing, unexpected)


class Floor:
    """A bare consumer of `unit-figures`: when each change's record reached a reader without the API."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.arrived: dict[str, float] = {}
        self.started = asyncio.Event()

    async def run(self) -> None:
        async for records in figures_batches(self.kafka, self.started):
            now = time.monotonic()
            for record in records:
                marker = orjson.loads(record.value or b"{}").get("as_of")
                self.arrived.setdefault(marker, now)

    def latencies(self, changes: Changes) -> list[float]:
        return [self.arrived[m] - t for m, (_, _, t) in changes.produced.items() if m in self.arrived]


async def produce_changes(kafka: KafkaSettings, units: Sequence[str], count: int, spacing_s: float,
                          phase: int, pid: int) -> Changes:
    """`count` changes, one every `spacing_s`, to units[0], units[1], ... in turn; each record's as_of
    is its marker."""
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=0)
    await producer.start()
    changes = Changes()
    try:
        start = time.monotonic() + 0.1
        for k in range(count):
            await asyncio.sleep(max(0.0, start + k * spacing_s - time.monotonic()))
            unit = units[k % len(units)]
            record = figures_record(unit, received_total=100 * phase + k, received_online=k)
            record["as_of"] = f"2026-03-10T10:{phase:02d}:{k // 1000:02d}.{k % 1000:03d}+07:00"
            body = orjson.dumps(record)
            produced = time.monotonic()
            sent = await producer.send(kafka.figures_topic, body, key=unit.encode())
            await sent
            changes.acked.append(time.monotonic() - produced)
            changes.produced[record["as_of"]] = (k, unit, produced)
            changes.rss_kib.append(rss_kib(pid))  # the previous change's fan-out is over by now
    finally:
        await producer.stop()
    return changes


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def spread(values: Sequence[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {ms(percentile(values, 50))}  p99 {ms(percentile(values, 99))}  max {ms(max(values))}  "
            f"(n={len(values):,})")


async def fill(kafka: KafkaSettings, units: Sequence[str]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(kafka.figures_topic, orjson.dumps(figures_record(u, received_total=1)),
                                    key=u.encode()) for u in units]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def phase(kafka: KafkaSettings, port: int, groups: list[list[str]], cycle: Sequence[str],
                args: argparse.Namespace, number: int, api: Service) -> dict[str, Any]:
    """Open the groups' streams, produce the changes, collect what each client got."""
    pid = api.proc.pid if api.proc is not None else 0
    out: dict[str, Any] = {"rss_before": rss_kib(pid)}
    processes = [ClientProcess(units) for units in groups]
    try:
        opened = await asyncio.gather(*(p.open(port, args.connect_within) for p in processes))
        api.check_alive()
        out["connect_s"] = max(opened)
        out["rss_connected"] = rss_kib(pid)
        cpu_before, wall_before = cpu_s(pid), time.monotonic()
        client_cpu_before = [r["cpu_s"] for r in await asyncio.gather(*(p.report() for p in processes))]
        changes = await produce_changes(kafka, cycle, args.changes, args.spacing, number, pid)
        await asyncio.sleep(args.settle)  # the last change's fan-out, counted in the CPU window too
        out["api_cpu_s"] = cpu_s(pid) - cpu_before
        out["api_cpu"] = out["api_cpu_s"] / (time.monotonic() - wall_before)
        out["rss_after"] = rss_kib(pid)
        reports = await asyncio.gather(*(p.report() for p in processes))
        api.check_alive()
        out["client_cpu_s"] = sum(r["cpu_s"] for r in reports) - sum(client_cpu_before)
        out["lost"] = sum(r["lost"] for r in reports)
        subscribed = [unit for units in groups for unit in units]
        received = [arrivals for r in reports for arrivals in r["received"]]
        out["delivery"] = delivery(changes, UnitTree(seed_units(PROVINCE)), subscribed, received)
        out["changes"] = changes
        out["clients"] = len(subscribed)
    finally:
        await asyncio.gather(*(p.close() for p in processes))
    return out


async def measure(args: argparse.Namespace, kafka: KafkaSettings, api: Service, url: str, port: int
                  ) -> list[tuple[str, str]]:
    units = [u.code for u in seed_units(PROVINCE)]
    others = [u for u in units if u != PROVINCE]
    await fill(kafka, units)
    await wait_for_view(url, PROVINCE, len(units), 60)
    floor = Floor(kafka)
    follow = asyncio.create_task(floor.run())
    try:
        await asyncio.wait_for(floor.started.wait(), 30)
        subscribed = subscriptions(args.clients, args.province_share, others)
        # Changes go to the units that have their own clients, in turn (all units when none do).
        cycle = [u for u in others if u in set(subscribed)] or others
        load_before = os.getloadavg()[0]
        base = await phase(kafka, port, [[PROVINCE]], cycle, args, 1, api)
        half = (len(subscribed) + args.client_processes - 1) // args.client_processes
        groups = [subscribed[i:i + half] for i in range(0, len(subscribed), half)]
        many = await phase(kafka, port, groups, cycle, args, 2, api)
        load_after = os.getloadavg()[0]
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow

    b, m = base["delivery"], many["delivery"]
    on_province = subscribed.count(PROVINCE)
    met = sum(p <= GOAL_S for p in m.per_change_p99)
    per_client = (many["rss_connected"] - many["rss_before"]) / many["clients"]
    rss = many["changes"].rss_kib
    rows = [
        ("clients", f"{many['clients']:,} from {len(groups)} processes: {on_province:,} on the province "
                    f"{PROVINCE}, {many['clients'] - on_province:,} each on one of {len(others)} other "
                    f"units; all had their first frame {many['connect_s']:.1f} s after the first connect"),
        ("changes", f"{args.changes} per phase, {args.spacing:g} s apart, over {len(cycle)} units in turn; "
                    f"each for {on_province + (many['clients'] - on_province) / max(1, len(cycle)):,.0f} "
                    f"clients on average"),
        ("baseline: 1 client, change → client", spread(b.latencies)),
        ("baseline: bare consumer, produce → read", spread(floor.latencies(base["changes"]))),
        (f"{many['clients']:,} clients: change → client", spread(m.latencies)),
        ("  per change, its 99th-percentile client",
         f"median {ms(percentile(m.per_change_p99, 50))}  max {ms(max(m.per_change_p99))}; "
         f"{met} of {len(m.per_change_p99)} changes within {GOAL_S:g} s"),
        ("  bare consumer, produce → read", spread(floor.latencies(many["changes"]))),
        ("  p50 / p99 against the 1-client baseline",
         f"{percentile(m.latencies, 50) / percentile(b.latencies, 50):.1f}x / "
         f"{percentile(m.latencies, 99) / percentile(b.latencies, 99):.1f}x"),
        ("  missing / unexpected frames / lost connections",
         f"{m.missing} / {m.unexpected} / {many['lost']}"),
        ("API RSS: before / connected / after changes",
         f"{many['rss_before'] / 1024:,.1f} / {many['rss_connected'] / 1024:,.1f} / "
         f"{many['rss_after'] / 1024:,.1f} MiB"),
        ("API RSS per client (connected − before)", f"{per_client:,.1f} KiB"),
        ("API RSS at changes 1 / half / last",
         " / ".join(f"{rss[i] / 1024:,.1f}" for i in (0, len(rss) // 2, -1)) + " MiB"),
        ("API CPU during the changes",
         f"{many['api_cpu']:.0%} of a core ({base['api_cpu']:.0%} with 1 client); "
         f"{many['api_cpu_s'] / args.changes * 1000:.0f} ms a change "
         f"({base['api_cpu_s'] / args.changes * 1000:.0f} ms with 1 client)"),
        ("client processes' CPU during the changes", f"{many['client_cpu_s']:.1f} s in all"),
        ("baseline missing / unexpected", f"{b.missing} / {b.unexpected}"),
        ("produce → broker ack, p50", ms(percentile(many["changes"].acked, 50))),
        ("load average (1 min) before / after", f"{load_before:.1f} / {load_after:.1f}"),
    ]
    return rows


def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    with scratch_broker("sse-bench-") as (workdir, broker):
        suffix = uuid.uuid4().hex[:6]
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_topic=f"sse-events-{suffix}",
                              dlq_topic=f"sse-dlq-{suffix}", figures_topic=f"sse-figures-{suffix}",
                              days_topic=f"sse-days-{suffix}", filings_topic=f"sse-filings-{suffix}",
                              agencies_topic=f"sse-agencies-{suffix}")
        asyncio.run(ensure_topics(kafka))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
               "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
               "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "KAFKA_DAYS_TOPIC": kafka.days_topic,
               "KAFKA_FILINGS_TOPIC": kafka.filings_topic, "KAFKA_AGENCIES_TOPIC": kafka.agencies_topic,
               "API_PORT": str(port), "API_REGISTRY_TOPIC": f"sse-registry-{suffix}",
               "API_TARGETS_TOPIC": f"sse-targets-{suffix}", "API_SEED_PROVINCE": PROVINCE,
               "PYTHONUNBUFFERED": "1"}
        api = Service("api", [sys.executable, "-m", "services.api"], workdir, f"{url}/readyz")
        try:
            api.start(env)
            api.wait_ready(time.monotonic() + 90)
            return asyncio.run(measure(args, kafka, api, url, port))
        finally:
            api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sse_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000, help="concurrent stream clients")
    parser.add_argument("--changes", type=int, default=20, help="figure changes produced per phase")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between changes")
    parser.add_argument("--province-share", type=float, default=0.5,
                        help="share of the clients on the province (the rest each on one other unit)")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--connect-within", type=float, default=120,
                        help="seconds for every client to have its first frame")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after the last change")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_process())
        return
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    rows = run(args)
    print(f"\nStream benchmark ({os.cpu_count()} CPUs; broker, one API process, the client processes and "
          f"this producer on this machine)")
    print_rows(rows)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
