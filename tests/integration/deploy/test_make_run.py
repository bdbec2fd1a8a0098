"""`make run`'s orchestrator as a newcomer uses it: everything comes up, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.broker import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_everything_comes_up_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("KAFKA", "INGEST", "API", "AGGREGATOR")}
    env = {**os.environ, **{f"RUN_{name}_PORT": str(port) for name, port in ports.items()},
           "RUN_FEED_BACKFILL_DAYS": "1"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log = tmp_path / "run.out"
    with log.open("wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "deploy.local.run"], cwd=tmp_path, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
            assert run.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{ports['INGEST']}/readyz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['AGGREGATOR']}/state").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['API']}/readyz").status_code == 200
        # Part of the feed comes through the portal's sync: its agency codes mapped, its dossiers taken.
        output = log.read_text(errors="replace")
        assert f"POST http://127.0.0.1:{ports['INGEST']}/dvcqg/sync" in output, output
        agencies = httpx.get(f"http://127.0.0.1:{ports['API']}/v1/agencies").json()["agencies"]
        assert len(agencies) == 3, agencies

        def sync_sample(name: str, **labels: str) -> float:
            text = httpx.get(f"http://127.0.0.1:{ports['INGEST']}/metrics").text
            return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
                       if s.name == name and labels.items() <= s.labels.items())

        wait_until(lambda: sync_sample("ingest_sync_items_total", outcome="taken") > 0, 60,
                   "dossier states taken through the sync intake")
        assert sync_sample("ingest_requests_total", route="/dvcqg/login", status="200") >= 1
        assert sync_sample("ingest_sync_unmapped_agency_total") == 0  # mapped before the feed started
        # Every unit has its targets from the first minute: the monthly report judges them.
        report = httpx.get(f"http://127.0.0.1:{ports['API']}/v1/reports/targets",
                           params={"figure": "on_time_rate", "period": "month_to_date"}).json()
        assert len(report["above"]) + len(report["below"]) + len(report["no_value"]) > 100, report
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True,
                                                       text=True, check=False).stdout.split()]
        assert len(children) >= 5  # broker, ingest, aggregator, api, feed

        run.send_signal(signal.SIGINT)
        assert run.wait(90) == 0, log.read_text(errors="replace")
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if alive(pid)] == []
    finally:
        if run.poll() is None:
            run.kill()
