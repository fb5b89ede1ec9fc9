"""The forms a dossier produces (Mẫu 01, 02, 03 and the result), built from its rows and signed.

Which key signs what: the receipt, supplement request and refusal carry the agency's signature (its seal);
the result carries the approving leader's signature — certifying, so later form filling and signatures
stay allowed — and then the agency seal.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from documents.forms import (
    COPY,
    ELECTRONIC,
    SIGNATURE_BOX,
    CertificateData,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    SupplementData,
    long_date,
    render_household_business_certificate,
    render_receipt,
    render_refusal,
    render_supplement_request,
)
from dossiers.calendar import VN_TZ
from dossiers.model import Agency
from dossiers.ports import SignatureRequest
from motcua.db import document_register, is_sqlite, pending_signature, transaction
from motcua.issuing import DocumentIssuer, IssueRequest
from motcua.services import OneStopShop
from motcua.signatures import PersonalSignatures
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, SEAL_FIELD, fill_number_and_date, prepare_fields

_PREFIX = re.compile(r"^(Ủy ban nhân dân|UBND)\s+(tỉnh|thành phố|xã|phường|đặc khu|thị trấn|huyện|quận|thị xã)\s+")
AGENCY_FIELD = SEAL_FIELD
# Where the clerk's number and date go on the certificate: the left column under the agency's name.
NUMBER_BOX = (85, 738, 255, 752)
DATE_BOX = (85, 722, 255, 736)
RESULT_SERIES = "GCN-HKD"


def place_name(agency: Agency) -> str:
    """The place on the date line: 'Hòa An' for 'Ủy ban nhân dân xã Hòa An'."""
    return _PREFIX.sub("", agency.name).strip() or agency.name


def _department_name(agency: Agency, role: str, default: str) -> str:
    for code in agency.departments_for_role(role):
        department = agency.department(code)
        if department is not None:
            return department.name
    return default


def _desk(agency: Agency) -> dict[str, str]:
    """The header every reception-desk form carries: the desk, its agency, and the place on the date line."""
    return {
        "agency_name": _department_name(agency, "reception", "Bộ phận Một cửa"),
        "parent_agency": agency.name,
        "place_name": place_name(agency),
    }


def _duration(days: int, working: bool) -> str:
    if days == 0:
        return "Trong ngày làm việc"
    return f"{days:02d} ngày {'làm việc' if working else ''}".strip()


VISIBLE_SEAL = {SEAL_FIELD: (SIGNATURE_BOX.page, SIGNATURE_BOX.box)}


class Paperwork:
    def __init__(
        self, shop: OneStopShop, issuer: DocumentIssuer, signatures: PersonalSignatures, images_dir: Any = None
    ) -> None:
        self.shop = shop
        self.issuer = issuer
        self.signatures = signatures
        self.images_dir = images_dir

    def _context(self, code: str) -> tuple[Any, Agency, Any]:
        row = self.shop.dossier_row(code)
        agency = self.shop.agency(row.agency_code, on=row.received_at.date())
        return row, agency, self.shop.procedure_of(row)

    def _full_name(self, username: str | None, fallback: str) -> str:
        person = self.shop.accounts.get(username) if username and self.shop.accounts else None
        return person.full_name if person else fallback

    def _agency_seal(self, agency: Agency, reason: str) -> SignatureRequest:
        return SignatureRequest(signer=f"agency:{agency.code}", field_name=AGENCY_FIELD, reason=reason)

    def receipt(self, code: str, actor: str) -> str:
        row, agency, proc = self._context(code)
        names = {p.key: p.name for p in proc.papers}
        form = ELECTRONIC if row.channel == "online" else COPY
        papers = tuple(
            ReceivedPaper(names.get(d["paper_key"], d["filename"]), form)
            for d in self.shop.dossier_view(code)["documents"]
            if d["kind"] == "upload"
        )
        data = ReceiptData(
            dossier_code=code,
            **_desk(agency),
            applicant_name=row.applicant_name,
            applicant_id_number=row.applicant_id_number,
            applicant_phone=row.applicant_phone,
            procedure_name=proc.name,
            procedure_code=proc.code,
            papers=papers,
            received_at=row.received_at,
            appointment_at=row.due_at,
            processing_time=_duration(proc.time_limit_days, proc.working_days),
            officer_name=self._full_name(row.received_by, row.received_by),
            channel=row.channel,
        )
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="receipt",
                filename=f"{code}-mau-01-giay-tiep-nhan.pdf",
                idempotency_key=f"{code}/receipt",
                render=lambda: render_receipt(data),
                signatures=(self._agency_seal(agency, "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"),),
                field_boxes=VISIBLE_SEAL,
            ),
            actor,
        )

    def supplement_request(self, code: str, key: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = SupplementData(
            dossier_code=code,
            **_desk(agency),
            applicant_name=row.applicant_name,
            procedure_name=proc.name,
            items=(comment or "Bổ sung, hoàn thiện hồ sơ theo hướng dẫn của cán bộ thụ lý",),
            reason="Hồ sơ chưa đầy đủ, hợp lệ theo quy định.",
            official_name=self._full_name(official, official or "Cán bộ thụ lý"),
            issued_at=self.shop.clock.now(),
            received_at=row.received_at,
        )
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="supplement_request",
                filename=f"{code}-mau-02-yeu-cau-bo-sung.pdf",
                idempotency_key=key,
                render=lambda: render_supplement_request(data),
                signatures=(self._agency_seal(agency, "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"),),
                field_boxes=VISIBLE_SEAL,
            ),
            actor,
        )

    def refusal(self, code: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = RefusalData(
            dossier_code=code,
            **_desk(agency),
            applicant_name=row.applicant_name,
            procedure_name=proc.name,
            reason=comment or "Hồ sơ không đủ điều kiện giải quyết theo quy định.",
            official_name=self._full_name(official, official or "Cán bộ thụ lý"),
            issued_at=self.shop.clock.now(),
            received_at=row.received_at,
        )
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="refusal",
                filename=f"{code}-mau-03-tu-choi.pdf",
                idempotency_key=f"{code}/refusal",
                render=lambda: render_refusal(data),
                signatures=(self._agency_seal(agency, "Phiếu từ chối tiếp nhận giải quyết hồ sơ"),),
                field_boxes=VISIBLE_SEAL,
            ),
            actor,
        )

    def prepare_household_business_certificate(self, code: str, leader: str) -> str:
        """Render the certificate, create every field (number, date, leader, seal) and prepare the leader's
        signature for their device; returns the pending signature's id."""
        row, agency, _ = self._context(code)
        details: dict[str, Any] = row.details or {}
        now = self.shop.clock.now()
        leader_name = self._full_name(leader, leader)
        data = CertificateData(
            parent_agency=agency.name,
            issuing_authority=_department_name(agency, "specialist", "Phòng Kinh tế"),
            place_name=place_name(agency),
            registration_number=f"HKD-{code}",
            first_registered_on=now,
            business_name=str(details.get("business_name", "")),
            business_address=str(details.get("business_address", "")),
            business_lines=tuple(details.get("business_lines", ())),
            capital_vnd=int(details.get("capital_vnd", 0)),
            owner_name=row.applicant_name,
            owner_id_number=row.applicant_id_number,
            owner_birth_date=dt.date.fromisoformat(str(details["owner_birth_date"])),
            owner_address=details.get("owner_address"),
            employees=details.get("employees"),
            phone=row.applicant_phone,
            issued_at=now,
            signer_name=leader_name,
            signer_title="TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH",
        )
        leader_box = SIGNATURE_BOX.box
        pdf = prepare_fields(
            render_household_business_certificate(data),
            leader_box=leader_box,
            number_box=NUMBER_BOX,
            date_box=DATE_BOX,
            seal_box=seal_box(leader_box),
        )
        return self.signatures.request(
            code,
            leader,
            pdf,
            SignatureRequest(
                signer=f"person:{leader}",
                field_name=LEADER_FIELD,
                reason="Phê duyệt cấp Giấy chứng nhận đăng ký hộ kinh doanh",
                certify=True,
            ),
            document_kind="result",
            idempotency_key=f"{code}/result/leader",
            appearance=leader_style(development_signature_png(leader_name, cache_dir=self.images_dir)),
        )

    def seal_household_business_certificate(self, code: str, clerk: str | None, actor: str) -> str:
        """Fill the clerk's number and date into the leader-signed certificate, then apply the agency seal."""
        existing = self.issuer.existing(f"{code}/result")
        if existing is not None:
            return existing
        _, agency, _ = self._context(code)
        with transaction(self.shop.db) as conn:
            pending = conn.execute(
                select(pending_signature.c.id).where(
                    pending_signature.c.dossier_code == code,
                    pending_signature.c.document_kind == "result",
                    pending_signature.c.completed_at.is_not(None),
                )
            ).first()
        if pending is None:
            raise ValueError(f"the leader has not signed the result of {code} yet")
        _, signed = self.signatures.signed_document(pending.id)
        now = self.shop.clock.now()
        number = self._register_number(agency.code, now.astimezone(VN_TZ).year)
        filled = fill_number_and_date(signed, number, long_date(now.astimezone(VN_TZ).date()))
        self.shop.record("document.numbered", clerk or actor, code, number=number, series=RESULT_SERIES)
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-giay-chung-nhan-dang-ky-ho-kinh-doanh.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: filled,
                signatures=(self._agency_seal(agency, "Đóng dấu cơ quan"),),
                fields_ready=True,
            ),
            actor,
        )

    def _register_number(self, agency_code: str, year: int) -> str:
        """Next number in the agency's register of this series for the year (no gaps: same transaction)."""
        if is_sqlite(self.shop.db):
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
        stmt = upsert(document_register).values(agency_code=agency_code, year=year, series=RESULT_SERIES, last_number=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["agency_code", "year", "series"],
            set_={"last_number": document_register.c.last_number + 1},
        ).returning(document_register.c.last_number)
        with transaction(self.shop.db) as conn:
            number = conn.execute(stmt).scalar_one()
        return f"{number:02d}/{RESULT_SERIES}"
