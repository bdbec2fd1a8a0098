"""How the HTTP services run uvicorn: header size and read deadlines enforced while reading, proxies.

uvicorn's httptools protocol has no limit on a request's head (httptools gathers a header value in
memory until it ends: a 200 MB header took 40 s and ~230 MB) and no deadline on a head or a body;
it also believes X-Forwarded-For from 127.0.0.1. `server_options` gives uvicorn a subclass of that
protocol which adds, per connection:

- a head (request line and headers) over `max_header_bytes` is refused with 431 as soon as it is
  known to be, before the parser is fed past the limit;
- a head must be complete `header_timeout_s` after the connection opens (or a kept-alive request
  starts), else 408, or a silent close when nothing of it came;
- a body the application has answered without reading is discarded only until `body_timeout_s`
  after the head, then the connection is closed (uvicorn would go on discarding it for ever, each
  byte putting off its keep-alive timeout). Deadlines on bodies being read are `request_body.py`'s.

The subclass relies on uvicorn's httptools protocol callbacks (on_message_begin, on_headers_complete,
on_message_complete, on_response_complete); tests/integration/common/test_http_limits.py exercises each
over sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.http_security import BASE_HEADERS, DATA_CSP
from services.common.http_settings import HttpServerSettings

log = logging.getLogger(__name__)

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
# After a refusal, what the client still sends is read and dropped this long, rather than closing on
# it at once: closing a socket with unread bytes sends a reset, which can destroy the answer before
# the client has read it.
LINGER_S = 2.0


@dataclass(frozen=True)
class ReadLimits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded head and deadlines (see the module's text)."""

    limits: ReadLimits  # set on the subclass `server_options` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_pending = True  # the next bytes belong to a request's head
        self._head_bytes = 0
        self._body_deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._head_pending:
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                # Feed only what the limit allows: if the head ends in it, the rest is body.
                super().data_received(data[:room])
                if self.transport.is_closing():
                    return
                if self._head_pending:
                    self._refuse(431, "headers_too_large", "the request line and headers are over "
                                 f"{self.limits.max_header_bytes} bytes")
                    return
                data = data[room:]
            else:
                self._head_bytes += len(data)
        super().data_received(data)

    # -- httptools parser callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._timer is None:  # a kept-alive connection's next request: its head's clock starts now
            self._arm(self.limits.header_timeout_s, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_pending = False
        self._body_deadline = self.loop.time() + self.limits.body_timeout_s
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # a body being discarded has ended in time
        self._head_pending = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Answered while its body is still coming: nobody will read the rest, so stop at the deadline.
        if not self.transport.is_closing() and self.cycle.response_complete and not self._head_pending:
            self._arm(max(0.0, self._body_deadline - self.loop.time()), self.transport.close)

    # -- the refusals ----------------------------------------------------------------------------

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._head_bytes:
            self._refuse(408, "header_timeout", f"the request's headers took over "
                         f"{self.limits.header_timeout_s:g} s")
        else:
            self.transport.close()  # an idle connection: nobody to answer

    def _refuse(self, status: int, code: str, message: str) -> None:
        log.warning("refused a request from %s: %s", self.client[0] if self.client else "unknown", message)
        body = orjson.dumps({"error": code, "message": message})
        head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status]),
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n" % len(body)]
        head += [name + b": " + value + b"\r\n" for name, value in (*BASE_HEADERS, DATA_CSP)]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then the end; it closes, or we do
        self._arm(LINGER_S, self.transport.close)

    def _arm(self, delay: float, callback: Callable[[], object]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def server_options(settings: HttpServerSettings) -> dict[str, Any]:
    """uvicorn keyword arguments that apply `settings`: the protocol, proxies, no websockets."""
    limits = ReadLimits(settings.max_header_bytes, settings.header_timeout_s, settings.body_timeout_s)
    protocol = type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
    trusted = list(settings.trusted_proxies)
    return {
        "http": protocol,
        # No service has a websocket route; an upgraded connection would leave the protocol above.
        "ws": "none",
        # uvicorn's default trusts X-Forwarded-For from 127.0.0.1: off unless proxies are named.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,
    }
