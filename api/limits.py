"""Request-body limit enforced while streaming: a too-large upload is refused with 413 as soon as the
limit is crossed (or at once from its Content-Length), never buffered whole."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        file_limit_bytes: int | None = None,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        """``max_bytes`` bounds the whole body (files plus form overhead); ``file_limit_bytes`` is the
        per-file limit users know, named in the message; ``path_limits`` gives exact paths their own bound
        (an exchange envelope carries a whole dossier's documents, base64-encoded)."""
        self.app = app
        self.max_bytes = max_bytes
        self.file_limit_bytes = file_limit_bytes or max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(str(scope.get("path", "")), self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send)
            return
        seen = 0
        started = False  # the application began its response
        refused = False  # we answered 413 ourselves: the application's response is dropped

        async def limited_receive() -> Message:
            nonlocal seen, refused
            if refused:
                raise _TooLarge()
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer 413 now, while the client is still sending: whatever the application does
                    # with the exception below (a framework may turn it into a 500 response, or wrap it
                    # in an exception group), that response is discarded by ``guarded_send``.
                    if not started:
                        refused = True
                        await self._refuse(send)
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as exc:
            if refused:
                return  # the 413 went out; the body was not read any further
            if _caused_by_too_large(exc) and not started:
                await self._refuse(send)
                return
            raise

    async def _refuse(self, send: Send) -> None:
        limit_mb = self.file_limit_bytes / (1024 * 1024)
        body: dict[str, Any] = {
            "type": "https://motcua.example/problems/motcua.too_large",
            "title": f"Tệp tải lên vượt quá giới hạn {limit_mb:.0f} MB.",
            "status": 413,
            "detail": f"Request body exceeds the limit of {self.max_bytes} bytes.",
            "code": "motcua.too_large",
        }
        payload = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _caused_by_too_large(exc: BaseException) -> bool:
    """True when ``_TooLarge`` is in the cause/context chain or inside an exception group."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TooLarge):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False
