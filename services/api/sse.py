"""Sending an event stream without letting a client hold the server's memory.

A stream's frames are made lazily and handed to the server in pieces of at most `max_bytes`; the
server takes the next piece only once the connection's write buffer has drained below its
high-water mark (64 KiB), so a client has at most about `max_bytes` + 64 KiB waiting for it in this
process, however much there is to send. A client that takes nothing for `write_timeout_s` (it does
not read, or reads too slowly to take one piece in that time) is disconnected.

Disconnecting needs the connection's transport: ASGI has no message for it, and letting the server
close the connection waits for the unread bytes to be sent, forever for a client that never reads.
`ExposeAbort` puts the abort of uvicorn's transport into the scope; without it the stream only ends.

One change goes to every connected client at once (2,000 on a replica: docs/benchmarks.md), so what
a piece costs is paid that many times. The middleware see the response's start (its status and
headers, which they count and add to); its body pieces go to the server's own `send`, also from
the scope: none of the middleware looks at a body, and their layers cost a coroutine call each per
piece per client. A piece is written under the write deadline only when the write could wait: while
the transport holds no more than its low-water mark, the server's `send` cannot be paused (its flow
control resumes at that mark), and a timer per piece per client would cost more than the write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The scope keys ExposeAbort sets: the abort of the connection (closes it, dropping unsent bytes), its
# transport, and the server's own `send`, beneath every middleware.
ABORT = "onestop.abort"
TRANSPORT = "onestop.transport"
SERVER_SEND = "onestop.server_send"


def pieces(frames: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """The frames' bytes, concatenated and cut into pieces of at most `max_bytes`; frames are made
    only as the pieces are taken. A lone frame under `max_bytes` (a live change, shared by every
    stream: routes/stream.py) is handed on as it is, not copied for each stream."""
    pending = bytearray()
    held: bytes | None = None  # the first frame, while it is all there is
    for frame in frames:
        if not frame:
            continue
        if held is None and not pending and len(frame) < max_bytes:
            held = frame
            continue
        if held is not None:
            pending += held
            held = None
        pending += frame
        while len(pending) >= max_bytes:
            yield bytes(pending[:max_bytes])
            del pending[:max_bytes]
    if held is not None:
        yield held
    elif pending:
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
        self.transport: Any = None  # asyncio's or uvloop's
        self.server_send: Send | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.abort = scope.get(ABORT)
        self.transport = scope.get(TRANSPORT)
        self.server_send = scope.get(SERVER_SEND)
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body_send = self.server_send or send
        # aclosing: the stream's own clean-up runs at once, whichever way it ends.
        async with contextlib.aclosing(self.content):
            async for piece in self.content:
                message = {"type": "http.response.body", "body": piece, "more_body": True}
                if self._cannot_wait():
                    await body_send(message)
                    continue
                try:
                    async with asyncio.timeout(self.write_timeout_s):
                        await body_send(message)
                except TimeoutError:
                    self.on_drop()
                    if self.abort is not None:
                        self.abort()
                    return
        await body_send({"type": "http.response.body", "body": b"", "more_body": False})

    def _cannot_wait(self) -> bool:
        """Whether the server's send takes the next piece at once: its transport is at or under its
        low-water mark. Unknown (no transport, or not the server's own send) counts as could wait."""
        transport = self.transport
        if transport is None or self.server_send is None:
            return False
        return transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]


class ExposeAbort:
    """Outermost ASGI layer: the connection's transport and its abort, and the server's own `send`, in
    the scope, taken from uvicorn's `send` (a method of its request cycle, which holds the transport);
    other servers get no entries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        abort = getattr(transport, "abort", None)
        if callable(abort):
            scope[ABORT] = abort
            # asyncio's or uvloop's (which is no asyncio.WriteTransport, but has its methods).
            if all(callable(getattr(transport, name, None))
                   for name in ("get_write_buffer_size", "get_write_buffer_limits")):
                scope[TRANSPORT] = transport
                scope[SERVER_SEND] = send
        await self.app(scope, receive, send)
