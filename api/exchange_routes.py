"""The exchange endpoint partner installations post signed envelopes to, and the message list for operators.

``POST /api/exchange/envelopes`` needs no login: the envelope is authenticated by its signature (the partner's
seal, checked against the partner's configured roots) and, in production, the transport by HTTPS. Every answer
is a signed acknowledgment: 200 with an ACK, 422 with a NACK naming the reason (see :mod:`services.receiving`).
``GET /api/exchange/messages`` lists the outbox and inbox for administrators and auditors.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import Runtime, role_guard
from api.openapi import json_body, problems
from dossiers.errors import NotFound
from dossiers.model import Person, Role

ENVELOPES_PATH = "/api/exchange/envelopes"
ANSWER_SCHEMA = {
    "type": "object",
    "required": ["ack", "signature"],
    "properties": {
        "ack": {"type": "string", "description": "Base64 of the canonical acknowledgment (JSON)."},
        "signature": {"type": "string", "description": "Base64 of its detached CAdES signature by the receiver."},
    },
}


Operator = Annotated[
    Person,
    Depends(
        role_guard(
            (Role.ADMIN, Role.AUDITOR), "Chỉ quản trị viên và thanh tra xem được.", "Administrators and auditors only."
        )
    ),
]


def answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ANSWER_SCHEMA}}}


def exchange_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["exchange"])
    receiver = runtime.envelope_receiver()

    def not_configured() -> NotFound:
        return NotFound(
            "Hệ thống này chưa cấu hình trao đổi liên thông với hệ thống khác.",
            "This installation has no exchange partners configured (MOTCUA_EXCHANGE_PARTNERS_FILE).",
        )

    @router.post(
        ENVELOPES_PATH,
        responses={
            200: answer("Signed ACK: the envelope was accepted (or had been: a replay gets the first ACK)."),
            422: answer("Signed NACK: refused by a rule; `reason.code` in the ACK names it. Final."),
            503: answer("Signed NACK `internal_error`: nothing was kept; send the same envelope again later."),
            **problems(404),
        },
        openapi_extra=json_body(
            {
                "type": "object",
                "required": ["manifest", "signature", "documents"],
                "properties": {
                    "manifest": {"type": "string", "description": "Base64 of the canonical manifest."},
                    "signature": {"type": "string", "description": "Base64 of the detached CAdES."},
                    "documents": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Document id → base64 of its bytes.",
                    },
                },
            }
        ),
    )
    async def receive_envelope(request: Request) -> JSONResponse:
        """A partner's signed envelope: answered with a signed ACK (200) or NACK (422)."""
        if receiver is None:
            raise not_configured()
        body = await request.body()
        # parsed by the receiver within its size and nesting bounds: hostile JSON is a signed NACK, never a 500
        answer = await run_in_threadpool(receiver.receive, body)
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @router.get("/api/exchange/messages", responses=problems(404))
    def messages(person: Operator, dossier: str | None = None) -> dict[str, Any]:
        """Envelopes sent (status, attempts, next attempt, last error) and received, newest first."""
        if runtime.exchange is None:
            raise not_configured()
        return {"messages": runtime.exchange.messages(dossier)}

    return router
