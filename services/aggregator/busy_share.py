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
# At this share or more the agent is behind: publishing holds back (publisher.py), and the agent's
# thread keeps the GIL longer (gil_hold.py).
BEHIND_SHARE = 0.5


class BusyShare:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S) -> None:
        self.clock = clock
        self.window_s = window_s
        self._window_start = clock()
        self._busy = 0.0  # seconds busy in the current window
        self._last_share = 0.0

    @contextmanager
    def busy(self) -> Iterator[None]:
        began = self.clock()
        try:
            yield
        finally:
            ended = self.clock()
            self._busy += ended - began
            if ended - self._window_start >= self.window_s:
                self._last_share = self._busy / (ended - self._window_start)
                self._window_start, self._busy = ended, 0.0

    def share(self) -> float:
        """The share of the last whole window spent busy (0 once a window passes with no work)."""
        if self.clock() - self._window_start >= 2 * self.window_s:
            return 0.0  # nothing ended a window since: idle
        return min(1.0, self._last_share)
