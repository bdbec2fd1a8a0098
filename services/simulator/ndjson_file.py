"""Write a feed to an NDJSON file, one line per delivered item, malformed lines included."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from services.simulator.delivery import Delivery
from services.simulator.tally import Tally

CHUNK = 4096  # lines per write: one syscall per chunk, not per line


def line_bytes(item: Delivery) -> bytes:
    payload = item.payload
    return payload if isinstance(payload, bytes) else orjson.dumps(payload)


def write_file(items: Iterable[Delivery], path: Path, limit: int | None = None,
               progress: Callable[[str], None] | None = None, every_s: float = 2.0) -> Tally:
    """Write up to `limit` lines of `items` to `path`; report progress every `every_s` seconds."""
    tally = Tally()
    started = last = time.monotonic()
    chunk: list[bytes] = []
    with path.open("wb") as out:
        for item in items:
            if limit is not None and tally.lines >= limit:
                break
            tally.add(item)
            chunk.append(line_bytes(item))
            if len(chunk) >= CHUNK:
                chunk.append(b"")  # so that the join ends with a newline
                out.write(b"\n".join(chunk))
                chunk.clear()
                now = time.monotonic()
                if progress is not None and now - last >= every_s:
                    progress(tally.progress(now - started))
                    last = now
        if chunk:
            chunk.append(b"")
            out.write(b"\n".join(chunk))
    return tally
