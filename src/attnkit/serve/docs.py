"""The API docs (``/docs``: Swagger UI, ``/redoc``: ReDoc) served offline, with no CDN.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so it is blank on a machine without
internet access and tells a third party who reads the docs. Here the JavaScript, CSS and
favicon come from the ``fastapi-offline`` package, mounted under :data:`ASSETS`. Its Swagger UI
is version 5, which renders the OpenAPI 3.1 schema FastAPI writes (Swagger UI 4, as in
``swagger-ui-bundle``, refuses it: "Unable to render this definition"). Swagger's online
validator badge is switched off: the page makes no request outside this server.

Example:
    >>> from fastapi import FastAPI
    >>> app = FastAPI(docs_url=None, redoc_url=None)
    >>> add_offline_docs(app)
    >>> [route.path for route in app.routes if route.path.startswith(("/docs", "/redoc"))]
    ['/docs-assets', '/docs', '/redoc']
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"  # where the Swagger UI and ReDoc files are served
PAGES = ("/docs", "/redoc")


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from local assets (make ``app`` with ``docs_url=None,
    redoc_url=None`` so FastAPI does not add its CDN versions)."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    favicon = f"{ASSETS}/favicon.png"

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
        )

    @app.get("/redoc", response_class=HTMLResponse, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - API reference",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )


__all__ = ["ASSETS", "PAGES", "add_offline_docs"]
