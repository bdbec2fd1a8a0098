"""One keep-alive HTTP/1.1 connection, minimal, for load generators that share the machine with what
they measure: at hundreds of requests a second httpx's connection pool spends more CPU assigning
queued requests to connections than the server spends answering them, which would measure the
client. The answers must carry Content-Length (uvicorn's and aiohttp's do)."""

from __future__ import annotations

import asyncio


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The answer's status and body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in (headers or {}).items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    async def get(self, path: str) -> int:
        """The answer's status, its body read whole."""
        return (await self.request("GET", path))[0]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
