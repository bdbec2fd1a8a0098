"""`python -m services.api`: run the read API (settings from API_* and KAFKA_*)."""

from __future__ import annotations

import logging

import uvicorn

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.server_limits import server_options


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ApiSettings()
    # Open streams never end by themselves: give them a short grace, then close them.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, timeout_graceful_shutdown=3,
                **server_options(settings))


if __name__ == "__main__":
    main()
