"""Fees (the ``Payment`` port): cash at the desk and a test payment gateway; a dossier with a fee is not
returned before its fee is paid.

* :class:`CashPayment` — the reception officer records a cash payment with the receipt number they
  issued; it is paid at once. A receipt number is used once (``uq_payment_method_reference``).
* :class:`TestGateway` — a payment intent with a reference (``pending``); the gateway's callback
  ``POST /api/payments/callback`` carries a JSON body signed with HMAC-SHA256 (the key is
  MOTCUA_PAYMENT_CALLBACK_SECRET, by default derived from MOTCUA_SECRET_KEY) in the header
  ``X-Motcua-Signature`` (hex, optionally prefixed ``sha256=``). A bad signature is refused (403); a callback
  for an intent that is no longer pending — a replay — is refused (409); neither changes anything.
* :func:`is_paid` / :func:`require_paid` — the rule "no result is handed over before the fee is paid": a
  procedure without fee is always paid; otherwise the paid payments must cover ``Procedure.fee_vnd``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound
from dossiers.model import FINAL_STATUSES, DossierStatus, Person, Role
from dossiers.ports import Clock, PaymentRecord
from persistence.schema import payment
from persistence.uow import transaction

if TYPE_CHECKING:
    from motcua.services import OneStopShop

RETURN_ACTIVITY = "return_result"
SIGNATURE_HEADER = "X-Motcua-Signature"


class FeeNotPaid(Conflict):
    code = "motcua.fee_not_paid"


class BadSignature(Forbidden):
    code = "motcua.bad_signature"


class CallbackReplayed(Conflict):
    code = "motcua.callback_replayed"


def _record(row: Any) -> PaymentRecord:
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


def record_view(record: PaymentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "dossier_code": record.dossier_code,
        "amount_vnd": record.amount_vnd,
        "method": record.method,
        "reference": record.reference,
        "status": record.status,
        "created_at": record.created_at.isoformat(),
        "paid_at": record.paid_at.isoformat() if record.paid_at else None,
    }


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
    return _record(row)


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
            return _record(conn.execute(select(payment).where(payment.c.id == row.id)).one())


# ------------------------------------------------------------------ the rule and the use cases


def fee_of(shop: OneStopShop, code: str) -> int:
    return shop.procedure_of(shop.dossier_row(code)).fee_vnd


def paid_amount(shop: OneStopShop, code: str) -> int:
    with transaction(shop.db) as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(payment.c.amount_vnd), 0)).where(
                payment.c.dossier_code == code, payment.c.status == "paid"
            )
        ).scalar_one()
    return int(total)


def is_paid(shop: OneStopShop, code: str) -> bool:
    """True when the dossier's procedure has no fee or its paid payments cover the fee."""
    fee = fee_of(shop, code)
    return fee <= 0 or paid_amount(shop, code) >= fee


def require_paid(shop: OneStopShop, code: str) -> None:
    """Raise :class:`FeeNotPaid` (409) unless the fee is paid: the hook before the result is returned."""
    fee = fee_of(shop, code)
    if fee <= 0:
        return
    paid = paid_amount(shop, code)
    if paid < fee:
        raise FeeNotPaid(
            f"Hồ sơ {code} chưa nộp đủ phí, lệ phí ({paid:,}/{fee:,} đồng); chưa thể trả kết quả.".replace(",", "."),
            f"Dossier {code} has not paid its fee ({paid} of {fee} VND): the result cannot be returned yet.",
            dossier_code=code,
            fee_vnd=fee,
            paid_vnd=paid,
        )


def callback_secret(settings: Any) -> bytes:
    """MOTCUA_PAYMENT_CALLBACK_SECRET, or a key derived from the installation's secret (never a value in the
    source code: the development default is the random ``var/secret_key``)."""
    if settings.payment_callback_secret:
        return str(settings.payment_callback_secret).encode()
    key: bytes = settings.derived_key("motcua/payment-callback")
    return key


class Payments:
    """The use cases behind the payment endpoints (authorisation, audit) over the two adapters."""

    def __init__(self, shop: OneStopShop, secret: bytes) -> None:
        self.shop = shop
        self.cash = CashPayment(shop.db, shop.clock)
        self.gateway = TestGateway(shop.db, shop.clock, secret)

    def is_paid(self, code: str) -> bool:
        return is_paid(self.shop, code)

    def summary(self, person: Person, code: str) -> dict[str, Any]:
        self.shop.authorize_dossier(person, code)
        with transaction(self.shop.db) as conn:
            rows = conn.execute(
                select(payment).where(payment.c.dossier_code == code).order_by(payment.c.created_at)
            ).all()
        return {
            "dossier_code": code,
            "fee_vnd": fee_of(self.shop, code),
            "paid_vnd": paid_amount(self.shop, code),
            "paid": is_paid(self.shop, code),
            "payments": [record_view(_record(r)) for r in rows],
        }

    def _open_fee(self, code: str) -> int:
        row = self.shop.dossier_row(code)
        if DossierStatus(row.status) in FINAL_STATUSES:
            raise Conflict("Hồ sơ đã kết thúc.", f"Dossier {code} is closed (status {row.status}).")
        fee = self.shop.procedure_of(row).fee_vnd
        if fee <= 0:
            raise InvalidInput("Thủ tục này không thu phí, lệ phí.", f"Dossier {code}'s procedure has no fee.")
        due = fee - paid_amount(self.shop, code)
        if due <= 0:
            raise Conflict("Hồ sơ đã nộp đủ phí, lệ phí.", f"The fee of dossier {code} is already paid.")
        return due

    def record_cash(
        self, person: Person, code: str, receipt_number: str, amount_vnd: int | None = None
    ) -> dict[str, Any]:
        if person.role != Role.RECEPTION:
            raise Forbidden("Chỉ cán bộ tiếp nhận được thu tiền mặt.", "Only reception officers record cash.")
        self.shop.authorize_dossier(person, code)
        due = self._open_fee(code)
        amount = due if amount_vnd is None else amount_vnd
        if amount <= 0:
            raise InvalidInput("Số tiền phải lớn hơn 0.", "The amount must be positive.")
        with transaction(self.shop.db):
            record = self.cash.request(code, amount, person.username, receipt_number)
            self.shop.record(
                "payment.recorded",
                person.username,
                code,
                payment_id=record.id,
                method=record.method,
                amount_vnd=amount,
                reference=record.reference,
            )
        return record_view(record) | {"fee_paid": is_paid(self.shop, code)}

    def start_online(self, person: Person, code: str) -> dict[str, Any]:
        row = self.shop.authorize_dossier(person, code)
        if person.role not in (Role.CITIZEN, Role.RECEPTION):
            raise Forbidden(
                "Chỉ người nộp hồ sơ hoặc cán bộ tiếp nhận tạo được giao dịch.",
                "Only the applicant or reception start an online payment.",
            )
        amount = self._open_fee(row.code)
        with transaction(self.shop.db):
            record = self.gateway.request(code, amount, person.username)
            self.shop.record(
                "payment.requested",
                person.username,
                code,
                payment_id=record.id,
                amount_vnd=amount,
                reference=record.reference,
            )
        return record_view(record) | {"callback": "/api/payments/callback", "signature_header": SIGNATURE_HEADER}

    def callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        with transaction(self.shop.db):
            record = self.gateway.confirm(body, signature)
            self.shop.record(
                "payment.confirmed" if record.status == "paid" else "payment.failed",
                "system:payment-gateway",
                record.dossier_code,
                payment_id=record.id,
                reference=record.reference,
                amount_vnd=record.amount_vnd,
            )
        return record_view(record) | {"fee_paid": is_paid(self.shop, record.dossier_code)}
