"""The forms a dossier produces (Mẫu 01–06 and the result), built from its rows and history, and signed.

Which key signs what: the receipt, supplement request and refusal carry the agency's signature (its seal); a
letter whose template names the head of the agency as its signer (Mẫu 04, Mẫu 05 of 2025: ``signed_by_head``) is
signed by the head personally on their device and then sealed (:meth:`Paperwork.finish_signed_letter`); the result
carries the approving leader's signature — certifying, so later form filling and signatures stay allowed — and then
the agency seal. The control sheet (Mẫu 05) and the tracking register
(Mẫu 06) are made on request from the audit history and the dossier rows, sealed by the agency, not stored.

Texts come from the form templates (``documents/templates/*.json``, or an agency's override directory), of the set
in force on the dossier's received date: Circular 01/2018/TT-VPCP before 15 September 2025, Circular
03/2025/TT-VPCP from then (:meth:`documents.templating.Templates.on`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from documents.forms import (
    COPY,
    ELECTRONIC,
    ApologyData,
    ControlSheetData,
    HandOver,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    StopNoticeData,
    SupplementData,
    render_apology,
    render_control_sheet,
    render_receipt,
    render_refusal,
    render_stop_notice,
    render_supplement_request,
)
from documents.layout import SIGNATURE_BOX
from documents.registers import TrackingRegisterData, TrackingRow, render_tracking_register, tracking_register_xlsx
from documents.templating import FormTemplate, Templates
from dossiers.calendar import VN_TZ
from dossiers.catalogue import PAPER_FORM_NAMES
from dossiers.errors import Conflict, NotFound
from dossiers.lifecycle import timeliness
from dossiers.model import FINAL_STATUSES, STATUS_LABELS_VI, Agency, DossierStatus, Role
from dossiers.ports import AuditLog, Clock, SignatureRequest
from dossiers.step_times import step_due
from dossiers.text_rules import check_day
from persistence import pending_signatures, reports
from persistence.counters import next_register_number
from persistence.uow import Database, transaction
from services.issuing import DocumentIssuer, IssueRequest
from services.notifications import Outbox, notify_applicant
from services.shop import OneStopShop
from services.signatures import LETTER_KINDS, PersonalSignatures
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, SEAL_FIELD
from signing.pades import create_signature_fields

_PREFIX = re.compile(r"^(Ủy ban nhân dân|UBND)\s+(tỉnh|thành phố|xã|phường|đặc khu|thị trấn|huyện|quận|thị xã)\s+")
AGENCY_FIELD = SEAL_FIELD
# Where the clerk's number and date go on the certificate: the left column under the agency's name.
NUMBER_BOX = (85, 738, 255, 752)
DATE_BOX = (85, 722, 255, 736)
TRACKING_SERIES = "SO-THEO-DOI"  # the tracking register's entries (Mẫu 01 of 2025 names the dossier's)
_ADDRESS_FIELDS = ("applicant_address", "owner_address", "address")  # where the form holds the applicant's address
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
HEAD_SIGNATURE_KEY = "/leader"  # a letter stored under {key} is signed by the head under {key}/leader
LETTER_MESSAGE_KEY = "/message"  # the applicant's message about it, sent once it is sealed
LETTER_ACTOR = "system:letters"  # who seals a letter the head signed
LETTER_RETRY_WINDOW = dt.timedelta(days=30)  # how far back the housekeeping round looks for unsealed letters
_HANDLING_ROLES = (Role.RECEPTION, Role.SPECIALIST, Role.LEADER, Role.CLERK)
_ROLE_DEFAULTS = {
    Role.RECEPTION.value: "Bộ phận Một cửa",
    Role.SPECIALIST.value: "Bộ phận chuyên môn",
    Role.LEADER.value: "Lãnh đạo",
    Role.CLERK.value: "Văn thư",
}
_APPLICANT = "applicant"
# Audit events in which an official works on the dossier (the official's role is the department holding it).
_WORK_EVENTS = frozenset(
    {"task.claimed", "task.completed", "document.numbered", "signature.applied", "dossier.supplemented"}
)
# Status changes that hand the dossier over by themselves, with the note on the control sheet.
_STATUS_HAND_OVERS = {
    DossierStatus.SUPPLEMENT_REQUESTED.value: (_APPLICANT, "Yêu cầu bổ sung, hoàn thiện hồ sơ"),
    DossierStatus.REFUSED.value: (_APPLICANT, "Từ chối giải quyết hồ sơ"),
    DossierStatus.RESULT_READY.value: (Role.RECEPTION.value, "Chuyển kết quả về Bộ phận Một cửa"),
    DossierStatus.RETURNED.value: (_APPLICANT, "Trả kết quả cho tổ chức, cá nhân"),
    DossierStatus.WITHDRAWN.value: (_APPLICANT, "Dừng giải quyết theo đề nghị của tổ chức, cá nhân (rút hồ sơ)"),
    DossierStatus.STOPPED.value: (_APPLICANT, "Dừng giải quyết hồ sơ"),
}


@dataclass(frozen=True)
class _Letter:
    """A letter to the applicant before it is signed: its kind, its form in the dossier's set, the agency that
    issues it and how it is rendered."""

    kind: str
    form: FormTemplate
    agency: Agency
    render: Callable[[], bytes]

    def filename(self, code: str) -> str:
        if self.kind == "apology":
            return f"{code}-mau-04-xin-loi-{'gia-han' if self.form.has('extension') else 'hen-lai'}.pdf"
        return f"{code}-mau-05-dung-giai-quyet.pdf"


def place_name(agency: Agency) -> str:
    """The place on the date line: 'Hòa An' for 'Ủy ban nhân dân xã Hòa An'."""
    return _PREFIX.sub("", agency.name).strip() or agency.name


def approving_leader(variables: Mapping[str, Any]) -> str:
    """The leader who approved the result (process variable ``approve_by``): the one whose signature is prepared."""
    leader = variables.get("approve_by")
    if not isinstance(leader, str) or not leader.strip():
        raise ValueError("the approving leader (process variable 'approve_by') is unknown")
    return leader.strip()


def department_name(agency: Agency, role: str, default: str) -> str:
    """The name of the agency's department acting in ``role`` (``default`` when it names none)."""
    for code in agency.departments_for_role(role):
        department = agency.department(code)
        if department is not None:
            return department.name
    return default


def _desk(agency: Agency) -> dict[str, str]:
    """The header every reception-desk form carries: the desk, its agency, and the place on the date line."""
    return {
        "agency_name": department_name(agency, "reception", "Bộ phận Một cửa"),
        "parent_agency": agency.name,
        "place_name": place_name(agency),
    }


def _duration(days: int, working: bool) -> str:
    if days == 0:
        return "Trong ngày làm việc"
    return f"{days:02d} ngày {'làm việc' if working else ''}".strip()


VISIBLE_SEAL = {SEAL_FIELD: (SIGNATURE_BOX.page, SIGNATURE_BOX.box)}


def _applicant_address(row: Any) -> str | None:
    """The applicant's address as the application form gave it (the dossier row has no column for it)."""
    details: Mapping[str, Any] = row.details or {}
    for key in _ADDRESS_FIELDS:
        value = details.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class Paperwork:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: AuditLog,
        desk: OneStopShop,
        issuer: DocumentIssuer,
        signatures: PersonalSignatures,
        images_dir: Any = None,
        *,
        public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
        templates_dir: Any = None,
    ) -> None:
        """``public_base_url``: where citizens reach the public lookup (``{base}/tra-cuu?ma={code}``, the QR
        code on Mẫu 01); ``templates_dir``: an agency's edited form templates (the shipped ones otherwise)."""
        self.db = db
        self.clock = clock
        self.audit = audit
        self.desk = desk
        self.issuer = issuer
        self.signatures = signatures
        self.images_dir = images_dir
        self.public_base_url = public_base_url.rstrip("/")
        self.templates = Templates(templates_dir)
        signatures.on_letter_signed(self.finish_signed_letter)  # a letter the head signed is sealed at once

    def lookup_url(self, code: str) -> str:
        """The public lookup address of a dossier (printed on the receipt and encoded in its QR code)."""
        from urllib.parse import quote

        return f"{self.public_base_url}/tra-cuu?ma={quote(code, safe='')}"

    def _context(self, code: str) -> tuple[Any, Agency, Any]:
        row = self.desk.dossier_row(code)
        agency = self.desk.agency(row.agency_code, on=row.received_at.date())
        return row, agency, self.desk.procedure_of(row)

    def _full_name(self, username: str | None, fallback: str) -> str:
        person = self.desk.accounts.get(username) if username and self.desk.accounts else None
        return person.full_name if person else fallback

    def agency_seal(self, agency: Agency, reason: str) -> SignatureRequest:
        """The agency's seal in its form field (every sealed paper of every procedure uses this one)."""
        return SignatureRequest(signer=f"agency:{agency.code}", field_name=AGENCY_FIELD, reason=reason)

    def _letter(self, code: str, row: Any, proc: Any) -> dict[str, Any]:
        """What every letter to the applicant carries: the dossier, its procedure, the addressee and how to reach
        them (the 2025 forms), the day it was received and the day of the letter."""
        return {
            "dossier_code": code,
            "applicant_name": row.applicant_name,
            "procedure_name": proc.name,
            "issued_at": self.clock.now(),
            "received_at": row.received_at,
            "applicant_address": _applicant_address(row),
            "applicant_email": row.applicant_email,
        }

    def issue_sealed_form(
        self,
        code: str,
        kind: str,
        filename: str,
        idempotency_key: str,
        render: Callable[[], bytes],
        agency: Agency,
        reason: str,
        actor: str,
    ) -> str:
        """A form sealed by an agency in its visible seal box (the desk's Mẫu 01–04, the joint procedures'
        inspection record and tax notice): rendered, stored once per ``idempotency_key``; returns the document id."""
        return self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind=kind,
                filename=filename,
                idempotency_key=idempotency_key,
                render=render,
                signatures=(self.agency_seal(agency, reason),),
                field_boxes=VISIBLE_SEAL,
            ),
            actor,
        )

    def receipt(self, code: str, actor: str) -> str:
        row, agency, proc = self._context(code)
        listed = {p.key: p for p in proc.papers}

        def received(paper_key: str | None, filename: str) -> ReceivedPaper:
            """Online: the electronic copies filed; at the counter: the form the catalogue asks for (the
            application form is an original, an ID card a copy) and how many."""
            paper = listed.get(paper_key or "")
            if paper is None:
                return ReceivedPaper(filename, ELECTRONIC if row.channel == "online" else COPY)
            if row.channel == "online":
                return ReceivedPaper(paper.name, ELECTRONIC)
            return ReceivedPaper(paper.name, PAPER_FORM_NAMES.get(paper.form, COPY), max(1, paper.count))

        papers = tuple(
            received(d["paper_key"], d["filename"])
            for d in self.desk.dossier_view(code)["documents"]
            if d["kind"] == "upload"
        )
        templates = self.templates.on(row.received_at)
        year = row.received_at.astimezone(VN_TZ).year
        entry = None
        if templates.form("receipt").has("register_entry"):
            entry = self.tracking_entry(agency.code, year, code)
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
            lookup_url=self.lookup_url(code),
            applicant_address=_applicant_address(row),
            applicant_email=row.applicant_email,
            return_channel=row.return_channel,
            register_book=str(year) if entry is not None else None,
            register_number=entry,
        )
        return self.issue_sealed_form(
            code,
            "receipt",
            f"{code}-mau-01-giay-tiep-nhan.pdf",
            f"{code}/receipt",
            lambda: render_receipt(data, templates),
            agency,
            "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
            actor,
        )

    def supplement_request(self, code: str, key: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = SupplementData(
            **self._letter(code, row, proc),
            **_desk(agency),
            items=(comment or "Bổ sung, hoàn thiện hồ sơ theo hướng dẫn của cán bộ thụ lý",),
            reason="Hồ sơ chưa đầy đủ, hợp lệ theo quy định.",
            official_name=self._full_name(official, official or "Cán bộ thụ lý"),
        )
        return self.issue_sealed_form(
            code,
            "supplement_request",
            f"{code}-mau-02-yeu-cau-bo-sung.pdf",
            key,
            lambda: render_supplement_request(data, self.templates.on(row.received_at)),
            agency,
            "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
            actor,
        )

    def refusal(self, code: str, official: str | None, comment: str | None, actor: str) -> str:
        row, agency, proc = self._context(code)
        data = RefusalData(
            **self._letter(code, row, proc),
            **_desk(agency),
            reason=comment or "Hồ sơ không đủ điều kiện giải quyết theo quy định.",
            official_name=self._full_name(official, official or "Cán bộ thụ lý"),
        )
        return self.issue_sealed_form(
            code,
            "refusal",
            f"{code}-mau-03-tu-choi.pdf",
            f"{code}/refusal",
            lambda: render_refusal(data, self.templates.on(row.received_at)),
            agency,
            "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
            actor,
        )

    def _apology(self, code: str, new_due_at: dt.datetime, reason: str, signer_name: str | None) -> _Letter:
        """Mẫu 04 of the set in force on the received date: 2018 apologises and sets a new date, 2025 apologises
        and asks the applicant to agree to the extension."""
        row, agency, proc = self._context(code)
        data = ApologyData(
            **self._letter(code, row, proc),
            agency_name=agency.name,
            place_name=place_name(agency),
            old_due_at=row.due_at,
            new_due_at=new_due_at,
            reason=reason,
            official_name=signer_name,
        )
        templates = self.templates.on(row.received_at)
        form = templates.form("apology")
        return _Letter("apology", form, agency, lambda: render_apology(data, templates))

    def apology(self, code: str, new_due_at: dt.datetime, reason: str, actor: str, idempotency_key: str) -> str:
        """Mẫu 04 with the reason and the new date, sealed by the agency at once, stored; returns the document id
        (a set whose Mẫu 04 the head signs goes through :meth:`request_apology_signature` instead).

        Only issues the letter: moving the dossier's due date and notifying the citizen are the caller's."""
        existing = self.issuer.existing(idempotency_key)
        if existing is not None:
            return existing
        row = self.desk.dossier_row(code)
        letter = self._apology(code, new_due_at, reason, self._full_name(actor, "") or None)
        doc_id = self.issue_sealed_form(
            code,
            "apology",
            letter.filename(code),
            idempotency_key,
            letter.render,
            letter.agency,
            letter.form.name,
            actor,
        )
        self.desk.record(
            "dossier.apology_issued",
            actor,
            code,
            document_id=doc_id,
            old_due_at=row.due_at.isoformat(),
            new_due_at=new_due_at.isoformat(),
            reason=reason,
        )
        return doc_id

    def _stop_notice(
        self, code: str, reason: str, signer_name: str | None, requested_at: dt.datetime | None
    ) -> _Letter:
        """Mẫu 05 of 2025 (``KeyError`` for a dossier under the 2018 set, which has no such form)."""
        row, agency, proc = self._context(code)
        templates = self.templates.on(row.received_at)
        form = templates.form("stop_notice")
        data = StopNoticeData(
            **self._letter(code, row, proc),
            agency_name=agency.name,
            place_name=place_name(agency),
            reason=reason,
            official_name=signer_name,
            requested_at=requested_at,
            return_channel=row.return_channel,
        )
        return _Letter("stop_notice", form, agency, lambda: render_stop_notice(data, templates))

    def stop_notice(
        self,
        code: str,
        reason: str,
        actor: str,
        idempotency_key: str,
        *,
        requested_at: dt.datetime | None = None,
    ) -> str:
        """Mẫu 05 of Circular 03/2025, Thông báo dừng giải quyết hồ sơ: at the applicant's request (``requested_at``:
        when they asked) or by the agency, with the reason and how the papers go back (the dossier's return
        channel); signed in the acting officer's name, sealed by the agency at once, stored; returns the document
        id (when the head signs it: :meth:`request_stop_notice_signature`).

        Only issues the notice: stopping the process and the dossier's status are the caller's. A dossier
        received before 15 September 2025 has no such form (its set is the 2018 one): ``KeyError``."""
        existing = self.issuer.existing(idempotency_key)
        if existing is not None:
            return existing
        letter = self._stop_notice(code, reason, self._full_name(actor, "") or None, requested_at)
        return self.issue_sealed_form(
            code,
            "stop_notice",
            letter.filename(code),
            idempotency_key,
            letter.render,
            letter.agency,
            letter.form.name,
            actor,
        )

    # ------------------------------------------------------------------ letters the head signs (Mẫu 04, 05)

    def head_signs(self, code: str, kind: str) -> bool:
        """Whether the head of the agency signs the dossier's letter ``kind`` personally before the seal (the
        template of the set in force on its received date says so); ``KeyError`` when the set has no such form."""
        row = self.desk.dossier_row(code)
        return self.templates.on(row.received_at).form(kind).signed_by_head

    def agency_head(self, agency: Agency) -> str:
        """Who signs for the head of ``agency``: its active leaders — those of the department the agency maps to
        the leader's role first, then by user name — the first with a published certificate to prepare for."""
        rows = self.desk.accounts.rows() if self.desk.accounts else []
        leading = set(agency.departments_for_role(Role.LEADER.value))
        leaders = sorted(
            (r for r in rows if r.role == Role.LEADER.value and r.agency_code == agency.code and r.active),
            key=lambda r: (r.department_code not in leading, r.username),
        )
        for leader in leaders:
            try:
                self.signatures.pki.public_chain(f"person:{leader.username}")
            except NotFound:
                continue
            return str(leader.username)
        raise Conflict(
            f"{agency.name} chưa có lãnh đạo có chứng thư số để ký văn bản này: quản trị viên cần đăng ký chứng thư số "
            "cho lãnh đạo (Quản trị → Chứng thư số).",
            f"Agency {agency.code} has no leader with a signing certificate to sign this letter.",
            agency_code=agency.code,
        )

    def request_apology_signature(self, code: str, new_due_at: dt.datetime, reason: str, key: str) -> str:
        """Mẫu 04 prepared for the head's personal signature (the letter is stored under ``key`` once sealed);
        returns the pending signature's id."""
        found = self._requested(key)
        if found is not None:
            return found
        leader = self.agency_head(self._context(code)[1])
        letter = self._apology(code, new_due_at, reason, self._full_name(leader, leader))
        return self._request_head_signature(code, letter, leader, key)

    def request_stop_notice_signature(
        self, code: str, reason: str, key: str, *, requested_at: dt.datetime | None = None
    ) -> str:
        """Mẫu 05 prepared for the head's personal signature; returns the pending signature's id (``KeyError``
        under the 2018 set)."""
        found = self._requested(key)
        if found is not None:
            return found
        leader = self.agency_head(self._context(code)[1])
        letter = self._stop_notice(code, reason, self._full_name(leader, leader), requested_at)
        return self._request_head_signature(code, letter, leader, key)

    def _requested(self, key: str) -> str | None:
        with transaction(self.db) as conn:
            return pending_signatures.id_for_key(conn, key + HEAD_SIGNATURE_KEY)

    def _request_head_signature(self, code: str, letter: _Letter, leader: str, key: str) -> str:
        """Decree 30 order: both fields — the head's, then the agency seal over its left third — before the first
        signature; the head's is a certification (form filling and the seal stay allowed), made on their device."""
        pdf = create_signature_fields(
            self.issuer.render(letter.render, letter.kind),
            [LEADER_FIELD, SEAL_FIELD],
            boxes={
                LEADER_FIELD: (SIGNATURE_BOX.page, SIGNATURE_BOX.box),
                SEAL_FIELD: (SIGNATURE_BOX.page, seal_box(SIGNATURE_BOX.box)),
            },
        )
        name = self._full_name(leader, leader)
        return self.signatures.request(
            code,
            leader,
            pdf,
            SignatureRequest(signer=f"person:{leader}", field_name=LEADER_FIELD, reason=letter.form.name, certify=True),
            document_kind=letter.kind,
            idempotency_key=key + HEAD_SIGNATURE_KEY,
            appearance=leader_style(development_signature_png(name, cache_dir=self.images_dir)),
        )

    def defer_message(self, key: str, subject: str, body: str, **details: Any) -> None:
        """The applicant's message about the letter stored under ``key``, sent when the letter is sealed (in the
        caller's unit of work, with the officer's decision); ``details`` go into the audit entry of the issue."""
        self.desk.once(key + LETTER_MESSAGE_KEY, {"subject": subject, "body": body, "details": details})

    def finish_signed_letter(self, pending_id: str) -> str:
        """The head signed the letter: apply the agency seal to the signed PDF, store it as the dossier's Mẫu 04/05
        and only then tell the applicant — the document and the message in one unit of work. Idempotent: a letter
        already stored is neither sealed nor stored again; returns its document id."""
        with transaction(self.db) as conn:
            pending = pending_signatures.find(conn, pending_id)
        if pending is None or pending.completed_at is None or pending.document_kind not in LETTER_KINDS:
            raise ValueError(f"pending signature {pending_id} is not a signed letter")
        code, kind = pending.dossier_code, pending.document_kind
        key = str(pending.idempotency_key).removesuffix(HEAD_SIGNATURE_KEY)
        existing = self.issuer.existing(key)
        if existing is not None:
            return existing
        row, agency, _ = self._context(code)
        form = self.templates.on(row.received_at).form(kind)
        seal = self.agency_seal(agency, form.name)
        _, signed = self.signatures.signed_document(pending_id)
        sealed = self.issuer.sign(signed, (seal,), fields_ready=True)  # outside the unit of work: no lock held
        letter = _Letter(kind, form, agency, lambda: sealed)
        with transaction(self.db):
            if self.issuer.existing(key) is not None:
                return str(self.issuer.existing(key))
            doc_id = self.issuer.issue(
                IssueRequest(code, kind, letter.filename(code), key, letter.render, fields_ready=True), LETTER_ACTOR
            )
            self.desk.record(
                "signature.applied", LETTER_ACTOR, code, document_id=doc_id, signer=seal.signer, field=seal.field_name
            )
            message = self.desk.side_effect_result(key + LETTER_MESSAGE_KEY) or {}
            self.desk.record(
                f"dossier.{kind}_issued",
                LETTER_ACTOR,
                code,
                document_id=doc_id,
                signed_by=pending.signer,
                **dict(message.get("details") or {}),
            )
            if message:
                notify_applicant(Outbox(self.db, self.clock), row, message["subject"], message["body"], key)
        return doc_id

    def finish_signed_letters(self, within: dt.timedelta = LETTER_RETRY_WINDOW) -> list[str]:
        """Seal every letter whose head signed it ``within`` the last days and that is not stored yet (a crash or a
        failure between the signature and the seal); returns the documents stored now. Run by the housekeeping
        round (a letter still unsealed after the window needs an administrator: the signature is kept)."""
        since = self.clock.now() - within
        with transaction(self.db) as conn:
            rows = pending_signatures.signed_without_document(conn, sorted(LETTER_KINDS), HEAD_SIGNATURE_KEY, since)
        return [self.finish_signed_letter(r.id) for r in rows]

    # ------------------------------------------------------------------ Mẫu 05: control sheet

    def hand_overs(self, code: str) -> list[HandOver]:
        """The dossier's hand-overs, derived from its audit history.

        The department holding the dossier is the role of the official who last worked on it (received it,
        claimed or completed a task, numbered or signed a document); a status change hands it over by itself
        (supplement request or refusal: to the applicant; result ready: to the desk; returned: to the
        applicant). Each change of holder is one row: given when the previous holder last worked on it (or at
        the status change), taken when the next holder claimed it (else at once), early / on time / late at
        the moment of giving against the due date then in force (which moves when a supplement resumes)."""
        row, agency, _ = self._context(code)
        sheet = self.templates.on(row.received_at).form("control_sheet")
        applicant = sheet.plain("applicant_party", applicant_name=row.applicant_name)
        roles: dict[str, Any] = {}

        def official(username: str) -> Any:
            if username not in roles:
                person = self.desk.accounts.get(username) if self.desk.accounts else None
                roles[username] = person if person is not None and person.role in _HANDLING_ROLES else None
            return roles[username]

        def party(role: str, person: Any) -> str:
            if role == _APPLICANT:
                return applicant
            name = department_name(agency, role, _ROLE_DEFAULTS.get(role, role))
            return f"{name} ({person.full_name})" if person is not None else name

        due: dt.datetime | None = None
        holder: tuple[str, Any] | None = None  # role, person
        last_work: dt.datetime | None = None
        held_since: dt.datetime | None = None  # when the holder took the dossier
        held_step: str | None = None  # the BPMN step the holder worked on (its share of the time limit)
        rows: list[HandOver] = []
        proc = self.desk.procedure_of(row)

        def step_due_of(role: str, started: dt.datetime, dossier_due: dt.datetime) -> dt.datetime:
            """A hand-over is judged against the giver's step (the applicant's time is paused: the dossier's)."""
            if role == _APPLICANT:
                return dossier_due
            calendar = self.desk.calendar
            return step_due(proc, held_step or "", role, calendar, started, row.clock_start, dossier_due)

        for entry in self.audit.for_dossier(code):
            event, details = entry.event, dict(entry.event.details)
            if details.get("due_at") and event.kind in ("dossier.received", "dossier.status_changed"):
                due = dt.datetime.fromisoformat(str(details["due_at"]))
            if due is None:
                due = row.due_at
            target: tuple[str, Any] | None = None
            marks = False
            note = None
            if event.kind == "dossier.received":
                target = (Role.RECEPTION.value, official(event.actor))
            elif event.kind == "dossier.status_changed" and details.get("status") in _STATUS_HAND_OVERS:
                role, note = _STATUS_HAND_OVERS[str(details["status"])]
                target, marks = (role, None), True
            elif event.kind in _WORK_EVENTS:
                username = event.actor.removeprefix("person:")
                person = official(username)
                if person is None and event.kind == "dossier.supplemented":
                    target = (Role.RECEPTION.value, None)  # supplemented online: the desk takes it
                elif person is not None:
                    target = (person.role.value, person)
            if target is None:
                continue
            if holder is None or target[0] != holder[0]:
                if holder is not None:
                    # the applicant has no work events: what they hand in is given when it arrives
                    at_once = marks or last_work is None or holder[0] == _APPLICANT
                    handed = event.at if at_once or last_work is None else last_work
                    owed = step_due_of(holder[0], held_since or handed, due)
                    rows.append(
                        HandOver(
                            giver=party(*holder),
                            receiver=party(*target),
                            handed_at=handed,
                            due_at=owed,
                            timeliness=timeliness(handed, owed).value,
                            taken_at=event.at if event.kind == "task.claimed" else handed,
                            note=note,
                        )
                    )
                holder, held_since, held_step = target, event.at, None
            elif target[1] is not None and holder[1] is None:
                holder = target
            if event.kind in ("task.claimed", "task.completed") and held_step is None and details.get("task"):
                held_step = str(details["task"])
            last_work = event.at
        return rows

    def coordinating_agencies(self, code: str, own: str) -> tuple[str, ...]:
        """The other agencies the dossier went to or came back from (its envelopes' senders and receivers), in
        the order they first appear in its history."""
        names: dict[str, str] = {}
        for entry in self.audit.for_dossier(code):
            if entry.event.kind != "exchange.delivered":
                continue
            details = dict(entry.event.details)
            for key in ("sender", "receiver"):
                other = details.get(key)
                if isinstance(other, str) and other and other != own and other not in names:
                    try:
                        names[other] = self.desk.agency(other).name
                    except NotFound:
                        names[other] = other  # a partner outside the structure: its public unit code
        return tuple(names.values())

    def control_sheet_data(self, code: str, actor: str | None = None) -> ControlSheetData:
        """The control sheet's data; ``actor``: the officer issuing it (named under the signature)."""
        row, agency, proc = self._context(code)
        return ControlSheetData(
            dossier_code=code,
            **_desk(agency),
            applicant_name=row.applicant_name,
            procedure_name=proc.name,
            handling_agency=f"{department_name(agency, 'specialist', 'Bộ phận chuyên môn')}, {agency.name}",
            received_at=row.received_at,
            due_at=row.due_at,
            issued_at=self.clock.now(),
            rows=tuple(self.hand_overs(code)),
            coordinating_agencies=self.coordinating_agencies(code, agency.code),
            signer_name=self._full_name(actor, "") or None if actor else None,
        )

    def control_sheet(self, code: str, actor: str) -> bytes:
        """The control sheet (Mẫu 05 of 2018, Mẫu 06 of 2025) as it stands now, sealed by the agency (made on
        request, not stored)."""
        data = self.control_sheet_data(code, actor)
        row, agency, _ = self._context(code)
        templates = self.templates.on(row.received_at)
        pdf = self.issuer.sign(
            self.issuer.render(lambda: render_control_sheet(data, templates), "control_sheet"),
            (self.agency_seal(agency, "Phiếu kiểm soát quá trình giải quyết hồ sơ"),),
            VISIBLE_SEAL,
        )
        self.desk.record("control_sheet.issued", actor, code, rows=len(data.rows))
        return pdf

    # ------------------------------------------------------------------ Mẫu 06: tracking register

    def tracking_register_data(self, agency_code: str, first_day: dt.date, last_day: dt.date) -> TrackingRegisterData:
        """Every dossier the agency received from ``first_day`` to ``last_day`` (Vietnam dates, inclusive)."""
        check_day(first_day, field="from", label_vi="Ngày bắt đầu")
        check_day(last_day, field="to", label_vi="Ngày kết thúc")
        agency = self.desk.agency(agency_code)
        start = dt.datetime.combine(first_day, dt.time(), VN_TZ)
        end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), VN_TZ)
        with transaction(self.db) as conn:
            rows = reports.received_by_agency(conn, agency_code, start, end)
            codes = [r.code for r in rows]
            returned: dict[str, dt.datetime] = {}
            if codes:
                for e in reports.status_changes(conn, codes):
                    if (e.details or {}).get("status") == DossierStatus.RETURNED.value:
                        returned.setdefault(e.dossier_code, e.at)
        names = self.desk.procedure_names()  # a withdrawn procedure's dossiers are named too
        now = self.clock.now()
        out = []
        for r in rows:
            status = DossierStatus(r.status)
            finished = r.finished_at if status in FINAL_STATUSES or status == DossierStatus.RESULT_READY else None
            out.append(
                TrackingRow(
                    dossier_code=r.code,
                    procedure_name=names.get(r.procedure_code, r.procedure_code),
                    applicant_name=r.applicant_name,
                    received_at=r.received_at,
                    due_at=r.due_at,
                    status=STATUS_LABELS_VI[status],
                    resolved_at=finished,
                    returned_at=returned.get(r.code),
                    timeliness=timeliness(finished, r.due_at).value if finished is not None else None,
                    overdue=finished is None and now > r.due_at,
                )
            )
        return TrackingRegisterData(
            agency_name=agency.name,
            place_name=place_name(agency),
            period_from=first_day,
            period_to=last_day,
            issued_at=now,
            rows=tuple(out),
            register_book=str(last_day.year),
        )

    def read_tracking_register(
        self, agency_code: str, first_day: dt.date, last_day: dt.date, actor: str
    ) -> TrackingRegisterData:
        """Mẫu 06 shown on a page: the rows of the export, the read recorded (applicants' names: Decree 13)."""
        data = self.tracking_register_data(agency_code, first_day, last_day)
        self.desk.record(
            "tracking_register.read",
            actor,
            None,
            agency=agency_code,
            period_from=first_day.isoformat(),
            period_to=last_day.isoformat(),
            rows=len(data.rows),
        )
        return data

    def tracking_register(self, agency_code: str, first_day: dt.date, last_day: dt.date, fmt: str, actor: str) -> bytes:
        """Mẫu 06 as a landscape PDF sealed by the agency (``fmt`` = ``pdf``) or as XLSX (``xlsx``)."""
        data = self.tracking_register_data(agency_code, first_day, last_day)
        templates = self.templates.on(last_day)  # the register of a period: the forms in force at its end
        if fmt == "xlsx":
            out = self.issuer.render(lambda: tracking_register_xlsx(data, templates), "tracking_register")
        else:
            pdf, box = self.issuer.render(lambda: render_tracking_register(data, templates), "tracking_register")
            agency = self.desk.agency(agency_code)
            out = self.issuer.sign(
                pdf, (self.agency_seal(agency, "Sổ theo dõi hồ sơ"),), {SEAL_FIELD: (box.page, box.box)}
            )
        self.desk.record(
            "tracking_register.exported",
            actor,
            None,
            agency=agency_code,
            period_from=first_day.isoformat(),
            period_to=last_day.isoformat(),
            format=fmt,
            rows=len(data.rows),
        )
        return out

    def leader_signed_result(self, code: str) -> bytes:
        """The result as the leader signed it on their device, before the clerk's number and the seal."""
        with transaction(self.db) as conn:
            pending_id = pending_signatures.completed_id(conn, code, "result")
        if pending_id is None:
            raise ValueError(f"the leader has not signed the result of {code} yet")
        _, signed = self.signatures.signed_document(pending_id)
        return bytes(signed)

    def tracking_entry(self, agency_code: str, year: int, code: str) -> int:
        """The dossier's entry number in the agency's tracking register of ``year`` (gap-free, given once: a
        receipt issued again shows the same number)."""
        key = f"{code}/tracking-register/entry"
        with transaction(self.db) as conn:
            found = self.desk.side_effect_result(key)
            if found is not None:
                return int(found["number"])
            number = next_register_number(conn, agency_code, year, TRACKING_SERIES)
            self.desk.once(key, {"number": number, "series": TRACKING_SERIES, "year": year})
        return number

    def register_number(self, agency_code: str, year: int, series: str, *, once_for: str | None = None) -> int:
        """The next number of the agency's register of ``series`` for ``year`` — the one register allocator of
        the application (gap-free: :func:`persistence.counters.next_register_number` in one transaction). With
        ``once_for`` (a dossier code) the dossier keeps its number: a retried step gets the same one."""
        with transaction(self.db) as conn:
            if once_for is None:
                return next_register_number(conn, agency_code, year, series)
            key = f"{once_for}/result/register"
            found = self.desk.side_effect_result(key)
            if found is not None:
                return int(found["number"])
            number = next_register_number(conn, agency_code, year, series)
            self.desk.once(key, {"number": number, "series": series, "year": year})
        return number
