"""Payment adapters (the ``Payment`` port): cash at the desk and a test payment gateway.

* :class:`CashPayment` — the reception officer records a cash payment with the receipt number they
  issued; it is paid at once. A receipt number is used once (``uq_payment_method_reference``).
* :class:`TestGateway` — a payment intent with a reference (``pending``); the gateway's callback
  ``POST /api/payments/callback`` carries a JSON body signed with HMAC-SHA256 (the key is given by the
  composition root: MOTCUA_PAYMENT_CALLBACK_SECRET, by default derived from MOTCUA_SECRET_KEY) in the header
  ``X-Motcua-Signature`` (hex, optionally prefixed ``sha256=``). A bad signature is refused (403); a callback
  for an intent that is no longer pending — a replay — is refused (409); neither changes anything.

The rule on fees and the use cases behind the endpoints are :mod:`services.fees`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound
from dossiers.ports import Clock, PaymentRecord
from persistence.schema import payment
from persistence.uow import transaction

SIGNATURE_HEADER = "X-Motcua-Signature"


class BadSignature(Forbidden):
    code = "motcua.bad_signature"


class CallbackReplayed(Conflict):
    code = "motcua.callback_replayed"


def payment_record(row: Any) -> PaymentRecord:
    return PaymentRecord(
        id=row.id,
        dossier_code=row.dossier_code,
        amount_vnd=row.amount_vnd,
        method=row.method,
        reference=row.reference,
        status=row.status,
        created_at=row.created_at,
        paid_at=row.paid_at,
    )


def _insert(db: SqlEngine, values: dict[str, Any]) -> PaymentRecord:
    try:
        with transaction(db) as conn:
            conn.execute(insert(payment).values(**values))
            row = conn.execute(select(payment).where(payment.c.id == values["id"])).one()
    except IntegrityError:
        raise Conflict(
            f"Số biên lai/mã giao dịch '{values['reference']}' đã được dùng.",
            f"Reference '{values['reference']}' was already used for a {values['method']} payment.",
        ) from None
    return payment_record(row)


class CashPayment:
    """Cash at the desk: paid at once; the reference is the receipt number."""

    method = "cash"

    def __init__(self, db: SqlEngine, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def request(self, dossier_code: str, amount_vnd: int, actor: str, reference: str | None = None) -> PaymentRecord:
        receipt = (reference or "").strip()
        if not receipt or len(receipt) > 120:
            raise InvalidInput("Cần số biên lai thu tiền (tối đa 120 ký tự).", "A receipt number is required.")
        now = self.clock.now()
        return _insert(
            self.db,
            {
                "id": str(uuid.uuid4()),
                "dossier_code": dossier_code,
                "amount_vnd": amount_vnd,
                "method": self.method,
                "online": False,
                "reference": receipt,
                "status": "paid",
                "created_at": now,
                "paid_at": now,
                "recorded_by": actor,
            },
        )


def sign_callback(secret: bytes, body: bytes) -> str:
    """The gateway's signature of a callback body: hex HMAC-SHA256."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


class TestGateway:
    """A test payment gateway: intents with a reference, confirmed by an HMAC-signed callback."""

    __test__ = False  # not a pytest test class
    method = "gateway"

    def __init__(self, db: SqlEngine, clock: Clock, secret: bytes) -> None:
        self.db = db
        self.clock = clock
        self.secret = secret

    def request(self, dossier_code: str, amount_vnd: int, actor: str, reference: str | None = None) -> PaymentRecord:
        return _insert(
            self.db,
            {
                "id": str(uuid.uuid4()),
                "dossier_code": dossier_code,
                "amount_vnd": amount_vnd,
                "method": self.method,
                "online": True,
                "reference": reference or f"MC{uuid.uuid4().hex[:18].upper()}",
                "status": "pending",
                "created_at": self.clock.now(),
                "recorded_by": actor,
            },
        )

    def sign(self, body: bytes) -> str:
        return sign_callback(self.secret, body)

    def verify(self, body: bytes, signature: str | None) -> dict[str, Any]:
        given = (signature or "").strip().lower().removeprefix("sha256=")
        if not given or not hmac.compare_digest(given, self.sign(body)):
            raise BadSignature(
                "Chữ ký của thông báo thanh toán không hợp lệ; thông báo bị từ chối.",
                f"The payment callback's signature ({SIGNATURE_HEADER}) is missing or wrong; the callback is refused.",
            )
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("reference"), str):
            raise InvalidInput("Thông báo thanh toán không đúng định dạng.", "The callback body is not valid JSON.")
        if data.get("status") not in ("paid", "failed"):
            raise InvalidInput("Trạng thái thanh toán không hợp lệ.", "Callback status must be 'paid' or 'failed'.")
        return data

    def confirm(self, body: bytes, signature: str | None) -> PaymentRecord:
        """Apply a signed callback ``{"reference", "status": "paid"|"failed", "amount_vnd"}`` once."""
        data = self.verify(body, signature)
        reference = data["reference"]
        with transaction(self.db) as conn:
            row = conn.execute(
                select(payment).where(payment.c.method == self.method, payment.c.reference == reference)
            ).first()
            if row is None:
                raise NotFound("Không có giao dịch thanh toán này.", f"No payment intent '{reference}'.")
            if row.status != "pending":
                raise CallbackReplayed(
                    "Thông báo thanh toán này đã được xử lý; thông báo lặp lại bị từ chối.",
                    f"Payment '{reference}' is already {row.status}: a replayed callback is refused.",
                    reference=reference,
                )
            if data["status"] == "paid" and data.get("amount_vnd") != row.amount_vnd:
                raise InvalidInput(
                    "Số tiền thanh toán không khớp với khoản phí.",
                    f"Amount {data.get('amount_vnd')} does not match the intent's {row.amount_vnd} VND.",
                )
            now = self.clock.now()
            values: dict[str, Any] = {"status": data["status"]}
            if data["status"] == "paid":
                values["paid_at"] = now
            result = conn.execute(
                update(payment).where(payment.c.id == row.id, payment.c.status == "pending").values(**values)
            )
            if result.rowcount != 1:
                raise CallbackReplayed(
                    "Thông báo thanh toán này đã được xử lý.", f"Payment '{reference}' was just processed."
                )
            return payment_record(conn.execute(select(payment).where(payment.c.id == row.id)).one())
