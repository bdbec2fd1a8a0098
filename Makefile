# One-stop live figures. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
KAFKA_LIBS := deploy/local/.cache/kafka-libs

.PHONY: help install compiled lock kafka-jars prometheus run test lint typecheck audit bench replay-bench soak topics \
	kafka clean \
	images compose-test

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Python packages come from the lock files, never from pyproject.toml's ranges (see "Locked installs" in
# README.md). requirements-dev.lock: every package `make` installs (the product's, the `dev` extra's,
# pip and setuptools), each at one version with the hashes of its files, written by `make lock`;
# requirements.lock: the product's alone, at the same versions, for the container image.
LOCK := requirements-dev.lock
RUNTIME_LOCK := requirements.lock
NEW_VENV = test -x $(PY) || { command -v $(PYTHON) >/dev/null && $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV); }

# Hash-checked: pip refuses any file whose hash the lock does not list, and any package it does not pin.
# The project itself then goes in editable, without dependencies and with the locked setuptools;
# `pip check` fails if the lock no longer satisfies pyproject.toml (then `make lock`).
$(STAMPS)/venv: pyproject.toml $(LOCK)
	@mkdir -p $(STAMPS)
	@$(NEW_VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; \
		echo "$(LOCK) does not satisfy pyproject.toml: run make lock"; exit 1; }
	@touch $@

# uv at the lock's version, hash-checked, alone: `make lock` must work when the lock no longer
# satisfies pyproject.toml, which is when the full install above fails.
$(VENV)/bin/uv:
	@$(NEW_VENV)
	awk '/^uv==/ {p = 1; print; next} p && /^ +--hash/ {print; next} {p = 0}' $(LOCK) \
		| $(PY) -m pip install -q --require-hashes --no-deps -r /dev/stdin

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

install: $(STAMPS)/venv compiled $(STAMPS)/kafka-jars $(STAMPS)/prometheus ## Install what is missing: virtualenv, packages, the compiled aggregator modules, Kafka jars, Prometheus

# The aggregator's hot modules compiled with mypyc (services/aggregator/compiled.py); the script
# returns at once when its build matches the sources, so it runs every time rather than tracking them.
compiled: $(STAMPS)/venv ## Compile the aggregator's hot modules (mypyc; a C compiler and Python's headers)
	@$(PY) -m deploy.local.compile_aggregator

kafka-jars: $(STAMPS)/kafka-jars

prometheus: $(STAMPS)/prometheus

run: install ## Start Kafka, the services and a simulated feed; Ctrl-C stops everything
	$(PY) -m deploy.local.run

test: install $(STAMPS)/chromium lint typecheck audit ## The whole suite: ruff, mypy, pip-audit, pytest (integration tests on a real broker, Chromium)
	$(PY) -m pytest

# The compose deployment where no image registry can be reached: images from Debian's packages, Maven
# Central and PyPI (deploy/images/build.py); Docker and Compose installed, dockerd started, when missing.
images: $(STAMPS)/venv $(STAMPS)/kafka-jars ## Build the compose stack's images locally (Docker started if needed)
	$(PY) -m deploy.images.docker_host start
	$(PY) -m deploy.images.build

compose-test: $(STAMPS)/venv $(STAMPS)/kafka-jars ## deploy/docker-compose.yml built, run and checked on Docker (minutes; not in make test)
	$(PY) -m pytest tests/compose -p no:cacheprovider

bench: install ## Benchmarks (minutes): ingest, aggregator throughput, the engine compiled and not, page faults, the packer's triage, state and scaling, freshness, API, 2,000 stream clients, the portal's sync intake, national scale; see docs/benchmarks.md
	$(PY) -m bench.ingest_bench
	$(PY) -m bench.aggregator_bench
	$(PY) -m bench.engine_bench
	$(PY) -m bench.page_faults
	$(PY) -m bench.triage_bench
	$(PY) -m bench.state_size
	$(PY) -m bench.figures_encoding
	$(PY) -m bench.scaling_bench
	$(PY) -m bench.freshness_bench
	$(PY) -m bench.api_bench
	$(PY) -m bench.sse_bench
	$(PY) -m bench.sync_bench
	$(PY) -m bench.national_bench

replay-bench: install ## A province-year (16 M events) replayed into the product, against the raw producer (about 17 min; 24 the first time); REPLAY_ARGS="--events 2000000" for less
	$(PY) -m bench.replay_bench $(REPLAY_ARGS)

soak: install ## A country's working day through the whole pipeline (10 min); SOAK_ARGS="--events 200000 --minutes 4" for less
	$(PY) -m bench.soak $(SOAK_ARGS)

lint: $(STAMPS)/venv ## ruff over the code
	$(VENV)/bin/ruff check .

typecheck: $(STAMPS)/venv ## mypy over the code
	$(VENV)/bin/mypy services deploy

audit: $(STAMPS)/venv ## Known vulnerabilities in the installed packages (pip-audit, PyPI's data; cached)
	$(PY) -m deploy.audit

# `make lock` keeps every locked version that pyproject.toml still allows, adds what it newly needs and
# drops what it no longer does; UPGRADE=1 moves every package to its newest allowed release,
# UPGRADE="aiokafka faust-streaming" only those. Universal: one lock for Linux, macOS and Windows
# (platform-only packages carry markers), with the hashes of every wheel and sdist of each version.
# uv ignores requires-python's upper bound (<3.12), so a universal resolution would also lock, for
# Python 3.12 and later, releases that need them (vietnam-provinces 2026.x); --fork-strategy fewest
# keeps one version of each package, the newest that Python 3.11 installs.
# --no-strip-extras: a dependency's extra (pip-audit's cachecontrol[filecache]) stays pinned in the
# lock; without it, Python 3.11's pip 23 takes the newest release for the extra and refuses it unhashed.
LOCK_UPGRADE = $(if $(filter 1,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))
UV_COMPILE = $(VENV)/bin/uv pip compile -q --universal --fork-strategy fewest --python-version 3.11 --generate-hashes --no-strip-extras \
	--custom-compile-command "make lock"
BUILD_REQUIRES = $(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"

# uv reads the current lock as its preferences from the output file: a copy, replacing the lock only
# if it changed, so that an unchanged lock leaves the venv stamp up to date.
lock: $(VENV)/bin/uv ## Re-resolve the lock files from pyproject.toml (uv); UPGRADE=1 for the newest releases
	@cp -p $(LOCK) $(LOCK).new 2>/dev/null || true
	$(BUILD_REQUIRES) | $(UV_COMPILE) pyproject.toml - --extra dev $(LOCK_UPGRADE) -o $(LOCK).new
	@cmp -s $(LOCK).new $(LOCK) && rm $(LOCK).new || mv $(LOCK).new $(LOCK)
	@cp -p $(RUNTIME_LOCK) $(RUNTIME_LOCK).new 2>/dev/null || true
	$(UV_COMPILE) pyproject.toml -c $(LOCK) -o $(RUNTIME_LOCK).new
	@cmp -s $(RUNTIME_LOCK).new $(RUNTIME_LOCK) && rm $(RUNTIME_LOCK).new || mv $(RUNTIME_LOCK).new $(RUNTIME_LOCK)

topics: $(STAMPS)/venv ## Create the topics on KAFKA_BOOTSTRAP_SERVERS (idempotent)
	$(PY) -m services.common.topics

kafka: install ## Run only the local Kafka broker in the foreground
	$(PY) -m deploy.local.broker

clean: ## Remove the virtualenv, caches and local run data
	rm -rf $(VENV) $(STAMPS) deploy/local/.cache .cache/pip-audit .cache/compiled-aggregator .run .pytest_cache .mypy_cache .ruff_cache
