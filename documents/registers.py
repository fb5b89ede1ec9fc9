"""Sổ theo dõi hồ sơ (Mẫu 06 of Circular 01/2018/TT-VPCP, Mẫu 07 of Circular 03/2025/TT-VPCP): one row per dossier
of an agency in a period.

Two renderings of the same :class:`TrackingRegisterData`: a landscape A4 PDF set in the embedded Noto Serif,
with a blank area for the agency's seal after the table (where it falls is only known once the table has
flowed, so :func:`render_tracking_register` returns it with the bytes), and an XLSX workbook with Vietnamese
headers. Texts and headers come from the set's template for ``tracking_register`` (the 2025 one also names the
register's book).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from documents.layout import (
    BOLD,
    REGULAR,
    SignatureBox,
    check,
    escape_text,
    long_date,
    register_fonts,
    short_date,
    style,
    upper,
)
from documents.pdfa import ArchivalCanvas
from documents.templating import Templates, default_templates
from dossiers.calendar import VN_TZ

__all__ = ["TrackingRegisterData", "TrackingRow", "render_tracking_register", "tracking_register_xlsx"]

PAGE = landscape(A4)
_MARGIN_X = 15 * mm
_MARGIN_Y = 15 * mm
_SEAL_W, _SEAL_H = 200.0, 100.0
# column shares of the table width (TT, code, procedure, applicant, 4 dates, status, timeliness)
_SHARES = (0.035, 0.17, 0.15, 0.115, 0.075, 0.075, 0.075, 0.075, 0.10, 0.13)


@dataclass(frozen=True)
class TrackingRow:
    dossier_code: str
    procedure_name: str
    applicant_name: str
    received_at: dt.datetime
    due_at: dt.datetime
    status: str  # the status label, in Vietnamese
    resolved_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    timeliness: str | None = None  # early | on_time | late when resolved; None while in progress
    overdue: bool = False  # still in progress after the due date

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class TrackingRegisterData:
    agency_name: str
    place_name: str
    period_from: dt.date
    period_to: dt.date  # inclusive
    issued_at: dt.datetime
    rows: tuple[TrackingRow, ...] = ()
    parent_agency: str | None = None
    signer_title: str | None = None  # None: the template's (mau-06 texts.signer)
    register_book: str | None = None  # the book (2025 set: "Quyển số"), e.g. the year

    def __post_init__(self) -> None:
        check(self)


def _result(row: TrackingRow, labels: dict[str, str], in_progress: str, overdue: str) -> str:
    if row.timeliness:
        return labels.get(row.timeliness, row.timeliness)
    return overdue if row.overdue else in_progress


def _summary_values(data: TrackingRegisterData) -> dict[str, str]:
    counts = {"early": 0, "on_time": 0, "late": 0}
    for row in data.rows:
        if row.timeliness in counts:
            counts[row.timeliness] += 1
    in_progress = sum(1 for r in data.rows if not r.timeliness)
    overdue = sum(1 for r in data.rows if not r.timeliness and r.overdue)
    values = {k: str(v) for k, v in counts.items()}
    return values | {"total": str(len(data.rows)), "in_progress": str(in_progress), "overdue": str(overdue)}


def _day(value: dt.datetime | None) -> str:
    return short_date(value) if value is not None else ""


class _SealSpot(Flowable):
    """A blank rectangle that remembers where it was drawn (page index, PDF points)."""

    def __init__(self, width: float, height: float) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.hAlign = "RIGHT"
        self.placed: SignatureBox | None = None

    def wrap(self, *_: Any) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self.placed = SignatureBox(self.canv.getPageNumber() - 1, float(x), float(y), self.width, self.height)


def render_tracking_register(
    data: TrackingRegisterData, templates: Templates | None = None
) -> tuple[bytes, SignatureBox]:
    """Mẫu 06 as a landscape A4 PDF; returns the bytes and the blank box left for the agency's seal."""
    register_fonts()
    tpl = (templates or default_templates()).form("tracking_register")
    size = tpl.layout("font_size")
    cell = style("reg-cell", fontSize=size, leading=size * 1.25, alignment=0)
    cell_c = style("reg-cellc", fontSize=size, leading=size * 1.25, alignment=TA_CENTER)
    head = style("reg-head", fontName=BOLD, fontSize=size, leading=size * 1.25, alignment=TA_CENTER)
    centered = style("reg-c", fontSize=11.5, leading=15, alignment=TA_CENTER)
    bold_c = style("reg-bc", fontName=BOLD, fontSize=11.5, leading=15, alignment=TA_CENTER)
    width = PAGE[0] - 2 * _MARGIN_X

    left = []
    if data.parent_agency:
        left.append(Paragraph(escape_text(upper(data.parent_agency)), centered))
    left.append(Paragraph(escape_text(upper(data.agency_name)), bold_c))
    right = [
        Paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_c),
        Paragraph("Độc lập - Tự do - Hạnh phúc", bold_c),
        Paragraph(f"<i>{escape_text(data.place_name)}, {long_date(data.issued_at)}</i>", centered),
    ]
    header = Table([[left, right]], colWidths=[width * 0.42, width * 0.58])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), REGULAR)]))

    labels = tpl.labels("timeliness")
    in_progress, overdue = tpl.plain("in_progress"), tpl.plain("overdue")
    rows: list[list[Any]] = [[Paragraph(escape_text(h), head) for h in tpl.list("headers")]]
    for i, row in enumerate(data.rows, start=1):
        rows.append(
            [
                Paragraph(str(i), cell_c),
                Paragraph(escape_text(row.dossier_code), cell),
                Paragraph(escape_text(row.procedure_name), cell),
                Paragraph(escape_text(row.applicant_name), cell),
                Paragraph(_day(row.received_at), cell_c),
                Paragraph(_day(row.due_at), cell_c),
                Paragraph(_day(row.resolved_at), cell_c),
                Paragraph(_day(row.returned_at), cell_c),
                Paragraph(escape_text(row.status), cell_c),
                Paragraph(escape_text(_result(row, labels, in_progress, overdue)), cell_c),
            ]
        )
    table = Table(rows, colWidths=[width * s for s in _SHARES], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    seal = _SealSpot(_SEAL_W, _SEAL_H)
    signer_w = _SEAL_W + 40
    signer_c = style("reg-sig", fontName=BOLD, fontSize=12, leading=15, alignment=TA_CENTER)
    note_c = style("reg-note", fontSize=11, leading=14, alignment=TA_CENTER)
    signer = Table(
        [
            [Paragraph(escape_text(upper(data.signer_title or tpl.plain("signer"))), signer_c)],
            [Paragraph(f"<i>{escape_text(tpl.plain('signature_note'))}</i>", note_c)],
            [seal],
        ],
        colWidths=[signer_w],
        hAlign="RIGHT",
        style=[("FONTNAME", (0, 0), (-1, -1), REGULAR), ("ALIGN", (0, 0), (-1, -1), "CENTER")],
    )
    story: list[Flowable] = [
        header,
        Spacer(1, 10),
        Paragraph(
            escape_text(tpl.plain("title")), style("reg-title", fontName=BOLD, fontSize=14, leading=18, alignment=1)
        ),
        Paragraph(
            escape_text(
                tpl.plain("period", from_date=short_date(data.period_from), to_date=short_date(data.period_to))
            ),
            centered,
        ),
        *(
            [Paragraph(escape_text(tpl.plain("book", register_book=data.register_book)), centered)]
            if data.register_book and tpl.has("book")
            else []
        ),
        Spacer(1, 8),
        table if data.rows else Paragraph(tpl.markup("no_rows"), style("reg-none")),
        Spacer(1, 6),
        Paragraph(tpl.markup("summary", **_summary_values(data)), style("reg-sum", fontSize=11, leading=14)),
        Spacer(1, 6),
        KeepTogether([signer]),
    ]

    def page_number(canvas: Any, doc: Any) -> None:
        canvas.setFont(REGULAR, 9)
        canvas.drawCentredString(PAGE[0] / 2, 8 * mm, tpl.plain("page", page=doc.page))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=_MARGIN_X,
        rightMargin=_MARGIN_X,
        topMargin=_MARGIN_Y,
        bottomMargin=_MARGIN_Y,
        title=f"{tpl.plain('title')} {short_date(data.period_from)} - {short_date(data.period_to)}",
        author=data.agency_name,
        creator="Motcua",
        lang="vi-VN",
        invariant=True,
        initialFontName=REGULAR,  # no base-14 font anywhere
        initialFontSize=10,
    )
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number, canvasmaker=ArchivalCanvas)
    assert seal.placed is not None
    return out.getvalue(), seal.placed


def tracking_register_xlsx(data: TrackingRegisterData, templates: Templates | None = None) -> bytes:
    """Mẫu 06 as an XLSX workbook: title lines, the Vietnamese headers, one row per dossier (dates as real
    Excel dates in Vietnam time), then the summary line."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    tpl = (templates or default_templates()).form("tracking_register")
    labels = tpl.labels("timeliness")
    in_progress, overdue = tpl.plain("in_progress"), tpl.plain("overdue")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = tpl.plain("sheet_name")[:31]
    headers = tpl.list("headers")
    sheet.append([tpl.plain("title")])
    sheet.append([data.agency_name])
    period = tpl.plain("period", from_date=short_date(data.period_from), to_date=short_date(data.period_to))
    volume = [tpl.plain("book", register_book=data.register_book)] if data.register_book and tpl.has("book") else []
    sheet.append([period, *volume])  # the book beside the period: the headers stay on row 4
    sheet.append(headers)
    bold = Font(bold=True)
    for c in sheet[1] + sheet[4]:
        c.font = bold
    for c in sheet[4]:
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")

    def local(value: dt.datetime | None) -> dt.datetime | None:
        return value.astimezone(VN_TZ).replace(tzinfo=None) if value is not None else None

    for i, row in enumerate(data.rows, start=1):
        sheet.append(
            [
                i,
                row.dossier_code,
                row.procedure_name,
                row.applicant_name,
                local(row.received_at),
                local(row.due_at),
                local(row.resolved_at),
                local(row.returned_at),
                row.status,
                _result(row, labels, in_progress, overdue),
            ]
        )
        for c in sheet[sheet.max_row][4:8]:
            c.number_format = "dd/mm/yyyy hh:mm"
    sheet.append([])
    sheet.append([tpl.plain("summary", **_summary_values(data))])
    for letter, w in zip("ABCDEFGHIJ", (5, 28, 40, 26, 17, 17, 17, 17, 16, 20), strict=True):
        sheet.column_dimensions[letter].width = w
    sheet.freeze_panes = "A5"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
