"""The worker process's set-up. Its logging: the level it is given is the root logger's, so that
aiokafka's and Faust's debug calls cost nothing (Faust's terminal spinner would set the root to
DEBUG at warn and above). Its threads: the agent's keeps the GIL longer than Python's default."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import faust
import pytest

from services.aggregator.__main__ import SWITCH_INTERVAL_S, favour_the_agent_thread, make_worker


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


def test_the_agent_thread_keeps_the_gil_longer_than_pythons_default() -> None:
    default = sys.getswitchinterval()
    try:
        favour_the_agent_thread()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
        assert SWITCH_INTERVAL_S >= 10 * 0.005  # ten times Python's default at least
    finally:
        sys.setswitchinterval(default)
