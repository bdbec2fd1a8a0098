"""Changes of figures for the live stream: coalesced per unit, numbered, kept in a bounded ring.

A unit changes at most once per `coalesce_s` on the stream: its first change goes out at once,
later ones within the interval wait and only the latest is sent when the interval ends. Each
change sent gets the next sequence number; the last `capacity` changes are kept so that a client
reconnecting with Last-Event-ID gets the ones it missed. Event ids are `<epoch>-<seq>`: a
sequence number means nothing to another process (a restarted or different replica), and the epoch
lets us tell, and send that client a fresh snapshot instead of a wrong replay.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TICK_S = 0.05  # how often delayed changes are looked at: small against the 0.5 s interval
# A stream's wait for a change ends at the latest on this grid after its deadline (its next
# heartbeat): waits that end in the same slot share one event, which the feed's tick sets, instead
# of a timer each. With 2,000 streams, a timer per stream per change cost as much as writing it.
WAIT_SLOT_S = 0.25


# ASCII digits, and few enough for int(): str.isdigit() also passes "²", which int() refuses, and
# Python refuses to convert over 4,300 digits (both were a 500 for a client's Last-Event-ID).
_SEQ = re.compile(r"[0-9]{1,18}")


@dataclass(slots=True)
class Change:
    seq: int
    unit_code: str
    record: dict[str, Any] | None  # None: the unit's figures were removed
    # Its event as sent, encoded by the first stream that sends it: every other stream sends these
    # same bytes (services/api/routes/stream.py), so a change is encoded once, not once per client.
    frame: bytes | None = None


class ChangeFeed:
    def __init__(self, coalesce_s: float, capacity: int, clock: Callable[[], float] = time.monotonic,
                 epoch: str | None = None) -> None:
        self.coalesce_s = coalesce_s
        self.clock = clock
        self.epoch = epoch or f"{time.time_ns() // 1000:x}"
        self.ring: deque[Change] = deque(maxlen=capacity)
        self.seq = 0
        self._last_sent: dict[str, float] = {}
        self._pending: dict[str, dict[str, Any] | None] = {}
        # Waiting streams by the slot (of WAIT_SLOT_S) their wait ends in at the latest; a change
        # wakes them all.
        self._waits: dict[int, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def parse_id(self, event_id: str | None) -> int | None:
        """The sequence number of one of our ids, else None (absent, malformed, or another epoch's)."""
        epoch, _, seq = (event_id or "").strip().rpartition("-")
        if epoch != self.epoch or not _SEQ.fullmatch(seq) or int(seq) > self.seq:
            return None
        return int(seq)

    def offer(self, unit_code: str, record: dict[str, Any] | None) -> None:
        """A unit's new figures (the view's listener)."""
        now = self.clock()
        if unit_code not in self._pending and now - self._last_sent.get(unit_code, -1e18) >= self.coalesce_s:
            self._send(unit_code, record, now)
        else:
            self._pending[unit_code] = record

    def flush_due(self) -> None:
        """Send the delayed changes whose interval has ended."""
        now = self.clock()
        due = [u for u in self._pending if now - self._last_sent.get(u, -1e18) >= self.coalesce_s]
        for unit_code in due:
            self._send(unit_code, self._pending.pop(unit_code), now)

    def since(self, seq: int) -> list[Change] | None:
        """The changes after `seq`, or None when some of them are no longer kept."""
        if seq >= self.seq:
            return []
        if not self.ring or self.ring[0].seq > seq + 1:
            return None
        start = seq + 1 - self.ring[0].seq
        return [self.ring[i] for i in range(start, len(self.ring))]

    async def wait_after(self, seq: int, wait_s: float) -> None:
        """Return when a change after `seq` exists, or after `wait_s` seconds, rounded up to the next
        WAIT_SLOT_S (plus up to a TICK_S: the feed's task ends the waits, so it must be started)."""
        if self.seq > seq or wait_s <= 0:
            return
        slot = math.ceil((self.clock() + wait_s) / WAIT_SLOT_S)
        event = self._waits.get(slot)
        if event is None:
            event = self._waits[slot] = asyncio.Event()
        await event.wait()

    def end_waits(self) -> None:
        """End the waits whose slot has begun."""
        now = math.floor(self.clock() / WAIT_SLOT_S)
        for slot in [slot for slot in self._waits if slot <= now]:
            self._waits.pop(slot).set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick(), name="change feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.flush_due()
            self.end_waits()

    def _send(self, unit_code: str, record: dict[str, Any] | None, now: float) -> None:
        self.seq += 1
        self.ring.append(Change(self.seq, unit_code, record))
        self._last_sent[unit_code] = now
        # Wake every waiting stream at once; each waits again on a fresh event.
        waits, self._waits = self._waits, {}
        for event in waits.values():
            event.set()
