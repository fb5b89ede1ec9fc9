"""Finding dossiers over JSON, for officials, reception, auditors and administrators (the pages call the same use
case, :class:`services.search.DossierSearch`):

- ``GET /api/dossiers/search?q=…``: by code (lower case, spaces, a part of it), applicant's name with or without
  diacritics, ID number or phone; empty ``q``: every dossier the caller may read; newest first;
- ``GET /api/dossiers/handled``: the dossiers the caller or their department completed a step on.

Mounted by ``create_app`` before ``/api/dossiers/{code}`` (``search`` and ``handled`` are not dossier codes).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentPerson
from dossiers.model import DossierStatus
from dossiers.search_text import QUERY_MAX
from services.search import PAGE_MAX, PAGE_SIZE, PER_PAGE_MAX, PROCEDURE_CODE_MAX

STATUS_PATTERN = "^(" + "|".join(s.value for s in DossierStatus) + ")$"

Procedure = Annotated[
    str | None, Query(max_length=PROCEDURE_CODE_MAX, description="Only dossiers of this procedure (its code).")
]
Status = Annotated[str | None, Query(pattern=STATUS_PATTERN, description="Only dossiers in this status.")]
Page = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=PER_PAGE_MAX, description="Dossiers per page.")]


def dossier_search_router(runtime: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/api/dossiers/search", tags=["dossiers"])
    def search_dossiers(
        person: CurrentPerson,
        q: Annotated[
            str,
            Query(
                max_length=QUERY_MAX,
                description="A dossier code or part of it (case and spaces forgiven), the applicant's name with or "
                "without diacritics, an ID number or a phone number. Empty: every dossier you may read.",
            ),
        ] = "",
        procedure: Procedure = None,
        status: Status = None,
        page: Page = 1,
        per_page: PerPage = PAGE_SIZE,
    ) -> dict[str, Any]:
        """Dossiers you may read (your agency's and those handed to it; every one for auditors and
        administrators) matching `q`, newest first: `total`, `pages` and this page's `items`."""
        found = runtime.search.search(
            person, q, procedure_code=procedure, status=status, page=page, per_page=per_page, listing="api.search"
        )
        return dict(found.to_json())

    @router.get("/api/dossiers/handled", tags=["dossiers"])
    def handled_dossiers(
        person: CurrentPerson,
        procedure: Procedure = None,
        status: Status = None,
        page: Page = 1,
        per_page: PerPage = PAGE_SIZE,
    ) -> dict[str, Any]:
        """Dossiers on which you or an official of your department completed a step ("đã xử lý"), the most
        recently handled first (`handled_at`)."""
        found = runtime.search.handled(
            person, procedure_code=procedure, status=status, page=page, per_page=per_page, listing="api.handled"
        )
        return dict(found.to_json())

    return router
