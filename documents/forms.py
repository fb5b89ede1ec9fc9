"""The one-stop desk's forms and the household business registration certificate, as PDF.

The desk's forms are those of the template set in force on the dossier's received date (Circular 01/2018/TT-VPCP,
or Circular 03/2025/TT-VPCP from 15 September 2025: :mod:`documents.templating`); each renderer takes the set's
:class:`~documents.templating.Templates` and asks it for the form serving its purpose (``receipt``, ``apology``,
``stop_notice``, ``control_sheet``, …), so one renderer draws Mẫu 05 of 2018 and Mẫu 06 of 2025 alike. A field
one set's form has and the other's lacks (the applicant's address on Mẫu 02, the coordinating agencies on the
control sheet) is drawn when the template has it.

Pure functions: a frozen dataclass in, the bytes of an A4 PDF out (no database, no storage, no signing), laid
out by :mod:`documents.layout` (:func:`documents.layout.render_form`): one page, and an annex on the following
pages when a list is too long for it. The signature area is :data:`documents.layout.SIGNATURE_BOX`, the same on
every form. Output is deterministic: the same data gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table

from documents.layout import (
    CELL,
    CELL_CENTER,
    CELL_HEAD,
    CONTENT_WIDTH,
    ITEM,
    LEFT_CENTER,
    SIGNATURE_BOX,
    Form,
    Signer,
    amount_in_words,
    calendar_day,
    check,
    escape_text,
    format_vnd,
    grid,
    long_date,
    para,
    qr_block,
    register_fonts,
    render_form,
    short_date,
    time_of_day,
    upper,
)
from documents.templating import FormTemplate, Markup, Templates, default_templates

__all__ = [
    "CERTIFIED_COPY",
    "COPY",
    "ELECTRONIC",
    "ORIGINAL",
    "PHOTOCOPY",
    "ApologyData",
    "CertificateData",
    "ControlSheetData",
    "HandOver",
    "ReceiptData",
    "ReceivedPaper",
    "RefusalData",
    "StopNoticeData",
    "SupplementData",
    "render_apology",
    "render_control_sheet",
    "render_household_business_certificate",
    "render_receipt",
    "render_refusal",
    "render_stop_notice",
    "render_supplement_request",
]

# Forms of a paper: what ``ReceivedPaper.form`` usually says.
ORIGINAL = "Bản chính"
COPY = "Bản sao"
CERTIFIED_COPY = "Bản sao có chứng thực"
PHOTOCOPY = "Bản chụp"
ELECTRONIC = "Bản điện tử"


# --------------------------------------------------------------------------------------------------------------
# Input data


@dataclass(frozen=True)
class ReceivedPaper:
    """One paper of the dossier as received: its name, its form (:data:`ORIGINAL`, :data:`COPY`, …), how many."""

    name: str
    form: str = ORIGINAL
    count: int = 1

    def __post_init__(self) -> None:
        check(self)
        if self.count < 1:
            raise ValueError("ReceivedPaper.count must be at least 1")


@dataclass(frozen=True)
class ReceiptData:
    """Mẫu 01: Giấy tiếp nhận hồ sơ và hẹn trả kết quả."""

    dossier_code: str
    agency_name: str  # "Trung tâm Phục vụ hành chính công xã Tân Lập"
    place_name: str  # the place on the date line: "Tân Lập"
    applicant_name: str
    applicant_id_number: str  # số định danh cá nhân / CCCD, or the organisation's code
    procedure_name: str
    papers: tuple[ReceivedPaper, ...]
    received_at: dt.datetime
    appointment_at: dt.datetime
    officer_name: str
    channel: str = "counter"  # "counter" (the applicant also signs) | "online" | "postal", or Vietnamese text
    applicant_phone: str | None = None
    applicant_address: str | None = None
    applicant_email: str | None = None
    procedure_code: str | None = None
    parent_agency: str | None = None  # "Ủy ban nhân dân xã Tân Lập"
    processing_time: str | None = None  # "03 ngày làm việc"
    dossier_sets: int = 1
    result_delivery: str | None = None  # where/how the result is returned
    tracking_at: str = "Cổng Dịch vụ công quốc gia"  # where the dossier can be tracked (a portal or URL)
    document_number: str | None = None  # "Số: …" under the agency name
    signer_title: str | None = None  # None: the template's (mau-01 texts.officer_signer)
    lookup_url: str | None = None  # the public lookup address; shown as a QR code and as text
    return_channel: str | None = None  # how the result is returned: counter | postal | online (template labels)
    register_book: str | None = None  # the tracking register's book ("2026"), 2025 set
    register_number: int | None = None  # the dossier's entry in that book

    def __post_init__(self) -> None:
        check(self)
        if not self.papers:
            raise ValueError("ReceiptData.papers is empty")
        if self.appointment_at < self.received_at:
            raise ValueError("ReceiptData.appointment_at is before received_at")


@dataclass(frozen=True)
class SupplementData:
    """Mẫu 02: Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ."""

    dossier_code: str
    agency_name: str
    place_name: str
    applicant_name: str
    procedure_name: str
    items: tuple[str, ...]  # the papers / contents to supply or complete
    reason: str
    official_name: str
    issued_at: dt.datetime
    received_at: dt.datetime | None = None
    official_phone: str | None = None
    parent_agency: str | None = None
    document_number: str | None = None
    signer_title: str | None = None  # None: the template's (mau-02 texts.signer)
    applicant_address: str | None = None  # drawn when the template has the field (2025 set)
    applicant_email: str | None = None

    def __post_init__(self) -> None:
        check(self)
        if not self.items:
            raise ValueError("SupplementData.items is empty")


@dataclass(frozen=True)
class RefusalData:
    """Mẫu 03: Phiếu từ chối tiếp nhận giải quyết hồ sơ."""

    dossier_code: str
    agency_name: str
    place_name: str
    applicant_name: str
    procedure_name: str
    reason: str
    official_name: str
    issued_at: dt.datetime
    received_at: dt.datetime | None = None
    parent_agency: str | None = None
    document_number: str | None = None
    signer_title: str | None = None  # None: the template's (mau-03 texts.signer)
    applicant_address: str | None = None  # drawn when the template has the field (2025 set)
    applicant_email: str | None = None

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class ApologyData:
    """Mẫu 04: Phiếu xin lỗi và hẹn lại ngày trả kết quả (2018); Văn bản xin lỗi và đề nghị gia hạn thời gian
    giải quyết (2025)."""

    dossier_code: str
    agency_name: str  # the agency (or department) handling the dossier
    place_name: str
    applicant_name: str
    procedure_name: str
    received_at: dt.datetime
    old_due_at: dt.datetime
    new_due_at: dt.datetime
    reason: str
    issued_at: dt.datetime
    official_name: str | None = None
    parent_agency: str | None = None
    document_number: str | None = None
    signer_title: str | None = None  # None: the template's (mau-04 texts.signer)
    applicant_address: str | None = None  # drawn when the template has the field (2025 set)
    applicant_email: str | None = None

    def __post_init__(self) -> None:
        check(self)
        if self.new_due_at <= self.old_due_at:
            raise ValueError("ApologyData.new_due_at is not after old_due_at")


@dataclass(frozen=True)
class StopNoticeData:
    """Mẫu 05 of the 2025 set: Thông báo dừng giải quyết hồ sơ — the dossier stops, at the applicant's request
    (``requested_at`` set: the day they asked) or by the agency (``requested_at`` None), for ``reason``."""

    dossier_code: str
    agency_name: str  # the agency handling the dossier
    place_name: str
    applicant_name: str
    procedure_name: str
    received_at: dt.datetime
    reason: str
    issued_at: dt.datetime
    official_name: str | None = None  # the officer who signs (the head of the agency, or who acts for them)
    requested_at: dt.datetime | None = None
    return_channel: str | None = None  # how the papers go back: counter | postal | online (template labels)
    applicant_address: str | None = None
    applicant_email: str | None = None
    parent_agency: str | None = None
    document_number: str | None = None
    signer_title: str | None = None  # None: the template's (texts.signer)

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class HandOver:
    """One row of Mẫu 05: the dossier handed from one department (or person) to the next.

    ``timeliness`` is ``early`` | ``on_time`` | ``late`` (labels from the template), judged at ``handed_at``
    against ``due_at``: when the giver's step was due (its share of the time limit, :mod:`dossiers.step_times`;
    for papers the applicant hands in, the dossier's due date at that moment)."""

    giver: str
    receiver: str
    handed_at: dt.datetime
    due_at: dt.datetime
    timeliness: str
    taken_at: dt.datetime | None = None  # when the receiver took it up; None: at once (electronic hand-over)
    note: str | None = None

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class ControlSheetData:
    """Mẫu 05: Phiếu kiểm soát quá trình giải quyết hồ sơ."""

    dossier_code: str
    agency_name: str
    place_name: str
    applicant_name: str
    procedure_name: str
    handling_agency: str
    received_at: dt.datetime
    due_at: dt.datetime
    issued_at: dt.datetime
    rows: tuple[HandOver, ...] = ()
    parent_agency: str | None = None
    document_number: str | None = None
    signer_title: str | None = None  # None: the template's (mau-05 texts.signer)
    coordinating_agencies: tuple[str, ...] = ()  # other agencies the dossier went to (2025 set: its own line)
    signer_name: str | None = None  # the officer who issued the sheet

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class CertificateData:
    """The result of procedure 1.001612: Giấy chứng nhận đăng ký hộ kinh doanh."""

    parent_agency: str  # the issuing commune: "Ủy ban nhân dân xã Tân Lập"
    issuing_authority: str  # "Phòng Kinh tế"
    place_name: str
    registration_number: str  # derived from the dossier by the caller
    first_registered_on: dt.date  # a date, or an aware datetime (shown in Vietnam time)
    business_name: str
    business_address: str
    business_lines: tuple[str, ...]
    capital_vnd: int
    owner_name: str
    owner_id_number: str
    owner_birth_date: dt.date
    issued_at: dt.datetime
    signer_name: str
    signer_title: str = "TRƯỞNG PHÒNG"  # several lines allowed: "KT. TRƯỞNG PHÒNG\nPHÓ TRƯỞNG PHÒNG"
    employees: int | None = None
    owner_gender: str | None = None
    owner_ethnicity: str | None = None
    owner_nationality: str | None = "Việt Nam"
    owner_address: str | None = None
    phone: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        check(self)
        calendar_day(self.first_registered_on)
        if not self.business_lines:
            raise ValueError("CertificateData.business_lines is empty")
        if self.capital_vnd < 0:
            raise ValueError("CertificateData.capital_vnd is negative")
        if self.employees is not None and self.employees < 0:
            raise ValueError("CertificateData.employees is negative")


# --------------------------------------------------------------------------------------------------------------
# Rendering


def _annex_title(form_name: str, reference: str, what: str) -> tuple[str, ...]:
    return ("PHỤ LỤC", what, f"(Kèm theo {form_name}, {reference})")


def _templates(templates: Templates | None) -> Templates:
    return templates if templates is not None else default_templates()


def _moment(value: dt.datetime) -> str:
    """``17 giờ 00 phút, ngày 05/3/2026``."""
    return f"{time_of_day(value)}, ngày {short_date(value)}"


def _papers_table(papers: Sequence[ReceivedPaper], headers: Sequence[str]) -> Table:
    rows: list[list[Any]] = [[para(escape_text(head), CELL_HEAD) for head in headers]]
    for i, paper in enumerate(papers, start=1):
        rows.append(
            [
                para(str(i), CELL_CENTER),
                para(escape_text(paper.name), CELL),
                para(escape_text(paper.form), CELL_CENTER),
                para(f"{paper.count:02d}", CELL_CENTER),
            ]
        )
    widths = [10 * mm, CONTENT_WIDTH - (10 + 36 + 18) * mm, 36 * mm, 18 * mm]
    return grid(rows, widths)


def _annex_lines(tpl: FormTemplate, code: str) -> tuple[str, ...]:
    return ("PHỤ LỤC", tpl.plain("annex_heading"), tpl.plain("annex_reference", dossier_code=code))


def _contact(tpl: FormTemplate, address: str | None, email: str | None) -> list[Flowable]:
    """The applicant's address and e-mail, on forms whose template has the fields and when they are known."""
    out: list[Flowable] = []
    if address and tpl.has("address"):
        out.append(para(tpl.markup("address", applicant_address=address)))
    if email and tpl.has("email"):
        out.append(para(tpl.markup("email", applicant_email=email)))
    return out


def _return_method(tpl: FormTemplate, channel: str | None) -> str | None:
    if not channel or not tpl.has_labels("returns"):
        return None
    return tpl.labels("returns").get(channel, channel)


def _issued_form(
    tpl: FormTemplate,
    data: SupplementData | RefusalData | ApologyData | StopNoticeData | ControlSheetData,
    body: list[Flowable],
    signer_name: str | None,
    compact_body: list[Flowable] | None = None,
    annex: list[Flowable] | None = None,
    *,
    subtitles: tuple[str, ...] = (),
) -> bytes:
    """Mẫu 02–05 as PDF bytes: issued by the dossier's agency (its number) on ``data.issued_at``, titled and signed
    as template ``tpl`` says, ``subtitles`` under the template's. With ``compact_body``, a body too long for page 1
    gives way to it there and ``annex`` follows on the next pages."""
    code = data.dossier_code
    signer = Signer(
        data.signer_title or tpl.plain("signer"), tpl.plain("signature_note"), signer_name, SIGNATURE_BOX.center_x
    )
    form = Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.issued_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code), *subtitles),
        body=body,
        signers=(signer,),
        subject=code,
        compact_body=compact_body,
        annex_title=_annex_lines(tpl, code) if compact_body is not None else (),
        annex=annex or [],
    )
    return render_form(form)


def render_receipt(data: ReceiptData, templates: Templates | None = None) -> bytes:
    """Mẫu 01, Giấy tiếp nhận hồ sơ và hẹn trả kết quả, as PDF bytes (texts from template ``mau-01``).

    With ``data.lookup_url`` the form carries a QR code of that address (the public lookup) and its text.
    A list of papers too long for page 1 moves to an annex on the following pages.
    """
    register_fonts()
    tpl = _templates(templates).form("receipt")
    channels = tpl.labels("channels")
    channel = channels.get("counter" if data.channel == "direct" else data.channel, data.channel)
    code = data.dossier_code

    def body(compact: bool) -> list[Flowable]:
        procedure = tpl.markup("procedure", procedure_name=data.procedure_name)
        if data.procedure_code:
            procedure += tpl.markup("procedure_code", procedure_code=data.procedure_code)
        out: list[Flowable] = [
            para(tpl.markup("intro", agency_name=data.agency_name, applicant_name=data.applicant_name)),
            para(tpl.markup("id_number", applicant_id_number=data.applicant_id_number)),
        ]
        if data.applicant_address:
            out.append(para(tpl.markup("address", applicant_address=data.applicant_address)))
        contact = []
        if data.applicant_phone:
            contact.append(tpl.markup("phone", applicant_phone=data.applicant_phone))
        if data.applicant_email:
            contact.append(tpl.markup("email", applicant_email=data.applicant_email))
        if contact:
            out.append(para("&nbsp;&nbsp;&nbsp;&nbsp;".join(contact)))
        out.append(para(procedure))
        out.append(para(tpl.markup("channel", channel=channel)))

        if compact:
            items: list[tuple[str, Flowable | None]] = [
                (tpl.markup("papers_in_annex", paper_count=f"{len(data.papers):02d}"), None)
            ]
        else:
            items = [(tpl.markup("papers"), _papers_table(data.papers, tpl.list("paper_headers")))]
        items.append((tpl.markup("dossier_sets", dossier_sets=f"{data.dossier_sets:02d}"), None))
        if data.processing_time:
            items.append((tpl.markup("processing_time", processing_time=data.processing_time), None))
        items.append((tpl.markup("received", received_at=_moment(data.received_at)), None))
        items.append((tpl.markup("appointment", appointment_at=_moment(data.appointment_at)), None))
        delivery = data.result_delivery or _return_method(tpl, data.return_channel)
        if delivery:
            items.append((tpl.markup("result_delivery", result_delivery=delivery), None))
        for number, (text, extra) in enumerate(items, start=1):
            out.append(para(f"{number}. {text}"))
            if extra is not None:
                out += [Spacer(1, 3), extra, Spacer(1, 2)]
        if data.register_number is not None and tpl.has("register_entry"):
            entry = tpl.markup(
                "register_entry", register_number=f"{data.register_number:02d}", register_book=data.register_book or ""
            )
            out.append(para(entry))
        out.append(
            para(
                tpl.markup(
                    "tracking",
                    tracking_at=data.tracking_at,
                    dossier_code=code,
                    applicant_id_number=data.applicant_id_number,
                )
            )
        )
        if data.lookup_url:
            caption = tpl.markup("qr_caption", lookup_url=data.lookup_url, dossier_code=code)
            out += [Spacer(1, 4), qr_block(data.lookup_url, caption, tpl.layout("qr_size_mm") * mm)]
        return out

    note = tpl.plain("signature_note")
    at_desk = channel == channels["counter"]  # the applicant signs at the desk
    applicant = [Signer(tpl.plain("applicant_signer"), note, data.applicant_name, LEFT_CENTER)] if at_desk else []
    officer = data.signer_title or tpl.plain("officer_signer")
    form = Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.received_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code),),
        body=body(compact=False),
        signers=(*applicant, Signer(officer, note, data.officer_name, SIGNATURE_BOX.center_x)),
        subject=code,
        compact_body=body(compact=True),
        annex_title=_annex_lines(tpl, code),
        annex=[_papers_table(data.papers, tpl.list("paper_headers"))],
    )
    return render_form(form)


def render_supplement_request(data: SupplementData, templates: Templates | None = None) -> bytes:
    """Mẫu 02, Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ, as PDF bytes (texts from template ``mau-02``).

    A list of contents too long for page 1 moves to an annex on the following pages.
    """
    register_fonts()
    tpl = _templates(templates).form("supplement_request")
    code = data.dossier_code
    items = [para(f"{i}. {escape_text(item)}", ITEM) for i, item in enumerate(data.items, start=1)]

    def body(compact: bool) -> list[Flowable]:
        out = [
            para(tpl.markup("applicant", applicant_name=data.applicant_name)),
            *_contact(tpl, data.applicant_address, data.applicant_email),
            para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        ]
        received = tpl.markup("received_on", received_date=short_date(data.received_at)) if data.received_at else ""
        listed = tpl.markup("items_in_annex" if compact else "items_here")
        out.append(
            para(
                tpl.markup(
                    "request",
                    received_on=Markup(received),
                    agency_name=data.agency_name,
                    dossier_code=code,
                    listed=Markup(listed),
                )
            )
        )
        if not compact:
            out += items
        out.append(para(tpl.markup("reason", reason=data.reason)))
        phone = tpl.markup("official_phone", official_phone=data.official_phone) if data.official_phone else ""
        out.append(para(tpl.markup("contact", official_name=data.official_name, official_phone=Markup(phone))))
        return out

    items_annex = [para(f"{i}. {escape_text(item)}") for i, item in enumerate(data.items, start=1)]
    return _issued_form(tpl, data, body(compact=False), data.official_name, body(compact=True), items_annex)


def render_refusal(data: RefusalData, templates: Templates | None = None) -> bytes:
    """Mẫu 03, Phiếu từ chối tiếp nhận giải quyết hồ sơ, as PDF bytes (texts from template ``mau-03``)."""
    register_fonts()
    tpl = _templates(templates).form("refusal")
    code = data.dossier_code
    received = tpl.markup("received_on", received_date=short_date(data.received_at)) if data.received_at else ""
    body = [
        para(tpl.markup("applicant", applicant_name=data.applicant_name)),
        *_contact(tpl, data.applicant_address, data.applicant_email),
        para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        para(tpl.markup("refusal", agency_name=data.agency_name, dossier_code=code, received_on=Markup(received))),
        para(escape_text(data.reason), ITEM),
        para(tpl.markup("closing")),
    ]
    return _issued_form(tpl, data, body, data.official_name)


def render_apology(data: ApologyData, templates: Templates | None = None) -> bytes:
    """Mẫu 04 as PDF bytes: Phiếu xin lỗi và hẹn lại ngày trả kết quả (2018), or Văn bản xin lỗi và đề nghị gia
    hạn thời gian giải quyết (2025: addressed to the applicant, the apology, then the request to extend)."""
    register_fonts()
    tpl = _templates(templates).form("apology")
    code = data.dossier_code
    if tpl.has("extension"):
        letter = [
            *_letter_head(tpl, data, data.received_at),
            para(tpl.markup("old_due", old_due_at=_moment(data.old_due_at))),
            para(tpl.markup("reason", agency_name=data.agency_name, reason=data.reason)),
            para(tpl.markup("apology", agency_name=data.agency_name)),
            para(tpl.markup("extension", agency_name=data.agency_name, new_due_at=_moment(data.new_due_at))),
            para(tpl.markup("closing")),
        ]
        return _issued_form(tpl, data, letter, data.official_name)
    body = [
        para(
            tpl.markup(
                "received",
                received_date=short_date(data.received_at),
                agency_name=data.agency_name,
                applicant_name=data.applicant_name,
                dossier_code=code,
            )
        ),
        para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        para(tpl.markup("old_due", old_due_at=_moment(data.old_due_at))),
        para(tpl.markup("reason", agency_name=data.agency_name, reason=data.reason)),
        para(tpl.markup("apology", agency_name=data.agency_name, new_due_at=_moment(data.new_due_at))),
        para(tpl.markup("closing")),
    ]
    return _issued_form(tpl, data, body, data.official_name)


def _letter_head(tpl: FormTemplate, data: ApologyData | StopNoticeData, received_at: dt.datetime) -> list[Flowable]:
    """The opening of a 2025 letter to the applicant: to whom, where they are reached, which dossier."""
    return [
        para(tpl.markup("addressee", applicant_name=data.applicant_name)),
        *_contact(tpl, data.applicant_address, data.applicant_email),
        para(
            tpl.markup(
                "received",
                received_date=short_date(received_at),
                agency_name=data.agency_name,
                dossier_code=data.dossier_code,
            )
        ),
        para(tpl.markup("procedure", procedure_name=data.procedure_name)),
    ]


def render_stop_notice(data: StopNoticeData, templates: Templates | None = None) -> bytes:
    """Mẫu 05 of the 2025 set, Thông báo dừng giải quyết hồ sơ, as PDF bytes: at the applicant's request or by
    the agency, the reason, and how the papers go back. ``templates`` must be a set that has the form."""
    register_fonts()
    tpl = _templates(templates).form("stop_notice")
    code = data.dossier_code
    if data.requested_at is not None:
        requested = short_date(data.requested_at)
        grounds = tpl.markup("by_applicant", requested_date=requested, agency_name=data.agency_name, dossier_code=code)
    else:
        grounds = tpl.markup("by_agency", agency_name=data.agency_name, dossier_code=code)
    body = [*_letter_head(tpl, data, data.received_at), para(grounds), para(tpl.markup("reason", reason=data.reason))]
    back = _return_method(tpl, data.return_channel)
    if back:
        body.append(para(tpl.markup("papers_back", return_method=back)))
    body.append(para(tpl.markup("closing")))
    return _issued_form(tpl, data, body, data.official_name)


def _hand_over_table(tpl: FormTemplate, data: ControlSheetData) -> Table:
    labels = tpl.labels("timeliness")
    rows: list[list[Any]] = [[para(escape_text(head), CELL_HEAD) for head in tpl.list("headers")]]
    for i, row in enumerate(data.rows, start=1):
        parties = tpl.markup("giver", giver=row.giver) + "<br/>" + tpl.markup("receiver", receiver=row.receiver)
        taken = row.taken_at or row.handed_at
        times = tpl.markup("handed_at", handed_at=_moment(row.handed_at)) + "<br/>"
        times += tpl.markup("taken_at", taken_at=_moment(taken))
        result = f"{escape_text(labels.get(row.timeliness, row.timeliness))}<br/>"
        result += tpl.markup("due_note", due_at=short_date(row.due_at))
        rows.append(
            [
                para(str(i), CELL_CENTER),
                para(parties, CELL),
                para(times, CELL),
                para(result, CELL_CENTER),
                para(escape_text(row.note or ""), CELL),
            ]
        )
    fixed = [tpl.layout(k) * mm for k in ("col_number_mm", "col_time_mm", "col_result_mm", "col_note_mm")]
    widths = [fixed[0], max(20 * mm, CONTENT_WIDTH - sum(fixed)), fixed[1], fixed[2], fixed[3]]
    return grid(rows, widths)


def render_control_sheet(data: ControlSheetData, templates: Templates | None = None) -> bytes:
    """Phiếu kiểm soát quá trình giải quyết hồ sơ (Mẫu 05 of 2018, Mẫu 06 of 2025), as PDF bytes; the 2025 form
    also names the coordinating agencies.

    One table row per hand-over (who gave, who received, when, and whether the step was early, on time or
    late against the dossier's due date at that moment). Too many rows for page 1 move to an annex.
    """
    register_fonts()
    tpl = _templates(templates).form("control_sheet")
    code = data.dossier_code
    coordinating: list[Flowable] = []
    if tpl.has("coordinating"):
        names = "; ".join(data.coordinating_agencies)
        text = tpl.markup("coordinating", coordinating_agencies=names) if names else tpl.markup("no_coordinating")
        coordinating.append(para(text))

    def body(compact: bool) -> list[Flowable]:
        out: list[Flowable] = [
            para(tpl.markup("applicant", applicant_name=data.applicant_name)),
            para(tpl.markup("procedure", procedure_name=data.procedure_name)),
            para(tpl.markup("handling", handling_agency=data.handling_agency)),
            *coordinating,
            para(tpl.markup("received", received_at=_moment(data.received_at))),
            para(tpl.markup("due", due_at=_moment(data.due_at))),
            Spacer(1, 4),
        ]
        if not data.rows:
            out.append(para(tpl.markup("no_rows")))
        elif compact:
            out.append(para(tpl.markup("rows_in_annex", row_count=f"{len(data.rows):02d}")))
        else:
            out.append(_hand_over_table(tpl, data))
        return out

    rows_annex = [_hand_over_table(tpl, data)] if data.rows else []
    attached = tpl.plain("attached", dossier_code=code)
    return _issued_form(
        tpl, data, body(compact=False), data.signer_name, body(compact=True), rows_annex, subtitles=(attached,)
    )


def render_household_business_certificate(data: CertificateData) -> bytes:
    """Giấy chứng nhận đăng ký hộ kinh doanh (the result of procedure 1.001612), as PDF bytes.

    A list of business lines too long for page 1 moves to an annex on the following pages.
    """
    register_fonts()
    gap = "&nbsp;" * 6

    def body(compact: bool) -> list[Flowable]:
        out: list[Flowable] = [
            para(f"1. Tên hộ kinh doanh (ghi bằng chữ in hoa): <b>{escape_text(upper(data.business_name))}</b>"),
            para(f"2. Địa chỉ trụ sở hộ kinh doanh: {escape_text(data.business_address)}"),
        ]
        contact = []
        if data.phone:
            contact.append(f"Điện thoại: {escape_text(data.phone)}")
        if data.email:
            contact.append(f"Email: {escape_text(data.email)}")
        if contact:
            out.append(para(gap.join(contact), ITEM))
        if compact:
            out.append(para("3. Ngành, nghề kinh doanh: chi tiết tại Phụ lục kèm theo."))
        else:
            out.append(para("3. Ngành, nghề kinh doanh:"))
            out += [para(f"- {escape_text(line)}", ITEM) for line in data.business_lines]
        out.append(para(f"4. Vốn kinh doanh: <b>{format_vnd(data.capital_vnd)}</b>"))
        out.append(para(f"Bằng chữ: {amount_in_words(data.capital_vnd)} đồng", ITEM))
        number = 5
        if data.employees is not None:
            out.append(para(f"{number}. Số lượng lao động: {data.employees} người"))
            number += 1
        out.append(para(f"{number}. Thông tin về chủ hộ kinh doanh:"))
        name = f"Họ và tên (ghi bằng chữ in hoa): <b>{escape_text(upper(data.owner_name))}</b>"
        if data.owner_gender:
            name += f"{gap}Giới tính: {escape_text(data.owner_gender)}"
        out.append(para(name, ITEM))
        born = [f"Sinh ngày: {short_date(data.owner_birth_date)}"]
        if data.owner_ethnicity:
            born.append(f"Dân tộc: {escape_text(data.owner_ethnicity)}")
        if data.owner_nationality:
            born.append(f"Quốc tịch: {escape_text(data.owner_nationality)}")
        out.append(para(gap.join(born), ITEM))
        out.append(para(f"Số định danh cá nhân: {escape_text(data.owner_id_number)}", ITEM))
        if data.owner_address:
            out.append(para(f"Địa chỉ thường trú: {escape_text(data.owner_address)}", ITEM))
        return out

    form = Form(
        parent_agency=data.parent_agency,
        agency=data.issuing_authority,
        number=None,
        place_name=data.place_name,
        dated=data.issued_at,
        title="GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
        subtitles=(
            f"Số: {data.registration_number}",
            f"Đăng ký lần đầu: {long_date(data.first_registered_on)}",
        ),
        body=body(compact=False),
        signers=(Signer(data.signer_title, None, data.signer_name, SIGNATURE_BOX.center_x),),
        subject=data.registration_number,
        compact_body=body(compact=True),
        annex_title=_annex_title(
            "Giấy chứng nhận đăng ký hộ kinh doanh",
            f"số {data.registration_number}",
            "NGÀNH, NGHỀ KINH DOANH",
        ),
        annex=[para(f"{i}. {escape_text(line)}") for i, line in enumerate(data.business_lines, start=1)],
    )
    return render_form(form)
