"""The page layout every PDF of :mod:`documents` is drawn with: geometry, fonts, wording of dates and amounts, the
drawing helpers, and the one-page administrative form (:class:`Form`, :func:`render_form`).

Layout, in the style of the forms of Circular 01/2018/TT-VPCP and Decree 30/2020/NĐ-CP: agency (and its parent)
top left, the national motto top right with the place and date line under it, the title in bold capitals, the
body, then the signature block at the bottom of page 1. The signature area proper, where the visible signature(s)
and the agency seal are stamped later, is the same fixed, blank rectangle on every form: :data:`SIGNATURE_BOX`.
The signer's title sits above it and the signer's printed name under it.

Every text is set in Noto Serif (embedded TrueType subsets, ``unitsPerEm`` = 1000, so that pyHanko's stamps set
in the same font keep their spacing); no base-14 font is used.

Dates and times: instants are aware :class:`datetime.datetime` values and are shown in Vietnam time (UTC+07:00)
in the Vietnamese administrative style — ``ngày 05 tháng 3 năm 2026``, ``05/3/2026`` (a leading zero for days
below 10 and for months 1 and 2), ``17 giờ 00 phút``. Calendar dates (a date of birth) are plain
:class:`datetime.date` values.

Output is deterministic: the same data gives the same bytes (reportlab's *invariant* mode).

Every canvas is a :class:`documents.pdfa.ArchivalCanvas`: the files are PDF/A-2b (archived for decades).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, KeepInFrame, Paragraph, Table, TableStyle

from documents.pdfa import ArchivalCanvas
from dossiers.calendar import VN_TZ

# --------------------------------------------------------------------------------------------------------------
# Page geometry and the signature area (Decree 30/2020: margins top/bottom 20-25 mm, left 30-35 mm, right 15-20 mm)

PAGE_SIZE: tuple[float, float] = A4
"""A4 in PDF points: 595.28 x 841.89."""

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 30 * mm
RIGHT = PAGE_WIDTH - 15 * mm
TOP = PAGE_HEIGHT - 20 * mm
BOTTOM = 20 * mm
CONTENT_WIDTH = RIGHT - LEFT
LEFT_COLUMN_WIDTH = 70 * mm
LEFT_CENTER = LEFT + LEFT_COLUMN_WIDTH / 2
"""The centre of the left column (the agency block)."""
RIGHT_CENTER = (LEFT + LEFT_COLUMN_WIDTH + RIGHT) / 2
"""The centre of the right column (the national motto, the date line, the signer)."""


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


SIGNATURE_BOX = SignatureBox(page=0, x=RIGHT_CENTER - 100.0, y=80.0, width=200.0, height=100.0)
"""The blank area left for the visible signature(s) and seal, the same on every A4 document.

Page 1 (index 0), bottom right: x 318..518 pt, y 80..180 pt (about 70.6 x 35.3 mm), centred under the
signer's title; the signer's printed name is set under it (baseline :data:`NAME_BASELINE`). Nothing is drawn
inside.
"""

NAME_BASELINE = SIGNATURE_BOX.y - 16
"""The baseline of the signer's printed name, under :data:`SIGNATURE_BOX` (y = 64 pt)."""


# --------------------------------------------------------------------------------------------------------------
# Dates and amounts (the web pages and notifications word them the same way)


def _in_vietnam(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment.astimezone(VN_TZ)


def calendar_day(value: dt.date) -> dt.date:
    """A date as it is; an aware datetime as its day in Vietnam time (a naive one is refused)."""
    if isinstance(value, dt.datetime):
        return _in_vietnam(value).date()
    return value


def _day_month(day: dt.date) -> tuple[str, str]:
    # Decree 30/2020, Appendix I: a leading zero for days below 10 and for months 1 and 2.
    return f"{day.day:02d}", (f"{day.month:02d}" if day.month <= 2 else str(day.month))


def long_date(value: dt.date) -> str:
    """``ngày 05 tháng 3 năm 2026``; an aware datetime is first converted to Vietnam time."""
    day = calendar_day(value)
    d, m = _day_month(day)
    return f"ngày {d} tháng {m} năm {day.year}"


def short_date(value: dt.date) -> str:
    """``05/3/2026``, ``15/02/2026``; an aware datetime is first converted to Vietnam time."""
    day = calendar_day(value)
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


def check(data: Any) -> None:
    """Normalise a document's frozen dataclass in place: strings to NFC (stripped), sequences to tuples.

    Empty text is refused for a field without a default or with a non-empty one; it becomes None for a field
    whose default is None and stays empty for one whose default is ``""``. Naive datetimes are refused.
    """
    for f in fields(data):
        value = getattr(data, f.name)
        if isinstance(value, str):
            value = _clean(value)
            if not value:
                if f.default is not None and f.default != "":
                    raise ValueError(f"{type(data).__name__}.{f.name} is empty")
                value = f.default
        elif isinstance(value, list | tuple):
            value = tuple(_clean(v) if isinstance(v, str) else v for v in value)
        elif isinstance(value, dt.datetime):
            _in_vietnam(value)
        object.__setattr__(data, f.name, value)


# --------------------------------------------------------------------------------------------------------------
# Fonts, paragraphs and tables

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = "MotcuaNotoSerif"
"""The registered name of the regular Noto Serif (after :func:`register_fonts`)."""
BOLD = "MotcuaNotoSerif-Bold"
"""The registered name of the bold Noto Serif (after :func:`register_fonts`)."""
_OBLIQUE_SHEAR = 0.2  # the Noto Serif italic is not vendored; the few italic lines are slanted regular text

PDF_FONT_FILES = {
    REGULAR: FONT_DIR / "NotoSerif-Regular-Unhinted.ttf",
    BOLD: FONT_DIR / "NotoSerif-Bold-Unhinted.ttf",
}
"""What the PDFs embed: the vendored Noto Serif without its TrueType hinting (the ``fpgm``/``prep``/``cvt``
programs and each glyph's instructions — what Noto publishes as its *unhinted* fonts). PDF viewers and printers
do not run those instructions, and they were over 40 % of every embedded subset (a one-page form's two fonts: 33 KB →
19 KB). Same glyphs, same glyph order, same metrics; the hinted files stay for the pages' web font. Made with
fontTools: ``pyftsubset NotoSerif-Regular.ttf --glyphs='*' --no-hinting --layout-features='*' --name-IDs='*'
--name-languages='*' --glyph-names --notdef-outline --drop-tables+=DSIG`` (and the same for Bold)."""

# Streams Flate-compressed only, not also ASCII85-encoded (reportlab's default): the same bytes once decoded,
# a quarter smaller (ASCII85 writes 5 characters for every 4 bytes); a PDF is a binary file anyway.
rl_config.useA85 = 0

_fonts_lock = threading.Lock()
_fonts_ready = False


def register_fonts() -> None:
    """Register the vendored Noto Serif with reportlab as :data:`REGULAR` and :data:`BOLD` (once per process)."""
    global _fonts_ready
    with _fonts_lock:
        if _fonts_ready:
            return
        for name, path in PDF_FONT_FILES.items():
            pdfmetrics.registerFont(TTFont(name, str(path)))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
        _fonts_ready = True


def style(name: str, **kw: Any) -> ParagraphStyle:
    """A paragraph style: 12 pt Noto Serif, 16.5 pt leading, justified, unless ``kw`` says otherwise."""
    base: dict[str, Any] = {"fontName": REGULAR, "fontSize": 12, "leading": 16.5, "alignment": TA_JUSTIFY}
    base.update(kw)
    return ParagraphStyle(name, **base)


BODY = style("body", spaceBefore=3)
ITEM = style("item", leftIndent=8 * mm, firstLineIndent=0, spaceBefore=1)
CELL = style("cell", fontSize=11, leading=14, alignment=TA_LEFT)
CELL_CENTER = style("cellc", fontSize=11, leading=14, alignment=TA_CENTER)
CELL_HEAD = style("cellh", fontName=BOLD, fontSize=11, leading=14, alignment=TA_CENTER)


def escape_text(text: str | None) -> str:
    """User text (None: nothing) as paragraph markup."""
    return escape(text or "")


def para(markup: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of markup (user text goes through :func:`escape_text` first)."""
    return Paragraph(markup, style)


def upper(text: str) -> str:
    """Capitals, in NFC (titles, names in the signer's block)."""
    return unicodedata.normalize("NFC", text.upper())


def grid(rows: list[list[Any]], widths: Sequence[float]) -> Table:
    """A ruled table, its header row repeated on every page."""
    table = Table(rows, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


@functools.lru_cache(maxsize=64)
def qr_modules(value: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code of ``value`` (error correction M) as rows of dark (True) and light modules, no quiet zone.

    Encoded once per value: reportlab's pure-Python encoder takes ≈ 20 ms, and a form that has to be fitted to
    its page is laid out twice."""
    from reportlab.graphics.barcode import qrencoder

    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(value)
    qr.make()
    count = qr.getModuleCount()
    return tuple(tuple(bool(qr.isDark(r, col)) for col in range(count)) for r in range(count))


QR_QUIET_MODULES = 4  # the light margin a reader needs around the code, in modules


class QrCode(Flowable):
    """The QR code of ``value`` drawn as one filled path, ``size`` points square with its quiet zone: each row's
    run of dark modules is one rectangle. Sharp at any zoom and on paper, about as many compressed bytes as the
    8-pixels-a-module image it replaces, whose pixel loops cost ≈ 15–20 ms per receipt (laid out twice)."""

    def __init__(self, value: str, size: float) -> None:
        super().__init__()
        self.value = value
        self.size = size
        self.width = self.height = size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803 - reportlab's names
        return self.size, self.size

    def draw(self) -> None:
        modules = qr_modules(self.value)
        count = len(modules)
        unit = self.size / (count + 2 * QR_QUIET_MODULES)
        c = self.canv
        path = c.beginPath()
        for r, row in enumerate(modules):
            y = self.size - (r + QR_QUIET_MODULES + 1) * unit  # rows from the top
            col = 0
            while col < count:
                if not row[col]:
                    col += 1
                    continue
                run = col
                while run < count and row[run]:
                    run += 1
                path.rect((col + QR_QUIET_MODULES) * unit, y, (run - col) * unit, unit)
                col = run
        c.saveState()
        c.setFillGray(0)
        c.drawPath(path, stroke=0, fill=1)
        c.restoreState()


def qr_block(url: str, caption: str, size: float) -> Table:
    """The QR code of ``url`` (``size`` points wide, :class:`QrCode`) left, its caption (markup) right."""
    table = Table([[QrCode(url, size), para(caption, CELL)]], colWidths=[size + 4 * mm, CONTENT_WIDTH - size - 4 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


# --------------------------------------------------------------------------------------------------------------
# Drawing on the canvas


def canvas(buffer: io.BytesIO, title: str, author: str, subject: str) -> Canvas:
    """An A4 canvas writing to ``buffer`` in invariant mode (same data, same bytes), with its document info; the
    file is PDF/A-2b (:mod:`documents.pdfa`)."""
    c = ArchivalCanvas(buffer, pagesize=A4, invariant=True, initialFontName=REGULAR, initialFontSize=12, lang="vi-VN")
    c.setTitle(title)
    c.setAuthor(author)
    c.setSubject(subject)
    c.setCreator("Motcua")
    return c


def centered(c: Canvas, text: str, cx: float, y: float, font: str, size: float) -> float:
    """One line centred on ``cx`` at baseline ``y``; returns its width."""
    width = float(pdfmetrics.stringWidth(text, font, size))
    c.setFont(font, size)
    c.drawString(cx - width / 2, y, text)
    return width


def oblique_centered(c: Canvas, text: str, cx: float, y: float, size: float) -> None:
    """One line of slanted regular text (the italic of the forms) centred on ``cx`` at baseline ``y``."""
    width = pdfmetrics.stringWidth(text, REGULAR, size)
    obj = c.beginText()
    obj.setTextTransform(1, 0, _OBLIQUE_SHEAR, 1, cx - width / 2, y)
    obj.setFont(REGULAR, size)
    obj.textOut(text)
    c.drawText(obj)


def wrapped_centered(c: Canvas, text: str, cx: float, y: float, width: float, font: str, size: float) -> float:
    """Draws centred lines from baseline y downwards; returns the baseline of the last line."""
    leading = size * 1.25
    lines = simpleSplit(text, font, size, width)
    for i, line in enumerate(lines):
        centered(c, line, cx, y - i * leading, font, size)
    return y - (len(lines) - 1) * leading


def rule(c: Canvas, cx: float, y: float, width: float) -> None:
    """A thin horizontal line centred on ``cx``."""
    c.setLineWidth(0.6)
    c.line(cx - width / 2, y, cx + width / 2, y)


def national_motto(c: Canvas, size: float = 11.5) -> float:
    """The national name and motto, underlined, top right; returns the motto's baseline."""
    y = TOP - size
    centered(c, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", RIGHT_CENTER, y, BOLD, size)
    y -= size * 1.3
    motto_w = centered(c, "Độc lập - Tự do - Hạnh phúc", RIGHT_CENTER, y, BOLD, 12.5)
    rule(c, RIGHT_CENTER, y - 7, motto_w)
    return float(y)


def frame(bottom: float, height: float, x: float = LEFT, width: float = CONTENT_WIDTH) -> Frame:
    """A frame without padding, the content width by default."""
    return Frame(x, bottom, width, height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)


def shrink_into(
    c: Canvas, flowables: list[Any], top: float, bottom: float, x: float = LEFT, width: float = CONTENT_WIDTH
) -> None:
    """Set ``flowables`` from ``top`` down, shrunk as needed to end above ``bottom``."""
    frame(bottom, top - bottom, x, width).addFromList(
        [KeepInFrame(width, top - bottom, flowables, mode="shrink", vAlign="TOP")], c
    )


# --------------------------------------------------------------------------------------------------------------
# The one-page administrative form, with its annex


@dataclass(frozen=True)
class Signer:
    """One signer's block: ``title`` lines (set in capitals) and ``note`` above the signature row, ``name`` under
    it, centred on ``center_x``."""

    title: str
    note: str | None
    name: str | None
    center_x: float


@dataclass(frozen=True, eq=False)
class Form:
    """What :func:`render_form` lays out: header, title, body and signers on page 1, an annex after it."""

    parent_agency: str | None
    agency: str
    number: str | None
    place_name: str
    dated: dt.datetime
    title: str
    subtitles: tuple[str, ...]
    body: list[Flowable]
    signers: tuple[Signer, ...]
    subject: str
    # When ``body`` does not fit on page 1, ``compact_body`` takes its place there and the long list goes to an
    # annex (``annex_title`` lines, then ``annex``) on the following pages.
    compact_body: list[Flowable] | None = None
    annex_title: tuple[str, ...] = ()
    annex: list[Flowable] = field(default_factory=list)


def _draw_header(c: Canvas, form: Form) -> float:
    """Agency block (left) and national motto with the date line (right); returns the lowest y used."""
    size = 11.5
    col_w = LEFT_COLUMN_WIDTH - 4
    y = TOP - size
    if form.parent_agency:
        y = wrapped_centered(c, upper(form.parent_agency), LEFT_CENTER, y, col_w, REGULAR, size)
        y -= size * 1.25
    y = wrapped_centered(c, upper(form.agency), LEFT_CENTER, y, col_w, BOLD, size)
    rule(c, LEFT_CENTER, y - 7, 28 * mm)
    left_bottom = y - 7
    if form.number:
        left_bottom = y - 26
        centered(c, f"Số: {form.number}", LEFT_CENTER, left_bottom, REGULAR, size)

    y = national_motto(c, size)
    y -= 26
    if form.number:
        y = min(y, left_bottom)
    oblique_centered(c, f"{form.place_name}, {long_date(form.dated)}", RIGHT_CENTER, y, 12)
    return float(min(y, left_bottom))


def _draw_title(c: Canvas, form: Form, y: float) -> float:
    cx = LEFT + CONTENT_WIDTH / 2
    y = wrapped_centered(c, form.title, cx, y - 32, CONTENT_WIDTH, BOLD, 14)
    for sub in form.subtitles:
        y = wrapped_centered(c, sub, cx, y - 18, CONTENT_WIDTH, REGULAR, 12)
    return y - 10


def draw_signers(c: Canvas, signers: Sequence[Signer], note_size: float = 11) -> float:
    """Signer blocks above and under the signature box row; returns the top of the highest block."""
    top = SIGNATURE_BOX.top
    for signer in signers:
        y = SIGNATURE_BOX.top + 6
        if signer.note:
            oblique_centered(c, signer.note, signer.center_x, y, note_size)
            y += 15
        for line in reversed(signer.title.splitlines()):
            centered(c, upper(line), signer.center_x, y, BOLD, 12)
            y += 15
        top = max(top, y)
        if signer.name:
            centered(c, signer.name, signer.center_x, NAME_BASELINE, BOLD, 12)
    return top


_MIN_SCALE = 0.85  # a body that would have to shrink more than this moves its long list to an annex


def _natural_height(flowables: Sequence[Flowable], width: float) -> float:
    total = 0.0
    for i, flowable in enumerate(flowables):
        _, height = flowable.wrap(width, PAGE_HEIGHT * 100)
        total += height + flowable.getSpaceAfter() + (flowable.getSpaceBefore() if i else 0)
    return total


def _draw_annex(c: Canvas, form: Form) -> None:
    """The annex on pages 2, 3, …: page number at the top centre (Decree 30), title, then the flowing list."""
    remaining: list[Flowable] = list(form.annex)
    page = 1
    while remaining:
        c.showPage()
        page += 1
        centered(c, str(page), PAGE_WIDTH / 2, PAGE_HEIGHT - 12 * mm, REGULAR, 11)
        y = TOP - 14
        if page == 2:
            for i, line in enumerate(form.annex_title):
                font = BOLD if i < 2 else REGULAR
                y = wrapped_centered(c, line, PAGE_WIDTH / 2, y, CONTENT_WIDTH, font, 13 if i < 2 else 12) - 18
        annex_frame = frame(BOTTOM, y - BOTTOM)
        if not _fill(annex_frame, remaining, c):  # a flowable taller than a page that does not split: shrink it
            annex_frame.addFromList([KeepInFrame(CONTENT_WIDTH, y - BOTTOM, [remaining.pop(0)], mode="shrink")], c)


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


def render_form(form: Form) -> bytes:
    """The PDF bytes of ``form``: page 1 as the module docstring says; a body too long for it is replaced by its
    ``compact_body`` there and its list flows into the annex on the following pages."""
    buffer = io.BytesIO()
    c = canvas(buffer, form.title, form.agency, form.subject)

    header_bottom = _draw_header(c, form)
    title_bottom = _draw_title(c, form, header_bottom)
    signers_top = draw_signers(c, form.signers)

    body_bottom = signers_top + 6
    body = form.body
    with_annex = (
        form.compact_body is not None and _natural_height(body, CONTENT_WIDTH) * _MIN_SCALE > title_bottom - body_bottom
    )
    if with_annex:
        assert form.compact_body is not None
        body = form.compact_body
    shrink_into(c, body, title_bottom, body_bottom)
    if with_annex:
        _draw_annex(c, form)
    c.showPage()
    c.save()
    return buffer.getvalue()
