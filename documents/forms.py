"""The forms of Circular 01/2018/TT-VPCP and the household business registration certificate, as PDF.

Pure functions: a frozen dataclass in, the bytes of a one-page A4 PDF out (no database, no storage, no
signing). Every text is set in Noto Serif (embedded TrueType subsets, ``unitsPerEm`` = 1000, so that
pyHanko's stamps set in the same font keep their spacing); no base-14 font is used.

Layout, in the style of the Circular's forms and Decree 30/2020/NĐ-CP: agency (and its parent) top left,
the national motto top right with the place and date line under it, the title in bold capitals, the body,
then the signature block at the bottom of page 1. The signature area proper, where the visible signature(s)
and the agency seal are stamped later, is the same fixed, blank rectangle on every form:
:data:`SIGNATURE_BOX`. The signer's title sits above it and the signer's printed name under it.

Dates and times: instants are aware :class:`datetime.datetime` values and are shown in Vietnam time
(UTC+07:00) in the Vietnamese administrative style — ``ngày 05 tháng 3 năm 2026``, ``05/3/2026`` (a
leading zero for days below 10 and for months 1 and 2), ``17 giờ 00 phút``. Calendar dates (a date of
birth) are plain :class:`datetime.date` values.

Output is deterministic: the same data gives the same bytes (reportlab's *invariant* mode).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Image, KeepInFrame, Paragraph, Spacer, Table, TableStyle

from documents.templating import FormTemplate, Markup, Templates, default_templates

__all__ = [
    "CERTIFIED_COPY",
    "COPY",
    "ELECTRONIC",
    "FONT_DIR",
    "ORIGINAL",
    "PAGE_SIZE",
    "PHOTOCOPY",
    "SIGNATURE_BOX",
    "VN_TZ",
    "ApologyData",
    "CertificateData",
    "ControlSheetData",
    "HandOver",
    "ReceiptData",
    "ReceivedPaper",
    "RefusalData",
    "SignatureBox",
    "SupplementData",
    "amount_in_words",
    "format_vnd",
    "long_date",
    "render_apology",
    "render_control_sheet",
    "render_household_business_certificate",
    "render_receipt",
    "render_refusal",
    "render_supplement_request",
    "short_date",
    "time_of_day",
]

VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
"""Vietnam time, UTC+07:00 (no daylight saving time)."""

PAGE_SIZE: tuple[float, float] = A4
"""A4 in PDF points: 595.28 x 841.89."""

FONT_DIR = Path(__file__).resolve().parent / "fonts"
_REGULAR = "MotcuaNotoSerif"
_BOLD = "MotcuaNotoSerif-Bold"
_OBLIQUE_SHEAR = 0.2  # the Noto Serif italic is not vendored; the few italic lines are slanted regular text

# Forms of a paper: what ``ReceivedPaper.form`` usually says.
ORIGINAL = "Bản chính"
COPY = "Bản sao"
CERTIFIED_COPY = "Bản sao có chứng thực"
PHOTOCOPY = "Bản chụp"
ELECTRONIC = "Bản điện tử"

# Page geometry (Decree 30/2020: margins top/bottom 20-25 mm, left 30-35 mm, right 15-20 mm).
_PAGE_W, _PAGE_H = A4
_LEFT = 30 * mm
_RIGHT = _PAGE_W - 15 * mm
_TOP = _PAGE_H - 20 * mm
_BOTTOM = 20 * mm
_CONTENT_W = _RIGHT - _LEFT
_LEFT_COL_W = 70 * mm
_LEFT_CENTER = _LEFT + _LEFT_COL_W / 2
_RIGHT_CENTER = (_LEFT + _LEFT_COL_W + _RIGHT) / 2


@dataclass(frozen=True)
class SignatureBox:
    """A rectangle on one page, in PDF points from the bottom-left corner of the page.

    ``page`` is 0-based (pyHanko's ``on_page``): 0 is page 1. :attr:`box` is ``(x1, y1, x2, y2)``, the
    form pyHanko's ``SigFieldSpec(box=...)`` takes.
    """

    page: int
    x: float
    y: float
    width: float
    height: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (round(self.x), round(self.y), round(self.x + self.width), round(self.y + self.height))

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2

    @property
    def top(self) -> float:
        return self.y + self.height


SIGNATURE_BOX = SignatureBox(page=0, x=_RIGHT_CENTER - 100.0, y=80.0, width=200.0, height=100.0)
"""The blank area left for the visible signature(s) and seal, the same on every form of this module.

Page 1 (index 0), bottom right: x 318..518 pt, y 80..180 pt (about 70.6 x 35.3 mm), centred under the
signer's title; the signer's printed name is set under it (baseline at y = 64 pt). Nothing is drawn inside.
"""

_NAME_BASELINE = SIGNATURE_BOX.y - 16


# --------------------------------------------------------------------------------------------------------------
# Formatting helpers (public: the web pages and notifications word dates and amounts the same way)


def _in_vietnam(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment.astimezone(VN_TZ)


def _calendar_day(value: dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return _in_vietnam(value).date()
    return value


def _day_month(day: dt.date) -> tuple[str, str]:
    # Decree 30/2020, Appendix I: a leading zero for days below 10 and for months 1 and 2.
    return f"{day.day:02d}", (f"{day.month:02d}" if day.month <= 2 else str(day.month))


def long_date(value: dt.date) -> str:
    """``ngày 05 tháng 3 năm 2026``; an aware datetime is first converted to Vietnam time."""
    day = _calendar_day(value)
    d, m = _day_month(day)
    return f"ngày {d} tháng {m} năm {day.year}"


def short_date(value: dt.date) -> str:
    """``05/3/2026``, ``15/02/2026``; an aware datetime is first converted to Vietnam time."""
    day = _calendar_day(value)
    d, m = _day_month(day)
    return f"{d}/{m}/{day.year}"


def time_of_day(moment: dt.datetime) -> str:
    """``17 giờ 00 phút``, in Vietnam time."""
    local = _in_vietnam(moment)
    return f"{local.hour:02d} giờ {local.minute:02d} phút"


def format_vnd(amount: int) -> str:
    """``100.000.000 đồng`` (dots between thousands)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,} đồng".replace(",", ".")


_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def _three_digits(n: int, inner: bool) -> list[str]:
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or inner:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5 and tens >= 1:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def amount_in_words(amount: int) -> str:
    """A whole number in Vietnamese words, capitalised: ``Một trăm linh năm triệu``."""
    if amount < 0:
        raise ValueError("amount_in_words: negative amount")
    if amount == 0:
        return "Không"
    groups: list[int] = []
    while amount:
        groups.append(amount % 1000)
        amount //= 1000
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        if groups[index] == 0:
            continue
        words += _three_digits(groups[index], inner=index != len(groups) - 1)
        scale = ["", "nghìn", "triệu"][index % 3]
        words += ([scale] if scale else []) + ["tỷ"] * (index // 3)
    text = " ".join(words)
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------------------------------------------
# Input data


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _check(data: Any) -> None:
    """Normalise strings to NFC, sequences to tuples, and reject naive datetimes and empty required text."""
    for f in fields(data):
        value = getattr(data, f.name)
        if isinstance(value, str):
            value = _clean(value)
            if not value:
                if f.default is not None:
                    raise ValueError(f"{type(data).__name__}.{f.name} is empty")
                value = None
        elif isinstance(value, list | tuple):
            value = tuple(_clean(v) if isinstance(v, str) else v for v in value)
        elif isinstance(value, dt.datetime):
            _in_vietnam(value)
        object.__setattr__(data, f.name, value)


@dataclass(frozen=True)
class ReceivedPaper:
    """One paper of the dossier as received: its name, its form (:data:`ORIGINAL`, :data:`COPY`, …), how many."""

    name: str
    form: str = ORIGINAL
    count: int = 1

    def __post_init__(self) -> None:
        _check(self)
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

    def __post_init__(self) -> None:
        _check(self)
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

    def __post_init__(self) -> None:
        _check(self)
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

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class ApologyData:
    """Mẫu 04: Phiếu xin lỗi và hẹn lại ngày trả kết quả."""

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

    def __post_init__(self) -> None:
        _check(self)
        if self.new_due_at <= self.old_due_at:
            raise ValueError("ApologyData.new_due_at is not after old_due_at")


@dataclass(frozen=True)
class HandOver:
    """One row of Mẫu 05: the dossier handed from one department (or person) to the next.

    ``timeliness`` is ``early`` | ``on_time`` | ``late`` (labels from the template), judged at ``handed_at``
    against ``due_at``, the dossier's due date at that moment."""

    giver: str
    receiver: str
    handed_at: dt.datetime
    due_at: dt.datetime
    timeliness: str
    taken_at: dt.datetime | None = None  # when the receiver took it up; None: at once (electronic hand-over)
    note: str | None = None

    def __post_init__(self) -> None:
        _check(self)


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

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class CertificateData:
    """The result of procedure 2.000575: Giấy chứng nhận đăng ký hộ kinh doanh."""

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
        _check(self)
        _calendar_day(self.first_registered_on)
        if not self.business_lines:
            raise ValueError("CertificateData.business_lines is empty")
        if self.capital_vnd < 0:
            raise ValueError("CertificateData.capital_vnd is negative")
        if self.employees is not None and self.employees < 0:
            raise ValueError("CertificateData.employees is negative")


# --------------------------------------------------------------------------------------------------------------
# Rendering

_fonts_lock = threading.Lock()
_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    with _fonts_lock:
        if _fonts_ready:
            return
        pdfmetrics.registerFont(TTFont(_REGULAR, str(FONT_DIR / "NotoSerif-Regular.ttf")))
        pdfmetrics.registerFont(TTFont(_BOLD, str(FONT_DIR / "NotoSerif-Bold.ttf")))
        pdfmetrics.registerFontFamily(_REGULAR, normal=_REGULAR, bold=_BOLD, italic=_REGULAR, boldItalic=_BOLD)
        _fonts_ready = True


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": _REGULAR, "fontSize": 12, "leading": 16.5, "alignment": TA_JUSTIFY}
    base.update(kw)
    return ParagraphStyle(name, **base)


_BODY = _style("body", spaceBefore=3)
_ITEM = _style("item", leftIndent=8 * mm, firstLineIndent=0, spaceBefore=1)
_CELL = _style("cell", fontSize=11, leading=14, alignment=TA_LEFT)
_CELL_CENTER = _style("cellc", fontSize=11, leading=14, alignment=TA_CENTER)
_CELL_HEAD = _style("cellh", fontName=_BOLD, fontSize=11, leading=14, alignment=TA_CENTER)


def _t(text: str) -> str:
    """User text as paragraph markup."""
    return escape(text)


def _para(markup: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(markup, style)


def _field(label: str, value: str, *, bold: bool = False) -> Paragraph:
    shown = f"<b>{_t(value)}</b>" if bold else _t(value)
    return _para(f"{_t(label)}: {shown}")


@dataclass(frozen=True)
class _Signer:
    title: str
    note: str | None
    name: str | None
    center_x: float


@dataclass(frozen=True, eq=False)
class _Form:
    parent_agency: str | None
    agency: str
    number: str | None
    place_name: str
    dated: dt.datetime
    title: str
    subtitles: tuple[str, ...]
    body: list[Flowable]
    signers: tuple[_Signer, ...]
    subject: str
    # When ``body`` does not fit on page 1, ``compact_body`` takes its place there and the long list goes to an
    # annex (``annex_title`` lines, then ``annex``) on the following pages.
    compact_body: list[Flowable] | None = None
    annex_title: tuple[str, ...] = ()
    annex: list[Flowable] = field(default_factory=list)


def _centered(c: Canvas, text: str, cx: float, y: float, font: str, size: float) -> float:
    width = float(pdfmetrics.stringWidth(text, font, size))
    c.setFont(font, size)
    c.drawString(cx - width / 2, y, text)
    return width


def _oblique_centered(c: Canvas, text: str, cx: float, y: float, size: float) -> None:
    width = pdfmetrics.stringWidth(text, _REGULAR, size)
    obj = c.beginText()
    obj.setTextTransform(1, 0, _OBLIQUE_SHEAR, 1, cx - width / 2, y)
    obj.setFont(_REGULAR, size)
    obj.textOut(text)
    c.drawText(obj)


def _wrapped_centered(c: Canvas, text: str, cx: float, y: float, width: float, font: str, size: float) -> float:
    """Draws centred lines from baseline y downwards; returns the baseline of the last line."""
    leading = size * 1.25
    lines = simpleSplit(text, font, size, width)
    for i, line in enumerate(lines):
        _centered(c, line, cx, y - i * leading, font, size)
    return y - (len(lines) - 1) * leading


def _rule(c: Canvas, cx: float, y: float, width: float) -> None:
    c.setLineWidth(0.6)
    c.line(cx - width / 2, y, cx + width / 2, y)


def _upper(text: str) -> str:
    return unicodedata.normalize("NFC", text.upper())


def _draw_header(c: Canvas, form: _Form) -> float:
    """Agency block (left) and national motto with the date line (right); returns the lowest y used."""
    size = 11.5
    col_w = _LEFT_COL_W - 4
    y = _TOP - size
    if form.parent_agency:
        y = _wrapped_centered(c, _upper(form.parent_agency), _LEFT_CENTER, y, col_w, _REGULAR, size)
        y -= size * 1.25
    y = _wrapped_centered(c, _upper(form.agency), _LEFT_CENTER, y, col_w, _BOLD, size)
    _rule(c, _LEFT_CENTER, y - 7, 28 * mm)
    left_bottom = y - 7
    if form.number:
        left_bottom = y - 26
        _centered(c, f"Số: {form.number}", _LEFT_CENTER, left_bottom, _REGULAR, size)

    y = _TOP - size
    _centered(c, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", _RIGHT_CENTER, y, _BOLD, size)
    y -= size * 1.3
    motto_w = _centered(c, "Độc lập - Tự do - Hạnh phúc", _RIGHT_CENTER, y, _BOLD, 12.5)
    _rule(c, _RIGHT_CENTER, y - 7, motto_w)
    y -= 26
    if form.number:
        y = min(y, left_bottom)
    _oblique_centered(c, f"{form.place_name}, {long_date(form.dated)}", _RIGHT_CENTER, y, 12)
    return float(min(y, left_bottom))


def _draw_title(c: Canvas, form: _Form, y: float) -> float:
    cx = _LEFT + _CONTENT_W / 2
    y = _wrapped_centered(c, form.title, cx, y - 32, _CONTENT_W, _BOLD, 14)
    for sub in form.subtitles:
        y = _wrapped_centered(c, sub, cx, y - 18, _CONTENT_W, _REGULAR, 12)
    return y - 10


def _draw_signers(c: Canvas, signers: Sequence[_Signer]) -> float:
    """Signer blocks above and under the signature box row; returns the top of the highest block."""
    top = SIGNATURE_BOX.top
    for signer in signers:
        y = SIGNATURE_BOX.top + 6
        if signer.note:
            _oblique_centered(c, signer.note, signer.center_x, y, 11)
            y += 15
        for line in reversed(signer.title.splitlines()):
            _centered(c, _upper(line), signer.center_x, y, _BOLD, 12)
            y += 15
        top = max(top, y)
        if signer.name:
            _centered(c, signer.name, signer.center_x, _NAME_BASELINE, _BOLD, 12)
    return top


_MIN_SCALE = 0.85  # a body that would have to shrink more than this moves its long list to an annex


def _natural_height(flowables: Sequence[Flowable], width: float) -> float:
    total = 0.0
    for i, flowable in enumerate(flowables):
        _, height = flowable.wrap(width, _PAGE_H * 100)
        total += height + flowable.getSpaceAfter() + (flowable.getSpaceBefore() if i else 0)
    return total


def _frame(y: float, height: float) -> Frame:
    return Frame(_LEFT, y, _CONTENT_W, height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)


def _draw_annex(c: Canvas, form: _Form) -> None:
    """The annex on pages 2, 3, …: page number at the top centre (Decree 30), title, then the flowing list."""
    remaining: list[Flowable] = list(form.annex)
    page = 1
    while remaining:
        c.showPage()
        page += 1
        _centered(c, str(page), _PAGE_W / 2, _PAGE_H - 12 * mm, _REGULAR, 11)
        y = _TOP - 14
        if page == 2:
            for i, line in enumerate(form.annex_title):
                font = _BOLD if i < 2 else _REGULAR
                y = _wrapped_centered(c, line, _PAGE_W / 2, y, _CONTENT_W, font, 13 if i < 2 else 12) - 18
        frame = _frame(_BOTTOM, y - _BOTTOM)
        if not _fill(frame, remaining, c):  # a flowable taller than a page that does not split: shrink it
            frame.addFromList([KeepInFrame(_CONTENT_W, y - _BOTTOM, [remaining.pop(0)], mode="shrink")], c)


def _fill(frame: Frame, remaining: list[Flowable], c: Canvas) -> bool:
    """Adds flowables from the front of ``remaining`` to ``frame``, splitting the one that does not fit."""
    placed = False
    while remaining:
        if frame.add(remaining[0], c, trySplit=0):
            remaining.pop(0)
            placed = True
            continue
        parts = frame.split(remaining[0], c)
        if len(parts) >= 2 and frame.add(parts[0], c, trySplit=0):
            remaining[0:1] = parts[1:]
            placed = True
        break
    return placed


def _render(form: _Form) -> bytes:
    buffer = io.BytesIO()
    c = Canvas(
        buffer,
        pagesize=A4,
        invariant=True,
        initialFontName=_REGULAR,
        initialFontSize=12,
        lang="vi-VN",
    )
    c.setTitle(form.title)
    c.setAuthor(form.agency)
    c.setSubject(form.subject)
    c.setCreator("Motcua")

    header_bottom = _draw_header(c, form)
    title_bottom = _draw_title(c, form, header_bottom)
    signers_top = _draw_signers(c, form.signers)

    body_bottom = signers_top + 6
    height = title_bottom - body_bottom
    body = form.body
    with_annex = form.compact_body is not None and _natural_height(body, _CONTENT_W) * _MIN_SCALE > height
    if with_annex:
        assert form.compact_body is not None
        body = form.compact_body
    _frame(body_bottom, height).addFromList([KeepInFrame(_CONTENT_W, height, body, mode="shrink", vAlign="TOP")], c)
    if with_annex:
        _draw_annex(c, form)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _annex_title(form_name: str, reference: str, what: str) -> tuple[str, ...]:
    return ("PHỤ LỤC", what, f"(Kèm theo {form_name}, {reference})")


def _templates(templates: Templates | None) -> Templates:
    return templates if templates is not None else default_templates()


def _moment(value: dt.datetime) -> str:
    """``17 giờ 00 phút, ngày 05/3/2026``."""
    return f"{time_of_day(value)}, ngày {short_date(value)}"


def _qr_png(value: str) -> bytes:
    """The QR code of ``value`` (error correction M, 4-module quiet zone) as a grey PNG, 8 pixels a module."""
    from PIL import Image as PilImage
    from reportlab.graphics.barcode import qrencoder

    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(value)
    qr.make()
    count, quiet, scale = qr.getModuleCount(), 4, 8
    side = (count + 2 * quiet) * scale
    image = PilImage.new("L", (side, side), 255)
    pixels = image.load()
    for r in range(count):
        for col in range(count):
            if qr.isDark(r, col):
                for dy in range(scale):
                    for dx in range(scale):
                        pixels[(col + quiet) * scale + dx, (r + quiet) * scale + dy] = 0  # type: ignore[index]
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _qr_block(url: str, caption: str, size: float) -> Table:
    """The QR code (as an image) left, its caption and the URL right."""
    image = Image(io.BytesIO(_qr_png(url)), width=size, height=size)
    table = Table([[image, _para(caption, _CELL)]], colWidths=[size + 4 * mm, _CONTENT_W - size - 4 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), _REGULAR),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _papers_table(papers: Sequence[ReceivedPaper], headers: Sequence[str]) -> Table:
    rows: list[list[Any]] = [[_para(_t(head), _CELL_HEAD) for head in headers]]
    for i, paper in enumerate(papers, start=1):
        rows.append(
            [
                _para(str(i), _CELL_CENTER),
                _para(_t(paper.name), _CELL),
                _para(_t(paper.form), _CELL_CENTER),
                _para(f"{paper.count:02d}", _CELL_CENTER),
            ]
        )
    widths = [10 * mm, _CONTENT_W - (10 + 36 + 18) * mm, 36 * mm, 18 * mm]
    return _grid(rows, widths)


def _grid(rows: list[list[Any]], widths: Sequence[float]) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), _REGULAR),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _annex_lines(tpl: FormTemplate, code: str) -> tuple[str, ...]:
    return ("PHỤ LỤC", tpl.plain("annex_heading"), tpl.plain("annex_reference", dossier_code=code))


def render_receipt(data: ReceiptData, templates: Templates | None = None) -> bytes:
    """Mẫu 01, Giấy tiếp nhận hồ sơ và hẹn trả kết quả, as PDF bytes (texts from template ``mau-01``).

    With ``data.lookup_url`` the form carries a QR code of that address (the public lookup) and its text.
    A list of papers too long for page 1 moves to an annex on the following pages.
    """
    _register_fonts()
    tpl = _templates(templates).get("mau-01")
    channels = tpl.labels("channels")
    channel = channels.get("counter" if data.channel == "direct" else data.channel, data.channel)
    code = data.dossier_code

    def body(compact: bool) -> list[Flowable]:
        procedure = tpl.markup("procedure", procedure_name=data.procedure_name)
        if data.procedure_code:
            procedure += tpl.markup("procedure_code", procedure_code=data.procedure_code)
        out: list[Flowable] = [
            _para(tpl.markup("intro", agency_name=data.agency_name, applicant_name=data.applicant_name)),
            _para(tpl.markup("id_number", applicant_id_number=data.applicant_id_number)),
        ]
        if data.applicant_address:
            out.append(_para(tpl.markup("address", applicant_address=data.applicant_address)))
        contact = []
        if data.applicant_phone:
            contact.append(tpl.markup("phone", applicant_phone=data.applicant_phone))
        if data.applicant_email:
            contact.append(tpl.markup("email", applicant_email=data.applicant_email))
        if contact:
            out.append(_para("&nbsp;&nbsp;&nbsp;&nbsp;".join(contact)))
        out.append(_para(procedure))
        out.append(_para(tpl.markup("channel", channel=channel)))

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
        if data.result_delivery:
            items.append((tpl.markup("result_delivery", result_delivery=data.result_delivery), None))
        for number, (text, extra) in enumerate(items, start=1):
            out.append(_para(f"{number}. {text}"))
            if extra is not None:
                out += [Spacer(1, 3), extra, Spacer(1, 2)]
        out.append(
            _para(
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
            out += [Spacer(1, 4), _qr_block(data.lookup_url, caption, tpl.layout("qr_size_mm") * mm)]
        return out

    note = tpl.plain("signature_note")
    at_desk = channel == channels["counter"]  # the applicant signs at the desk
    applicant = [_Signer(tpl.plain("applicant_signer"), note, data.applicant_name, _LEFT_CENTER)] if at_desk else []
    officer = data.signer_title or tpl.plain("officer_signer")
    form = _Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.received_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code),),
        body=body(compact=False),
        signers=(*applicant, _Signer(officer, note, data.officer_name, SIGNATURE_BOX.center_x)),
        subject=code,
        compact_body=body(compact=True),
        annex_title=_annex_lines(tpl, code),
        annex=[_papers_table(data.papers, tpl.list("paper_headers"))],
    )
    return _render(form)


def render_supplement_request(data: SupplementData, templates: Templates | None = None) -> bytes:
    """Mẫu 02, Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ, as PDF bytes (texts from template ``mau-02``).

    A list of contents too long for page 1 moves to an annex on the following pages.
    """
    _register_fonts()
    tpl = _templates(templates).get("mau-02")
    code = data.dossier_code
    items = [_para(f"{i}. {_t(item)}", _ITEM) for i, item in enumerate(data.items, start=1)]

    def body(compact: bool) -> list[Flowable]:
        out = [
            _para(tpl.markup("applicant", applicant_name=data.applicant_name)),
            _para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        ]
        received = tpl.markup("received_on", received_date=short_date(data.received_at)) if data.received_at else ""
        listed = tpl.markup("items_in_annex" if compact else "items_here")
        out.append(
            _para(
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
        out.append(_para(tpl.markup("reason", reason=data.reason)))
        phone = tpl.markup("official_phone", official_phone=data.official_phone) if data.official_phone else ""
        out.append(_para(tpl.markup("contact", official_name=data.official_name, official_phone=Markup(phone))))
        return out

    form = _Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.issued_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code),),
        body=body(compact=False),
        signers=(
            _Signer(
                data.signer_title or tpl.plain("signer"),
                tpl.plain("signature_note"),
                data.official_name,
                SIGNATURE_BOX.center_x,
            ),
        ),
        subject=code,
        compact_body=body(compact=True),
        annex_title=_annex_lines(tpl, code),
        annex=[_para(f"{i}. {_t(item)}") for i, item in enumerate(data.items, start=1)],
    )
    return _render(form)


def render_refusal(data: RefusalData, templates: Templates | None = None) -> bytes:
    """Mẫu 03, Phiếu từ chối tiếp nhận giải quyết hồ sơ, as PDF bytes (texts from template ``mau-03``)."""
    _register_fonts()
    tpl = _templates(templates).get("mau-03")
    code = data.dossier_code
    received = tpl.markup("received_on", received_date=short_date(data.received_at)) if data.received_at else ""
    body = [
        _para(tpl.markup("applicant", applicant_name=data.applicant_name)),
        _para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        _para(tpl.markup("refusal", agency_name=data.agency_name, dossier_code=code, received_on=Markup(received))),
        _para(_t(data.reason), _ITEM),
        _para(tpl.markup("closing")),
    ]
    form = _Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.issued_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code),),
        body=body,
        signers=(
            _Signer(
                data.signer_title or tpl.plain("signer"),
                tpl.plain("signature_note"),
                data.official_name,
                SIGNATURE_BOX.center_x,
            ),
        ),
        subject=code,
    )
    return _render(form)


def render_apology(data: ApologyData, templates: Templates | None = None) -> bytes:
    """Mẫu 04, Phiếu xin lỗi và hẹn lại ngày trả kết quả, as PDF bytes (texts from template ``mau-04``)."""
    _register_fonts()
    tpl = _templates(templates).get("mau-04")
    code = data.dossier_code
    body = [
        _para(
            tpl.markup(
                "received",
                received_date=short_date(data.received_at),
                agency_name=data.agency_name,
                applicant_name=data.applicant_name,
                dossier_code=code,
            )
        ),
        _para(tpl.markup("procedure", procedure_name=data.procedure_name)),
        _para(tpl.markup("old_due", old_due_at=_moment(data.old_due_at))),
        _para(tpl.markup("reason", agency_name=data.agency_name, reason=data.reason)),
        _para(tpl.markup("apology", agency_name=data.agency_name, new_due_at=_moment(data.new_due_at))),
        _para(tpl.markup("closing")),
    ]
    form = _Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.issued_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code),),
        body=body,
        signers=(
            _Signer(
                data.signer_title or tpl.plain("signer"),
                tpl.plain("signature_note"),
                data.official_name,
                SIGNATURE_BOX.center_x,
            ),
        ),
        subject=code,
    )
    return _render(form)


def _hand_over_table(tpl: FormTemplate, data: ControlSheetData) -> Table:
    labels = tpl.labels("timeliness")
    rows: list[list[Any]] = [[_para(_t(head), _CELL_HEAD) for head in tpl.list("headers")]]
    for i, row in enumerate(data.rows, start=1):
        parties = tpl.markup("giver", giver=row.giver) + "<br/>" + tpl.markup("receiver", receiver=row.receiver)
        taken = row.taken_at or row.handed_at
        times = tpl.markup("handed_at", handed_at=_moment(row.handed_at)) + "<br/>"
        times += tpl.markup("taken_at", taken_at=_moment(taken))
        result = f"{_t(labels.get(row.timeliness, row.timeliness))}<br/>"
        result += tpl.markup("due_note", due_at=short_date(row.due_at))
        rows.append(
            [
                _para(str(i), _CELL_CENTER),
                _para(parties, _CELL),
                _para(times, _CELL),
                _para(result, _CELL_CENTER),
                _para(_t(row.note or ""), _CELL),
            ]
        )
    fixed = [tpl.layout(k) * mm for k in ("col_number_mm", "col_time_mm", "col_result_mm", "col_note_mm")]
    widths = [fixed[0], max(20 * mm, _CONTENT_W - sum(fixed)), fixed[1], fixed[2], fixed[3]]
    return _grid(rows, widths)


def render_control_sheet(data: ControlSheetData, templates: Templates | None = None) -> bytes:
    """Mẫu 05, Phiếu kiểm soát quá trình giải quyết hồ sơ, as PDF bytes (texts from template ``mau-05``).

    One table row per hand-over (who gave, who received, when, and whether the step was early, on time or
    late against the dossier's due date at that moment). Too many rows for page 1 move to an annex.
    """
    _register_fonts()
    tpl = _templates(templates).get("mau-05")
    code = data.dossier_code

    def body(compact: bool) -> list[Flowable]:
        out: list[Flowable] = [
            _para(tpl.markup("applicant", applicant_name=data.applicant_name)),
            _para(tpl.markup("procedure", procedure_name=data.procedure_name)),
            _para(tpl.markup("handling", handling_agency=data.handling_agency)),
            _para(tpl.markup("received", received_at=_moment(data.received_at))),
            _para(tpl.markup("due", due_at=_moment(data.due_at))),
            Spacer(1, 4),
        ]
        if not data.rows:
            out.append(_para(tpl.markup("no_rows")))
        elif compact:
            out.append(_para(tpl.markup("rows_in_annex", row_count=f"{len(data.rows):02d}")))
        else:
            out.append(_hand_over_table(tpl, data))
        return out

    form = _Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=data.document_number,
        place_name=data.place_name,
        dated=data.issued_at,
        title=tpl.plain("title"),
        subtitles=(tpl.plain("subtitle", dossier_code=code), tpl.plain("attached", dossier_code=code)),
        body=body(compact=False),
        signers=(
            _Signer(
                data.signer_title or tpl.plain("signer"), tpl.plain("signature_note"), None, SIGNATURE_BOX.center_x
            ),
        ),
        subject=code,
        compact_body=body(compact=True),
        annex_title=_annex_lines(tpl, code),
        annex=[_hand_over_table(tpl, data)] if data.rows else [],
    )
    return _render(form)


def render_household_business_certificate(data: CertificateData) -> bytes:
    """Giấy chứng nhận đăng ký hộ kinh doanh (the result of procedure 2.000575), as PDF bytes.

    A list of business lines too long for page 1 moves to an annex on the following pages.
    """
    _register_fonts()
    gap = "&nbsp;" * 6

    def body(compact: bool) -> list[Flowable]:
        out: list[Flowable] = [
            _para(f"1. Tên hộ kinh doanh (ghi bằng chữ in hoa): <b>{_t(_upper(data.business_name))}</b>"),
            _para(f"2. Địa chỉ trụ sở hộ kinh doanh: {_t(data.business_address)}"),
        ]
        contact = []
        if data.phone:
            contact.append(f"Điện thoại: {_t(data.phone)}")
        if data.email:
            contact.append(f"Email: {_t(data.email)}")
        if contact:
            out.append(_para(gap.join(contact), _ITEM))
        if compact:
            out.append(_para("3. Ngành, nghề kinh doanh: chi tiết tại Phụ lục kèm theo."))
        else:
            out.append(_para("3. Ngành, nghề kinh doanh:"))
            out += [_para(f"- {_t(line)}", _ITEM) for line in data.business_lines]
        out.append(_para(f"4. Vốn kinh doanh: <b>{format_vnd(data.capital_vnd)}</b>"))
        out.append(_para(f"Bằng chữ: {amount_in_words(data.capital_vnd)} đồng", _ITEM))
        number = 5
        if data.employees is not None:
            out.append(_para(f"{number}. Số lượng lao động: {data.employees} người"))
            number += 1
        out.append(_para(f"{number}. Thông tin về chủ hộ kinh doanh:"))
        name = f"Họ và tên (ghi bằng chữ in hoa): <b>{_t(_upper(data.owner_name))}</b>"
        if data.owner_gender:
            name += f"{gap}Giới tính: {_t(data.owner_gender)}"
        out.append(_para(name, _ITEM))
        born = [f"Sinh ngày: {short_date(data.owner_birth_date)}"]
        if data.owner_ethnicity:
            born.append(f"Dân tộc: {_t(data.owner_ethnicity)}")
        if data.owner_nationality:
            born.append(f"Quốc tịch: {_t(data.owner_nationality)}")
        out.append(_para(gap.join(born), _ITEM))
        out.append(_para(f"Số định danh cá nhân: {_t(data.owner_id_number)}", _ITEM))
        if data.owner_address:
            out.append(_para(f"Địa chỉ thường trú: {_t(data.owner_address)}", _ITEM))
        return out

    form = _Form(
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
        signers=(_Signer(data.signer_title, None, data.signer_name, SIGNATURE_BOX.center_x),),
        subject=data.registration_number,
        compact_body=body(compact=True),
        annex_title=_annex_title(
            "Giấy chứng nhận đăng ký hộ kinh doanh",
            f"số {data.registration_number}",
            "NGÀNH, NGHỀ KINH DOANH",
        ),
        annex=[_para(f"{i}. {_t(line)}") for i, line in enumerate(data.business_lines, start=1)],
    )
    return _render(form)
