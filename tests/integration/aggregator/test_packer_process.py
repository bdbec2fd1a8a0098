"""The packer's child process: it never outlives its worker, runs at a lower CPU priority, and its
metrics reach the worker's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.broker import LocalKafka
from services.aggregator import metrics
from services.aggregator.packer_process import PackerProcess, ReportedMetrics, report
from services.aggregator.settings import AggregatorSettings
from services.common.topics import ensure_topics
from tests.support.aggregator import FiguresReader, Worker
from tests.support.broker import unique_settings
from tests.support.ingest import make_event
from tests.support.paths import ROOT

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
UNIT = "PACKER.1"
# A stand-in worker: starts a child that arms exit_with_parent as the packer does, says both pids.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
print(child.pid, flush=True)
time.sleep(600)
"""
CHILD = """
import sys, time
from services.aggregator.packer_process import exit_with_parent
exit_with_parent(int(sys.argv[1]))
print("armed", flush=True)
time.sleep(600)
"""


def stat_fields(stat: Path) -> list[str] | None:
    """The fields of a /proc/<pid>/stat after the command name (state, ppid, ...); None if gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's reaper may be slow to collect it)."""
    fields = stat_fields(Path(f"/proc/{pid}/stat"))
    return fields is not None and fields[0] != "Z"


def test_the_packer_child_exits_when_its_worker_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == b"armed"
        assert running(child_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while running(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child_pid), "the child outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_the_packer_child_has_a_session_of_its_own() -> None:
    # A terminal's Ctrl-C goes to the foreground session's processes: the worker stops its child.
    process = PackerProcess()
    process.command = [sys.executable, "-c", "import os; print(os.getsid(0))"]
    child = await process.start()
    out, _ = await child.communicate()
    assert int(out) == child.pid != os.getsid(0)


def value(name: str, **labels: str) -> float:
    found = metrics.REGISTRY.get_sample_value(name, labels)
    return found or 0.0


def test_reported_totals_are_added_once_and_a_new_child_counts_from_zero() -> None:
    packed, dlq = value("aggregator_records_packed_total"), value("aggregator_dlq_records_total",
                                                                  reason="not_json")
    reported = ReportedMetrics()
    reported.add({"packed": 100, "dlq": {"not_json": 2}, "lag": {"0": 7}})
    reported.add({"packed": 150, "dlq": {"not_json": 2}, "lag": {"0": 3}})
    assert value("aggregator_records_packed_total") == packed + 150
    assert value("aggregator_dlq_records_total", reason="not_json") == dlq + 2
    assert value("aggregator_consumer_lag_records", partition="0") == 3
    reported.restart()  # the child was started again: its totals begin at zero
    reported.add({"packed": 10, "dlq": {"not_json": 1}, "lag": {}})
    assert value("aggregator_records_packed_total") == packed + 160
    assert value("aggregator_dlq_records_total", reason="not_json") == dlq + 3


def test_a_report_carries_this_process_metrics() -> None:
    metrics.DLQ.labels(reason="schema").inc(0)
    found = report()
    assert found["packed"] == value("aggregator_records_packed_total")
    assert found["dlq"]["schema"] == value("aggregator_dlq_records_total", reason="schema")


def children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = stat_fields(stat)
        if fields is not None and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.integration
async def test_a_killed_packer_is_started_again_and_the_stream_goes_on(kafka_broker: LocalKafka,
                                                                       tmp_path: Path) -> None:
    kafka = unique_settings(kafka_broker.bootstrap, partitions=1)
    await ensure_topics(kafka)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    worker = Worker(kafka, tmp_path / "w1", f"agg-{kafka.events_topic}", FROZEN_NOW).start()
    try:
        async def send_and_wait_counted(reader: FiguresReader, count: int) -> None:
            event = make_event(unit_code=UNIT, occurred_at="2026-11-23T09:00:00+07:00",
                               due_at="2026-11-30T17:00:00+07:00")
            await producer.send_and_wait(kafka.events_topic, orjson.dumps(event), key=UNIT.encode())
            assert await reader.wait_for(lambda latest: received(latest) == count, 90, [worker]), (
                f"counted {received(reader.latest)} of {count}:\n{worker.log_tail()}")

        async with FiguresReader(kafka) as reader:
            await send_and_wait_counted(reader, 1)
            assert worker.proc is not None
            (packer,) = children_of(worker.proc.pid)
            # It yields the CPU to the agent: its priority is the worker's lowered by the setting.
            expected = min(19, os.getpriority(os.PRIO_PROCESS, worker.proc.pid)
                           + AggregatorSettings().packer_niceness)
            assert os.getpriority(os.PRIO_PROCESS, packer) == expected
            os.kill(packer, signal.SIGKILL)
            await send_and_wait_counted(reader, 2)  # packed by the packer started again
            assert children_of(worker.proc.pid) not in ([], [packer])
    finally:
        await producer.stop()
        worker.stop()


def received(latest: dict[str, dict[str, Any]]) -> int:
    record = latest.get(UNIT)
    return int(record["periods"]["all_time"]["received_total"]) if record else 0
