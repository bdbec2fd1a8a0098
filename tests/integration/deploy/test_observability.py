"""Prometheus and Grafana against the real local stack: the stack starts as `make run` starts it (its
own planner and starter, on free ports, with the simulated feed), Debian's `prometheus` scrapes it with
the project's configuration, and every expression of the rules and the dashboards returns data.

The stack runs at one instant, SUNDAY of tests/support/suite_clock.py, whatever the suite's or the machine's
date (issue 12, class 7: on a Sunday a one-day backfill held no resolutions and the test timed out).
The dashboards' month-to-date panels need filings resolved this month, and officers act on working
days only: on 1 January, a public holiday, they are rightly empty, in production too, and on the first
of a month they hold only the hours since the offices opened, which a backfill sends last. So this test
runs at one instant, not at each; the figures' calendar is tested at each of them by cheaper tests
(test_calendar.py, test_aggregator_clock.py). The backfill reaches back three days, into the last
working day's office hours from any weekday at 10:00 (Monday 10:00 back to Friday 10:00), so that
resolutions come among its first events.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from deploy.local.broker import LocalKafka, free_port
from deploy.local.run import RunSettings, Stack, check_alive, plan_stack, start_stack
from services.api.queries import HCM
from services.common.clock import ClockSettings
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.paths import ROOT
from tests.support.suite_clock import SUNDAY
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
LOCAL_CONFIG = PROMETHEUS_DIR / "prometheus.local.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
# An alert is `<input> <comparison> <threshold>`; with `bool` it yields 0 or 1 for every input series.
ALERT_SHAPE = re.compile(r"^(?P<input>.+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<threshold>-?[0-9.e+]+)$",
                         re.DOTALL)
PERIOD = "month_to_date"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make install` installs Debian's prometheus package"
    return path


@dataclass
class Running:
    stack: Stack
    kafka: KafkaSettings
    prometheus: str


@pytest.fixture(scope="module")
def running(kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run_dir = tmp_path_factory.mktemp("stack")
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap, events_topic=f"filing-events-{suffix}",
                          dlq_topic=f"filing-events-dlq-{suffix}", figures_topic=f"unit-figures-{suffix}")
    asyncio.run(ensure_topics(kafka))
    # Topic names of our own on the session's broker; everything else as `make run` has it.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
           "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "AGGREGATOR_APP_ID": f"aggregator-{suffix}",
           "API_REGISTRY_TOPIC": f"unit-registry-{suffix}", "API_TARGETS_TOPIC": f"unit-targets-{suffix}"}
    settings = RunSettings(ingest_port=free_port(), api_port=free_port(), aggregator_port=free_port(),
                           feed_backfill_days=3, now=ClockSettings(clock_start=SUNDAY))
    stack = plan_stack(settings, run_dir, sys.executable)
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        start_stack(stack, env, settings.start_timeout)
        port = free_port()
        config = local_config_for(stack, run_dir)
        with (run_dir / "prometheus.log").open("wb") as log:
            prometheus = subprocess.Popen(
                [tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={run_dir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(url), 30, "Prometheus ready")
        yield Running(stack, kafka, url)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(15)
        for service in reversed(stack.services):
            service.stop()


def local_config_for(stack: Stack, run_dir: Path) -> Path:
    """The project's local configuration with this stack's ports, scraped every 3 s and evaluated every
    second so that the test need not wait 15 s per sample; jobs, rules and everything else unchanged.
    (An API scrape, every unit's figures, takes up to a second on a busy 2-core machine.)"""
    config = yaml.safe_load(LOCAL_CONFIG.read_text())
    config["global"].update(scrape_interval="3s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
    urls = {"onestop-ingest": stack.ingest_url, "onestop-aggregator": stack.aggregator_url,
            "onestop-api": stack.api_url}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [urls[job["job_name"]].removeprefix("http://")]}]
        job.pop("scrape_timeout", None)  # must not exceed the 3 s interval
    path = run_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    return answer


def has_data(answer: dict[str, Any]) -> bool:
    if answer["status"] != "success" or not answer["data"]["result"]:
        return False
    return any(not math.isnan(float(sample["value"][1])) for sample in answer["data"]["result"])


def rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def dashboard_expressions(unit: str, province: str) -> list[str]:
    values = {"$period": PERIOD, "$unit": unit, "$province": province, "$__rate_interval": "1m"}
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for name, value in values.items():
                    expr = expr.replace(name, value)
                assert "$" not in expr, f"{path.name}: unknown variable in {target['expr']}"
                found.append(expr)
    return found


def alert_input(expr: str) -> str:
    """The alert's expression with `bool`: every input series, judged 0 or 1, instead of only firing ones."""
    shape = ALERT_SHAPE.match(expr.strip())
    assert shape, f"alert expression not of the form `<input> <comparison> <threshold>`: {expr}"
    return f"{shape['input']} {shape['op']} bool {shape['threshold']}"


def test_promtool_accepts_the_configuration_and_rules() -> None:
    promtool = tool("promtool")
    for config in (PROMETHEUS_DIR / "prometheus.yml", LOCAL_CONFIG):
        checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    checked = subprocess.run([promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(rules()) >= 30


def test_every_rule_and_dashboard_expression_returns_data(running: Running) -> None:
    url = running.prometheus
    wait_until(lambda: has_data(query(url, f'max(onestop_unit_resolved_filings{{period="{PERIOD}"}}) > 0')),
               60, "the API's per-unit figures in Prometheus")
    busiest = query(url, f'topk(1, max by (unit) (onestop_unit_resolved_filings{{period="{PERIOD}"}}))')
    unit = busiest["data"]["result"][0]["metric"]["unit"]
    # Grafana's province picker lists the provinces' rollups: here the one province make run seeds.
    picker = {"match[]": 'onestop_rollup_received_filings{level="province"}'}
    provinces = httpx.get(f"{url}/api/v1/label/unit/values", params=picker, timeout=10).json()["data"]
    assert provinces == ["31"]
    # A target the unit misses, so that the target series and the below-target alert have data.
    admin_key = running.stack.admin_key_file.read_text().strip()
    month = datetime.fromtimestamp(running.stack.clock(), HCM).strftime("%Y-%m")
    put = httpx.put(f"{running.stack.api_url}/v1/admin/targets/{unit}/online_rate/{month}",
                    json={"value": 0.99}, headers={"Authorization": f"Bearer {admin_key}"}, timeout=15)
    assert put.status_code in (200, 201), put.text
    # A record no parser can read, so that the dead-letter series have data.
    asyncio.run(send_raw(running.kafka, b"{not json"))

    alerts = [r for r in rules() if "alert" in r]
    recorded = [r for r in rules() if "record" in r]
    expressions = ([r["expr"] for r in recorded] + [r["record"] for r in recorded]
                   + [alert_input(r["expr"]) for r in alerts] + dashboard_expressions(unit, provinces[0]))
    missing: list[str] = []

    def all_have_data() -> bool:
        check_alive(running.stack)  # a service that died fails the test with its log, not a timeout
        missing[:] = [e for e in expressions if not has_data(query(url, e))]
        return not missing

    started = time.monotonic()
    deadline = started + 45
    while not all_have_data():
        assert time.monotonic() < deadline, "no data for:\n" + "\n".join(missing)
        time.sleep(1)
    print(f"every expression had data {time.monotonic() - started:.1f} s after the target was set")

    # Every rule evaluates without error in Prometheus itself, and every target is up.
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    health = {r["name"]: (r["health"], r.get("lastError")) for g in groups for r in g["rules"]}
    assert len(health) == len(rules())
    assert {name: h for name, h in health.items() if h[0] != "ok"} == {}
    up = query(url, "up")["data"]["result"]
    assert sorted((s["metric"]["job"], s["value"][1]) for s in up) == [
        ("onestop-aggregator", "1"), ("onestop-api", "1"), ("onestop-ingest", "1")]
    # The unit set above is below its target, and the alert's input says so.
    below = query(url, f'onestop:unit_target_met:min{{unit="{unit}", period="{PERIOD}"}}')
    assert [s["value"][1] for s in below["data"]["result"]] == ["0"]
    # Grafana's unit picker lists units with figures.
    units = httpx.get(f"{url}/api/v1/label/unit/values",
                      params={"match[]": "onestop_unit_received_filings"}, timeout=10).json()["data"]
    assert unit in units


async def send_raw(kafka: KafkaSettings, value: bytes) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(kafka.events_topic, value, key=b"broken")
    finally:
        await producer.stop()
