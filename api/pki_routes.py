"""The development PKI's revocation lists at the address its certificates name (``MOTCUA_PKI_PUBLIC_URL``):
``GET /pki/root.crl`` and ``GET /pki/agency-ca.crl``, DER, public, so an online verifier can fetch what the
signed files already carry. Not part of the JSON API (left out of the OpenAPI document)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import Runtime
from services.verification import published_crl

CRL_MEDIA_TYPE = "application/pkix-crl"  # RFC 5280 § 4.2.1.13


def pki_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/pki/{name}.crl")
    def crl(name: str) -> Response:
        return Response(
            published_crl(runtime.pki, name),
            media_type=CRL_MEDIA_TYPE,
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return router
