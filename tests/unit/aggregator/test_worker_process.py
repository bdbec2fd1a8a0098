"""The worker process's logging: the level it is given is the root logger's, so that aiokafka's and
Faust's debug calls cost nothing (Faust's terminal spinner would set the root to DEBUG at warn and
above)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from services.aggregator.__main__ import make_worker


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.parametrize(("name", "level"), [("warn", logging.WARNING), ("error", logging.ERROR),
                                             ("info", logging.INFO)])
def test_the_root_logger_keeps_the_workers_level(root_logging: None, name: str, level: int) -> None:
    app = faust.App("logging-test", broker="kafka://127.0.0.1:1")
    worker = make_worker(app, name)
    worker._setup_logging()
    assert logging.getLogger().level == level
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)

