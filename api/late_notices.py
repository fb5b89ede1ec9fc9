"""Late notices and the apology letter (Mẫu 04): the dossiers at risk of being late, for the department handling
them, and the letter that moves the due date. Mounted by ``api.app.create_app``."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import BearerPerson
from services.late import LateNotices


class IssueApology(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why the dossier is late (printed on Mẫu 04).")
    new_due_at: dt.datetime = Field(
        description="The new appointment, ISO 8601 with offset (without: Vietnam time); a working moment after the "
        "current due date."
    )


def late_notices_router(runtime: Any) -> APIRouter:
    router = APIRouter()
    late = LateNotices(runtime.db, runtime.clock, runtime.engine, runtime.shop, runtime.paperwork)

    @router.get("/api/late-notices", tags=["late"])
    def late_notices(
        person: BearerPerson, status: Annotated[str | None, Query(pattern="^(open|issued)$")] = "open"
    ) -> list[dict[str, Any]]:
        """Dossiers at risk of being late, for the department handling them (open ones by default)."""
        return late.list_for(person, status)

    @router.get("/api/late-notices/{notice_id}", tags=["late"])
    def late_notice(notice_id: str, person: BearerPerson) -> dict[str, Any]:
        return late.get(person, notice_id)

    @router.post("/api/late-notices/{notice_id}/issue", tags=["late"])
    def issue_apology(notice_id: str, body: IssueApology, person: BearerPerson) -> dict[str, Any]:
        """Issue the apology letter (Mẫu 04): the dossier's due date moves to `new_due_at` now; the letter is
        prepared for the head of the agency's personal signature (`letter`: `awaiting_head_signature`, in the
        leader's `/api/signatures/pending`) and, once signed, sealed by the agency, stored and sent to the applicant
        (`letter`: `issued`, `document_id` set). A set whose Mẫu 04 the head does not sign is sealed at once."""
        return late.issue(person, notice_id, body.reason, body.new_due_at)

    return router
