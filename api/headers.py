"""Security headers on every response, JSON included (the pages set their own, stricter for their use).

* ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy`` everywhere;
* JSON, plain text and bodiless responses without a policy of their own get ``Content-Security-Policy:
  default-src 'none'; frame-ancestors 'none'``: opened directly or framed by another site, they run nothing;
* ``Strict-Transport-Security`` when the request came over HTTPS as the server sees it: ``motcua serve`` with
  ``MOTCUA_TLS_CERT_FILE``, or a TLS proxy uvicorn trusts (``--forwarded-allow-ips``, 127.0.0.1 by default).
  A client's own ``X-Forwarded-Proto`` is not believed, so plain HTTP never announces HSTS.

A header a route set itself (the pages' CSP, the document preview's ``frame-ancestors 'self'``) is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"
_LOCKED_DOWN_TYPES = ("application/json", "application/problem+json", "text/plain")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                content_type = headers.get("content-type", "").split(";")[0].strip().lower()
                if not content_type or content_type in _LOCKED_DOWN_TYPES or content_type.endswith("+json"):
                    headers.setdefault("Content-Security-Policy", API_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
