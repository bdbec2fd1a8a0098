# One-stop live figures. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
KAFKA_LIBS := deploy/local/.cache/kafka-libs

.PHONY: help install kafka-jars prometheus run test lint typecheck audit bench soak topics kafka clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# setuptools too: the one a new venv starts with is years old, with published vulnerabilities.
$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || { command -v $(PYTHON) >/dev/null && $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip setuptools
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

$(STAMPS)/kafka-jars: deploy/local/pom.xml
	@mkdir -p $(STAMPS)
	@echo "fetching the Apache Kafka broker's jars from Maven Central (once)"
	mvn -q -B -f deploy/local/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory=.cache/kafka-libs -Dmdep.overWriteReleases=false
	@touch $@

# Debian's Prometheus (prometheus + promtool): the observability test runs it against the local stack.
$(STAMPS)/prometheus:
	@mkdir -p $(STAMPS)
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
		echo "installing Debian's prometheus (once)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; }
	@touch $@

# The dashboard test drives Debian's Chromium (Playwright cannot download its own here).
$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	@command -v chromium >/dev/null || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }
	@touch $@

install: $(STAMPS)/venv $(STAMPS)/kafka-jars $(STAMPS)/prometheus ## Install what is missing: virtualenv, packages, Kafka jars, Prometheus

kafka-jars: $(STAMPS)/kafka-jars

prometheus: $(STAMPS)/prometheus

run: install ## Start Kafka, the services and a simulated feed; Ctrl-C stops everything
	$(PY) -m deploy.local.run

test: install $(STAMPS)/chromium lint typecheck audit ## The whole suite: ruff, mypy, pip-audit, pytest (integration tests on a real broker, Chromium)
	$(PY) -m pytest

bench: install ## Benchmarks (minutes): ingest, aggregator throughput and scaling, freshness, API; see docs/benchmarks.md
	$(PY) -m bench.ingest_bench
	$(PY) -m bench.aggregator_bench
	$(PY) -m bench.scaling_bench
	$(PY) -m bench.freshness_bench
	$(PY) -m bench.api_bench

soak: install ## A country's working day through the whole pipeline (10 min); SOAK_ARGS="--events 200000 --minutes 4" for less
	$(PY) -m bench.soak $(SOAK_ARGS)

lint: $(STAMPS)/venv ## ruff over the code
	$(VENV)/bin/ruff check .

typecheck: $(STAMPS)/venv ## mypy over the code
	$(VENV)/bin/mypy services deploy

audit: $(STAMPS)/venv ## Known vulnerabilities in the installed packages (pip-audit, PyPI's data; cached)
	$(PY) -m deploy.audit

topics: $(STAMPS)/venv ## Create the topics on KAFKA_BOOTSTRAP_SERVERS (idempotent)
	$(PY) -m services.common.topics

kafka: install ## Run only the local Kafka broker in the foreground
	$(PY) -m deploy.local.broker

clean: ## Remove the virtualenv, caches and local run data
	rm -rf $(VENV) $(STAMPS) deploy/local/.cache .cache/pip-audit .run .pytest_cache .mypy_cache .ruff_cache
