"""Sending an event stream without letting a client hold the server's memory.

A stream's frames are made lazily and handed to the server in pieces of at most `max_bytes`; the
server takes the next piece only once the connection's write buffer has drained below its
high-water mark (64 KiB), so a client has at most about `max_bytes` + 64 KiB waiting for it in this
process, however much there is to send. A client that takes nothing for `write_timeout_s` (it does
not read, or reads too slowly to take one piece in that time) is disconnected.

Disconnecting needs the connection's transport: ASGI has no message for it, and letting the server
close the connection waits for the unread bytes to be sent, forever for a client that never reads.
`ExposeAbort` puts the abort of uvicorn's transport into the scope; without it the stream only ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ABORT = "onestop.abort"  # the scope key ExposeAbort sets: closes the connection, dropping unsent bytes


def pieces(frames: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """The frames' bytes, concatenated and cut into pieces of at most `max_bytes`; frames are made
    only as the pieces are taken."""
    pending = bytearray()
    for frame in frames:
        pending += frame
        while len(pending) >= max_bytes:
            yield bytes(pending[:max_bytes])
            del pending[:max_bytes]
    if pending:
        yield bytes(pending)


class EventStreamResponse(StreamingResponse):
    """A streaming response whose every write must complete within `write_timeout_s`; past it the
    connection is aborted and `on_drop` is called."""

    def __init__(self, content: AsyncGenerator[bytes, None], write_timeout_s: float,
                 on_drop: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.content = content
        self.write_timeout_s = write_timeout_s
        self.on_drop = on_drop
        self.abort: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.abort = scope.get(ABORT)
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # aclosing: the stream's own clean-up runs at once, whichever way it ends.
        async with contextlib.aclosing(self.content):
            async for piece in self.content:
                try:
                    async with asyncio.timeout(self.write_timeout_s):
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
                except TimeoutError:
                    self.on_drop()
                    if self.abort is not None:
                        self.abort()
                    return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class ExposeAbort:
    """Outermost ASGI layer: the abort of the connection's transport in the scope, taken from uvicorn's
    `send` (a method of its request cycle, which holds the transport); other servers get no entry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        abort = getattr(getattr(getattr(send, "__self__", None), "transport", None), "abort", None)
        if callable(abort):
            scope[ABORT] = abort
        await self.app(scope, receive, send)
