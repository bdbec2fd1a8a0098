"""Where a replay stands: the position file, written only after Kafka acknowledged everything before it.

The file is JSON: the replayed file's identity (path, size, a digest of its first MiB), the byte
offset and line number up to which every event is on Kafka, the counts at that point, how long the
rejects file was then, and whether the replay reached the end. It is replaced atomically (written
beside, fsynced, renamed), so a crash leaves the previous position or the new one, never half.

`Segments` is the bookkeeping between reading and acknowledging: the file is cut into segments of
lines, each with the Kafka deliveries of its records; a segment's end becomes the position once its
deliveries and those of every segment before it are acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

HEAD_BYTES = 1024 * 1024
VERSION = 1


class PositionRefused(Exception):
    """The position file does not allow this run (finished, for another file, or present without
    --resume or --restart); the message says what to do."""


@dataclass
class Counts:
    lines: int = 0  # lines read, blank ones not counted
    events: int = 0  # events produced to the topic
    refused: int = 0  # entries in the rejects file: events (ndjson), dossiers or whole lines (sync)
    taken: int = 0  # sync: dossiers and steps taken (a dossier not yet received is taken, gives no event)

    def copy(self) -> Counts:
        return Counts(**asdict(self))


@dataclass
class Identity:
    path: str
    size: int
    head_sha256: str

    @classmethod
    def of(cls, path: Path) -> Identity:
        with path.open("rb") as source:
            head = source.read(HEAD_BYTES)
        return cls(str(path.resolve()), path.stat().st_size, hashlib.sha256(head).hexdigest())


@dataclass
class Position:
    file: Identity
    format: str
    topic: str
    offset: int = 0  # bytes of the file whose events Kafka has acknowledged
    line: int = 0  # lines up to `offset`, blank ones included (the next line read is line + 1)
    rejects_bytes: int = 0  # length of the rejects file at `offset`
    counts: Counts = field(default_factory=Counts)
    finished: bool = False
    updated_at: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps({"version": VERSION, **asdict(self)}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> Position:
        raw: dict[str, Any] = orjson.loads(data)
        if raw.pop("version", None) != VERSION:
            raise ValueError("not a replay position file of this version")
        return cls(file=Identity(**raw.pop("file")), counts=Counts(**raw.pop("counts")), **raw)


def save(position: Position, path: Path) -> None:
    """Write `position` to `path` atomically and durably."""
    position.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(position.to_json() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: Path) -> Position | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Position.from_json(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise PositionRefused(f"{path} is not a replay position file ({exc}); remove it or give "
                              "another --position") from None


def starting_point(saved: Position | None, identity: Identity, fmt: str, topic: str, resume: bool,
                   restart: bool) -> Position:
    """Where this run starts: from the beginning, or from `saved` (with --resume). Refuses (with
    what to do) a finished replay, a position of another file, format or topic, and a position left
    by an earlier run when neither --resume nor --restart says what to do with it."""
    fresh = Position(identity, fmt, topic)
    if restart:
        return fresh
    if saved is None:
        if resume:
            raise PositionRefused("nothing to resume: no position file; run without --resume to start")
        return fresh
    if saved.finished:
        raise PositionRefused(f"{identity.path} was already replayed to its end ({saved.counts.events:,} "
                              f"events to {saved.topic}, {saved.updated_at}); --restart replays it again")
    if not resume:
        raise PositionRefused(f"a replay of {saved.file.path} stopped at line {saved.line:,} "
                              f"({saved.offset / max(saved.file.size, 1):.1%}); --resume continues it, "
                              "--restart starts again from the beginning")
    if (saved.file.size, saved.file.head_sha256) != (identity.size, identity.head_sha256):
        raise PositionRefused(f"the position is of another file, or {identity.path} changed since "
                              f"(then {saved.file.size:,} bytes, now {identity.size:,}); --restart starts "
                              "again from the beginning")
    if (saved.format, saved.topic) != (fmt, topic):
        raise PositionRefused(f"the position is of a replay as {saved.format} to {saved.topic}, not as "
                              f"{fmt} to {topic}; --restart starts again from the beginning")
    return saved


@dataclass
class Segment:
    """Lines up to `offset`/`line`, the counts and rejects length there, and the deliveries of
    their records."""

    offset: int
    line: int
    rejects_bytes: int
    counts: Counts
    deliveries: Sequence[asyncio.Future[Any]]

    def done(self) -> bool:
        return all(d.done() for d in self.deliveries)

    def check(self) -> None:
        """Raise the first delivery's failure, if one failed."""
        for delivery in self.deliveries:
            exc = delivery.exception()
            if exc is not None:
                raise exc


class Segments:
    """Segments in reading order, at most `limit` in flight; `acknowledged()` moves the position to
    the end of the longest run of acknowledged segments from the oldest one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending: deque[Segment] = deque()

    def add(self, segment: Segment) -> None:
        self.pending.append(segment)

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.limit

    def acknowledged(self) -> Segment | None:
        """The last segment of the acknowledged run from the oldest (removed), or None; raises a
        delivery's failure."""
        last = None
        while self.pending and self.pending[0].done():
            last = self.pending.popleft()
            last.check()
        return last

    async def wait_oldest(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending[0].deliveries, return_exceptions=True)
