"""The construction permit and the joint (inter-agency) land procedure: hand-offs, step deadlines, papers, results.

- Hand-offs between agencies. Which partner receives one, which documents go with it and whether the receiver's
  officials act next is the hand-off's configuration (:data:`HAND_OFFS`, by the BPMN activity id); the receiving
  agency comes from :class:`services.exchange.PartnerDirectory`. The :class:`dossiers.ports.Exchange` port is
  called with the caller's idempotency key as message id (a redelivered task delivers nothing twice); the result
  sets ``current_agency`` — whose officials see the following user tasks — and the receiving step's own deadline
  ``step_due_at``. A partner's reply sends its step's outcome back.
- Step deadlines: the deadline of a step that does not follow a hand-off (:data:`STEP_PLANS`: the commune's first
  step, the site inspection); after a supplement the step's deadline moves by the time the clock was paused (the
  same rule as the dossier's due date), so the re-entered step's timer reads the new value; a step's timer that
  fires records one ``step.escalated`` audit entry per firing.
- Papers: the site inspection record (sealed by the commune) and the tax office's notice (sealed by the tax office).
- Results, in the Decree 30 order of the household certificate: every field first, the leader signs on their own
  device, the clerk's number and date are filled, the seal last.

Every step is idempotent (documents by idempotency key, deliveries by message id, audit entries by
``OneStopShop.once``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from documents.layout import SIGNATURE_BOX, long_date
from documents.permits import (
    InspectionRecordData,
    LandCertificateData,
    PermitData,
    TaxNoticeData,
    render_construction_permit,
    render_inspection_record,
    render_land_certificate,
    render_tax_notice,
)
from dossiers.calendar import VN_TZ
from dossiers.model import Agency
from dossiers.ports import Clock, Exchange, ExchangeDocument, SignatureRequest
from services.exchange import ORIGIN, PartnerDirectory
from services.issuing import IssueRequest
from services.paperwork import DATE_BOX, NUMBER_BOX, Paperwork, approving_leader, department_name, place_name
from services.shop import OneStopShop
from services.tasks import decision_choices
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, fill_number_and_date, prepare_fields
from workflows.introspect import activity_name, bpmn_file_for


@dataclass(frozen=True)
class HandOff:
    """One hand-off of a joint procedure: the kind of partner receiving it (``origin`` = the agency that
    received the dossier), the kinds of the dossier's documents sent with it, and whether the receiver's
    officials act next (``takes_over``: ``current_agency`` becomes the receiver)."""

    receiver: str
    documents: tuple[str, ...]
    takes_over: bool = True
    step_working_days: int | None = None  # the receiving step's share of the time limit (its timer)
    next_step: str | None = None  # the receiver's user task (what a partner installation's officials work on)


# Shares of the 20 working days of the land procedure are illustrative configuration, not law (see the
# catalogue entry's notes); the site inspection's 07 working days are Law on Construction Art. 102.
HAND_OFFS: Mapping[str, HandOff] = {
    "send_to_land_office": HandOff(
        "land_registration", ("upload", "supplement", "receipt"), step_working_days=7, next_step="cadastral_check"
    ),
    "send_to_tax": HandOff("tax", ("upload", "supplement"), step_working_days=5, next_step="tax_assessment"),
    "send_notice_to_commune": HandOff(ORIGIN, ("tax_notice",), next_step="payment_confirmed"),
    "send_payment_to_land_office": HandOff(
        "land_registration", ("tax_notice",), step_working_days=3, next_step="draft_certificate"
    ),
    "send_certificate_to_commune": HandOff(ORIGIN, (), next_step="approve"),
    "send_result_to_land_office": HandOff("land_registration", ("result",), takes_over=False),
}
STEP_PLANS: Mapping[str, int] = {"plan_inspection": 7, "plan_verify_origin": 3}
"""``step.plan`` activities → the following step's share of the time limit, in working days."""

REPLY_DOCUMENTS: tuple[str, ...] = ()
"""Kinds of documents a partner's reply carries back (none yet: the partner's steps decide; their papers are
made by the originating agency's process)."""


def partner_documents(kind: str, step: str | None, closing: bool) -> frozenset[str] | None:
    """The document kinds a partner's envelope may carry, from what its part of the procedure produces: a reply
    :data:`REPLY_DOCUMENTS`; a closing hand-off what the hand-offs that do not take over file (the signed
    result); a hand-off what the hand-offs leading to ``step`` send. None when no hand-off leads to ``step``:
    the partner names a step it cannot hand over (the signed envelope receiver refuses it)."""
    if kind == "reply":
        return frozenset(REPLY_DOCUMENTS)
    if closing:
        return frozenset(k for h in HAND_OFFS.values() if not h.takes_over for k in h.documents)
    leading = [h for h in HAND_OFFS.values() if h.takes_over and h.next_step is not None and h.next_step == step]
    if not leading:
        return None
    return frozenset(k for h in leading for k in h.documents)


PERMIT_SERIES = "GPXD"
LAND_SERIES = "GCN-QSDĐ"
DEMO_LAND_PRICE_VND_PER_M2 = 2_000_000
"""DEMO: the province's land price table is not modelled; the notice's registration fee (lệ phí trước bạ,
0.5 % of the land value, Decree 10/2022/NĐ-CP) is computed from this flat price."""
REGISTRATION_FEE_RATE = 0.005


def _text(variables: Mapping[str, Any], name: str) -> str | None:
    value = variables.get(name)
    return None if value is None or value == "" else str(value)


class JointProcedures:
    """The joint procedures' steps, each given the dossier code and the process variables it reads: documents,
    numbering, signatures, hand-offs and step deadlines. Returns the process variables a step sets."""

    def __init__(
        self,
        shop: OneStopShop,
        paperwork: Paperwork,
        exchange: Exchange,
        partners: PartnerDirectory,
        clock: Clock,
        actor: str = "system:worker",
    ) -> None:
        self.shop = shop
        self.clock = clock
        self.paperwork = paperwork
        self.exchange = exchange
        self.partners = partners
        self.actor = actor

    # ------------------------------------------------------------------ helpers

    def context(self, code: str) -> tuple[Any, Agency, dict[str, Any]]:
        row = self.shop.dossier_row(code)
        return row, self.shop.agency(row.agency_code, on=row.received_at.date()), dict(row.details or {})

    def full_name(self, username: str | None, fallback: str) -> str:
        person = self.shop.accounts.get(username) if username and self.shop.accounts else None
        return person.full_name if person else fallback

    def schedule(self, code: str, working_days: int, start: dt.datetime) -> dict[str, Any]:
        """A step's own deadline, from ``start``; remembers the dossier's paused time so far (reschedule)."""
        row = self.shop.dossier_row(code)
        due = self.shop.calendar.add_working_days(start, working_days)
        return {"step_due_at": due.isoformat(), "step_paused_seconds": int(row.paused_seconds or 0)}

    def documents_of(self, code: str, kinds: tuple[str, ...]) -> list[ExchangeDocument]:
        return [
            ExchangeDocument(d["id"], d["kind"], d["filename"], d["sha256"])
            for d in self.shop.dossier_view(code)["documents"]
            if d["kind"] in kinds
        ]

    def register_number(self, agency_code: str, year: int, series: str) -> str:
        """Next number in the agency's register of ``series`` for the year (same transaction: no gaps)."""
        return f"{self.paperwork.register_number(agency_code, year, series):02d}/{series}"

    # ------------------------------------------------------------------ step deadlines

    def plan_step(self, code: str, activity_id: str) -> dict[str, Any]:
        """The deadline of the step following ``activity_id`` (:data:`STEP_PLANS`), from now."""
        days = STEP_PLANS.get(activity_id)
        if days is None:
            raise ValueError(f"no step plan is configured for activity {activity_id!r}")
        return self.schedule(code, days, self.clock.now())

    def reschedule(self, code: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Shift the step's deadline by the working time paused since it was computed (like ``shifted_due``)."""
        row = self.shop.dossier_row(code)
        paused_now = int(row.paused_seconds or 0)
        delta = paused_now - int(variables.get("step_paused_seconds") or 0)
        raw = variables.get("step_due_at")
        if not raw:
            return {"step_paused_seconds": paused_now}
        due = dt.datetime.fromisoformat(str(raw))
        if delta > 0:
            due = self.shop.calendar.add_working_seconds(due, delta)
        return {"step_due_at": due.isoformat(), "step_paused_seconds": paused_now}

    def escalate(self, code: str, activity_id: str, variables: Mapping[str, Any], key: str) -> None:
        """A step's timer fired: one ``step.escalated`` entry per firing (``key``: the firing's)."""
        self.shop.record_once(
            key,
            {"escalated": code},
            "step.escalated",
            self.actor,
            code,
            step=activity_id.removeprefix("escalate_"),
            agency=variables.get("current_agency") or self.shop.dossier_row(code).agency_code,
            step_due_at=variables.get("step_due_at"),
        )

    # ------------------------------------------------------------------ hand-offs

    def hand_off(self, code: str, activity_id: str, variables: Mapping[str, Any], message_id: str) -> dict[str, Any]:
        spec = HAND_OFFS.get(activity_id)
        if spec is None:
            raise ValueError(f"no hand-off is configured for activity {activity_id!r}")
        row = self.shop.dossier_row(code)
        sender = str(variables.get("current_agency") or row.agency_code)
        receiver = self.partners.resolve(spec.receiver, row.agency_code)
        documents = self.documents_of(code, spec.documents)
        out: dict[str, Any] = {}
        if spec.takes_over and spec.step_working_days:
            out |= self.schedule(code, spec.step_working_days, self.clock.now())
        context = {
            "kind": "handoff",
            "step": self.step(row, spec.next_step) if spec.takes_over else None,
            "variables": {"step_due_at": out.get("step_due_at")},
            "closing": not spec.takes_over,
        }
        receipt = self.exchange.send(sender, receiver, code, message_id, documents, context)
        out["last_exchange_message"] = receipt.message_id
        if spec.takes_over:
            out["current_agency"] = receipt.receiver_agency
        return out

    def step(self, row: Any, activity: str | None) -> dict[str, Any] | None:
        """The receiver's next user task: its id and the name its officials read."""
        if activity is None:
            return None
        process_key = self.shop.procedure_of(row).process_key
        path = next((p for d in self.shop.bpmn_dirs if (p := bpmn_file_for(process_key, d)) is not None), None)
        name = activity_name(path.read_bytes(), activity) if path is not None else None
        return {"activity": activity, "name": name or activity, "process": process_key}

    def reply(self, code: str, variables: Mapping[str, Any], message_id: str) -> dict[str, Any]:
        """A partner's step is done here: send its outcome back to the agency that handed the dossier over."""
        step = str(variables.get("joint_step") or "")
        row = self.shop.dossier_row(code)
        choices = decision_choices(self.shop.bpmn_dirs, self.shop.procedure_of(row).process_key, step).get("decision")
        reply_variables: dict[str, Any] = {"by": _text(variables, "last_actor"), "comment": _text(variables, "comment")}
        if choices:
            reply_variables["decision"] = _text(variables, "decision")
        context = {
            "kind": "reply",
            "step": {"activity": step},
            "variables": reply_variables,
            "in_reply_to": _text(variables, "joint_message"),
        }
        sender = str(variables.get("current_agency") or "")
        receiver = str(variables.get("joint_origin") or "")
        documents = [d for d in self.documents_of(code, REPLY_DOCUMENTS)]
        receipt = self.exchange.send(sender, receiver, code, message_id, documents, context)
        return {"last_exchange_message": receipt.message_id}

    # ------------------------------------------------------------------ documents

    def inspection_record(self, code: str, variables: Mapping[str, Any], task_id: str) -> dict[str, Any]:
        """The site inspection record, sealed by the commune; one per inspection task (``task_id``)."""
        row, agency, details = self.context(code)
        inspector = _text(variables, "site_inspection_by")
        data = InspectionRecordData(
            parent_agency=agency.name,
            agency_name=department_name(agency, "specialist", "Phòng Kinh tế"),
            place_name=place_name(agency),
            dossier_code=code,
            owner_name=row.applicant_name,
            construction_address=str(details.get("construction_address", "")),
            parcel_number=str(details.get("parcel_number", "")),
            map_sheet=str(details.get("map_sheet", "")),
            inspected_at=self.clock.now(),
            inspector_name=self.full_name(inspector, inspector or "Cán bộ kiểm tra"),
            findings=_text(variables, "comment") or "Hiện trạng khu đất phù hợp với hồ sơ và bản vẽ đề nghị cấp phép.",
        )
        doc_id = self.paperwork.issue_sealed_form(
            code,
            "inspection_record",
            f"{code}-bien-ban-kiem-tra-hien-trang.pdf",
            f"{code}/inspection_record/{task_id}",
            lambda: render_inspection_record(data),
            agency,
            "Biên bản kiểm tra hiện trạng",
            self.actor,
        )
        return {"inspection_record_document_id": doc_id, "inspected_at": self.clock.now().isoformat()}

    def tax_notice(self, code: str, variables: Mapping[str, Any]) -> str:
        """The tax office's notice of the registration fee, sealed by the tax office."""
        row, commune, details = self.context(code)
        tax = self.shop.agency(str(variables.get("current_agency") or self.partners.resolve("tax", commune.code)))
        area = int(details.get("area_m2", 0))
        official = _text(variables, "tax_assessment_by")
        data = TaxNoticeData(
            agency_name=tax.name,
            parent_agency=None,
            place_name=place_name(commune),
            dossier_code=code,
            taxpayer_name=row.applicant_name,
            taxpayer_id_number=row.applicant_id_number,
            land_address=str(details.get("land_address", "")),
            parcel_number=str(details.get("parcel_number", "")),
            map_sheet=str(details.get("map_sheet", "")),
            area_m2=area,
            registration_fee_vnd=round(area * DEMO_LAND_PRICE_VND_PER_M2 * REGISTRATION_FEE_RATE),
            issued_at=self.clock.now(),
            official_name=self.full_name(official, official or "Cán bộ thuế"),
            assessment=_text(variables, "comment") or "",
        )
        return self.paperwork.issue_sealed_form(
            code,
            "tax_notice",
            f"{code}-thong-bao-nop-tien.pdf",
            f"{code}/tax_notice",
            lambda: render_tax_notice(data),
            tax,
            "Thông báo nộp tiền",
            self.actor,
        )

    # ------------------------------------------------------------------ results

    def _prepare(self, code: str, leader: str, pdf: bytes, reason: str) -> str:
        leader_box = SIGNATURE_BOX.box
        prepared = prepare_fields(
            pdf, leader_box=leader_box, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=seal_box(leader_box)
        )
        name = self.full_name(leader, leader)
        return self.paperwork.signatures.request(
            code,
            leader,
            prepared,
            SignatureRequest(signer=f"person:{leader}", field_name=LEADER_FIELD, reason=reason, certify=True),
            document_kind="result",
            idempotency_key=f"{code}/result/leader",
            appearance=leader_style(development_signature_png(name, cache_dir=self.paperwork.images_dir)),
        )

    def prepare_permit(self, code: str, variables: Mapping[str, Any]) -> str:
        """The construction permit with its fields, its leader's signature pending on their device."""
        leader = approving_leader(variables)
        if not self.documents_of(code, ("inspection_record",)):
            raise ValueError(f"dossier {code} has no site inspection record: the permit cannot be prepared")
        row, agency, details = self.context(code)
        inspected = _text(variables, "inspected_at")
        now = self.clock.now()
        data = PermitData(
            parent_agency=agency.name,
            issuing_authority=department_name(agency, "specialist", "Phòng Kinh tế"),
            place_name=place_name(agency),
            permit_code=f"GPXD-{code}",
            owner_name=row.applicant_name,
            owner_id_number=row.applicant_id_number,
            construction_address=str(details.get("construction_address", "")),
            parcel_number=str(details.get("parcel_number", "")),
            map_sheet=str(details.get("map_sheet", "")),
            land_certificate=str(details.get("land_certificate", "")),
            building_area_m2=int(details.get("building_area_m2", 0)),
            total_floor_area_m2=int(details.get("total_floor_area_m2", 0)),
            floors=int(details.get("floors", 0)),
            height_m=str(details.get("height_m", "")),
            designer=details.get("designer"),
            inspected_on=dt.datetime.fromisoformat(inspected) if inspected else now,
            issued_at=now,
            signer_name=self.full_name(leader, leader),
        )
        pdf = self.paperwork.issuer.render(lambda: render_construction_permit(data), "result")
        return self._prepare(code, leader, pdf, "Phê duyệt cấp giấy phép xây dựng")

    def prepare_land_certificate(self, code: str, variables: Mapping[str, Any]) -> str:
        """The land use right certificate with its fields, its leader's signature pending on their device."""
        leader = approving_leader(variables)
        row, agency, details = self.context(code)
        office = self.shop.agency(self.partners.resolve("land_registration", agency.code))
        data = LandCertificateData(
            parent_agency=agency.name,
            place_name=place_name(agency),
            certificate_code=f"GCN-{code}",
            holder_name=row.applicant_name,
            holder_id_number=row.applicant_id_number,
            land_address=str(details.get("land_address", "")),
            parcel_number=str(details.get("parcel_number", "")),
            map_sheet=str(details.get("map_sheet", "")),
            area_m2=int(details.get("area_m2", 0)),
            land_use_purpose=str(details.get("land_use_purpose", "")),
            land_origin=str(details.get("land_origin", "")),
            use_term=str(details.get("use_term") or "Lâu dài"),
            issued_at=self.clock.now(),
            signer_name=self.full_name(leader, leader),
            prepared_by=office.name,
        )
        pdf = self.paperwork.issuer.render(lambda: render_land_certificate(data), "result")
        return self._prepare(code, leader, pdf, "Phê duyệt cấp Giấy chứng nhận")

    def seal_permit(self, code: str, variables: Mapping[str, Any]) -> str:
        return self.seal_result(code, variables, PERMIT_SERIES, "giay-phep-xay-dung")

    def seal_land_certificate(self, code: str, variables: Mapping[str, Any]) -> str:
        return self.seal_result(code, variables, LAND_SERIES, "giay-chung-nhan-qsdd")

    def seal_result(self, code: str, variables: Mapping[str, Any], series: str, filename: str) -> str:
        """Fill the clerk's number and date into the leader-signed result, then apply the agency seal."""
        existing = self.paperwork.issuer.existing(f"{code}/result")
        if existing is not None:
            return existing
        _, agency, _ = self.context(code)
        signed = self.paperwork.leader_signed_result(code)
        now = self.clock.now().astimezone(VN_TZ)
        number = self.register_number(agency.code, now.year, series)
        filled = fill_number_and_date(signed, number, long_date(now.date()))
        self.shop.record(
            "document.numbered",
            _text(variables, "register_number_by") or self.actor,
            code,
            number=number,
            series=series,
        )
        return self.paperwork.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-{filename}.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: filled,
                signatures=(self.paperwork.agency_seal(agency, "Đóng dấu cơ quan"),),
                fields_ready=True,
            ),
            self.actor,
        )
