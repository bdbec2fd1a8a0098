"""The agent's thread keeps the GIL ten times Python's default behind a backlog, and Python's
default live, following the applying share as it changes."""

from __future__ import annotations

import sys

import pytest

from services.aggregator.busy_share import BEHIND_SHARE
from services.aggregator.gil_hold import BEHIND_S, LIVE_S, GilHold


def test_the_hold_follows_the_applying_share() -> None:
    share = [0.0]
    set_to: list[float] = []
    hold = GilHold(lambda: share[0], set_to.append)
    hold.follow()
    share[0] = BEHIND_SHARE
    hold.follow()
    hold.follow()  # unchanged: not set again
    share[0] = BEHIND_SHARE - 0.01
    hold.follow()
    assert set_to == [LIVE_S, BEHIND_S, LIVE_S]
    assert LIVE_S == 0.005  # Python's default
    assert BEHIND_S >= 10 * LIVE_S


def test_it_sets_pythons_switch_interval() -> None:
    default = sys.getswitchinterval()
    try:
        GilHold(lambda: 1.0).follow()
        assert sys.getswitchinterval() == pytest.approx(BEHIND_S)  # kept in microseconds
    finally:
        sys.setswitchinterval(default)
