"""What every HTTP service bounds before its routes run: header size, read deadlines, trusted proxies.

A base for each service's settings object, so each reads them under its own prefix (`INGEST_*`,
`API_*`); `server_limits.py` applies them to uvicorn, `request_body.py` to the request body.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

KIB = 1024


class HttpServerSettings(BaseSettings):
    # The request line and headers together. Ours are under 2 KiB (a bearer key, a content type); a
    # browser on a shared host may add cookies, hence nginx's default maximum rather than Node's
    # 16 KiB. Over it: 431 and the connection closed, before the head is parsed any further.
    max_header_bytes: int = Field(default=32 * KIB, ge=KIB)
    # From a connection's opening (or a kept-alive request's first byte) to the end of its headers.
    # A head is one packet on any working link; 10 s leaves room for three lost packets' TCP
    # retransmissions. Over it: 408 and the connection closed, so a slow sender holds no connection.
    header_timeout_s: float = Field(default=10.0, gt=0)
    # From the end of the headers to the end of the body. 30 s takes ingest's largest body (5 MiB)
    # at 1.4 Mbit/s; a client slower than that gets 408. A body the service did not read (it refused
    # the request first) is discarded only until this deadline, then the connection is closed.
    body_timeout_s: float = Field(default=30.0, gt=0)
    # Addresses (or networks, e.g. "10.0.0.0/8") of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. None by default: anyone can write those headers, and the API's
    # admin rate limit counts per client address.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                # uvicorn would also take "*", i.e. trust anyone: that is what this setting prevents.
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value
