"""Each service's OpenAPI page, `/docs`, with nothing from another site.

FastAPI's own page loads Swagger UI from a public CDN and starts it with an inline script, so it
cannot have a strict Content-Security-Policy. Here Swagger UI's script, stylesheet and icon come from
the `fastapi-offline` package (which bundles them) and are served by the service itself, the page
starts Swagger UI with a script file of ours, and the page's policy lets nothing else in. ReDoc is
not served.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

DOCS_URL = "/docs"
_BUNDLED = Path(fastapi_offline.__file__).with_name("static")
# Every file the page loads, by the name it is served under: nothing else is served.
ASSETS = {
    "swagger-ui-bundle.js": _BUNDLED / "swagger-ui-bundle.js",
    "swagger-ui.css": _BUNDLED / "swagger-ui.css",
    "favicon.png": _BUNDLED / "favicon.png",
    "docs.js": Path(__file__).with_name("docs_static") / "docs.js",
}
# Swagger UI draws its icons from data: URLs and reads the document and "try it out" answers from
# this origin; nothing may frame the page, and no form or <base> may point elsewhere.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# Relative addresses, so that the page also works behind a proxy that serves the service under a prefix.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon.png">
</head>
<body data-openapi="{openapi}">
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """`/docs` and its files, for an app made with `docs_url=None, redoc_url=None`."""
    assert app.docs_url is None and app.redoc_url is None, "FastAPI's own pages load from a CDN"
    openapi = (app.openapi_url or "").lstrip("/")
    page = PAGE.format(title=html.escape(f"{app.title} - API"), openapi=html.escape(openapi))

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get(DOCS_URL + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        path = ASSETS.get(name)
        if path is None:
            raise HTTPException(404, "Not Found")
        return FileResponse(path)
