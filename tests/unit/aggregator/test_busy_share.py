"""BusyShare (services/aggregator/busy_share.py): the share of the last whole window spent busy, and
whether the last two were both busy enough to call the agent behind."""

from __future__ import annotations

import pytest

from services.aggregator.busy_share import BEHIND_SHARE, BUSY_BEHIND_SHARE, BusyShare


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def busy_for(share: BusyShare, clock: Clock, seconds: float) -> None:
    with share.busy():
        clock.now += seconds


def test_the_share_is_the_last_whole_windows_and_falls_to_zero_when_idle() -> None:
    clock = Clock()
    share = BusyShare(clock, window_s=1.0)
    assert share.share() == 0.0
    busy_for(share, clock, 0.3)
    clock.now += 0.4
    busy_for(share, clock, 0.3)  # ends the first window: 0.6 of 1.0 s busy
    assert share.share() == pytest.approx(0.6)
    busy_for(share, clock, 0.5)  # the window under way does not count yet
    assert share.share() == pytest.approx(0.6)
    busy_for(share, clock, 0.6)  # ends the second: 1.1 s busy of 1.1 s
    assert share.share() == pytest.approx(1.0)
    clock.now += 2.5  # no work for over two windows: idle
    assert share.share() == 0.0


def test_behind_takes_two_busy_windows_running_or_one_very_busy_and_ends_with_one_quiet_or_idle() -> None:
    clock = Clock()
    share = BusyShare(clock, window_s=1.0)
    busy_for(share, clock, 0.7)
    clock.now += 0.3
    busy_for(share, clock, 0.0)  # one window busy 0.7 of its time: a blip, not a backlog
    assert share.share() == pytest.approx(0.7) and not share.behind()
    busy_for(share, clock, BEHIND_SHARE)
    clock.now += 1.0 - BEHIND_SHARE
    busy_for(share, clock, 0.0)  # a second window ends at exactly the share
    assert share.behind()
    clock.now += 0.9
    busy_for(share, clock, 0.1)  # a quiet window
    assert not share.behind()
    busy_for(share, clock, BUSY_BEHIND_SHARE)
    clock.now += 1.0 - BUSY_BEHIND_SHARE
    busy_for(share, clock, 0.0)  # one window as busy as a backlog's first
    assert share.behind()
    clock.now += 2.5  # no work for over two windows: idle
    assert not share.behind()
