"""Fees: a dossier with a fee is not returned before its fee is paid, and the use cases behind the payment
endpoints (authorisation, audit) over the adapters of :mod:`integrations.payments`.

:func:`is_paid` / :func:`require_paid` — the rule "no result is handed over before the fee is paid": a
procedure without fee is always paid; otherwise the paid payments must cover the fee — the catalogue's national
``Procedure.fee_vnd``, or, where the province sets the fee (``fee_set_by: province``), the value configured for the
agency that received the dossier (:mod:`dossiers.fees`; 0 while none is configured).
"""

from __future__ import annotations

from typing import Any

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, Forbidden, InvalidInput
from dossiers.fees import fee_for
from dossiers.model import FINAL_STATUSES, DossierStatus, Person, Role
from dossiers.ports import Clock, PaymentRecord
from integrations.payments import SIGNATURE_HEADER, CashPayment, TestGateway, payment_record
from persistence import payments
from persistence.uow import Database, transaction
from services.ports import DossierDesk

RETURN_ACTIVITY = "return_result"


class FeeNotPaid(Conflict):
    code = "motcua.fee_not_paid"


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


def fee_of(desk: DossierDesk, code: str) -> int:
    row = desk.dossier_row(code)
    return dossier_fee(desk, row)


def dossier_fee(desk: DossierDesk, row: Any) -> int:
    """The fee of one dossier row: national, or its receiving agency's on the day it was received."""
    procedure = desk.procedure_of(row)
    day = row.received_at.astimezone(VN_TZ).date()
    return fee_for(procedure, row.agency_code, day, desk.fees)


def paid_amount(db: Database, code: str) -> int:
    with transaction(db) as conn:
        return payments.paid_total(conn, code)


def is_paid(db: Database, desk: DossierDesk, code: str) -> bool:
    """True when the dossier's procedure has no fee or its paid payments cover the fee."""
    fee = fee_of(desk, code)
    return fee <= 0 or paid_amount(db, code) >= fee


def require_paid(db: Database, desk: DossierDesk, code: str) -> None:
    """Raise :class:`FeeNotPaid` (409) unless the fee is paid: the hook before the result is returned."""
    fee = fee_of(desk, code)
    if fee <= 0:
        return
    paid = paid_amount(db, code)
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

    def __init__(self, db: Database, clock: Clock, desk: DossierDesk, secret: bytes) -> None:
        self.db = db
        self.desk = desk
        self.cash = CashPayment(db, clock)
        self.gateway = TestGateway(db, clock, secret)

    def is_paid(self, code: str) -> bool:
        return is_paid(self.db, self.desk, code)

    def summary(self, person: Person, code: str) -> dict[str, Any]:
        self.desk.authorize_dossier(person, code)
        with transaction(self.db) as conn:
            rows = payments.of_dossier(conn, code)
        return {
            "dossier_code": code,
            "fee_vnd": fee_of(self.desk, code),
            "paid_vnd": paid_amount(self.db, code),
            "paid": is_paid(self.db, self.desk, code),
            "payments": [record_view(payment_record(r)) for r in rows],
        }

    def _open_fee(self, code: str) -> int:
        row = self.desk.dossier_row(code)
        if DossierStatus(row.status) in FINAL_STATUSES:
            raise Conflict("Hồ sơ đã kết thúc.", f"Dossier {code} is closed (status {row.status}).")
        fee = dossier_fee(self.desk, row)
        if fee <= 0:
            raise InvalidInput("Thủ tục này không thu phí, lệ phí.", f"Dossier {code}'s procedure has no fee.")
        due = fee - paid_amount(self.db, code)
        if due <= 0:
            raise Conflict("Hồ sơ đã nộp đủ phí, lệ phí.", f"The fee of dossier {code} is already paid.")
        return due

    def record_cash(
        self, person: Person, code: str, receipt_number: str, amount_vnd: int | None = None
    ) -> dict[str, Any]:
        if person.role != Role.RECEPTION:
            raise Forbidden("Chỉ cán bộ tiếp nhận được thu tiền mặt.", "Only reception officers record cash.")
        self.desk.authorize_dossier(person, code)
        due = self._open_fee(code)
        amount = due if amount_vnd is None else amount_vnd
        if amount <= 0:
            raise InvalidInput("Số tiền phải lớn hơn 0.", "The amount must be positive.")
        with transaction(self.db):
            record = self.cash.request(code, amount, person.username, receipt_number)
            self.desk.record(
                "payment.recorded",
                person.username,
                code,
                payment_id=record.id,
                method=record.method,
                amount_vnd=amount,
                reference=record.reference,
            )
        return record_view(record) | {"fee_paid": is_paid(self.db, self.desk, code)}

    def start_online(self, person: Person, code: str) -> dict[str, Any]:
        row = self.desk.authorize_dossier(person, code)
        if person.role not in (Role.CITIZEN, Role.RECEPTION):
            raise Forbidden(
                "Chỉ người nộp hồ sơ hoặc cán bộ tiếp nhận tạo được giao dịch.",
                "Only the applicant or reception start an online payment.",
            )
        amount = self._open_fee(row.code)
        with transaction(self.db):
            record = self.gateway.request(code, amount, person.username)
            self.desk.record(
                "payment.requested",
                person.username,
                code,
                payment_id=record.id,
                amount_vnd=amount,
                reference=record.reference,
            )
        return record_view(record) | {"callback": "/api/payments/callback", "signature_header": SIGNATURE_HEADER}

    def callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        with transaction(self.db):
            record = self.gateway.confirm(body, signature)
            self.desk.record(
                "payment.confirmed" if record.status == "paid" else "payment.failed",
                "system:payment-gateway",
                record.dossier_code,
                payment_id=record.id,
                reference=record.reference,
                amount_vnd=record.amount_vnd,
            )
        return record_view(record) | {"fee_paid": is_paid(self.db, self.desk, record.dossier_code)}
