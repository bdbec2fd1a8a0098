"""The live stream against senders that ask for much and read nothing: a real API process over real
HTTP, its memory read from /proc."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from deploy.local.broker import free_port
from deploy.local.service import Service as Process
from services.common.kafka_settings import KafkaSettings
from tests.support.api import figures_record
from tests.support.waiting import wait_until

UNITS = 10_000  # one ~4 KB record each, one change each: the API's stream is at change 10,000
CLIENTS = 50
BACK = 9_900  # how far back the resume asks for: the issue's ~46 MB answer
# An API process may grow by this much with 50 clients that never read. Each holds at most a piece
# (API_STREAM_PIECE_BYTES, 64 KiB) and the connection's 64 KiB write buffer, 6.4 MiB in all; the
# rest is slack for the allocator. Before issue 12 each took a whole ~40 MB answer: gigabytes.
RSS_GROWTH_BOUND = 64 * 2**20
HEALTHZ_BOUND_S = 0.5  # /healthz answers from memory in a millisecond; the issue saw 5 s
WRITE_TIMEOUT_S = 3.0  # API_STREAM_WRITE_TIMEOUT_S here, so the drops come within the test


async def publish_units(kafka: KafkaSettings) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks=1, linger_ms=20)
    await producer.start()
    try:
        for i in range(UNITS):
            record = figures_record(f"31.X{i:05d}", received_total=12, received_online=5, resolved_total=7)
            await producer.send(kafka.figures_topic, orjson.dumps(record), key=record["unit_code"].encode())
        await producer.flush()
    finally:
        await producer.stop()


@contextmanager
def api_process(kafka: KafkaSettings, log_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    suffix = kafka.figures_topic.rsplit("-", 1)[1]
    api = Process(log_path.stem, [sys.executable, "-m", "services.api"], log_path.parent, group=False,
                  grace_s=10, env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
        "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "KAFKA_DAYS_TOPIC": kafka.days_topic,
        "API_PORT": str(port), "API_REGISTRY_TOPIC": f"unit-registry-{suffix}",
        "API_TARGETS_TOPIC": f"unit-targets-{suffix}", "API_SEED_PROVINCE": "31",
        "API_METRICS_PERIODS": '["today"]', "API_STREAM_WRITE_TIMEOUT_S": str(WRITE_TIMEOUT_S)})
    try:
        proc = api.start().proc
        assert proc is not None
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        api.stop()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connections_to(port: int) -> int:
    """Established TCP connections whose local end is `port`: the server's side of its clients'."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            count += int(local.rsplit(":", 1)[1], 16) == port and state == "01"
    return count


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def current_event_id(url: str) -> str:
    """The id the API's stream is at: a resume it cannot follow answers with a `reset` carrying it."""
    bogus = {"Last-Event-ID": "elsewhere-1"}
    with httpx.stream("GET", f"{url}/v1/stream", headers=bogus, timeout=10) as answer:
        for line in answer.iter_lines():
            if line.startswith("id: "):
                return line.removeprefix("id: ")
    raise AssertionError("no event id in the stream")


def silent_client(host_port: tuple[str, int], last_event_id: str) -> socket.socket:
    """Asks for the stream with a resume far back, and never reads a byte of the answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # so the kernel soaks up little
    sock.connect(host_port)
    sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: api\r\nAccept: text/event-stream\r\n"
                 f"Last-Event-ID: {last_event_id}\r\n\r\n".encode())
    return sock


def healthz_seconds(url: str) -> float:
    started = time.monotonic()
    assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
    return time.monotonic() - started


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    samples = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(samples[0].split()[1]) if samples else 0.0


async def test_fifty_clients_that_resume_far_back_and_never_read_cost_little(
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    """Issue 12, class 2: a resume far back once made the API build its whole answer (~40 MB) for
    each client, and keep it for clients that never read. Now 50 such clients leave its memory within
    RSS_GROWTH_BOUND, /healthz answers within HEALTHZ_BOUND_S, and each is disconnected once it has
    read nothing for API_STREAM_WRITE_TIMEOUT_S, and counted."""
    await publish_units(kafka_settings)
    with api_process(kafka_settings, tmp_path / "api.log") as (proc, url):
        wait_until(lambda: ready(url) and proc.poll() is None, 60, "the API to be ready")
        wait_until(lambda: int(current_event_id(url).rsplit("-", 1)[1]) >= UNITS, 30,
                   f"{UNITS} changes on the stream")
        epoch, _, seq = current_event_id(url).rpartition("-")
        resume = f"{epoch}-{int(seq) - BACK}"
        port = int(url.rsplit(":", 1)[1])
        metric(url, "api_stream_clients")  # a first scrape's own memory is not the clients'
        idle = max(healthz_seconds(url) for _ in range(10))
        baseline_rss = rss(proc.pid)

        clients = [silent_client(("127.0.0.1", port), resume) for _ in range(CLIENTS)]
        try:
            peak = baseline_rss

            def all_served() -> bool:
                nonlocal peak
                peak = max(peak, rss(proc.pid))
                assert peak - baseline_rss < RSS_GROWTH_BOUND, \
                    f"API grew by {(peak - baseline_rss) / 2**20:.0f} MiB with {CLIENTS} silent clients"
                return metric(url, "api_stream_clients") >= CLIENTS

            wait_until(all_served, 30, f"the API to hold {CLIENTS} streams")
            slowest = max(healthz_seconds(url) for _ in range(10))
            assert slowest < HEALTHZ_BOUND_S, f"/healthz took {slowest:.2f} s"

            def all_dropped() -> bool:
                all_served()  # the memory bound holds throughout, and /healthz stays fast
                assert (took := healthz_seconds(url)) < HEALTHZ_BOUND_S, f"/healthz took {took:.2f} s"
                return metric(url, "api_stream_clients_dropped_total") == CLIENTS

            wait_until(all_dropped, WRITE_TIMEOUT_S + 30, "the silent clients to be disconnected")
            wait_until(lambda: connections_to(port) == 0, 5, "their connections to close")
            print(f"RSS {baseline_rss / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB with "
                  f"{CLIENTS} silent clients; slowest /healthz {slowest * 1000:.1f} ms "
                  f"({idle * 1000:.1f} ms before them)")
        finally:
            for client in clients:
                client.close()
