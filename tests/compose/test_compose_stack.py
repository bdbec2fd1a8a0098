"""The deployment as an operator runs it: deploy/docker-compose.yml on Docker, with deploy/compose.local.yml
swapping in the locally built Kafka and Prometheus images (no image registry is reachable here).

`make compose-test` runs this file, and only it does: the suite (`make test`) leaves tests/compose out
(tests/conftest.py) because this takes minutes and installs and starts Docker. The module's fixture
installs Docker and Compose when missing, starts dockerd when none runs (and stops only that one),
builds the images (deploy/images/build.py), brings the stack up under a project name of its own with
free loopback ports, and at the end takes it down with its volumes. The tests run in order on that one
stack: healthy, events through ingest equal to the oracle on both API replicas, the dashboard page,
Prometheus scraping every target, an aggregator container killed and the other taking over.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.images.build import build_all
from deploy.images.docker_host import Daemon, ensure_installed, start_daemon
from deploy.local.broker import free_port
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from tests.support.oracle import compare, recompute, subtree_periods
from tests.support.paths import ROOT
from tests.support.pipeline import SendStats, post_batch
from tests.support.waiting import wait_until

DEPLOY = ROOT / "deploy"
PROJECT = "onestop-compose-test"
# The aggregators' frozen "now" (the oracle's as_of) and where every service's clock starts.
FROZEN_NOW = "2026-11-20T17:30:00+07:00"
PROVINCE = "31"
FIRST, SECOND = 3_000, 2_000  # events sent before and after an aggregator is killed
BATCH = 200
SERVICES = {"kafka", "topics", "ingest", "aggregator-1", "aggregator-2", "api-1", "api-2", "prometheus"}
UP_WITHIN_S = 300  # from `up` to every health check passing
SETTLE_S = 120  # from the last 202 to the figures equal to the oracle on both replicas
TAKEOVER_S = 180  # session timeout (10 s), rebalance, and the dead worker's partitions recovered


@dataclass
class Stack:
    workdir: Path
    env_file: Path
    override: Path
    ports: dict[str, int]
    key: str
    stats: SendStats = field(default_factory=SendStats)
    sent: int = 0

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        argv = ["docker", "compose", "--project-name", PROJECT, "--env-file", str(self.env_file),
                "-f", str(DEPLOY / "docker-compose.yml"), "-f", str(DEPLOY / "compose.local.yml"),
                "-f", str(self.override), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def containers(self) -> dict[str, dict[str, Any]]:
        """Each service's container as `docker compose ps -a` reports it (State, Health, ExitCode)."""
        out = self.compose("ps", "-a", "--format", "json")
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", "--tail", "40", *services, check=False)


def new_key(workdir: Path) -> tuple[Path, str]:
    """A writer key for every unit, made as the README tells an operator to."""
    keys = workdir / "ingest-keys.json"
    out = subprocess.run([sys.executable, "-m", "services.ingest.keys", "new", "--units", "*", "--note",
                          "compose test", "--file", str(keys)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    keys.chmod(0o644)  # the containers run as uid 10001; the file holds only hashes
    return keys, out.strip().splitlines()[-1]


def write_settings(workdir: Path, keys: Path) -> tuple[Path, Path, dict[str, int]]:
    """deploy/.env's variables for this run, and an override with the test's clock."""
    ports = {name: free_port() for name in ("ingest", "api-1", "api-2", "prometheus", "grafana")}
    tls = workdir / "kafka-tls"
    tls.mkdir()
    env = {"COMPOSE_PROJECT_NAME": PROJECT, "INGEST_KEYS_HOST_FILE": str(keys), "KAFKA_TLS_DIR": str(tls),
           "INGEST_HOST_PORT": ports["ingest"], "API_1_HOST_PORT": ports["api-1"],
           "API_2_HOST_PORT": ports["api-2"], "PROMETHEUS_HOST_PORT": ports["prometheus"],
           "GRAFANA_HOST_PORT": ports["grafana"], "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(12),
           "API_ADMIN_KEY_SHA256": hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
           "API_SEED_PROVINCE": PROVINCE}
    env_file = workdir / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    # The one setting that is the test's, not the deployment's: a calendar the oracle can recompute.
    clock = {"ONESTOP_CLOCK_START": FROZEN_NOW}
    services = {name: {"environment": dict(clock)} for name in ("ingest", "api-1", "api-2")}
    for name in ("aggregator-1", "aggregator-2"):
        services[name] = {"environment": {**clock, "AGGREGATOR_FROZEN_NOW": FROZEN_NOW}}
    override = workdir / "compose.test.yml"
    override.write_text(json.dumps({"services": services}, indent=1))  # JSON is YAML
    return env_file, override, ports


@pytest.fixture(scope="module")
def docker() -> Iterator[Daemon]:
    ensure_installed()
    daemon = start_daemon()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def stack(docker: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    build_all()
    workdir = tmp_path_factory.mktemp("compose")
    keys, key = new_key(workdir)
    env_file, override, ports = write_settings(workdir, keys)
    stack = Stack(workdir, env_file, override, ports, key)
    stack.compose("down", "--volumes", "--remove-orphans", check=False)  # what a run that died left
    began = time.monotonic()
    try:
        stack.compose("up", "--detach")
        yield stack
    finally:
        print(f"\ncompose stack: {time.monotonic() - began:.0f} s from up to down")
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")
        label = f"label=com.docker.compose.project={PROJECT}"
        left = subprocess.run(["docker", "ps", "-aq", "--filter", label],
                              capture_output=True, text=True, check=True).stdout.split()
        volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", label],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert left == [] and volumes == [], f"left behind: containers {left}, volumes {volumes}"


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Hải Phòng's simulated feed over the three weeks before FROZEN_NOW, duplicates and bad lines
    included."""
    path = tmp_path_factory.mktemp("feed") / "feed.ndjson"
    now = datetime.fromisoformat(FROZEN_NOW)
    tally = write_file(generate(FeedConfig(start=now - timedelta(days=21), end=now, seed=18,
                                           province=PROVINCE, filings_per_day=300)), path,
                       limit=FIRST + SECOND)
    assert tally.lines == FIRST + SECOND
    return path.read_bytes().splitlines()


def healthy(stack: Stack) -> bool:
    containers = stack.containers()
    for name, row in containers.items():
        if row["State"] == "exited" and not (name == "topics" and row["ExitCode"] == 0):
            raise AssertionError(f"{name} exited {row['ExitCode']}:\n{stack.logs(name)}")
    return set(containers) >= SERVICES and all(
        containers[name]["Health"] == "healthy" for name in SERVICES - {"topics"}) and (
        containers["topics"]["State"] == "exited")


def test_every_service_becomes_healthy(stack: Stack) -> None:
    began = time.monotonic()
    wait_until(lambda: healthy(stack), UP_WITHIN_S, "every compose service healthy", every=2)
    containers = stack.containers()
    print(f"\nhealthy {time.monotonic() - began:.0f} s after `up` returned")
    assert containers["topics"]["ExitCode"] == 0
    assert "grafana" not in containers  # left out by compose.local.yml
    images = {name: row["Image"] for name, row in containers.items()}
    assert images["kafka"].startswith("onestop-kafka:")
    assert images["prometheus"].startswith("onestop-prometheus:")
    assert {images[n] for n in SERVICES - {"kafka", "prometheus"}} == {"onestop-live:latest"}
    # The broker's log dirs are in its volume, so the topics outlive the container.
    assert "meta.properties" in stack.compose("exec", "-T", "kafka", "ls", "/var/lib/kafka/data").split()


async def send(stack: Stack, lines: list[bytes]) -> None:
    """Post `lines` to the ingest container in NDJSON batches with the writer key, as a sender does."""
    headers = {"Authorization": f"Bearer {stack.key}", "Content-Type": "application/x-ndjson"}
    async with httpx.AsyncClient(base_url=stack.url("ingest"), timeout=60, headers=headers) as http:
        for start in range(0, len(lines), BATCH):
            await post_batch(http, lines[start:start + BATCH], stack.stats)
    assert stack.stats.other == [], stack.stats.other[:5]
    stack.sent += len(lines)


def expected_figures(stack: Stack) -> dict[str, dict[str, Any]]:
    accepted = stack.workdir / "accepted.ndjson"
    stack.stats.write_accepted(accepted)
    oracle = recompute(accepted, datetime.fromisoformat(FROZEN_NOW))
    assert oracle.accepted == stack.stats.accepted  # ingest's verdicts and the oracle's agree line by line
    return oracle.units


def served(http: httpx.Client, units: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for unit in units:
        figures = http.get(f"/v1/units/{unit}").json()["figures"]
        if figures is not None:
            out[unit] = {"unit_code": unit, "periods": figures["periods"]}
    return out


def assert_replicas_equal_oracle(stack: Stack, expected: dict[str, dict[str, Any]], within_s: float) -> None:
    """Both API replicas serve the oracle's figures: the province's rollup first (the settle condition),
    then every unit."""
    province = {PROVINCE: {"unit_code": PROVINCE, "periods": subtree_periods(list(expected.values()))}}
    for replica in ("api-1", "api-2"):
        with httpx.Client(base_url=stack.url(replica), timeout=10) as http:
            def rollup(http: httpx.Client = http) -> dict[str, dict[str, Any]]:
                periods = http.get(f"/v1/units/{PROVINCE}/rollup").json()["periods"]
                return {PROVINCE: {"unit_code": PROVINCE, "periods": periods}}

            try:
                wait_until(lambda rollup=rollup: compare(province, rollup()) == [], within_s,
                           f"{replica}'s province rollup equal to the oracle's", every=0.5)
            except AssertionError as failed:
                raise AssertionError(f"{failed}: {compare(province, rollup())[:10]}\n"
                                     f"{stack.logs('aggregator-1', 'aggregator-2', replica)}") from None
            assert compare(expected, served(http, sorted(expected))) == [], replica


async def test_events_through_ingest_reach_both_replicas_as_the_oracle_says(
        stack: Stack, feed: list[bytes]) -> None:
    await send(stack, feed[:FIRST])
    assert stack.stats.accepted > FIRST * 0.9, "the feed's lines are mostly valid"
    expected = expected_figures(stack)
    assert len(expected) > 20, "the feed reaches many of the province's units"
    assert_replicas_equal_oracle(stack, expected, SETTLE_S)
    print(f"\n{stack.stats.accepted} events accepted, {len(expected)} units equal to the oracle on both "
          f"replicas {time.time() - stack.stats.acked[-1][0]:.1f} s after the last 202")


def test_both_replicas_serve_the_dashboard_page(stack: Stack) -> None:
    for replica in ("api-1", "api-2"):
        with httpx.Client(base_url=stack.url(replica), timeout=10) as http:
            page = http.get("/")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assets = re.findall(r'(?:src|href)="(/dashboard/[^"]+)"', page.text)
            assert assets, "the page loads its script and style from /dashboard/"
            for asset in assets:
                assert http.get(asset).status_code == 200, asset


def test_prometheus_scrapes_every_target(stack: Stack) -> None:
    wanted = {("onestop-ingest", "ingest:8001"), ("onestop-aggregator", "aggregator-1:6066"),
              ("onestop-aggregator", "aggregator-2:6066"), ("onestop-api", "api-1:8000"),
              ("onestop-api", "api-2:8000"), ("prometheus", "127.0.0.1:9090")}
    with httpx.Client(base_url=stack.url("prometheus"), timeout=10) as http:
        def targets() -> dict[tuple[str, str], dict[str, Any]]:
            active = http.get("/api/v1/targets").json()["data"]["activeTargets"]
            return {(t["labels"]["job"], t["labels"]["instance"]): t for t in active}

        # A target is "unknown" until its first scrape (every 15 s).
        wait_until(lambda: all(t["health"] != "unknown" for t in targets().values()) and
                   set(targets()) == wanted, 60, "every target scraped once", every=1)
        assert {key: t["lastError"] for key, t in targets().items() if t["health"] != "up"} == {}
        # The API's per-unit figures are in Prometheus (what the dashboards and alerts read).
        def units_exported() -> bool:
            query = {"query": "count(onestop_unit_received_filings)"}
            answer = http.get("/api/v1/query", params=query).json()
            return bool(answer["data"]["result"]) and int(answer["data"]["result"][0]["value"][1]) > 0

        wait_until(units_exported, 60, "the units' figures scraped from the API", every=1)


async def test_an_aggregator_killed_the_other_takes_over(stack: Stack, feed: list[bytes]) -> None:
    stack.compose("kill", "aggregator-1")
    assert stack.containers()["aggregator-1"]["State"] == "exited"
    await send(stack, feed[FIRST:])
    expected = expected_figures(stack)
    assert_replicas_equal_oracle(stack, expected, TAKEOVER_S)
    print(f"\naggregator-1 killed: all {stack.stats.accepted} events' figures equal to the oracle on both "
          f"replicas {time.time() - stack.stats.acked[-1][0]:.1f} s after the last 202")
    containers = stack.containers()
    assert containers["aggregator-1"]["State"] == "exited", "killed stays down: aggregator-2 did it all"
    assert containers["aggregator-2"]["Health"] == "healthy"
