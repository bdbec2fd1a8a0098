"""How long the agent's thread keeps the GIL when Faust's consumer thread asks for it: long behind a
backlog, Python's default when live.

Behind a backlog (a replay, a restart) the consumer thread only fetches packs ahead of what the
agent can apply; at Python's 5 ms it took the GIL back every few milliseconds, and the agent's
thread slept about a tenth of a busy run waiting for it (counted with `perf sched`: 428 ms asleep
in 4 s, 146 ms at 50 ms). Live, that thread hands over each new pack as it comes, and a pack waits
for the GIL whenever the agent's thread is busy (a publishing round): at 50 ms, the time from a
pack sent to the agent taking it had a p99 of 275 ms, and at 5 ms 185 ms; the freshness p99 at
2,000 events/s went from about 690 to 554 ms (bench/freshness_bench.py, docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

BEHIND_S = 0.05
LIVE_S = 0.005  # Python's default


class GilHold:
    def __init__(self, behind: Callable[[], bool],
                 set_interval: Callable[[float], None] = sys.setswitchinterval) -> None:
        self.behind = behind  # whether the agent is behind a backlog (busy_share.py)
        self.set_interval = set_interval
        self.held_s: float | None = None  # as last set

    def follow(self) -> None:
        """Set the hold that the agent's state calls for (after each batch of packs, and a timer)."""
        wanted = BEHIND_S if self.behind() else LIVE_S
        if wanted != self.held_s:
            self.set_interval(wanted)
            self.held_s = wanted
