"""The replay's progress on stderr: bytes done of the file, events per second, time left.

On a terminal one line rewritten in place, a few times a second; otherwise (a log, a CI job) a line
every few seconds. Rates and the ETA are over this run only, so a resumed replay does not count the
bytes an earlier run did as if they had been done in no time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

TTY_EVERY_S = 0.25
LOG_EVERY_S = 5.0


def size_text(n: float) -> str:
    """Bytes as B, kB, MB or GB (powers of 1000: what `ls -h --si` and disks say)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def duration_text(seconds: float) -> str:
    """`h:mm:ss`, or `m:ss` under an hour."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(done: int, total: int, events: int, run_bytes: int, run_events: int,
                  elapsed_s: float) -> str:
    """One progress line: `done` of `total` bytes, `events` produced in all; `run_bytes` and
    `run_events` of them in this run, over `elapsed_s` seconds, give the rates and the ETA."""
    share = done / total if total else 1.0
    rate = run_events / elapsed_s if elapsed_s > 0 else 0.0
    byte_rate = run_bytes / elapsed_s if elapsed_s > 0 else 0.0
    left = total - done
    if left <= 0:
        eta = "0:00"
    elif byte_rate > 0:
        eta = duration_text(left / byte_rate)
    else:
        eta = "?"
    return (f"{size_text(done)} / {size_text(total)} ({share:.1%})  {events:,} events  "
            f"{rate:,.0f} events/s  ETA {eta}")


class ProgressReporter:
    """Writes `progress_line`s to `stream`, at most one every TTY_EVERY_S on a terminal (in place)
    or every LOG_EVERY_S otherwise."""

    def __init__(self, total: int, start_bytes: int, start_events: int, stream: TextIO = sys.stderr,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.start_bytes = start_bytes
        self.start_events = start_events
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self.every = TTY_EVERY_S if self.tty else LOG_EVERY_S
        self.last_shown = self.started
        self.shown_in_place = False

    def line(self, done: int, events: int) -> str:
        return progress_line(done, self.total, events, done - self.start_bytes, events - self.start_events,
                             self.clock() - self.started)

    def update(self, done: int, events: int, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last_shown < self.every:
            return
        self.last_shown = now
        if self.tty:
            self.stream.write("\r" + self.line(done, events) + "\x1b[K")
            self.shown_in_place = True
        else:
            self.stream.write(self.line(done, events) + "\n")
        self.stream.flush()

    def finish(self, done: int, events: int) -> None:
        """The last line, and on a terminal the newline that leaves it in place."""
        self.update(done, events, force=True)
        if self.tty and self.shown_in_place:
            self.stream.write("\n")
            self.stream.flush()
