"""The audit log's state over HTTP (DESIGN §10), for auditors and administrators.

- ``GET /api/audit/status``: the whole chain recomputed and every signed checkpoint checked (the report of
  ``motcua audit verify``): entries, the latest checkpoint, and one problem per line, the first broken entry first.
- ``POST /api/audit/checkpoints``: sign (and timestamp, with MOTCUA_TSA_URL) a checkpoint of the head now.

Mounted by ``create_app``: ``app.include_router(audit_api_router(runtime))``.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import role_guard
from dossiers.model import Person, Role
from persistence.audit_log import Checkpoint
from services.audit import audit_report

AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)
Auditor = Annotated[
    Person,
    Depends(
        role_guard(
            AUDIT_ROLES,
            "Chỉ thanh tra viên và quản trị viên được xem nhật ký kiểm toán.",
            "Only auditors and administrators may see the audit log's state.",
        )
    ),
]


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "created_at": checkpoint.created_at.isoformat(),
        "agency_code": checkpoint.agency_code,
        "timestamped": checkpoint.timestamped,
        "trigger": checkpoint.trigger,
    }


def audit_api_router(runtime: Any) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/api/audit/status")
    async def status(person: Auditor) -> dict[str, Any]:
        """Recompute the chain and check every checkpoint's statement, head hash, agency seal and timestamp."""
        report = await run_in_threadpool(audit_report, runtime)
        return report.to_dict()

    @router.post("/api/audit/checkpoints", status_code=201)
    async def make_checkpoint(person: Auditor, response: Response) -> dict[str, Any]:
        """A checkpoint of the head now (``trigger: demand``); the existing one when the head has one already.
        An empty log has nothing to checkpoint: 200 with ``checkpoint: null``."""
        made = await run_in_threadpool(runtime.checkpoints.make, runtime.clock.now(), "demand")
        if made is None:
            response.status_code = 200
            return {"checkpoint": None}
        return {"checkpoint": checkpoint_json(made)}

    return router
