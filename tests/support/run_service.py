"""`python -m tests.support.run_service ingest|api`: a service's own entry point, with Kafka stood in for.

Everything else is the deployed path: settings from the environment, the entry point's uvicorn
options, the real application. Ingest writes to a FakeWriter; the API's Kafka runtime does not
start (the admin checks, limits and body reading under test come before any Kafka access).
"""

from __future__ import annotations

import sys
from typing import Any


def main(service: str) -> None:
    if service == "ingest":
        import services.ingest.app as ingest_app
        from services.ingest.__main__ import main as run
        from tests.support.ingest import FakeWriter

        def fake_writer(*_: Any) -> FakeWriter:
            return FakeWriter()

        ingest_app.TransactionalWriter = fake_writer  # type: ignore[assignment,misc]
    else:
        from services.api.__main__ import main as run
        from services.api.runtime import Runtime

        async def nothing(_: Runtime) -> None:
            return None

        Runtime.start = nothing  # type: ignore[method-assign,assignment]
        Runtime.stop = nothing  # type: ignore[method-assign,assignment]
    run()


if __name__ == "__main__":
    main(sys.argv[1])
