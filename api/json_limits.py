"""JSON request bodies read within bounds, before any parser sees them.

FastAPI parses a JSON body with ``json.loads``, which recurses once per nested array or object: 100,000 ``[``
end in ``RecursionError`` (answered as a bare 400 "error parsing the body", or worse on a smaller stack). This
ASGI layer buffers a JSON body up to ``max_bytes``, measures its nesting without recursion
(:func:`dossiers.bounded_json.nesting_depth`) and answers a too-large or too-deep body with a 422
``application/problem+json`` naming the limit; a body within bounds is replayed to the application unchanged.

A body counts as JSON when its content type is ``application/json`` or ``application/*+json``, or when it has no
content type (FastAPI then parses it as JSON too). Paths in ``skip_paths`` are left alone: the exchange endpoint
reads partners' envelopes (much larger) itself, with the same depth bound, and answers with a signed refusal.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from dossiers.bounded_json import MAX_JSON_BYTES, MAX_JSON_DEPTH, nesting_depth
from dossiers.errors import InvalidInput

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: bytes | None) -> bool:
    """True for a body FastAPI would parse as JSON."""
    if not content_type:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    kind, _, subtype = media.partition(b"/")
    return kind == b"application" and (subtype == b"json" or subtype.endswith(b"+json"))


class JsonBodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_JSON_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
        skip_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.skip_paths = frozenset(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in BODY_METHODS
            or str(scope.get("path", "")) in self.skip_paths
            or not is_json(dict(scope.get("headers") or []).get(b"content-type"))
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if nesting_depth(body, stop_above=self.max_depth) > self.max_depth:
            await self._refuse(scope, receive, send, self._too_deep())
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> InvalidInput:
        return InvalidInput(
            f"Nội dung JSON của yêu cầu quá lớn (tối đa {self.max_bytes} byte).",
            f"The JSON request body is larger than the limit of {self.max_bytes} bytes.",
            field="body",
            limit=self.max_bytes,
        )

    def _too_deep(self) -> InvalidInput:
        return InvalidInput(
            f"Nội dung JSON của yêu cầu lồng nhau quá sâu (tối đa {self.max_depth} cấp).",
            f"The JSON request body is nested deeper than {self.max_depth} levels.",
            field="body",
            limit=self.max_depth,
        )

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: InvalidInput) -> None:
        response = problem(422, error.code, error.message_vi, error.message_en, dict(error.details))
        await response(scope, receive, send)
