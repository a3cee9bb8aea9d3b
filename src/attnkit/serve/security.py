"""Who may call the API and how much they may send: an API key and request body limits.

Two pure ASGI middlewares and the checks ``attnkit serve`` makes before it listens:

- :class:`ApiKeyMiddleware`: with a key, every path except the open ones (the explorer page,
  ``/healthz``, the API docs and their assets) needs ``Authorization: Bearer KEY``; anything
  else is a 401 with ``WWW-Authenticate: Bearer``. Paths are closed unless named open, so a
  route added later is protected too. The key is compared in constant time.
- :class:`BodyLimitMiddleware`: a request body over the limit (``max_upload_bytes`` for
  ``multipart/form-data``, ``max_body_bytes`` for anything else) is a 413. A too large
  ``Content-Length`` is refused before the body is read; a chunked body is counted as it
  arrives and refused as soon as it passes the limit, so a huge body is never held whole.
- :func:`protect` adds both to an app; :func:`exposure_warning` is the warning for a server
  that other machines can reach without a key.

Example:
    >>> exposure_warning("127.0.0.1", api_key=None) is None
    True
    >>> "anyone on the network" in exposure_warning("0.0.0.0", api_key=None)
    True
    >>> exposure_warning("0.0.0.0", api_key="s3cret") is None
    True
    >>> size_text(64 * 1024), size_text(2 * 1024 * 1024), size_text(1000)
    ('64 KiB', '2 MiB', '1000 bytes')
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attnkit.errors import AttnkitError

API_KEY_ENV = "ATTNKIT_API_KEY"
MAX_BODY_BYTES = 64 * 1024  # a JSON request: a sentence or a document is far smaller
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a multipart image upload
MAX_IMAGE_PIXELS = 4096 * 4096  # an upload's decoded size (a small PNG can hold a huge image)


def size_text(n: int) -> str:
    """``n`` bytes as people write it: ``64 KiB``, ``2 MiB`` or ``1000 bytes``."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class OpenPaths:
    """What anyone may fetch when a key is set: exact ``paths`` and path ``prefixes``.

    Example:
        >>> public = OpenPaths(frozenset({"/", "/docs"}), ("/docs-assets/",))
        >>> "/docs" in public, "/docs-assets/a.js" in public, "/api/info" in public
        (True, True, False)
    """

    paths: frozenset[str]
    prefixes: tuple[str, ...] = ()

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self.paths or path.startswith(self.prefixes))


def protect(
    app: FastAPI,
    *,
    api_key: str | None,
    max_body_bytes: int,
    max_upload_bytes: int,
    public: OpenPaths,
) -> None:
    """Add the body limits and, with ``api_key``, the key check (run first) to ``app``.

    With a key the OpenAPI schema also declares the bearer scheme on the closed paths, so
    ``/docs`` has an "Authorize" button and its "Try it out" sends the key.

    Args:
        app: the app, with all its routes, before it serves its first request.
        api_key: the shared secret, or None for an open API.
        max_body_bytes: the limit for JSON bodies.
        max_upload_bytes: the limit for multipart uploads.
        public: what anyone may fetch even with a key.

    Raises:
        AttnkitError: a blank key (a typo that would lock everybody out), a limit below 1.

    Example:
        >>> from fastapi import FastAPI
        >>> protect(FastAPI(), api_key=" ", max_body_bytes=1, max_upload_bytes=1,
        ...         public=OpenPaths(frozenset()))
        Traceback (most recent call last):
        ...
        attnkit.errors.AttnkitError: the API key is empty: pass --api-key KEY or set ATTNKIT_API_KEY
    """
    if api_key is not None and not api_key.strip():
        raise AttnkitError(f"the API key is empty: pass --api-key KEY or set {API_KEY_ENV}")
    for name, value in (("max_body_bytes", max_body_bytes), ("max_upload_bytes", max_upload_bytes)):
        if value < 1:
            raise AttnkitError(f"{name} must be at least 1, got {value}")
    limits = {"max_body_bytes": max_body_bytes, "max_upload_bytes": max_upload_bytes}
    app.add_middleware(BodyLimitMiddleware, **limits)
    if api_key is not None:  # added last = runs first: no body is read for a stranger
        app.add_middleware(ApiKeyMiddleware, api_key=api_key, public=public)
        _document_bearer(app, public)


def _document_bearer(app: FastAPI, public: OpenPaths) -> None:
    """Declare ``Authorization: Bearer`` in the OpenAPI schema of every closed path."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = plain()  # FastAPI keeps it in app.openapi_schema
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["apiKey"] = {"type": "http", "scheme": "bearer"}
            for path, operations in schema["paths"].items():
                if path not in public:
                    for operation in operations.values():
                        operation["security"] = [{"apiKey": []}]
        return app.openapi_schema

    app.openapi = openapi


class ApiKeyMiddleware:
    """Require ``Authorization: Bearer <api_key>`` on every path but the ``public`` ones.

    Example::

        app.add_middleware(ApiKeyMiddleware, api_key="s3cret", public=OpenPaths(frozenset({"/"})))
    """

    def __init__(self, app: ASGIApp, *, api_key: str, public: OpenPaths) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            return await self.app(scope, receive, send)
        given = Headers(scope=scope).get("authorization", "")
        scheme, _, token = given.partition(" ")
        # the scheme is case-insensitive (RFC 9110); the key is compared in constant time
        if scheme.lower() == "bearer" and hmac.compare_digest(
            f"Bearer {token.strip()}".encode(), self.expected
        ):
            return await self.app(scope, receive, send)
        what = "a wrong API key" if given else "no API key"
        reply = JSONResponse(
            {"detail": f"{what}: send the header 'Authorization: Bearer <key>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await reply(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over a size limit with a 413, without reading them whole.

    Args:
        app: the ASGI app to protect.
        max_body_bytes: the limit for JSON (any body that is not a multipart upload).
        max_upload_bytes: the limit for ``multipart/form-data`` (file uploads).

    Example::

        app.add_middleware(BodyLimitMiddleware, max_body_bytes=65536, max_upload_bytes=2 << 20)
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes, self.max_upload_bytes = max_body_bytes, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            limit, what = self.max_upload_bytes, "the upload"
        else:
            limit, what = self.max_body_bytes, "the request body"
        detail = f"{what} is larger than the {size_text(limit)} this server accepts"
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            reply = JSONResponse({"detail": detail}, status_code=413)
            return await reply(scope, receive, send)
        received = 0

        async def counted() -> Message:
            # chunked bodies have no Content-Length: count the bytes as they come
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail)  # FastAPI turns it into the JSON reply
            return message

        await self.app(scope, counted, send)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """The warning for listening on ``host`` without a key, or None when that is safe."""
    if api_key or is_loopback(host):
        return None
    return (
        f"warning: listening on {host} without an API key: anyone on the network can use "
        f"the model. Set a key with --api-key KEY or the {API_KEY_ENV} environment variable "
        "(clients then send 'Authorization: Bearer KEY'), or keep the default --host 127.0.0.1."
    )


__all__ = [
    "API_KEY_ENV",
    "MAX_BODY_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_UPLOAD_BYTES",
    "ApiKeyMiddleware",
    "BodyLimitMiddleware",
    "OpenPaths",
    "exposure_warning",
    "is_loopback",
    "protect",
    "size_text",
]
