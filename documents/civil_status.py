"""The results of the commune's civil status and certification procedures, as PDF.

* :func:`render_birth_certificate` — *Giấy khai sinh* (bản chính), the result of birth registration (Law on Civil
  Status 2014, Art. 16: the Chairman of the commune People's Committee issues it);
* :func:`render_marriage_certificate` — *Giấy chứng nhận kết hôn* (Art. 18);
* :func:`render_copy_certification` and :func:`certified_copy` — a certified copy from the original (Decree
  23/2015/NĐ-CP, Art. 20): the pages of the original, then a last page with the certification statement
  (*lời chứng*: "Chứng thực bản sao đúng với bản chính", the certification number and book, the date, the
  certifying person).

Pure functions, like :mod:`documents.forms`: a frozen dataclass in, the bytes of an A4 PDF out, drawn with
:mod:`documents.layout` (every text set in the vendored Noto Serif, embedded subsets, Vietnamese diacritics
intact; deterministic). The signature area is :data:`documents.layout.SIGNATURE_BOX` (bottom right of the page
that carries the signer's block); the records clerk's number and date are filled later into the form fields
created at :data:`NUMBER_BOX` and :data:`DATE_BOX` (Decree 30 order of work, :mod:`signing.fields`), so
nothing is drawn there.

The layouts follow the structure of the Ministry of Justice's forms (Circular 04/2020/TT-BTP for the civil
status papers, Circular 01/2020/TT-BTP for the certification statement) without claiming to reproduce them
to the millimetre: the national emblem and the security background of the printed paper are not drawn.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from documents.layout import (
    BOLD,
    CONTENT_WIDTH,
    LEFT,
    LEFT_CENTER,
    LEFT_COLUMN_WIDTH,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    REGULAR,
    RIGHT,
    SIGNATURE_BOX,
    TOP,
    Signer,
    amount_in_words,
    canvas,
    centered,
    check,
    draw_signers,
    escape_text,
    national_motto,
    oblique_centered,
    register_fonts,
    rule,
    short_date,
    shrink_into,
    style,
    upper,
    wrapped_centered,
)
from documents.pdfa import ArchivalCanvas, mark_writer
from dossiers.calendar import VN_TZ

__all__ = [
    "DATE_BOX",
    "NUMBER_BOX",
    "BirthCertificateData",
    "CopyCertificationData",
    "MarriageCertificateData",
    "Spouse",
    "certified_copy",
    "copy_fee_vnd",
    "date_in_words",
    "image_as_pdf",
    "page_sizes",
    "render_birth_certificate",
    "render_copy_certification",
    "render_marriage_certificate",
]

NUMBER_BOX = (round(LEFT + 4), 722, round(LEFT + LEFT_COLUMN_WIDTH - 4), 738)
"""Where the records clerk's number goes: the left column, under the issuing agency (page of the signer)."""
DATE_BOX = (round(LEFT + LEFT_COLUMN_WIDTH + 6), 722, round(RIGHT), 738)
"""Where the place and date go: the right column, under the national motto."""


# ----------------------------------------------------------------------------------------------- helpers


def date_in_words(day: dt.date) -> str:
    """``ngày mười lăm tháng hai năm hai nghìn không trăm hai mươi sáu`` (a date of birth written in words)."""
    if isinstance(day, dt.datetime):
        day = day.astimezone(VN_TZ).date()

    def words(n: int) -> str:
        return amount_in_words(n).lower()

    return f"ngày {words(day.day)} tháng {words(day.month)} năm {words(day.year)}"


def _style(name: str, **kw: Any) -> ParagraphStyle:
    """The civil status papers' paragraphs: 12.5 pt on 19 pt, a little larger than the forms'."""
    return style(name, **({"fontSize": 12.5, "leading": 19, "alignment": TA_JUSTIFY} | kw))


_BODY = _style("civil-body", spaceBefore=2)
_CELL = _style("civil-cell", fontSize=12, leading=17, alignment=TA_LEFT, spaceBefore=1)


def _p(markup: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(markup, style)


def _line(label: str, value: str | None, *, bold: bool = False) -> Paragraph:
    shown = escape_text(value) if value else "…………………………"
    return _p(f"{escape_text(label)}: <b>{shown}</b>" if bold else f"{escape_text(label)}: {shown}")


def _header(c: Canvas, agency_lines: tuple[str, ...]) -> float:
    """Issuing agency (left; the number field under it) and the national motto (right; the date field under
    it). Returns the lowest y used."""
    size = 11.5
    y = TOP - size
    for i, line in enumerate(agency_lines):
        font = BOLD if i == len(agency_lines) - 1 else REGULAR
        y = wrapped_centered(c, upper(line), LEFT_CENTER, y, LEFT_COLUMN_WIDTH - 4, font, size) - size * 1.25
    rule(c, LEFT_CENTER, y + size * 1.25 - 7, 28 * mm)
    national_motto(c, size)
    return NUMBER_BOX[1] - 4


def _title(c: Canvas, title: str, y: float, subtitle: str | None = None) -> float:
    cx = LEFT + CONTENT_WIDTH / 2
    y = wrapped_centered(c, title, cx, y - 30, CONTENT_WIDTH, BOLD, 16)
    if subtitle:
        oblique_centered(c, subtitle, cx, y - 18, 11.5)
        y -= 18
    return y - 14


def _signer(c: Canvas, title: str, note: str | None, name: str) -> float:
    """The signer's block over :data:`SIGNATURE_BOX`; returns the top of the block."""
    return draw_signers(c, [Signer(title, note, name, SIGNATURE_BOX.center_x)], note_size=10.5)


# ----------------------------------------------------------------------------------------------- birth


@dataclass(frozen=True)
class BirthCertificateData:
    """Giấy khai sinh: what the birth registration form declares, and who issues it."""

    agency_name: str  # "Ủy ban nhân dân xã Hòa An": the place of registration and the issuing authority
    child_name: str
    child_birth_date: dt.date
    child_gender: str
    birth_place: str
    mother_name: str
    registered_at: dt.datetime
    declarer_name: str
    signer_name: str
    signer_title: str = "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"
    dossier_code: str = ""
    child_ethnicity: str = "Kinh"
    child_nationality: str = "Việt Nam"
    hometown: str = ""
    child_id_number: str = ""
    mother_birth_year: int | None = None
    mother_ethnicity: str = ""
    mother_nationality: str = "Việt Nam"
    mother_residence: str = ""
    father_name: str = ""
    father_birth_year: int | None = None
    father_ethnicity: str = ""
    father_nationality: str = ""
    father_residence: str = ""
    declarer_relationship: str = ""
    declarer_id_number: str = ""

    def __post_init__(self) -> None:
        check(self)
        if isinstance(self.child_birth_date, dt.datetime):
            raise ValueError("child_birth_date is a calendar date, not an instant")


def _parent(label: str, name: str, year: int | None, ethnicity: str, nationality: str, residence: str) -> list[Any]:
    if not name:
        return [_p(f"Họ, chữ đệm, tên người {label}: …………………………")]
    bits = [f"Năm sinh: {year}" if year else "", f"Dân tộc: {escape_text(ethnicity)}" if ethnicity else ""]
    bits.append(f"Quốc tịch: {escape_text(nationality)}" if nationality else "")
    out = [_p(f"Họ, chữ đệm, tên người {label}: <b>{escape_text(upper(name))}</b>")]
    shown = [b for b in bits if b]
    if shown:
        out.append(_p("&nbsp;&nbsp;&nbsp;&nbsp;".join(shown)))
    if residence:
        out.append(_line("Nơi cư trú", residence))
    return out


def render_birth_certificate(data: BirthCertificateData) -> bytes:
    """Giấy khai sinh (bản chính), one A4 page; the number ("Số: …") and the date are form fields."""
    register_fonts()
    buffer = io.BytesIO()
    c = canvas(buffer, "GIẤY KHAI SINH", data.agency_name, f"Giấy khai sinh {data.child_name} {data.dossier_code}")
    top = _header(c, (data.agency_name,))
    top = _title(c, "GIẤY KHAI SINH", top)
    signer_top = _signer(c, data.signer_title, "(Ký, ghi rõ họ, chữ đệm, tên, chức vụ và đóng dấu)", data.signer_name)
    gap = "&nbsp;" * 4
    flow: list[Any] = [
        _p(f"Họ, chữ đệm, tên: <b>{escape_text(upper(data.child_name))}</b>"),
        _p(f"Ngày, tháng, năm sinh: <b>{short_date(data.child_birth_date)}</b>"),
        _p(f"Ghi bằng chữ: {escape_text(date_in_words(data.child_birth_date))}"),
        _p(
            f"Giới tính: {escape_text(data.child_gender)}{gap}Dân tộc: {escape_text(data.child_ethnicity)}"
            f"{gap}Quốc tịch: {escape_text(data.child_nationality)}"
        ),
        _line("Nơi sinh", data.birth_place),
        _line("Quê quán", data.hometown or None),
    ]
    if data.child_id_number:
        flow.append(_line("Số định danh cá nhân", data.child_id_number, bold=True))
    flow += _parent(
        "mẹ", data.mother_name, data.mother_birth_year, data.mother_ethnicity, data.mother_nationality,
        data.mother_residence,
    )  # fmt: skip
    flow += _parent(
        "cha", data.father_name, data.father_birth_year, data.father_ethnicity, data.father_nationality,
        data.father_residence,
    )  # fmt: skip
    declarer = f"Họ, chữ đệm, tên người đi khai sinh: {escape_text(data.declarer_name)}"
    if data.declarer_relationship:
        declarer += f" (quan hệ với người được khai sinh: {escape_text(data.declarer_relationship)})"
    flow.append(_p(declarer))
    if data.declarer_id_number:
        flow.append(_line("Giấy tờ tùy thân của người đi khai sinh", f"số định danh cá nhân {data.declarer_id_number}"))
    flow += [
        _line("Nơi đăng ký khai sinh", data.agency_name),
        _p(f"Ngày, tháng, năm đăng ký: {short_date(data.registered_at)}"),
    ]
    if data.dossier_code:
        flow.append(_p(f"Mã hồ sơ: {escape_text(data.dossier_code)}", _style("civil-small", fontSize=10.5, leading=14)))
    shrink_into(c, flow, top, signer_top + 8)
    c.showPage()
    c.save()
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------- marriage


@dataclass(frozen=True)
class Spouse:
    name: str
    birth_date: dt.date
    id_number: str
    residence: str
    ethnicity: str = "Kinh"
    nationality: str = "Việt Nam"

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class MarriageCertificateData:
    """Giấy chứng nhận kết hôn between two Vietnamese citizens residing in Vietnam (commune level)."""

    agency_name: str
    husband: Spouse
    wife: Spouse
    registered_at: dt.datetime
    signer_name: str
    signer_title: str = "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"
    dossier_code: str = ""

    def __post_init__(self) -> None:
        check(self)


def render_marriage_certificate(data: MarriageCertificateData) -> bytes:
    """Giấy chứng nhận kết hôn, one A4 page: husband and wife side by side, the place and date of registration,
    the spouses' names (they sign the civil status register at the desk) and the competent person's block."""
    register_fonts()
    buffer = io.BytesIO()
    c = canvas(
        buffer, "GIẤY CHỨNG NHẬN KẾT HÔN", data.agency_name,
        f"Giấy chứng nhận kết hôn {data.husband.name} - {data.wife.name} {data.dossier_code}",
    )  # fmt: skip
    top = _header(c, (data.agency_name,))
    top = _title(c, "GIẤY CHỨNG NHẬN KẾT HÔN", top)
    col_w = CONTENT_WIDTH / 2 - 6

    def column(label: str, s: Spouse) -> list[Any]:
        head = _style("civil-head", fontName=BOLD, fontSize=12.5, leading=18)
        return [
            _p(label, head),
            _p("Họ, chữ đệm, tên:", _CELL),
            _p(f"<b>{escape_text(upper(s.name))}</b>", _CELL),
            _p(f"Ngày, tháng, năm sinh: {short_date(s.birth_date)}", _CELL),
            _p(f"Dân tộc: {escape_text(s.ethnicity)}", _CELL),
            _p(f"Quốc tịch: {escape_text(s.nationality)}", _CELL),
            _p(f"Nơi cư trú: {escape_text(s.residence)}", _CELL),
            _p(f"Số định danh cá nhân: {escape_text(s.id_number)}", _CELL),
        ]

    middle = top - 190
    shrink_into(c, column("Thông tin người chồng", data.husband), top, middle, width=col_w)
    shrink_into(c, column("Thông tin người vợ", data.wife), top, middle, x=LEFT + col_w + 12, width=col_w)
    signer_top = _signer(c, data.signer_title, "(Ký, ghi rõ họ, chữ đệm, tên, chức vụ và đóng dấu)", data.signer_name)
    flow = [
        _line("Nơi đăng ký kết hôn", data.agency_name),
        _p(f"Ngày, tháng, năm đăng ký: {short_date(data.registered_at)}"),
        _p("Hai bên nam, nữ đã có mặt, tự nguyện kết hôn và cùng ký vào Sổ đăng ký kết hôn."),
    ]
    if data.dossier_code:
        flow.append(_p(f"Mã hồ sơ: {escape_text(data.dossier_code)}", _style("civil-small", fontSize=10.5, leading=14)))
    shrink_into(c, flow, middle - 6, signer_top + 70)
    # the spouses' blocks on the left, level with the signer's: they sign the register at the desk
    for i, (label, spouse) in enumerate((("CHỒNG", data.husband), ("VỢ", data.wife))):
        y = signer_top - 10 - i * 70  # one above the other in the left column
        centered(c, label, LEFT_CENTER, y, BOLD, 12)
        oblique_centered(c, "(đã ký Sổ đăng ký kết hôn)", LEFT_CENTER, y - 15, 10.5)
        centered(c, spouse.name, LEFT_CENTER, y - 34, BOLD, 12)
    c.showPage()
    c.save()
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------- certified copy


def copy_fee_vnd(pages: int) -> int:
    """Fee for one certified copy (Circular 226/2016/TT-BTC): 2,000 đ a page for the first two pages, 1,000 đ a
    page from the third, at most 200,000 đ a copy."""
    if pages < 1:
        raise ValueError("a copy has at least one page")
    return min(2000 * min(pages, 2) + 1000 * max(pages - 2, 0), 200_000)


@dataclass(frozen=True)
class CopyCertificationData:
    """The certification statement (lời chứng) on the last page of a copy certified from its original."""

    agency_name: str
    paper_name: str  # what was copied: "Bằng tốt nghiệp trung học phổ thông"
    applicant_name: str
    original_pages: int
    signer_name: str
    signer_title: str = "NGƯỜI THỰC HIỆN CHỨNG THỰC\nCHỦ TỊCH ỦY BAN NHÂN DÂN"
    dossier_code: str = ""

    def __post_init__(self) -> None:
        check(self)
        if self.original_pages < 1:
            raise ValueError("original_pages must be at least 1")

    @property
    def copy_pages(self) -> int:
        return self.original_pages + 1  # with this page

    @property
    def fee_vnd(self) -> int:
        return copy_fee_vnd(self.original_pages)


def render_copy_certification(data: CopyCertificationData) -> bytes:
    """The last page of a certified copy: the statement "Chứng thực bản sao đúng với bản chính", what was copied,
    for whom, the pages and the fee; the number (certification number and book) and date are form fields."""
    register_fonts()
    buffer = io.BytesIO()
    c = canvas(buffer, "LỜI CHỨNG CHỨNG THỰC BẢN SAO TỪ BẢN CHÍNH", data.agency_name, f"Chứng thực {data.dossier_code}")
    top = _header(c, (data.agency_name,))
    top = _title(c, "LỜI CHỨNG CHỨNG THỰC BẢN SAO TỪ BẢN CHÍNH", top)
    signer_top = _signer(c, data.signer_title, "(Ký, ghi rõ họ tên và đóng dấu)", data.signer_name)
    fee = f"{data.fee_vnd:,}".replace(",", ".")
    flow = [
        _p("<b>Chứng thực bản sao đúng với bản chính.</b>"),
        _line("Giấy tờ, văn bản được chứng thực", data.paper_name),
        _line("Người yêu cầu chứng thực", data.applicant_name),
        _p(
            f"Bản sao gồm {data.copy_pages:02d} trang: {data.original_pages:02d} trang sao từ bản chính và trang lời "
            "chứng này; các trang là một bản sao thống nhất, được bảo vệ bằng chữ ký số của người thực hiện chứng "
            "thực và của cơ quan."
        ),
        _p(f"Phí chứng thực: {fee} đồng."),
        _p("Số chứng thực và quyển số Sổ chứng thực bản sao từ bản chính (SCT/BS) ghi ở đầu trang."),
    ]
    if data.dossier_code:
        flow.append(_p(f"Mã hồ sơ: {escape_text(data.dossier_code)}", _style("civil-small", fontSize=10.5, leading=14)))
    shrink_into(c, flow, top, signer_top + 8)
    c.showPage()
    c.save()
    return buffer.getvalue()


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """Width and height (points) of every page's MediaBox, in order."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sizes = []
    for i in range(int(reader.root["/Pages"]["/Count"])):
        page = reader.find_page_for_modification(i)[0].get_object()
        box = page.get("/MediaBox")
        node = page
        while box is None and "/Parent" in node:
            node = node["/Parent"].get_object()
            box = node.get("/MediaBox")
        x1, y1, x2, y2 = (float(v) for v in (box or (0, 0, PAGE_WIDTH, PAGE_HEIGHT)))
        sizes.append((abs(x2 - x1), abs(y2 - y1)))
    return sizes


def certified_copy(original: bytes, certification_page: bytes) -> bytes:
    """A new PDF: every page of ``original`` (drawn as it looks, without its annotations, form fields or
    signatures: a copy shows the content) followed by the certification page, with the PDF/A-2b catalog and
    metadata (:func:`documents.pdfa.mark_writer`; the copy is PDF/A when the original's pages are). Raises
    ``ValueError`` for a file that is not a readable PDF."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    try:
        sources = [PdfFileReader(io.BytesIO(original), strict=False), PdfFileReader(io.BytesIO(certification_page))]
        sizes = [page_sizes(original), page_sizes(certification_page)]
        for reader, dims in zip(sources, sizes, strict=True):
            for index, (width, height) in enumerate(dims):
                xobject = writer.import_page_as_xobject(reader, page_ix=index)
                bbox = xobject.get_object()["/BBox"]
                x0, y0 = float(bbox[0]), float(bbox[1])
                content = f"q 1 0 0 1 {-x0:g} {-y0:g} cm /Pg Do Q".encode()
                stream = generic.StreamObject(stream_data=content)
                page = generic.DictionaryObject(
                    {
                        pdf_name("/Type"): pdf_name("/Page"),
                        pdf_name("/MediaBox"): generic.ArrayObject(
                            generic.FloatObject(v) for v in (0, 0, width, height)
                        ),
                        pdf_name("/Resources"): generic.DictionaryObject(
                            {pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/Pg"): xobject})}
                        ),
                        pdf_name("/Contents"): writer.add_object(stream),
                    }
                )
                writer.insert_page(page)
        info = sources[1].trailer_view.get("/Info")
        info = info.get_object() if info is not None else {}
        mark_writer(
            writer,
            title=str(info.get("/Title", "")),
            author=str(info.get("/Author", "")),
            subject=str(info.get("/Subject", "")),
            moment=dt.datetime.now(dt.UTC),
        )
        out = io.BytesIO()
        writer.write(out)
    except (PdfError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"the original is not a readable PDF: {exc}") from exc
    return out.getvalue()


def image_as_pdf(image: bytes) -> bytes:
    """A scanned paper delivered as JPEG or PNG, as a one-page A4 PDF (the image scaled to fit the page with a
    10 mm margin, its proportions kept), so it can be copied like a PDF scan."""
    from reportlab.lib.utils import ImageReader

    reader = ImageReader(io.BytesIO(image))
    width, height = reader.getSize()
    margin = 10 * mm
    scale = min((PAGE_WIDTH - 2 * margin) / width, (PAGE_HEIGHT - 2 * margin) / height)
    w, h = width * scale, height * scale
    buffer = io.BytesIO()
    c = ArchivalCanvas(buffer, pagesize=A4, invariant=True)
    c.drawImage(reader, (PAGE_WIDTH - w) / 2, (PAGE_HEIGHT - h) / 2, w, h)
    c.showPage()
    c.save()
    return buffer.getvalue()
