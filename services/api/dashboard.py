"""The dashboard page at `/`: static HTML, CSS and JS from `static/`, which read the JSON endpoints
and the stream like any other client, served with headers that keep the page safe."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).with_name("static")
ASSETS = "/dashboard"  # where the page's CSS, JS and icon are served

# Only files from this origin: no inline script or style (so injected markup cannot run), no
# framing (clickjacking), no referrer leaking unit codes to other sites. /docs has its own
# (services/common/docs_pages.py).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate each load (StaticFiles answers 304 by ETag), so a new release shows at once.
    "Cache-Control": "no-cache",
}


def is_dashboard(path: str) -> bool:
    return path == "/" or path.startswith(ASSETS + "/")


class DashboardHeaders:
    """ASGI middleware adding PAGE_HEADERS to every response of the dashboard's paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_dashboard(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_dashboard(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount(ASSETS, StaticFiles(directory=STATIC_DIR), name="dashboard")
    app.add_middleware(DashboardHeaders)
