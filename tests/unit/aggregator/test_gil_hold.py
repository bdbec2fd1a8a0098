"""The agent's thread keeps the GIL ten times Python's default behind a backlog, and Python's
default live, following the agent's state as it changes."""

from __future__ import annotations

import sys

import pytest

from services.aggregator.gil_hold import BEHIND_S, LIVE_S, GilHold


def test_the_hold_follows_the_agents_state() -> None:
    behind = [False]
    set_to: list[float] = []
    hold = GilHold(lambda: behind[0], set_to.append)
    hold.follow()
    behind[0] = True
    hold.follow()
    hold.follow()  # unchanged: not set again
    behind[0] = False
    hold.follow()
    assert set_to == [LIVE_S, BEHIND_S, LIVE_S]
    assert LIVE_S == 0.005  # Python's default
    assert BEHIND_S >= 10 * LIVE_S


def test_it_sets_pythons_switch_interval() -> None:
    default = sys.getswitchinterval()
    try:
        GilHold(lambda: True).follow()
        assert sys.getswitchinterval() == pytest.approx(BEHIND_S)  # kept in microseconds
    finally:
        sys.setswitchinterval(default)
