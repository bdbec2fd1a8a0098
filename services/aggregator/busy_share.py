"""How much of the worker's time the agent spends applying packs: the sign that it is behind.

Live, a worker applies in bursts a few percent of its time; behind a backlog (a replay, a restart)
it applies nearly all the time, and what else it does (publishing) comes out of what it can apply.
The share is measured over windows of about a second: the last whole window's is the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

WINDOW_S = 1.0
# At this share or more, two windows running, or at BUSY_BEHIND_SHARE in one, the agent is behind:
# publishing holds back (publisher.py), and the agent's thread keeps the GIL longer (behind_mode.py).
# Live at 2,000 events/s on two cores the share is 0.2-0.3, and now and then, after a pause, one
# window passes 0.5: each such second had held the figures back (a p99 of 875 ms in its 5 s).
# A backlog's share is near 1 from its first window (and a large batch of packs says so sooner,
# pack_stream.py).
BEHIND_SHARE = 0.5
BUSY_BEHIND_SHARE = 0.75


class BusyShare:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S) -> None:
        self.clock = clock
        self.window_s = window_s
        self._window_start = clock()
        self._busy = 0.0  # seconds busy in the current window
        self._last_share = 0.0
        self._share_before = 0.0  # of the window before the last

    @contextmanager
    def busy(self) -> Iterator[None]:
        began = self.clock()
        try:
            yield
        finally:
            ended = self.clock()
            self._busy += ended - began
            if ended - self._window_start >= self.window_s:
                self._share_before = self._last_share
                self._last_share = self._busy / (ended - self._window_start)
                self._window_start, self._busy = ended, 0.0

    def share(self) -> float:
        """The share of the last whole window spent busy (0 once a window passes with no work)."""
        if self._idle():
            return 0.0
        return min(1.0, self._last_share)

    def behind(self) -> bool:
        """Whether the last two whole windows were both busy `BEHIND_SHARE` of their time or more,
        or the last one `BUSY_BEHIND_SHARE`."""
        if self._idle():
            return False
        return self._last_share >= BUSY_BEHIND_SHARE or \
            min(self._last_share, self._share_before) >= BEHIND_SHARE

    def _idle(self) -> bool:
        return self.clock() - self._window_start >= 2 * self.window_s  # nothing ended a window since
