"""Every request body capped and read within a deadline, whatever route reads it: one ASGI middleware.

- A declared Content-Length over the cap is answered 413 at once; the application is not called.
- Otherwise the application's reads are counted as they come: past the cap, 413; the body not
  complete `timeout_s` after the request reached the application, 408; the client gone before the
  end of it, 499 (nginx's "client closed request"): the client's doing, so a 4xx in the metrics,
  neither logged as an error nor a 5xx for the alerts.

The refusals are raised from `receive`, so inside the route, as `BodyRefused`: an `HTTPException`,
because FastAPI turns any other exception met while parsing a body parameter into its own 400, with
a handler of its own that answers in the shared error shape. Nothing here decides who may send a
body: routes check keys and rate limits before reading one.

A route family with an answer shape of its own (the national portal's sync answers `{"error_code",
"message"}`) names it by path prefix: the refusal, at once or mid-body, is then answered in that
shape; the bound is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.http_errors import json_response

CLIENT_CLOSED = 499


class BodyRefused(HTTPException):
    """A body over the cap (413), too slow (408), or abandoned by its client (499)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code
        self.message = message


Answer = Callable[[BodyRefused], Response]


def install_body_guard(app: FastAPI, max_bytes: int, timeout_s: float,
                       answers: Mapping[str, Answer] | None = None) -> None:
    """Add the middleware (call it before the middlewares that should see its answers) and the
    handler of its refusals; `answers`: path prefix → the answer of a refusal there (default: the
    shared shape)."""
    shapes = dict(answers or {})
    app.add_middleware(BodyGuard, max_bytes=max_bytes, timeout_s=timeout_s, answers=shapes)

    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyRefused)
        return answer_for(shapes, request.url.path)(exc)

    app.add_exception_handler(BodyRefused, on_refused)


def shared_answer(exc: BodyRefused) -> Response:
    return json_response(exc.status_code, {"error": exc.code, "message": exc.message})


def answer_for(answers: Mapping[str, Answer], path: str) -> Answer:
    return next((answer for prefix, answer in answers.items() if path.startswith(prefix)), shared_answer)


class BodyGuard:
    """ASGI middleware: request bodies of at most `max_bytes`, complete within `timeout_s`."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float,
                 answers: Mapping[str, Answer] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.answers = dict(answers or {})

    def too_large(self) -> BodyRefused:
        return BodyRefused(413, "too_large", f"the body is over {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await answer_for(self.answers, scope["path"])(self.too_large())(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        received = 0
        complete = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()  # only the disconnect is left, which a stream waits for
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyRefused(408, "body_timeout", f"the body took over {self.timeout_s:g} s") from None
            if message["type"] == "http.disconnect":
                raise BodyRefused(CLIENT_CLOSED, "client_closed", "the client closed the connection "
                                  "before the end of the body")
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self.too_large()
            complete = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
