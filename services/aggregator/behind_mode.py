"""What the worker does differently behind a backlog than live, switched as `PackStream.behind`
changes (after each batch of packs, and by a timer when none come).

- **How long the agent's thread keeps the GIL** when Faust's consumer thread asks for it: 50 ms
  behind, Python's 5 ms live. Behind, that thread only fetches packs ahead of what the agent can
  apply; at 5 ms it took the GIL back every few milliseconds, and the agent's thread slept about a
  tenth of a busy run waiting for it (counted with `perf sched`: 428 ms asleep in 4 s, 146 ms at
  50 ms). Live, it hands over each new pack as it comes, and a pack waits for the GIL whenever the
  agent's thread is busy (a publishing round): at 50 ms, the time from a pack sent to the agent
  taking it had a p99 of 275 ms, at 5 ms 185 ms.
- **Whether the changelogs are compressed** (lz4): live, yes: a unit's record (its day rows and
  pending filings, tens of kilobytes, written about once a second) halves, and at 2,000 events/s
  the freshness p99 went from 535 to 404 ms; behind, no: compressing a catch-up's filing records
  cut its throughput by a third (bench/aggregator_bench.py, 0.24 to 0.17 of the ceiling).

Measured with bench/freshness_bench.py and bench/aggregator_bench.py (docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

BEHIND_S = 0.05
LIVE_S = 0.005  # Python's default


class BehindMode:
    def __init__(self, behind: Callable[[], bool],
                 compress_changelogs: Callable[[bool], None] = lambda on: None,
                 set_gil_hold: Callable[[float], None] = sys.setswitchinterval) -> None:
        self.behind = behind  # whether the agent is behind a backlog (pack_stream.py)
        self.compress_changelogs = compress_changelogs
        self.set_gil_hold = set_gil_hold
        self.is_behind: bool | None = None  # as last set

    def follow(self) -> None:
        """Set what the agent's state calls for, if it changed."""
        behind = self.behind()
        if behind != self.is_behind:
            self.set_gil_hold(BEHIND_S if behind else LIVE_S)
            self.compress_changelogs(not behind)
            self.is_behind = behind
