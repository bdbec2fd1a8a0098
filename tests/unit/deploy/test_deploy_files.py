"""The deployment files without Docker: the compose file is valid compose-spec, names only our image
(built from our Dockerfile) or the official Kafka, Prometheus and Grafana images, and runs only modules
that exist; .env.example documents every variable it uses, each a real setting."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploy.local.run import RunSettings, plan_stack
from services.aggregator.settings import AggregatorSettings
from services.api.settings import ApiSettings
from services.common.kafka_settings import KafkaSettings
from services.ingest.settings import IngestSettings
from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
# The compose-spec JSON schema, vendored: see tests/data/README.md for where it comes from.
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
OUR_IMAGE = "onestop-live"
OFFICIAL_IMAGES = {"apache/kafka", "prom/prometheus", "grafana/grafana"}
# Variables for compose itself (what to run, publish and mount), not read by the services.
COMPOSE_ONLY = {"COMPOSE_PROJECT_NAME", "ONESTOP_VERSION", "KAFKA_IMAGE_VERSION", "KAFKA_TLS_DIR",
                "INGEST_KEYS_HOST_FILE", "INGEST_HOST_PORT", "API_1_HOST_PORT", "API_2_HOST_PORT"}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft201909Validator(schema)


def test_compose_file_is_valid_compose_spec() -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator().iter_errors(compose())]
    assert errors == []


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    """The check above can fail: a wrong depends_on condition and an unknown key are caught."""
    broken = compose()
    broken["services"]["ingest"]["depends_on"] = {"topics": {"condition": "service_finished"}}
    broken["services"]["api-1"]["helthcheck"] = {"test": ["CMD", "true"]}
    paths = {"/".join(map(str, e.absolute_path)) for e in validator().iter_errors(broken)}
    assert "services/ingest/depends_on" in paths
    assert "services/api-1" in paths


def image_name(image: str) -> str:
    """`apache/kafka:${KAFKA_IMAGE_VERSION:-4.1.1}` → `apache/kafka`."""
    return VARIABLE.sub("", image).split(":")[0]


def test_images_are_ours_built_from_our_dockerfile_or_official() -> None:
    services = compose()["services"]
    assert {"kafka", "topics", "ingest", "aggregator-1", "aggregator-2", "api-1", "api-2", "prometheus",
            "grafana"} <= set(services)
    for name, service in services.items():
        image = image_name(service["image"])
        if image == OUR_IMAGE:
            build = service["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile", name
        else:
            assert image in OFFICIAL_IMAGES, f"{name} uses {image}, neither ours nor an official image"


def python_modules(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-m"]


def test_every_python_module_named_exists() -> None:
    """Each container's command and health check, and the Dockerfile's CMD, import cleanly."""
    named: set[str] = set()
    for service in compose()["services"].values():
        if image_name(service["image"]) != OUR_IMAGE:
            continue
        command = service["command"]
        assert command[:2] == ["python", "-m"], command
        named.update(python_modules(command))
        if "healthcheck" in service:
            named.update(python_modules(service["healthcheck"]["test"]))
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert cmd is not None
    named.update(python_modules(json.loads(cmd.group(1))))
    assert {"services.ingest", "services.aggregator", "services.api", "services.common.topics",
            "deploy.healthcheck"} <= named
    for module in sorted(named):
        # A package runs through its __main__; a plain module runs itself.
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        importlib.import_module(f"{module}.__main__" if spec.submodule_search_locations else module)


def test_the_dockerfile_copies_what_the_commands_need() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for needed in ("services", "schemas", "deploy/healthcheck.py"):
        assert re.search(rf"^COPY .*\b{re.escape(needed)}\b", dockerfile, re.MULTILINE), needed


def test_same_commands_as_make_run(tmp_path: Path) -> None:
    """The containers run the argv `make run` starts for each service (deploy/local/run.py)."""
    stack = plan_stack(RunSettings(feed_backfill_days=0), tmp_path, sys.executable)
    # The container's `python` is the local run's interpreter.
    local = {s.name: ["python", *s.argv[1:]] for s in stack.services}
    services = compose()["services"]
    assert services["ingest"]["command"] == local["ingest"]
    assert services["aggregator-1"]["command"] == services["aggregator-2"]["command"] == local["aggregator"]
    assert services["api-1"]["command"] == services["api-2"]["command"] == local["api"]


def test_services_wait_for_what_they_need_to_be_healthy() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits on unchecked {needed}"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("ingest", "aggregator-1", "aggregator-2", "api-1", "api-2"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name], name


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_env_example_documents_every_variable_and_commits_no_secret() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    documented = env_example()
    assert used - set(documented) == set()
    for secret in ("KAFKA_SASL_PASSWORD", "API_ADMIN_KEY_SHA256", "GRAFANA_ADMIN_PASSWORD"):
        assert documented[secret] == "", f"{secret} must be left empty in the example"


@pytest.mark.parametrize("prefix, settings", [("KAFKA_", KafkaSettings), ("INGEST_", IngestSettings),
                                              ("AGGREGATOR_", AggregatorSettings), ("API_", ApiSettings)])
def test_service_variables_are_real_settings(prefix: str, settings: type[Any]) -> None:
    """A misspelt variable would be ignored silently (extra="ignore"): each must name a field."""
    fields = {f"{prefix}{name.upper()}" for name in settings.model_fields}
    passed = {key for service in compose()["services"].values() if "build" in service
              for key in service.get("environment", {})}
    named = {key for key in passed | set(env_example()) if key.startswith(prefix)} - COMPOSE_ONLY
    assert named, prefix
    assert sorted(named - fields) == []


def scrape_targets(config: str) -> dict[str, list[str]]:
    loaded = yaml.safe_load((DEPLOY / "prometheus" / config).read_text())
    return {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
            for job in loaded["scrape_configs"]}


def test_prometheus_scrapes_the_compose_services_on_their_ports() -> None:
    services = compose()["services"]
    ports = {"onestop-ingest": "8001", "onestop-aggregator": "6066", "onestop-api": "8000"}
    targets = scrape_targets("prometheus.yml")
    assert targets["onestop-aggregator"] == ["aggregator-1:6066", "aggregator-2:6066"]
    assert targets["onestop-api"] == ["api-1:8000", "api-2:8000"]
    for job, port in ports.items():
        for target in targets[job]:
            host, target_port = target.split(":")
            assert host in services and target_port == port, target
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


def test_local_prometheus_scrapes_make_run_default_ports() -> None:
    run = RunSettings()
    assert scrape_targets("prometheus.local.yml") == {
        "onestop-ingest": [f"127.0.0.1:{run.ingest_port}"],
        "onestop-aggregator": [f"127.0.0.1:{run.aggregator_port}"],
        "onestop-api": [f"127.0.0.1:{run.api_port}"]}


def test_grafana_provisioning_matches_the_dashboards() -> None:
    grafana = DEPLOY / "grafana"
    source = yaml.safe_load((grafana / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "onestop.yml").read_text())
    volumes = compose()["services"]["grafana"]["volumes"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in volumes}
    assert mounted[provider["providers"][0]["options"]["path"]] == "./grafana/dashboards"
    titles = set()
    for path in (grafana / "dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        titles.add(board["title"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"] and all(t["datasource"]["uid"] == uid for t in panel["targets"])
    assert titles == {"Province overview", "Unit detail", "Operations"}


def test_healthcheck_answers_by_the_status(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from deploy.healthcheck import main as healthcheck

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert healthcheck(["healthcheck", f"{base}/readyz"]) == 0
        assert healthcheck(["healthcheck", f"{base}/starting"]) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert healthcheck(["healthcheck", f"{base}/readyz"]) == 1  # nobody listens any more
    assert healthcheck(["healthcheck"]) == 2


def test_local_override_only_swaps_images_for_locally_built_ones() -> None:
    """deploy/compose.local.yml changes nothing but images (Kafka, Prometheus: the ones
    deploy/images/build.py builds) and leaves Grafana out; together they are still valid compose-spec."""
    from deploy.images.build import PROMETHEUS_IMAGE, kafka_image

    override: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.local.yml").read_text())
    services = override["services"]
    assert set(services) <= set(compose()["services"])
    assert {name: set(service) for name, service in services.items()} == {
        "kafka": {"image"}, "prometheus": {"image"}, "grafana": {"profiles"}}
    assert VARIABLE.sub("4.1.1", services["kafka"]["image"]) == kafka_image()
    assert services["prometheus"]["image"] == PROMETHEUS_IMAGE
    merged = compose()
    for name, service in services.items():
        merged["services"][name].update(service)
    assert [e.message for e in validator().iter_errors(merged)] == []


def test_host_apt_sources_read_both_formats(tmp_path: Path) -> None:
    """The local Debian base is debootstrapped from the mirror the host's apt uses, whatever its format."""
    from deploy.images.build import host_apt_sources

    apt = tmp_path / "etc" / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text("# one-line style\n"
                                      "deb [arch=amd64] http://mirror.test/debian bookworm main\n"
                                      "deb-src http://mirror.test/debian bookworm main\n")
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nEnabled: no\nURIs: http://off.test/debian\nSuites: bookworm\n")
    (apt / "sources.list.d" / "other.list").write_text("deb http://other.test/apt trixie main\n")
    assert host_apt_sources(apt=apt) == [
        ("http://mirror.test/debian", "bookworm"), ("http://mirror.test/debian", "bookworm"),
        ("http://mirror.test/debian", "bookworm-updates"), ("http://mirror.test/debian-security",
                                                             "bookworm-security")]
