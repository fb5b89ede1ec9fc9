"""The exchange endpoint partner installations post signed envelopes to, and the message list for operators.

``POST /api/exchange/envelopes`` needs no login: the envelope is authenticated by its signature (the partner's
seal, checked against the partner's configured roots) and, in production, the transport by HTTPS. Every answer
is a signed acknowledgment: 200 with an ACK, 422 with a NACK naming the reason (see :mod:`motcua.envelopes`).
``GET /api/exchange/messages`` lists the outbox and inbox for administrators and auditors.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.bearer import role_guard
from dossiers.errors import NotFound
from dossiers.model import Person, Role
from motcua.app import Runtime, envelope_receiver

ENVELOPES_PATH = "/api/exchange/envelopes"


def exchange_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["exchange"])
    receiver = envelope_receiver(runtime)
    operator = role_guard(
        runtime,
        (Role.ADMIN, Role.AUDITOR),
        "Chỉ quản trị viên và thanh tra xem được.",
        "Administrators and auditors only.",
    )

    def not_configured() -> NotFound:
        return NotFound(
            "Hệ thống này chưa cấu hình trao đổi liên thông với hệ thống khác.",
            "This installation has no exchange partners configured (MOTCUA_EXCHANGE_PARTNERS_FILE).",
        )

    @router.post(ENVELOPES_PATH)
    async def receive_envelope(request: Request) -> JSONResponse:
        """A partner's signed envelope: answered with a signed ACK (200) or NACK (422)."""
        if receiver is None:
            raise not_configured()
        body = await request.body()
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = None  # refused below with a signed NACK ("malformed")
        answer = await run_in_threadpool(receiver.receive, payload)
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @router.get("/api/exchange/messages")
    def messages(person: Annotated[Person, Depends(operator)], dossier: str | None = None) -> dict[str, Any]:
        """Envelopes sent (status, attempts, next attempt, last error) and received, newest first."""
        if runtime.exchange is None:
            raise not_configured()
        return {"messages": runtime.exchange.messages(dossier)}

    return router
