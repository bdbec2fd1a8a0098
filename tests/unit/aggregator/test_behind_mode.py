"""Behind a backlog the agent's thread keeps the GIL ten times Python's default and the changelogs
go uncompressed; live, Python's default and lz4: following the agent's state as it changes."""

from __future__ import annotations

import sys

import pytest

from services.aggregator.behind_mode import BEHIND_S, LIVE_S, BehindMode


def test_the_mode_follows_the_agents_state() -> None:
    behind = [False]
    holds: list[float] = []
    compressed: list[bool] = []
    mode = BehindMode(lambda: behind[0], compressed.append, holds.append)
    mode.follow()
    behind[0] = True
    mode.follow()
    mode.follow()  # unchanged: not set again
    behind[0] = False
    mode.follow()
    assert holds == [LIVE_S, BEHIND_S, LIVE_S]
    assert compressed == [True, False, True]
    assert LIVE_S == 0.005  # Python's default
    assert BEHIND_S >= 10 * LIVE_S


def test_it_sets_pythons_switch_interval() -> None:
    default = sys.getswitchinterval()
    try:
        BehindMode(lambda: True).follow()
        assert sys.getswitchinterval() == pytest.approx(BEHIND_S)  # kept in microseconds
    finally:
        sys.setswitchinterval(default)
