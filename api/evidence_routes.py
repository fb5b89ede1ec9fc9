"""A dossier's evidence package over HTTP, for auditors (:mod:`services.evidence`, DESIGN §10).

- ``GET /api/dossiers/{code}/evidence``: the ZIP (signed PDFs, validation reports, audit entries with the chain
  proof up to a signed and timestamped checkpoint, certificates, a signed manifest), which
  ``motcua evidence verify`` checks offline. Recorded as ``evidence.exported`` (a read of personal data).

The auditor's desk offers the same file with the session at ``/thanh-tra/ho-so/{code}/goi-chung-cu.zip``.
Mounted by ``create_app``: ``app.include_router(evidence_router(runtime))``. No ``from __future__ import
annotations`` here: FastAPI must see the ``Auditor`` dependency alias as an object, not as a string.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import role_guard
from api.downloads import content_disposition
from dossiers.model import Person, Role
from services.evidence import ZIP, export_evidence

Auditor = Annotated[
    Person,
    Depends(
        role_guard(
            (Role.AUDITOR,),
            "Chỉ thanh tra viên được xuất gói chứng cứ.",
            "Only auditors may export an evidence package.",
        )
    ),
]


def evidence_router(runtime: Any) -> APIRouter:
    router = APIRouter(tags=["verification"])

    @router.get(
        "/api/dossiers/{code}/evidence",
        response_class=Response,
        responses={200: {"content": {ZIP: {}}, "description": "The evidence package (ZIP)."}},
    )
    async def evidence(code: str, person: Auditor) -> Response:
        """The dossier's evidence package, verifiable offline with `motcua evidence verify FILE.zip`."""
        package = await run_in_threadpool(export_evidence, runtime, code, person.username, channel="api")
        return Response(
            package.data,
            media_type=ZIP,
            headers={
                "content-disposition": content_disposition(package.filename),
                "cache-control": "no-store",
            },
        )

    return router
