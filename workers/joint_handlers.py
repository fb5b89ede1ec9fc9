"""Handlers of the construction permit and the joint (inter-agency) land procedure.

Topics:

- ``exchange.send`` — a hand-off between agencies. Which partner receives it, which documents go with it and
  whether the receiver's officials act next is the hand-off's configuration (:data:`HAND_OFFS`, by the BPMN
  activity id); the receiving agency comes from :class:`services.exchange.PartnerDirectory`. The worker calls
  the :class:`dossiers.ports.Exchange` port with the task's idempotency key as message id (a redelivered task
  delivers nothing twice) and sets ``current_agency`` — whose officials see the following user tasks — and
  the receiving step's own deadline ``step_due_at``.
- ``step.plan`` — the deadline of a step that does not follow a hand-off (the commune's first step, the site
  inspection); ``step.reschedule`` — after a supplement, the step's deadline moves by the time the clock was
  paused (the same rule as the dossier's due date), so the re-entered step's timer reads the new value;
  ``step.escalate`` — a step's timer fired: one ``step.escalated`` audit entry per firing.
- ``documents.inspection_record``, ``documents.tax_notice`` — the site inspection record (sealed by the
  commune) and the tax office's notice (sealed by the tax office).
- ``result.prepare_permit`` / ``result.seal_permit`` and ``result.prepare_land_certificate`` /
  ``result.seal_land_certificate`` — the results, in the Decree 30 order of the household certificate: every
  field first, the leader signs on their own device, the clerk's number and date are filled, the seal last.

Every handler is idempotent (documents by idempotency key, deliveries by message id, audit entries by
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
from services.paperwork import AGENCY_FIELD, DATE_BOX, NUMBER_BOX, VISIBLE_SEAL, Paperwork, place_name
from services.shop import OneStopShop
from services.tasks import decision_choices
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, fill_number_and_date, prepare_fields
from workers.runtime import Complete, Handler, Outcome, TaskContext
from workflows.introspect import activity_name, bpmn_file_for

WORKER_ACTOR = "system:worker"


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


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def _text(ctx: TaskContext, name: str) -> str | None:
    value = ctx.variables.get(name)
    return None if value is None or value == "" else str(value)


def _department_name(agency: Agency, role: str, default: str) -> str:
    for code in agency.departments_for_role(role):
        department = agency.department(code)
        if department is not None:
            return department.name
    return default


class JointWork:
    """The application side of the handlers: documents, numbering, signatures and hand-offs."""

    def __init__(
        self, shop: OneStopShop, paperwork: Paperwork, exchange: Exchange, partners: PartnerDirectory, clock: Clock
    ) -> None:
        self.shop = shop
        self.clock = clock
        self.paperwork = paperwork
        self.exchange = exchange
        self.partners = partners

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

    def documents_of(self, code: str, kinds: tuple[str, ...]) -> list[ExchangeDocument]:
        return [
            ExchangeDocument(d["id"], d["kind"], d["filename"], d["sha256"])
            for d in self.shop.dossier_view(code)["documents"]
            if d["kind"] in kinds
        ]

    def register_number(self, agency_code: str, year: int, series: str) -> str:
        """Next number in the agency's register of ``series`` for the year (same transaction: no gaps)."""
        return f"{self.paperwork.register_number(agency_code, year, series):02d}/{series}"

    def seal(self, agency: Agency, reason: str) -> SignatureRequest:
        return SignatureRequest(signer=f"agency:{agency.code}", field_name=AGENCY_FIELD, reason=reason)

    # ------------------------------------------------------------------ hand-offs

    def hand_off(self, ctx: TaskContext) -> dict[str, Any]:
        spec = HAND_OFFS.get(ctx.activity_id)
        if spec is None:
            raise ValueError(f"no hand-off is configured for activity {ctx.activity_id!r}")
        code = _code(ctx)
        row = self.shop.dossier_row(code)
        sender = str(ctx.variables.get("current_agency") or row.agency_code)
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
        receipt = self.exchange.send(sender, receiver, code, ctx.idempotency_key, documents, context)
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

    def reply(self, ctx: TaskContext) -> dict[str, Any]:
        """A partner's step is done here: send its outcome back to the agency that handed the dossier over."""
        code = _code(ctx)
        step = str(ctx.variables.get("joint_step") or "")
        row = self.shop.dossier_row(code)
        choices = decision_choices(self.shop.bpmn_dirs, self.shop.procedure_of(row).process_key, step).get("decision")
        variables: dict[str, Any] = {"by": _text(ctx, "last_actor"), "comment": _text(ctx, "comment")}
        if choices:
            variables["decision"] = _text(ctx, "decision")
        context = {
            "kind": "reply",
            "step": {"activity": step},
            "variables": variables,
            "in_reply_to": _text(ctx, "joint_message"),
        }
        sender = str(ctx.variables.get("current_agency") or "")
        receiver = str(ctx.variables.get("joint_origin") or "")
        documents = [d for d in self.documents_of(code, REPLY_DOCUMENTS)]
        receipt = self.exchange.send(sender, receiver, code, ctx.idempotency_key, documents, context)
        return {"last_exchange_message": receipt.message_id}

    # ------------------------------------------------------------------ documents

    def inspection_record(self, ctx: TaskContext) -> str:
        code = _code(ctx)
        row, agency, details = self.context(code)
        inspector = _text(ctx, "site_inspection_by")
        data = InspectionRecordData(
            parent_agency=agency.name,
            agency_name=_department_name(agency, "specialist", "Phòng Kinh tế"),
            place_name=place_name(agency),
            dossier_code=code,
            owner_name=row.applicant_name,
            construction_address=str(details.get("construction_address", "")),
            parcel_number=str(details.get("parcel_number", "")),
            map_sheet=str(details.get("map_sheet", "")),
            inspected_at=self.clock.now(),
            inspector_name=self.full_name(inspector, inspector or "Cán bộ kiểm tra"),
            findings=_text(ctx, "comment") or "Hiện trạng khu đất phù hợp với hồ sơ và bản vẽ đề nghị cấp phép.",
        )
        return self.paperwork.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="inspection_record",
                filename=f"{code}-bien-ban-kiem-tra-hien-trang.pdf",
                idempotency_key=f"{code}/inspection_record/{ctx.task_id}",
                render=lambda: render_inspection_record(data),
                signatures=(self.seal(agency, "Biên bản kiểm tra hiện trạng"),),
                field_boxes=VISIBLE_SEAL,
            ),
            WORKER_ACTOR,
        )

    def tax_notice(self, ctx: TaskContext) -> str:
        code = _code(ctx)
        row, commune, details = self.context(code)
        tax = self.shop.agency(str(ctx.variables.get("current_agency") or self.partners.resolve("tax", commune.code)))
        area = int(details.get("area_m2", 0))
        official = _text(ctx, "tax_assessment_by")
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
            assessment=_text(ctx, "comment") or "",
        )
        return self.paperwork.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="tax_notice",
                filename=f"{code}-thong-bao-nop-tien.pdf",
                idempotency_key=f"{code}/tax_notice",
                render=lambda: render_tax_notice(data),
                signatures=(self.seal(tax, "Thông báo nộp tiền"),),
                field_boxes=VISIBLE_SEAL,
            ),
            WORKER_ACTOR,
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

    def prepare_permit(self, ctx: TaskContext) -> str:
        code = _code(ctx)
        leader = _text(ctx, "approve_by")
        if not leader:
            raise ValueError("the approving leader (process variable 'approve_by') is unknown")
        if not self.documents_of(code, ("inspection_record",)):
            raise ValueError(f"dossier {code} has no site inspection record: the permit cannot be prepared")
        row, agency, details = self.context(code)
        inspected = _text(ctx, "inspected_at")
        now = self.clock.now()
        data = PermitData(
            parent_agency=agency.name,
            issuing_authority=_department_name(agency, "specialist", "Phòng Kinh tế"),
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

    def prepare_land_certificate(self, ctx: TaskContext) -> str:
        code = _code(ctx)
        leader = _text(ctx, "approve_by")
        if not leader:
            raise ValueError("the approving leader (process variable 'approve_by') is unknown")
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

    def seal_result(self, ctx: TaskContext, series: str, filename: str) -> str:
        """Fill the clerk's number and date into the leader-signed result, then apply the agency seal."""
        code = _code(ctx)
        existing = self.paperwork.issuer.existing(f"{code}/result")
        if existing is not None:
            return existing
        _, agency, _ = self.context(code)
        signed = self.paperwork.leader_signed_result(code)
        now = self.clock.now().astimezone(VN_TZ)
        number = self.register_number(agency.code, now.year, series)
        filled = fill_number_and_date(signed, number, long_date(now.date()))
        self.shop.record(
            "document.numbered", _text(ctx, "register_number_by") or WORKER_ACTOR, code, number=number, series=series
        )
        return self.paperwork.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-{filename}.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: filled,
                signatures=(self.seal(agency, "Đóng dấu cơ quan"),),
                fields_ready=True,
            ),
            WORKER_ACTOR,
        )


def joint_handlers(
    shop: OneStopShop,
    paperwork: Paperwork,
    exchange: Exchange,
    clock: Clock,
    partners: PartnerDirectory | None = None,
) -> dict[str, Handler]:
    """The handlers by topic; ``exchange``: the in-process adapter, or signed envelopes to partners."""
    work = JointWork(shop, paperwork, exchange, partners or PartnerDirectory(), clock)

    def send(ctx: TaskContext) -> Outcome:
        return Complete(work.hand_off(ctx))

    def reply(ctx: TaskContext) -> Outcome:
        return Complete(work.reply(ctx))

    def plan(ctx: TaskContext) -> Outcome:
        days = STEP_PLANS.get(ctx.activity_id)
        if days is None:
            raise ValueError(f"no step plan is configured for activity {ctx.activity_id!r}")
        return Complete(work.schedule(_code(ctx), days, clock.now()))

    def reschedule(ctx: TaskContext) -> Outcome:
        return Complete(work.reschedule(_code(ctx), ctx.variables))

    def escalate(ctx: TaskContext) -> Outcome:
        code = _code(ctx)
        shop.record_once(
            ctx.idempotency_key,
            {"escalated": code},
            "step.escalated",
            WORKER_ACTOR,
            code,
            step=ctx.activity_id.removeprefix("escalate_"),
            agency=ctx.variables.get("current_agency") or shop.dossier_row(code).agency_code,
            step_due_at=ctx.variables.get("step_due_at"),
        )
        return Complete()

    def inspection_record(ctx: TaskContext) -> Outcome:
        doc_id = work.inspection_record(ctx)
        return Complete({"inspection_record_document_id": doc_id, "inspected_at": clock.now().isoformat()})

    def tax_notice(ctx: TaskContext) -> Outcome:
        return Complete({"tax_notice_document_id": work.tax_notice(ctx)})

    def prepare_permit(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": work.prepare_permit(ctx)})

    def seal_permit(ctx: TaskContext) -> Outcome:
        return Complete({"result_document_id": work.seal_result(ctx, PERMIT_SERIES, "giay-phep-xay-dung")})

    def prepare_land_certificate(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": work.prepare_land_certificate(ctx)})

    def seal_land_certificate(ctx: TaskContext) -> Outcome:
        return Complete({"result_document_id": work.seal_result(ctx, LAND_SERIES, "giay-chung-nhan-qsdd")})

    return {
        "exchange.send": send,
        "exchange.reply": reply,
        "step.plan": plan,
        "step.reschedule": reschedule,
        "step.escalate": escalate,
        "documents.inspection_record": inspection_record,
        "documents.tax_notice": tax_notice,
        "result.prepare_permit": prepare_permit,
        "result.seal_permit": seal_permit,
        "result.prepare_land_certificate": prepare_land_certificate,
        "result.seal_land_certificate": seal_land_certificate,
    }
