"""`python -m services.ingest`: run the ingest service (settings from INGEST_* and KAFKA_*)."""

from __future__ import annotations

import logging

import uvicorn

from services.common.server_limits import server_options
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = IngestSettings()
    try:
        app = create_app(settings)
    except (OSError, ValueError) as exc:
        # Refuse to start without usable keys or schemas, saying what to do rather than a traceback.
        log.error("cannot start: %s (keys file %s; create one with `python -m services.ingest.keys new "
                  "--units <codes> --file <path>`)", exc, settings.keys_file)
        raise SystemExit(2) from None
    uvicorn.run(app, host=settings.host, port=settings.port,
                # Let requests in flight get Kafka's answer before the producers stop.
                timeout_graceful_shutdown=int(settings.produce_timeout_s) + 5,
                **server_options(settings))


if __name__ == "__main__":
    main()
