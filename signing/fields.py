"""The Decree 30/2020/NĐ-CP order of work on one PDF, as form fields (DESIGN §7).

1. :func:`prepare_fields` — before any signature, in one incremental update: the text fields for the document
   number ("Số: …") and the date, and every signature field (the leader's, the agency seal's);
2. the leader signs first, a certification signature with DocMDP P=2 (form filling and signatures allowed);
3. :func:`fill_number_and_date` — the records clerk fills the number and the date, an incremental update
   that P=2 permits: pyHanko's difference analysis rates it ``FORM_FILLING``;
4. the agency seal signs its (existing) field.

Anything else after the certification — an added page, new content — is a modification the certification
does not allow, and validation flags it.

The number and date fields are filled with a static appearance (pyHanko's
:func:`~pyhanko.pdf_utils.form_tools.populate_static_text_field`, which also marks them read-only): the text is
set in the embedded Noto Serif (:mod:`signing.appearance`), so Vietnamese shows the same in every viewer and
no viewer has to regenerate it (``/NeedAppearances`` is never set).
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.form_tools import populate_static_text_field
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import FormFillingError, PdfError
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields as sig_fields

from dossiers.errors import InvalidInput
from signing.appearance import DEFAULT_CONFIG, AppearanceConfig, Box, text_box_style
from signing.pdf import check_field_name, open_for_update

__all__ = [
    "DATE_FIELD",
    "DEFAULT_NAMES",
    "LEADER_FIELD",
    "NUMBER_FIELD",
    "SEAL_FIELD",
    "FieldNames",
    "add_text_field",
    "ensure_default_resources",
    "fill_number_and_date",
    "prepare_copy_fields",
    "prepare_fields",
]

LEADER_FIELD = "leader_signature"
SEAL_FIELD = "agency_seal"
NUMBER_FIELD = "document_number"
DATE_FIELD = "document_date"
NUMBER_LABEL = "Số: "


@dataclass(frozen=True)
class FieldNames:
    """The names of the four fields (the defaults match :mod:`services.paperwork`)."""

    leader: str = LEADER_FIELD
    seal: str = SEAL_FIELD
    number: str = NUMBER_FIELD
    date: str = DATE_FIELD

    def all(self) -> tuple[str, ...]:
        return (self.leader, self.seal, self.number, self.date)


DEFAULT_NAMES = FieldNames()

_TEXT_FIELD_FLAGS = 1 << 12 | 1 << 23  # DoNotSpellCheck, DoNotScroll: a one-line, printed-looking field
_PRINT_FLAG = 4  # widget annotation flag: print it


def _all_field_names(writer: IncrementalPdfFileWriter) -> set[str]:
    """Every terminal and non-terminal field name (fully qualified) in the AcroForm."""
    try:
        top = writer.root["/AcroForm"]["/Fields"]
    except KeyError:
        return set()
    found: set[str] = set()
    stack: list[tuple[str, generic.PdfObject]] = [("", ref) for ref in top]
    seen: set[tuple[int, int]] = set()
    while stack:
        parent, ref = stack.pop()
        if isinstance(ref, generic.IndirectObject):
            key = (ref.idnum, ref.generation)
            if key in seen:
                continue
            seen.add(key)
        obj = ref.get_object()
        if not isinstance(obj, generic.DictionaryObject) or "/T" not in obj:
            continue
        name = f"{parent}.{obj['/T']}" if parent else str(obj["/T"])
        found.add(name)
        stack.extend((name, kid) for kid in obj.get("/Kids", ()))
    return found


def _check_box(name: str, box: Box) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        raise InvalidInput(
            f"Ô '{name}' có kích thước không hợp lệ: {box}.",
            f"Field '{name}' has an invalid box {box} (x1 < x2 and y1 < y2 needed).",
            field=name,
        )
    return (x1, y1, x2, y2)


def add_text_field(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, name: str, box: Box, tooltip: str
) -> None:
    """An empty one-line text field merged with its widget, printed, without a value.

    Its appearance is an empty Form XObject the size of the field (PDF/A, ISO 19005-2 §6.3.3: every widget has
    one), as pyHanko gives an empty signature field: the page looks the same until
    :func:`fill_number_and_date` replaces it with the text."""
    form = writer.root["/AcroForm"]
    x1, y1, x2, y2 = (float(v) for v in box)
    empty = RawContent(b"", box=layout.BoxConstraints(width=x2 - x1, height=y2 - y1)).as_form_xobject()
    field = generic.DictionaryObject(
        {
            pdf_name("/FT"): pdf_name("/Tx"),
            pdf_name("/T"): pdf_string(name),
            pdf_name("/TU"): pdf_string(tooltip),
            pdf_name("/Ff"): generic.NumberObject(_TEXT_FIELD_FLAGS),
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(_PRINT_FLAG),
            pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in box),
            pdf_name("/P"): page_ref,
            pdf_name("/DA"): pdf_string("/Helv 0 Tf 0 g"),
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): writer.add_object(empty)}),
        }
    )
    ref = writer.add_object(field)
    fields_array = form["/Fields"]
    fields_array.append(ref)
    writer.update_container(fields_array)
    writer.register_annotation(page_ref, ref)


def ensure_default_resources(writer: IncrementalPdfFileWriter) -> None:
    """The AcroForm's default appearance and /Helv resource, which a viewer needs to edit an empty text field."""
    form = writer.root["/AcroForm"]
    changed = False
    if "/DA" not in form:
        form[pdf_name("/DA")] = pdf_string("/Helv 0 Tf 0 g")
        changed = True
    resources = form.get("/DR")
    if resources is None:
        resources = form[pdf_name("/DR")] = generic.DictionaryObject()
        changed = True
    fonts = resources.get("/Font")
    if fonts is None:
        fonts = resources[pdf_name("/Font")] = generic.DictionaryObject()
        changed = True
    if "/Helv" not in fonts:
        fonts[pdf_name("/Helv")] = writer.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Font"),
                    pdf_name("/Subtype"): pdf_name("/Type1"),
                    pdf_name("/BaseFont"): pdf_name("/Helvetica"),
                    pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
                }
            )
        )
        changed = True
    if changed:
        writer.update_container(form)


def prepare_fields(
    pdf: bytes,
    *,
    leader_box: Box,
    number_box: Box,
    date_box: Box,
    seal_box: Box | None = None,
    page: int = 0,
    names: FieldNames = DEFAULT_NAMES,
) -> bytes:
    """Add, in one incremental update, the number and date text fields and the signature fields.

    All boxes are ``(x1, y1, x2, y2)`` in PDF points on page ``page`` (0 = page 1). The leader's field gets
    ``leader_box``; the seal's field gets ``seal_box`` (usually :func:`signing.appearance.seal_box` of the
    leader's box) or, when ``None``, is invisible. The seal's field comes after the leader's on the page, so
    the seal is drawn over the signature. Refused (:class:`~dossiers.errors.InvalidInput`): a document that is
    already signed (Decree 30: every field exists before the first signature), an existing field name, a
    damaged or encrypted PDF, an empty box.
    """
    all_names = names.all()
    if len(set(all_names)) != len(all_names):
        raise InvalidInput("Tên các ô bị trùng.", "Field names repeat.", names=list(all_names))
    for name in all_names:
        check_field_name(name)
    boxes = {
        names.leader: _check_box(names.leader, leader_box),
        names.number: _check_box(names.number, number_box),
        names.date: _check_box(names.date, date_box),
    }
    if seal_box is not None:
        boxes[names.seal] = _check_box(names.seal, seal_box)
    writer = open_for_update(pdf)
    if any(value is not None for _, value, _ in sig_fields.enumerate_sig_fields(writer)):
        raise InvalidInput(
            "Tài liệu đã được ký; các ô phải được tạo trước chữ ký đầu tiên.",
            "The document is already signed; the fields must be created before the first signature.",
        )
    existing = _all_field_names(writer)
    for name in all_names:
        if name in existing:
            raise InvalidInput(
                f"Ô '{name}' đã có trong tài liệu.",
                f"The document already has a field '{name}'.",
                field=name,
            )
    try:
        page_count = int(writer.root["/Pages"]["/Count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("Tệp PDF không có danh sách trang.", f"The PDF has no readable page tree: {exc}") from exc
    if not 0 <= page < page_count:
        raise InvalidInput(
            f"Trang {page + 1} không có trong tài liệu ({page_count} trang).",
            f"Page index {page} is out of range (the document has {page_count} pages).",
            page=page,
        )
    try:
        for name, box in ((names.leader, boxes[names.leader]), (names.seal, boxes.get(names.seal))):
            spec = sig_fields.SigFieldSpec(sig_field_name=name, on_page=page, box=_int_box(box) if box else None)
            sig_fields.append_signature_field(writer, spec)
        page_ref = writer.find_page_for_modification(page)[0]
        ensure_default_resources(writer)
        add_text_field(writer, page_ref, names.number, boxes[names.number], "Số, ký hiệu văn bản")
        add_text_field(writer, page_ref, names.date, boxes[names.date], "Địa danh, ngày tháng năm ban hành")
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("Không tạo được các ô trong tệp PDF.", f"Cannot add the fields to the PDF: {exc}") from exc
    return out.getvalue()


def prepare_copy_fields(
    pdf: bytes,
    *,
    leader_page: int,
    leader_box: Box,
    copy_field: str,
    copy_box: Box,
    number_box: Box,
    date_box: Box,
) -> bytes:
    """Every field of a certified copy in one incremental update before the first signature: the leader's
    signature, the number and the date on the certification page (``leader_page``), the agency's copy stamp
    (``copy_field``) at ``copy_box`` on page 1 (Decree 30, Appendix I)."""
    writer = open_for_update(pdf)
    for name, page, box in ((LEADER_FIELD, leader_page, leader_box), (copy_field, 0, copy_box)):
        sig_fields.append_signature_field(writer, sig_fields.SigFieldSpec(sig_field_name=name, on_page=page, box=box))
    page_ref = writer.find_page_for_modification(leader_page)[0]
    ensure_default_resources(writer)
    add_text_field(writer, page_ref, NUMBER_FIELD, number_box, "Số chứng thực, quyển số")
    add_text_field(writer, page_ref, DATE_FIELD, date_box, "Địa danh, ngày chứng thực")
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _int_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    """pyHanko's signature field boxes are integers: round outwards so the stamp keeps its whole box."""
    x1, y1, x2, y2 = box
    return (math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2))


def _with_label(number: str, label: str) -> str:
    text = unicodedata.normalize("NFC", " ".join(number.split()))
    if not label or text.lower().startswith(label.strip().lower()):
        return text
    return f"{label}{text}"


def fill_number_and_date(
    pdf: bytes,
    number: str,
    date_text: str,
    *,
    names: FieldNames = DEFAULT_NAMES,
    number_label: str = NUMBER_LABEL,
    config: AppearanceConfig = DEFAULT_CONFIG,
    font_size: int = 12,
) -> bytes:
    """Fill the number and date fields in one incremental update (permitted after a DocMDP P=2 certification).

    The number field shows ``"Số: " + number`` (``number_label``; not doubled when ``number`` already starts
    with it), left-aligned; the date field shows ``date_text`` (e.g. ``"Hòa An, ngày 05 tháng 3 năm 2026"``),
    centred. Both values are stored as shown (``/V``), with a static appearance in the embedded Noto Serif,
    and the fields become read-only. Refused: an empty text, a missing or already filled field, a damaged PDF.
    """
    number_text = _with_label(number, number_label)
    date_value = unicodedata.normalize("NFC", " ".join(date_text.split()))
    if not number.strip() or not date_value:
        raise InvalidInput("Số và ngày văn bản không được để trống.", "The number and the date must not be empty.")
    writer = open_for_update(pdf)
    # pyHanko sets the last baseline at the bottom of the text's box: lift it by the font's descent (Noto Serif:
    # 0.293 em) so that a line centred in its field has its descenders inside the field too
    descent = round(font_size * 0.3)

    def style(x_align: layout.AxisAlignment) -> TextBoxStyle:
        return text_box_style(
            config,
            font_size=font_size,
            leading=font_size,
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=x_align,
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=layout.Margins(left=2, right=2, bottom=descent),
                inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
            ),
        )

    left = style(layout.AxisAlignment.ALIGN_MIN)
    centred = style(layout.AxisAlignment.ALIGN_MID)
    try:
        populate_static_text_field(writer, names.number, left, number_text)
        populate_static_text_field(writer, names.date, centred, date_value)
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
    except FormFillingError as exc:
        raise InvalidInput(
            "Không tìm thấy ô số hoặc ô ngày còn trống trong tài liệu.",
            f"No empty number or date field in the document: {exc}",
        ) from exc
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            "Không điền được số và ngày vào tệp PDF.", f"Cannot fill the number and date: {exc}"
        ) from exc
    return out.getvalue()
