"""The forms a dossier produces (Mẫu 01, 02, 03 and the result), built from its rows and signed.

Which key signs what: the receipt, supplement request and refusal carry the agency's signature (its seal);
the result carries the approving leader's signature — certifying, so later form filling and signatures
stay allowed — and then the agency seal.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from documents.forms import (
    COPY,
    ELECTRONIC,
    CertificateData,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    SupplementData,
    render_household_business_certificate,
    render_receipt,
    render_refusal,
    render_supplement_request,
)
from dossiers.model import Agency
from dossiers.ports import SignatureRequest
from motcua.issuing import DocumentIssuer, IssueRequest
from motcua.services import OneStopShop

_PREFIX = re.compile(r"^(Ủy ban nhân dân|UBND)\s+(tỉnh|thành phố|xã|phường|đặc khu|thị trấn|huyện|quận|thị xã)\s+")
AGENCY_FIELD = "agency_seal"
LEADER_FIELD = "leader_signature"


def place_name(agency: Agency) -> str:
    """The place on the date line: 'Hòa An' for 'Ủy ban nhân dân xã Hòa An'."""
    return _PREFIX.sub("", agency.name).strip() or agency.name


def _department_name(agency: Agency, role: str, default: str) -> str:
    for code in agency.departments_for_role(role):
        department = agency.department(code)
        if department is not None:
            return department.name
    return default


def _duration(days: int, working: bool) -> str:
    if days == 0:
        return "Trong ngày làm việc"
    return f"{days:02d} ngày {'làm việc' if working else ''}".strip()


class Paperwork:
    def __init__(self, shop: OneStopShop, issuer: DocumentIssuer) -> None:
        self.shop = shop
        self.issuer = issuer

    def _context(self, code: str) -> tuple[Any, Agency, Any]:
        row = self.shop._dossier_row(code)
        agency = self.shop.agency(row.agency_code, on=row.received_at.date())
        return row, agency, self.shop.procedure(row.procedure_code)

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
            agency_name=_department_name(agency, "reception", "Bộ phận Một cửa"),
            parent_agency=agency.name,
            place_name=place_name(agency),
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
            ),
            actor,
        )

    def supplement_request(self, code: str, key: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = SupplementData(
            dossier_code=code,
            agency_name=_department_name(agency, "reception", "Bộ phận Một cửa"),
            parent_agency=agency.name,
            place_name=place_name(agency),
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
            ),
            actor,
        )

    def refusal(self, code: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = RefusalData(
            dossier_code=code,
            agency_name=_department_name(agency, "reception", "Bộ phận Một cửa"),
            parent_agency=agency.name,
            place_name=place_name(agency),
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
            ),
            actor,
        )

    def household_business_certificate(self, code: str, leader: str, actor: str) -> str:
        row, agency, _ = self._context(code)
        details: dict[str, Any] = row.details or {}
        now = self.shop.clock.now()
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
            signer_name=self._full_name(leader, leader),
            signer_title="TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH",
        )
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-giay-chung-nhan-dang-ky-ho-kinh-doanh.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: render_household_business_certificate(data),
                signatures=(
                    SignatureRequest(
                        signer=f"person:{leader}",
                        field_name=LEADER_FIELD,
                        reason="Phê duyệt cấp Giấy chứng nhận đăng ký hộ kinh doanh",
                        certify=True,
                    ),
                    self._agency_seal(agency, "Đóng dấu cơ quan"),
                ),
            ),
            actor,
        )
