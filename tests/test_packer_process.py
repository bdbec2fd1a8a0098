"""The packer's child process: it never outlives its worker, and its metrics reach the worker's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.aggregator import metrics
from services.aggregator.packer_process import ReportedMetrics, report

ROOT = Path(__file__).resolve().parents[1]
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


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's reaper may be slow to collect it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


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
