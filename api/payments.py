"""Fees of a dossier: what is due and paid, a cash payment at the counter, a payment intent at the gateway, and the
gateway's signed callback. Mounted by ``api.app.create_app``."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import BearerPerson
from api.openapi import json_body, problems
from dossiers.errors import InvalidInput
from integrations.payments import SIGNATURE_HEADER
from services.fees import Payments, callback_secret


class CashPaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt_number: str = Field(min_length=1, max_length=120, description="The number of the receipt handed over.")
    amount_vnd: int | None = Field(None, gt=0, description="Default: what is still due.")


def payments_router(runtime: Any) -> APIRouter:
    router = APIRouter()
    payments = Payments(runtime.db, runtime.clock, runtime.shop, callback_secret(runtime.settings))

    @router.get("/api/dossiers/{code}/payments", tags=["fees"])
    def dossier_payments(code: str, person: BearerPerson) -> dict[str, Any]:
        return payments.summary(person, code)

    @router.post("/api/dossiers/{code}/payments/cash", status_code=201, tags=["fees"])
    def cash_payment(code: str, body: CashPaymentRequest, person: BearerPerson) -> dict[str, Any]:
        """The reception officer records a cash payment with the number of the receipt they issued."""
        return payments.record_cash(person, code, body.receipt_number, body.amount_vnd)

    @router.post("/api/dossiers/{code}/payments/online", status_code=201, tags=["fees"])
    def online_payment(code: str, person: BearerPerson) -> dict[str, Any]:
        """A payment intent at the gateway: pay with its `reference`; the gateway's callback confirms it."""
        return payments.start_online(person, code)

    @router.post(
        "/api/payments/callback",
        tags=["fees"],
        responses=problems(403, 404),
        openapi_extra={
            "parameters": [
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "HMAC-SHA256 (hex) of the body with the gateway's key.",
                    "schema": {"type": "string", "maxLength": 128},
                }
            ],
            **json_body(
                {
                    "type": "object",
                    "required": ["reference", "status"],
                    "properties": {
                        "reference": {"type": "string", "maxLength": 120},
                        "status": {"type": "string", "enum": ["paid", "failed"]},
                        "amount_vnd": {"type": "integer", "minimum": 0},
                    },
                }
            ),
        },
    )
    async def payment_callback(request: Request) -> dict[str, Any]:
        """The gateway's notification: JSON `{reference, status: paid|failed, amount_vnd}` signed with
        HMAC-SHA256 (hex) in the `X-Motcua-Signature` header. Bad signatures and replays are refused."""
        body = await request.body()
        if len(body) > 64 * 1024:
            raise InvalidInput("Thông báo thanh toán quá lớn.", "The callback body is too large.")
        return await run_in_threadpool(payments.callback, body, request.headers.get(SIGNATURE_HEADER))

    return router
