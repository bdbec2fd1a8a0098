"""The aggregator worker's web server serves its operators what they need and nothing more.

Issue 12, class 4: Faust's web server listened on every interface with no authentication and
served raw tables (`/table/units/<unit>/`, `/table/filings/...`, with event ids and offsets) and
router pages that crashed into its log. It now listens on loopback unless told otherwise and
serves /metrics and /state (and Faust's index, a bare `{"status": "OK"}`).
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from deploy.local.broker import LocalKafka
from services.common.topics import ensure_topics
from tests.support.aggregator import Worker
from tests.support.broker import unique_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port`, read from the kernel's tables."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # TCP_LISTEN
                raw = bytes.fromhex(address)
                # The kernel writes each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, words))
    return found


async def test_the_worker_serves_metrics_and_state_on_loopback_only(kafka_broker: LocalKafka,
                                                                    tmp_path: Path) -> None:
    kafka = unique_settings(kafka_broker.bootstrap, partitions=1)
    await ensure_topics(kafka)
    worker = Worker(kafka, tmp_path / "w1", f"agg-{kafka.events_topic}", None).start()
    try:
        wait_until(lambda: worker.state() is not None or not worker.alive(), 90, "the worker's /state")
        assert worker.alive(), worker.log_tail()
        assert listening_addresses(worker.port) == {"127.0.0.1"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.port}") as web:
            assert (await web.get("/metrics")).status_code == 200
            assert "applied" in (await web.get("/state")).json()
            for path in ("/table/", "/table/units/", "/table/filings/", "/router/", "/router/units/x/",
                         "/graph/", "/stats/", "/performance/", "/assignment/"):
                assert (await web.get(path)).status_code == 404, path
            assert (await web.get("/")).json() == {"status": "OK"}
    finally:
        worker.stop()
