"""`make run`: Kafka, the services and a simulated feed on this machine; Ctrl-C stops it all.

Each service runs as its own process, exactly the command a deployment runs, with its log in
`.run/logs/`. With `KAFKA_BOOTSTRAP_SERVERS` set, that cluster is used and no broker is started.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.local.broker import LocalKafka, free_port
from deploy.local.demo_targets import DemoGoals, set_demo_targets
from deploy.local.run_state import keep_state_of_format
from deploy.local.service import Service
from services.aggregator.state_format import STATE_FORMAT
from services.common.clock import Clock, ClockSettings
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.units import DEFAULT_PROVINCE, province_code, province_units, resolve_province
from services.simulator.dvcqg_sync import agency_code

log = logging.getLogger("run")
HCM = timezone(timedelta(hours=7))
RUN_DIR = Path(".run")


class RunSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUN_", extra="ignore")

    kafka_port: int = 9092
    ingest_port: int = 8001
    api_port: int = 8000
    aggregator_port: int = 6066
    feed_rate: float = 20.0  # events per second from the simulator: gentle on a laptop
    feed_backfill_days: int = 3
    province: str | None = None
    # Units whose filings the feed sends through the national portal's sync intake (/dvcqg/sync) instead
    # of /v1/events, their agency codes mapped under the API's admin first: "auto" (a department and
    # two communes or wards of the province), codes separated by commas, or "" for none.
    sync_units: str = "auto"
    start_timeout: float = 90.0
    # The province goals make run shares out as every unit's targets for the year (0 leaves one unset).
    online_goal: float = Field(default=0.8, ge=0, le=1)
    on_time_goal: float = Field(default=0.9, ge=0, le=1)
    # ONESTOP_CLOCK_START runs the whole stack at another instant (a Sunday, 1 January...).
    now: ClockSettings = Field(default_factory=ClockSettings)


def port_or_free(port: int) -> int:
    """The wanted port, or a free one when something else already listens there."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def new_feed_key(python: str, run_dir: Path) -> str:
    """An ingest API key for the simulated feed, kept hashed in <run_dir>/ingest-keys.json."""
    done = subprocess.run(
        [python, "-m", "services.ingest.keys", "new", "--units", "*", "--note", "simulator (make run)",
         "--file", str(run_dir / "ingest-keys.json")],
        capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def sync_units(settings: RunSettings) -> list[str]:
    """The units the feed sends through the portal's sync (RUN_SYNC_UNITS)."""
    spec = settings.sync_units.strip()
    if spec != "auto":
        return [code.strip() for code in spec.split(",") if code.strip()]
    units = province_units(settings.province or str(DEFAULT_PROVINCE))
    departments = [u.code for u in units if u.level == "department"]
    local = [u.code for u in units if u.level in ("commune", "ward")]
    return departments[2:3] + local[:2]


def map_agencies(api_url: str, admin_key: str, units: list[str]) -> dict[str, str]:
    """Map each unit's agency code (the simulator's) to it under the API's admin, as a province does
    before connecting its sync; agency code → unit."""
    mapped = {}
    with httpx.Client(base_url=api_url, timeout=30.0) as client:
        for unit in units:
            code = agency_code(unit)
            answer = client.put(f"/v1/admin/agencies/{code}", json={"unit_code": unit},
                                headers={"Authorization": f"Bearer {admin_key}"})
            if answer.status_code not in (200, 202):
                raise RuntimeError(f"mapping agency {code} to unit {unit}: {answer.status_code} "
                                   f"{answer.text[:300]}")
            mapped[code] = unit
    return mapped


@dataclass
class Stack:
    """The services `make run` starts, in start order, and where to reach them."""

    services: list[Service]
    ingest_url: str
    aggregator_url: str
    api_url: str
    admin_key_file: Path
    clock: Clock  # the stack's "now", which every service is started on
    now: ClockSettings
    sync_units: list[str]  # the feed sends their filings through the portal's sync
    admin_key: str = ""


def plan_stack(settings: RunSettings, run_dir: Path, python: str) -> Stack:
    """Ingest, aggregator, API and the simulated feed, each the command a deployment runs."""
    ingest_port = port_or_free(settings.ingest_port)
    ingest_url = f"http://127.0.0.1:{ingest_port}"
    aggregator_port = port_or_free(settings.aggregator_port)
    aggregator_url = f"http://127.0.0.1:{aggregator_port}"
    api_port = port_or_free(settings.api_port)
    api_url = f"http://127.0.0.1:{api_port}"
    logs = run_dir / "logs"
    # A fresh admin key each run, readable only by its owner; the API keeps only its hash.
    admin_key = secrets.token_urlsafe(32)
    key_file = run_dir / "api-admin-key"
    key_file.write_text(admin_key + "\n")
    key_file.chmod(0o600)
    feed_args = [python, "-m", "services.simulator", "--ingest-url", ingest_url,
                 "--rate", str(settings.feed_rate), "--backfill-days", str(settings.feed_backfill_days)]
    if settings.province:
        feed_args += ["--province", settings.province]
    synced = sync_units(settings)
    if synced:
        feed_args += ["--sync-units", ",".join(synced)]
    services = [
        Service("ingest", [python, "-m", "services.ingest"], logs, f"{ingest_url}/readyz",
                {"INGEST_PORT": str(ingest_port), "INGEST_KEYS_FILE": str(run_dir / "ingest-keys.json")}),
        Service("aggregator", [python, "-m", "services.aggregator"], logs, f"{aggregator_url}/state",
                {"AGGREGATOR_WEB_PORT": str(aggregator_port),
                 "AGGREGATOR_DATA_DIR": str(run_dir / "aggregator")}),
        Service("api", [python, "-m", "services.api"], logs, f"{api_url}/readyz",
                {"API_PORT": str(api_port),
                 "API_ADMIN_KEY_SHA256": hashlib.sha256(admin_key.encode()).hexdigest(),
                 **({"API_SEED_PROVINCE": settings.province} if settings.province else {})}),
        # The key goes by environment, not argv, so that `ps` does not show it.
        Service("feed", feed_args, logs, env={"SIMULATOR_API_KEY": new_feed_key(python, run_dir)}),
    ]
    return Stack(services, ingest_url, aggregator_url, api_url, key_file, settings.now.clock(), settings.now,
                 synced, admin_key)


def check_alive(stack: Stack) -> None:
    """Raise, with its log's tail, when a service of the stack has stopped."""
    for service in stack.services:
        if not service.alive():
            raise RuntimeError(f"{service.name} stopped unexpectedly:\n{service.log_tail()}")


def start_stack(stack: Stack, env: dict[str, str], timeout: float) -> None:
    """Start the services in order, each once the one before is ready."""
    deadline = time.monotonic() + timeout
    for service in stack.services:
        if service.name == "feed" and stack.sync_units:
            # Before the feed: a dossier of an agency nobody mapped is refused (and counted).
            mapped = map_agencies(stack.api_url, stack.admin_key, stack.sync_units)
            log.info("mapped the agency codes %s for the portal's sync", ", ".join(
                f"{code} → {unit}" for code, unit in mapped.items()))
        log.info("starting %s ...", service.name)
        service.start({**env, **stack.now.handed_on(stack.clock)})
        service.wait_ready(deadline)


def seed_targets(stack: Stack, settings: RunSettings) -> None:
    """Every unit's online-rate and on-time targets for this year (deploy/local/demo_targets.py)."""
    goals = {figure: goal for figure, goal in (("online_rate", settings.online_goal),
                                                ("on_time_rate", settings.on_time_goal)) if goal > 0}
    if not goals:
        return
    year = str(datetime.fromtimestamp(stack.clock(), HCM).year)
    root = province_code(resolve_province(settings.province or DEFAULT_PROVINCE))  # the API's seed
    headers = {"Authorization": f"Bearer {stack.admin_key_file.read_text().strip()}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30.0) as client:
        set_demo_targets(client, root, year, DemoGoals(goals=goals))


def quiet_libraries() -> None:
    """Only our own lines at INFO: httpx logs every request (each readiness poll), and the Kafka client
    its connections; their warnings and errors still show."""
    for name in ("httpx", "httpcore", "aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    quiet_libraries()
    settings = RunSettings()
    RUN_DIR.mkdir(exist_ok=True)
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:  # another cluster's state is not ours to move
        keep_state_of_format(RUN_DIR, STATE_FORMAT)
    python = sys.executable
    started = time.monotonic()
    broker: LocalKafka | None = None
    services: list[Service] = []
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        kafka = KafkaSettings()
        if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
            log.info("using the Kafka cluster at %s", kafka.bootstrap_servers)
        else:
            broker = LocalKafka(RUN_DIR / "kafka", port=port_or_free(settings.kafka_port))
            log.info("starting the local Apache Kafka broker on %s ...", broker.bootstrap)
            broker.start()
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap)
        asyncio.run(ensure_topics(kafka))
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "PYTHONUNBUFFERED": "1"}
        stack = plan_stack(settings, RUN_DIR, python)
        services = stack.services
        start_stack(stack, env, settings.start_timeout)
        seed_targets(stack, settings)
        log.info("all up in %.1f s", time.monotonic() - started)
        ingest_url, aggregator_url, api_url = stack.ingest_url, stack.aggregator_url, stack.api_url
        key_file = stack.admin_key_file
        sync = (f"  Portal sync    POST {ingest_url}/dvcqg/sync   (the feed's units "
                f"{', '.join(stack.sync_units)} come this way; agency codes: {api_url}/v1/agencies; "
                "ingest_sync_items_total in the ingest metrics)\n" if stack.sync_units else "")
        print(  # noqa: T201 - this is the user's terminal
            f"\n  Kafka          {kafka.bootstrap_servers}\n"
            f"  Ingest API     {ingest_url}/docs   (POST {ingest_url}/v1/events)\n"
            f"{sync}"
            f"  Ingest metrics {ingest_url}/metrics\n"
            f"  Aggregator     {aggregator_url}/metrics   (figures on topic {kafka.figures_topic})\n"
            f"  Dashboard      {api_url}/\n"
            f"  Figures API    {api_url}/docs   (live: {api_url}/v1/stream; admin key in {key_file})\n"
            f"  API metrics    {api_url}/metrics\n"
            f"  Logs           {RUN_DIR / 'logs'}/\n\n  Ctrl-C stops everything.\n", flush=True)
        while not stop_requested:
            check_alive(stack)
            time.sleep(0.5)
        return 0
    except (RuntimeError, OSError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping ...")
        for service in reversed(services):
            service.stop()
        if broker is not None:
            broker.stop()
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
