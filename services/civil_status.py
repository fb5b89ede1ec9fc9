"""The results of the civil status and certification procedures, in the Decree 30 order of work.

``birth_registration``, ``marriage_registration`` and ``certified_copy`` share every dossier step with the other
procedures; what is theirs is the result:

* prepare the birth certificate, the marriage certificate or the certified copy — render the result
  (:mod:`documents.civil_status`), create every field (the leader's signature, the number, the date, the agency's
  signature) before the first signature, and prepare the approving leader's personal signature for their device
  (two steps; the server never holds the key);
* seal — after the records clerk's ``register_number`` task: take the next number of the agency's register for
  the year (Sổ đăng ký khai sinh, Sổ đăng ký kết hôn, Sổ chứng thực bản sao từ bản chính), fill the number and
  date fields (permitted by the leader's DocMDP P=2 certification) and apply the agency's signature: the red
  seal over the leader's signature on the civil status papers, the Decree 30 copy stamp (copy form, agency,
  time; top right of page 1) on a certified copy.

Idempotent: the pending signature, the register number and the issued result each have an idempotency key
derived from the dossier code, so a repeated step changes nothing and takes no second number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from documents.civil_status import (
    DATE_BOX,
    NUMBER_BOX,
    BirthCertificateData,
    CopyCertificationData,
    MarriageCertificateData,
    Spouse,
    certified_copy,
    image_as_pdf,
    page_sizes,
    render_birth_certificate,
    render_copy_certification,
    render_marriage_certificate,
)
from documents.layout import SIGNATURE_BOX, long_date
from dossiers.calendar import VN_TZ
from dossiers.ports import Clock, DocumentStore, SignatureRequest, Signer, StoredObject
from services.issuing import IssueRequest
from services.paperwork import Paperwork, approving_leader, place_name
from services.shop import OneStopShop
from signing.appearance import copy_box, copy_style, development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, SEAL_FIELD, fill_number_and_date, prepare_copy_fields, prepare_fields

COPY_SEAL_FIELD = "certified_copy_seal"
COPY_FORM = "BẢN SAO CÓ CHỨNG THỰC"
LEADER_TITLE = "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"


@dataclass(frozen=True)
class ResultKind:
    """How one procedure's result is numbered, named and sealed."""

    series: str  # the agency's register (document_register.series)
    filename: str
    number_label: str
    seal_field: str
    seal_reason: str

    def number(self, serial: int, year: int) -> str:
        if self.series == "SCT/BS":  # Decree 23/2015: "Số chứng thực …, quyển số …-SCT/BS"
            return f"{serial:02d}, quyển số 01/{year}-SCT/BS"
        return f"{serial:02d}, quyển số 01/{year}"  # the civil status register of the year (sổ hộ tịch)


RESULTS = {
    "birth_registration": ResultKind(
        "SO-KS", "giay-khai-sinh", "Số: ", SEAL_FIELD, "Đóng dấu Ủy ban nhân dân (Giấy khai sinh)"
    ),
    "marriage_registration": ResultKind(
        "SO-KH", "giay-chung-nhan-ket-hon", "Số: ", SEAL_FIELD, "Đóng dấu Ủy ban nhân dân (Giấy chứng nhận kết hôn)"
    ),
    "certified_copy": ResultKind(
        "SCT/BS", "ban-sao-co-chung-thuc", "Số chứng thực: ", COPY_SEAL_FIELD, "Chứng thực bản sao đúng với bản chính"
    ),
}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _year(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{what}: {value!r} is not a date YYYY-MM-DD") from exc


def copy_signer(shop: OneStopShop, base: Signer) -> Signer:
    """The agency's signer (same keys, same time-stamping, same seal style) that draws the Decree 30 copy stamp in
    the certified copy's agency field."""
    from signing.pades import PadesSigner

    if not isinstance(base, PadesSigner):
        return base  # a test double: no appearance

    def style_for(request: SignatureRequest) -> Any:
        if request.field_name == COPY_SEAL_FIELD and request.signer.startswith("agency:"):
            agency = shop.agency(request.signer.removeprefix("agency:"))
            return copy_style(COPY_FORM, agency.name)
        return base.styles(request) if base.styles is not None else None

    return base.restyled(style_for)


def civil_fields(pdf: bytes) -> bytes:
    """Every field of a civil status paper before the first signature (the red seal over the leader's)."""
    return prepare_fields(
        pdf,
        leader_box=SIGNATURE_BOX.box,
        number_box=NUMBER_BOX,
        date_box=DATE_BOX,
        seal_box=seal_box(SIGNATURE_BOX.box),
    )


def certified_copy_fields(pdf: bytes, first_page: tuple[float, float], last_page: int) -> bytes:
    """Every field of a certified copy before the first signature: the leader's signature, the number and the
    date on the certification page (the last), the agency's copy stamp at the top right of page 1 (Decree 30,
    Appendix I)."""
    return prepare_copy_fields(
        pdf,
        leader_page=last_page,
        leader_box=SIGNATURE_BOX.box,
        copy_field=COPY_SEAL_FIELD,
        copy_box=copy_box(*first_page),
        number_box=NUMBER_BOX,
        date_box=DATE_BOX,
    )


class CivilStatusPapers:
    """The civil status results of one installation, each step given the dossier code and the process variables
    it reads; returns the pending leader signature's id (prepare) or the issued result's id (seal)."""

    def __init__(
        self,
        shop: OneStopShop,
        paperwork: Paperwork,
        clock: Clock,
        store: DocumentStore,
        actor: str = "system:worker",
    ) -> None:
        self.shop = shop
        self.paperwork = paperwork
        self.clock = clock
        self.store = store
        self.actor = actor
        self.copies = paperwork.issuer.with_signer(copy_signer(shop, paperwork.issuer.signer))

    # ------------------------------------------------------------------ helpers

    def context(self, code: str) -> tuple[Any, Any, dict[str, Any]]:
        row = self.shop.dossier_row(code)
        agency = self.shop.agency(row.agency_code, on=row.received_at.date())
        return row, agency, dict(row.details or {})

    @staticmethod
    def leader_of(variables: Mapping[str, Any]) -> str:
        return approving_leader(variables)

    def full_name(self, username: str) -> str:
        person = self.shop.accounts.get(username) if self.shop.accounts else None
        return person.full_name if person else username

    def request_leader(self, code: str, leader: str, pdf: bytes, reason: str) -> str:
        """The leader's personal signature of the prepared result, pending on their device."""
        return self.paperwork.signatures.request(
            code,
            leader,
            pdf,
            SignatureRequest(signer=f"person:{leader}", field_name=LEADER_FIELD, reason=reason, certify=True),
            document_kind="result",
            idempotency_key=f"{code}/result/leader",
            appearance=leader_style(
                development_signature_png(self.full_name(leader), cache_dir=self.paperwork.images_dir)
            ),
        )

    def original_of(self, code: str) -> tuple[bytes, str]:
        """The latest scan of the original (intake or supplement), as PDF bytes, and the paper's name."""
        doc = self.shop.latest_document(code, "ban_chinh", ("upload", "supplement", "scan"))
        if doc is None:
            raise ValueError(f"dossier {code} has no scan of the original (paper 'ban_chinh')")
        obj = StoredObject(doc.storage_key, doc.sha256, doc.size, doc.content_type, doc.version_id)
        data = b"".join(self.store.open(obj))
        if (doc.content_type or "").startswith("image/"):
            data = image_as_pdf(data)
        return data, doc.filename

    # ------------------------------------------------------------------ prepare

    def prepare_birth_certificate(self, code: str, variables: Mapping[str, Any]) -> str:
        leader = self.leader_of(variables)
        row, agency, d = self.context(code)
        data = BirthCertificateData(
            agency_name=agency.name,
            child_name=_text(d.get("child_name")),
            child_birth_date=_date(d.get("child_birth_date"), "child_birth_date"),
            child_gender=_text(d.get("child_gender")),
            birth_place=_text(d.get("birth_place")),
            mother_name=_text(d.get("mother_name")),
            registered_at=self.clock.now(),
            declarer_name=row.applicant_name,
            declarer_id_number=row.applicant_id_number or "",
            declarer_relationship=_text(d.get("declarer_relationship")),
            signer_name=self.full_name(leader),
            signer_title=LEADER_TITLE,
            dossier_code=code,
            child_ethnicity=_text(d.get("child_ethnicity")) or "Kinh",
            child_nationality=_text(d.get("child_nationality")) or "Việt Nam",
            hometown=_text(d.get("hometown")),
            child_id_number=_text(d.get("child_id_number")),
            mother_birth_year=_year(d.get("mother_birth_year")),
            mother_ethnicity=_text(d.get("mother_ethnicity")),
            mother_residence=_text(d.get("mother_residence")),
            father_name=_text(d.get("father_name")),
            father_birth_year=_year(d.get("father_birth_year")),
            father_ethnicity=_text(d.get("father_ethnicity")),
            father_nationality="Việt Nam" if _text(d.get("father_name")) else "",
            father_residence=_text(d.get("father_residence")),
        )
        pdf = civil_fields(self.paperwork.issuer.render(lambda: render_birth_certificate(data), "result"))
        return self.request_leader(code, leader, pdf, "Cấp Giấy khai sinh")

    def prepare_marriage_certificate(self, code: str, variables: Mapping[str, Any]) -> str:
        leader = self.leader_of(variables)
        _, agency, d = self.context(code)

        def spouse(side: str) -> Spouse:
            return Spouse(
                name=_text(d.get(f"{side}_name")),
                birth_date=_date(d.get(f"{side}_birth_date"), f"{side}_birth_date"),
                id_number=_text(d.get(f"{side}_id_number")),
                residence=_text(d.get(f"{side}_residence")),
                ethnicity=_text(d.get(f"{side}_ethnicity")) or "Kinh",
            )

        data = MarriageCertificateData(
            agency_name=agency.name,
            husband=spouse("husband"),
            wife=spouse("wife"),
            registered_at=self.clock.now(),
            signer_name=self.full_name(leader),
            signer_title=LEADER_TITLE,
            dossier_code=code,
        )
        pdf = civil_fields(self.paperwork.issuer.render(lambda: render_marriage_certificate(data), "result"))
        return self.request_leader(code, leader, pdf, "Cấp Giấy chứng nhận kết hôn")

    def prepare_certified_copy(self, code: str, variables: Mapping[str, Any]) -> str:
        leader = self.leader_of(variables)
        row, agency, d = self.context(code)
        original, filename = self.original_of(code)
        sizes = page_sizes(original)
        papers = {p.key: p.name for p in self.shop.procedure_of(row).papers}
        statement = CopyCertificationData(
            agency_name=agency.name,
            paper_name=_text(d.get("document_title")) or papers.get("ban_chinh", filename),
            applicant_name=row.applicant_name,
            original_pages=len(sizes),
            signer_name=self.full_name(leader),
            dossier_code=code,
        )
        pdf = certified_copy(
            original, self.paperwork.issuer.render(lambda: render_copy_certification(statement), "result")
        )
        pdf = certified_copy_fields(pdf, sizes[0], len(sizes))
        return self.request_leader(code, leader, pdf, "Chứng thực bản sao đúng với bản chính")

    # ------------------------------------------------------------------ seal

    def seal(self, code: str, variables: Mapping[str, Any]) -> str:
        """Number the leader-signed result in the agency's register of the year, then apply the agency's
        signature (the seal, or the copy stamp on a certified copy)."""
        existing = self.paperwork.issuer.existing(f"{code}/result")
        if existing is not None:
            return existing
        row, agency, _ = self.context(code)
        kind = RESULTS[self.shop.procedure_of(row).process_key]
        signed = self.paperwork.leader_signed_result(code)
        now = self.clock.now().astimezone(VN_TZ)
        serial = self.paperwork.register_number(agency.code, now.year, kind.series, once_for=code)
        number = kind.number(serial, now.year)
        filled = fill_number_and_date(
            signed, number, f"{place_name(agency)}, {long_date(now.date())}", number_label=kind.number_label
        )
        clerk = _text(variables.get("register_number_by")) or self.actor
        self.shop.record("document.numbered", clerk, code, number=number, series=kind.series)
        issuer = self.copies if kind.seal_field == COPY_SEAL_FIELD else self.paperwork.issuer
        return issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-{kind.filename}.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: filled,
                signatures=(
                    SignatureRequest(
                        signer=f"agency:{agency.code}", field_name=kind.seal_field, reason=kind.seal_reason
                    ),
                ),
                fields_ready=True,
            ),
            self.actor,
        )
