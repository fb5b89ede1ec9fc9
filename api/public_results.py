"""Public lookups, without an account: their rate limit per client address and the route of the signed,
time-limited result links (the use cases — tracking view, link tokens — are in ``services.public_lookup``; the
tracking API is in ``api.app``, the tracking page in ``api.web.citizens``). The 429 of the limit is a domain
error: a problem response with ``Retry-After`` (api/problems.py)."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from api.downloads import content_disposition, download_name
from api.openapi import download, problems
from persistence.rate_limits import TooManyRequests
from services.public_lookup import open_public_result

# ------------------------------------------------------------------ public lookups: rate limit

RateLimited = TooManyRequests  # what the pages catch from :func:`public_lookup_limit`


def public_lookup_limit(request: Request) -> None:
    """Dependency: at most MOTCUA_PUBLIC_LOOKUPS_PER_MINUTE public lookups — the tracking API and page, result
    links, ratings: each tests a code and an ID number — per client IP address in any 60 seconds, counted in the
    database so several API processes share the count; more → 429 with ``Retry-After``."""
    runtime = request.app.state.runtime
    runtime.public_lookups.check(request.client.host if request.client else "unknown")


PublicLookupLimit = Depends(public_lookup_limit)


def public_results_router(runtime: Any) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/api/public/results/{token}",
        tags=["citizens"],
        dependencies=[PublicLookupLimit],
        response_class=StreamingResponse,
        responses={200: download("The result (or refusal notice), as signed."), **problems(403, 404, 429)},
    )
    def public_result(token: str) -> StreamingResponse:
        """The result offered by the public lookup: a signed link of that document, valid
        MOTCUA_PUBLIC_LINK_HOURS."""
        row, stream = open_public_result(runtime, token)  # checked (and recorded) before the status line
        return StreamingResponse(
            _chunks(stream),
            media_type=row.content_type,
            headers={
                "content-disposition": content_disposition(download_name(row.dossier_code, row.kind, row.filename)),
                "x-content-sha256": row.sha256,
                "content-length": str(row.size),
            },
        )

    return router


def _chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    yield from stream
