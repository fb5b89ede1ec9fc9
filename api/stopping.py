"""Stopping a dossier's processing (JSON): withdrawn at the applicant's request or stopped by the agency, with the
notice Mẫu 05 (:mod:`services.stopping`). Mounted by ``api.app.create_app``."""

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentPerson
from dossiers.text_rules import COMMENT_MAX
from services.stopping import StopRequest


class StopDossier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by_applicant: bool = Field(
        description="true: the applicant asked to withdraw the dossier (status `withdrawn`); false: the agency stops "
        "it (status `stopped`, `reason` required)."
    )
    reason: str | None = Field(
        default=None,
        max_length=4 * COMMENT_MAX,
        description="Why processing stops, printed on Mẫu 05 (required when the agency stops it).",
    )
    requested_at: dt.date | None = Field(
        default=None, description="The day the applicant asked (YYYY-MM-DD; today when not given)."
    )


def stopping_router(runtime: Any) -> APIRouter:
    router = APIRouter()

    @router.post("/api/dossiers/{code}/stop", tags=["dossiers"])
    def stop(code: str, body: StopDossier, person: CurrentPerson) -> dict[str, Any]:
        """Stop the dossier's processing (the desk, clerk or leader of its agency, from an open status): the status
        changes and the process ends now; Mẫu 05 is prepared for the head of the agency's personal signature and,
        once the leader signed it, sealed, stored and sent to the applicant. The dossier's view comes back."""
        request = StopRequest(body.requested_by_applicant, body.reason, body.requested_at)
        return dict(runtime.stopping.stop(person, code, request))

    return router
