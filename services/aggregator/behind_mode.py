"""What the worker does differently behind a backlog than live, switched as `PackStream.behind`
changes (after each batch of packs, and by a timer when none come).

- **How long the agent's thread keeps the GIL** when Faust's consumer thread asks for it: 50 ms
  behind, Python's 5 ms live. Behind, that thread only fetches packs ahead of what the agent can
  apply; at 5 ms it took the GIL back every few milliseconds, and the agent's thread slept about a
  tenth of a busy run waiting for it (counted with `perf sched`: 428 ms asleep in 4 s, 146 ms at
  50 ms). Live, it hands over each new pack as it comes, and a pack waits for the GIL whenever the
  agent's thread is busy (a publishing round): at 50 ms, the time from a pack sent to the agent
  taking it had a p99 of 275 ms, at 5 ms 185 ms.
- **How the producers batch**: live, the changelogs and the published records go compressed with
  lz4 (a unit's changelog record, its day rows and pending filings, tens of kilobytes written
  about once a second, halves; a figures record is eight times smaller), and a publishing round's
  records of a partition share a batch of up to 1 MiB (with aiokafka's 16 KiB a figures record
  fills a batch alone, and a send to a partition whose batch is full waits until it has gone to
  the broker: a round took 136 ms at the median, not 8); at 2,000 events/s the freshness p99 went
  from about 0.75 s to 0.41 s with these. Behind, neither: batched the live way, a short catch-up
  (bench/aggregator_bench.py) ran at 0.15-0.20 of the ceiling, 0.17 with the changelogs'
  compression alone; batched as aiokafka does by default, at 0.26, as before there was a live way.

Measured with bench/freshness_bench.py and bench/aggregator_bench.py (docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from services.aggregator.faust_adapter import app_producer, set_batch_size, set_lz4

BEHIND_S = 0.05
LIVE_S = 0.005  # Python's default
PUBLISH_BATCH_LIVE = 1024 * 1024
PUBLISH_BATCH_BEHIND = 16 * 1024  # aiokafka's default


class LiveBatching:
    """Switches the changelogs' compression (`TableWriter.compress`) and the publishing producer's
    codec and batch size between live and behind."""

    def __init__(self, compress_changelogs: Callable[[bool], None],
                 publishing: Callable[[], AIOKafkaProducer | None]) -> None:
        self.compress_changelogs = compress_changelogs
        self.publishing = publishing

    def __call__(self, live: bool) -> None:
        self.compress_changelogs(live)
        producer = self.publishing()
        if producer is not None:  # not started yet: its first batches are made as app.py sets
            set_lz4(producer, live)
            set_batch_size(producer, PUBLISH_BATCH_LIVE if live else PUBLISH_BATCH_BEHIND)

    @classmethod
    def of(cls, writer: Any, app: Any) -> LiveBatching:
        return cls(writer.compress, lambda: app_producer(app))


class BehindMode:
    def __init__(self, behind: Callable[[], bool],
                 batch_live: Callable[[bool], None] = lambda live: None,
                 set_gil_hold: Callable[[float], None] = sys.setswitchinterval) -> None:
        self.behind = behind  # whether the agent is behind a backlog (pack_stream.py)
        self.batch_live = batch_live  # (LiveBatching)
        self.set_gil_hold = set_gil_hold
        self.is_behind: bool | None = None  # as last set

    def follow(self) -> None:
        """Set what the agent's state calls for, if it changed."""
        behind = self.behind()
        if behind != self.is_behind:
            self.set_gil_hold(BEHIND_S if behind else LIVE_S)
            self.batch_live(not behind)
            self.is_behind = behind
