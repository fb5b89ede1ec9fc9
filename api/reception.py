"""The reception queue of online dossiers (JSON): what waits for the officer's check, and the outcome of one
check — accept, ask for papers, refuse (:mod:`services.reception`). Mounted by ``api.app.create_app``."""

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentPerson
from services.reception import MAX_COMMENT


class ReceptionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "supplement", "refuse"] = Field(
        description="accept: received now, the time limit starts and the receipt (Mẫu 01) is issued in the "
        "officer's name; supplement: Mẫu 02 asks for the papers in `comment`; refuse: Mẫu 03 with the reason in "
        "`comment`."
    )
    comment: str | None = Field(
        default=None, max_length=MAX_COMMENT, description="The papers asked for, or the reason of the refusal."
    )


def _item(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "procedure_code": row.procedure_code,
        "status": row.status,
        "applicant_name": row.applicant_name,
        "submitted_at": row.received_at.isoformat(),
        "awaiting": row.awaiting,
    }


def reception_router(runtime: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/api/reception/queue", tags=["reception"])
    def queue(person: CurrentPerson) -> list[dict[str, Any]]:
        """Online dossiers of the officer's agency waiting for reception, the oldest first."""
        return [_item(r) for r in runtime.reception.queue(person)]

    @router.post("/api/dossiers/{code}/reception", tags=["reception"])
    def decide(code: str, body: ReceptionDecision, person: CurrentPerson) -> dict[str, Any]:
        """Accept an online dossier, ask for papers, or refuse it (reception officers of its agency)."""
        return runtime.reception.decide(person, code, body.decision, body.comment)

    return router
