# One image for every service; the command chooses which one runs (see deploy/docker-compose.yml):
#   python -m services.ingest | services.aggregator | services.api | services.common.topics
# These are the commands `make run` starts, so what the tests exercise is what ships.
# The base is the official Python image unless BASE_IMAGE names another with `python` and `pip` on PATH
# (deploy/images/build.py passes a Debian-made one where no image registry can be reached).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them: the product's
# packages from the lock (`make lock` writes it), each at the version the suite ran with, every file
# checked against the lock's hashes. Nothing from pyproject.toml's ranges.
# pip trusts the system's CA bundle, with any CA certificates the building machine added
# (deploy/images/ca-certificates/*.crt, copied there by deploy/images/build.py; none in a plain clone):
# where HTTPS goes through a TLS-inspecting proxy, pip fails its certificate checks without them.
COPY deploy/images/ca-certificates/ /tmp/extra-ca/
COPY requirements.lock ./
RUN if ls /tmp/extra-ca/*.crt >/dev/null 2>&1; then \
      cp /tmp/extra-ca/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates; fi \
 && rm -rf /tmp/extra-ca \
 && pip install --cert /etc/ssl/certs/ca-certificates.crt --require-hashes -r requirements.lock \
 && rm requirements.lock

# The code runs from /app (not site-packages): the ingest service finds schemas/ beside services/.
COPY schemas ./schemas
COPY services ./services
COPY deploy/__init__.py deploy/healthcheck.py ./deploy/

# Not root; the aggregator's RocksDB state lives in a volume mounted at /data.
RUN useradd --system --uid 10001 --home-dir /app onestop && mkdir -p /data && chown onestop /data
USER onestop

# Each service binds all interfaces inside its container; compose publishes the ports on loopback only.
ENV INGEST_HOST=0.0.0.0 API_HOST=0.0.0.0 AGGREGATOR_WEB_HOST=0.0.0.0 AGGREGATOR_DATA_DIR=/data
CMD ["python", "-m", "services.api"]
