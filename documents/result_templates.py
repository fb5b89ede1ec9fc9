"""Result documents as data: a declarative template (JSON) rendered to a Decree 30/2020/NĐ-CP administrative paper.

A procedure whose result is a document issued from a template needs no Python: its catalogue entry names the
template (``"result": {"template": "1.001612.json"}``) and :mod:`services.results` renders it, prepares the
fields and the leader's personal signature, numbers it and seals it. The file (``motcua/data/results/``)::

    {
      "name": "Giấy chứng nhận đăng ký hộ kinh doanh",
      "source": "where the layout comes from",
      "header": {"parent_agency": "{agency_name}", "agency": "{department_name}"},
      "title": "GIẤY CHỨNG NHẬN …",
      "subtitles": ["Mã số: HKD-{dossier_code}"],
      "paragraphs": [
        {"text": "Tên hộ kinh doanh: <b>{business_name:upper}</b>"},            numbered 1., 2., … (level 1)
        {"text": "Điện thoại: {applicant_phone}", "level": 2, "when": "applicant_phone"},   indented, if set
        {"text": "Ngành, nghề kinh doanh:",
         "table": {"rows": "business_lines",                                     a repeating form field
                   "columns": [{"header": "STT", "value": "{row_number}", "width_mm": 14},
                               {"header": "Tên ngành", "value": "{item}"}],
                   "annex": {"title": "NGÀNH, NGHỀ KINH DOANH", "text": "Ngành, nghề: chi tiết tại Phụ lục."}}}
      ],
      "signers": [{"authority": "TM.", "body": "ỦY BAN NHÂN DÂN", "position": "CHỦ TỊCH",
                   "name": "{signer_name}", "signs": "leader"}],
      "register": {"series": "GCN-HKD", "number": "{serial}/{series}", "date": "{place_name}, {long_date}"},
      "document": {"filename": "giay-chung-nhan", "sign_reason": "…", "seal_reason": "Đóng dấu cơ quan",
                   "seal": true},
      "sample": {"business_name": "Tạp hóa Bình An", "business_lines": ["…"], …}
    }

Texts follow the placeholder and tag rules of :mod:`documents.templating` (``{name}``, ``{{``/``}}`` for braces,
``<b>``, ``<i>``, ``<br/>``; values escaped) plus a format after a colon: ``upper``, ``date`` (05/3/2026),
``long_date`` (ngày 05 tháng 3 năm 2026), ``money`` (150.000.000 đồng), ``words`` (Một trăm năm mươi triệu). A
placeholder is one of :data:`DOSSIER_VALUES` or a field of the form — a key of ``sample``, which the preview
renders (and, when the procedure's form fields are known, one of them). In a table's cells, ``{row_number}``,
``{item}`` (a row that is a plain value) and a row's own keys (a row that is an object) are added.

Signature blocks (Decree 30/2020, Appendix I, part I.8): ``authority`` ``TM.`` (on behalf of a collective body:
"TM. ỦY BAN NHÂN DÂN" / "CHỦ TỊCH"), ``KT.`` (a deputy signing for the head: "KT. CHỦ TỊCH" / "PHÓ CHỦ TỊCH"),
``Q.`` (acting head: "Q. CHỦ TỊCH"), ``TL.``/``TUQ.`` (by order / by authorisation), or ``""`` (the position
alone). The block that ``signs`` (``"leader"``: the approving leader, two-step personal signature in the
``leader_signature`` field, the agency seal over it) is on the right; another block (e.g. the applicant's) may
be on the left. The clerk's number (left, under the agency) and the place and date (right, under the national
motto) are form fields filled when the result is numbered, after the leader's signature.

A bad template is refused with every problem naming its line in the file and the field (a JSON pointer):
:func:`parse_template`, :class:`ResultTemplateError`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import json
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from documents.civil_status import DATE_BOX, NUMBER_BOX
from documents.layout import (
    BODY,
    BOLD,
    CELL,
    CELL_HEAD,
    CONTENT_WIDTH,
    ITEM,
    LEFT,
    LEFT_CENTER,
    LEFT_COLUMN_WIDTH,
    REGULAR,
    SIGNATURE_BOX,
    TOP,
    Form,
    Signer,
    _draw_annex,
    _natural_height,
    amount_in_words,
    canvas,
    draw_signers,
    format_vnd,
    grid,
    long_date,
    national_motto,
    oblique_centered,
    para,
    register_fonts,
    rule,
    short_date,
    shrink_into,
    upper,
    wrapped_centered,
)
from documents.templating import _TAGS, _tag_errors
from dossiers.errors import InvalidInput
from dossiers.problems import bilingual

__all__ = [
    "AUTHORITIES",
    "DATE_BOX",
    "DOSSIER_VALUES",
    "FORMATS",
    "LEADER_BOX",
    "NUMBER_BOX",
    "ResultTemplate",
    "ResultTemplateError",
    "TemplateProblem",
    "check_template_text",
    "load_template",
    "parse_template",
    "preview",
    "render_result",
    "sample_values",
]

LEADER_BOX = SIGNATURE_BOX.box
"""The leader's signature field (the agency seal is drawn over it)."""

DOSSIER_VALUES: Mapping[str, str] = {
    "dossier_code": "the dossier's code",
    "procedure_code": "the procedure's code",
    "procedure_name": "the procedure's name",
    "applicant_name": "the applicant's full name",
    "applicant_id_number": "the applicant's personal ID number",
    "applicant_phone": "the applicant's phone",
    "applicant_email": "the applicant's e-mail",
    "agency_name": "the agency that received the dossier (Ủy ban nhân dân xã …)",
    "department_name": "its specialist department (Phòng Kinh tế …)",
    "place_name": "the place on the date line (Hòa An)",
    "issued_date": "the day the result is prepared",
    "signer_name": "the approving leader's full name",
}
"""The placeholders every template may use besides the form's fields."""

FORMATS = ("upper", "date", "long_date", "money", "words")
AUTHORITIES = ("", "TM.", "KT.", "Q.", "TL.", "TUQ.")
_ROW_VALUES = frozenset({"row_number", "item"})
_NUMBER_VALUES = frozenset({"serial", "series", "year"})
_DATE_VALUES = frozenset({"place_name", "long_date", "short_date"})
_FILENAME = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MIN_SCALE = 0.85  # a body that would shrink more than this moves its tables to the annex (as layout.render_form)

_TOP_KEYS = {
    "name",
    "source",
    "header",
    "title",
    "subtitles",
    "paragraphs",
    "signers",
    "register",
    "document",
    "sample",
}
_PARAGRAPH_KEYS = {"text", "level", "numbered", "when", "table"}
_TABLE_KEYS = {"rows", "columns", "annex"}
_SIGNER_KEYS = {"authority", "body", "position", "name", "note", "side", "signs"}


# ------------------------------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class TemplateProblem:
    """One mistake of a template: where (the line in the file, the field as a JSON pointer) and what."""

    line: int | None
    pointer: str
    message_vi: str
    message_en: str

    def __str__(self) -> str:
        """Vietnamese first, "<Vietnamese> / <English>" (:mod:`dossiers.problems`)."""
        return bilingual(self.vietnamese(), self.english())

    def english(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}{self.pointer or '/'}: {self.message_en}"

    def vietnamese(self) -> str:
        where = f"dòng {self.line}, " if self.line is not None else ""
        return f"{where}trường {self.pointer or '/'}: {self.message_vi}"


class ResultTemplateError(InvalidInput):
    """A result template that cannot be used; ``problems`` lists every mistake (line and field)."""

    def __init__(self, where: str, problems: Sequence[TemplateProblem]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"Mẫu văn bản kết quả {where} không hợp lệ: " + "; ".join(p.vietnamese() for p in self.problems),
            f"Result template {where} is invalid: " + "; ".join(p.english() for p in self.problems),
            template=where,
            problems=[str(p) for p in self.problems],
        )


# ------------------------------------------------------------------------------------------------- lines


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _pointer_part(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def value_lines(text: str) -> dict[str, int]:
    """The line of every value of a valid JSON text, by JSON pointer (a member: the line of its key)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[str, int] = {}

    def line_at(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    def skip(pos: int) -> int:
        return _WS.match(text, pos).end()  # type: ignore[union-attr]  # the pattern matches the empty string

    def value(pos: int, pointer: str) -> int:
        pos = skip(pos)
        lines.setdefault(pointer, line_at(pos))
        char = text[pos]
        if char in "{[":
            closing = "}" if char == "{" else "]"
            pos = skip(pos + 1)
            index = 0
            while text[pos] != closing:
                if char == "{":
                    key_line = line_at(pos)
                    key, pos = _DECODER.raw_decode(text, pos)
                    child = f"{pointer}/{_pointer_part(key)}"
                    lines[child] = key_line
                    pos = skip(pos) + 1  # the colon
                else:
                    child = f"{pointer}/{index}"
                    index += 1
                pos = skip(value(pos, child))
                if text[pos] == ",":
                    pos = skip(pos + 1)
            return pos + 1
        if char == '"':
            return int(_DECODER.raw_decode(text, pos)[1])
        for literal in ("true", "false", "null"):
            if text.startswith(literal, pos):
                return pos + len(literal)
        found = _NUMBER.match(text, pos)
        if found is None:
            raise ValueError(f"not JSON at {pos}")
        return found.end()

    value(0, "")
    return lines


# ------------------------------------------------------------------------------------------------- checking


class _Checker:
    """Collects problems by JSON pointer; the lines are added at the end."""

    def __init__(self, form_fields: Iterable[str] | None) -> None:
        self.found: list[tuple[str, str, str]] = []
        self.form_fields = frozenset(form_fields) if form_fields is not None else None
        self.sample: Mapping[str, Any] = {}

    def fail(self, pointer: str, vi: str, en: str) -> None:
        self.found.append((pointer, vi, en))

    def obj(self, data: Any, pointer: str, keys: set[str]) -> Mapping[str, Any] | None:
        if not isinstance(data, dict):
            self.fail(pointer or "/", "phải là một đối tượng JSON {…}", "must be a JSON object {…}")
            return None
        for key in sorted(set(data) - keys):
            self.fail(
                f"{pointer}/{_pointer_part(key)}",
                f"trường không được biết đến (được dùng: {', '.join(sorted(keys))})",
                f"unknown field (allowed: {', '.join(sorted(keys))})",
            )
        return data

    def text(
        self, data: Mapping[str, Any], key: str, pointer: str, allowed: frozenset[str], required: bool = True
    ) -> str | None:
        where = f"{pointer}/{key}"
        value = data.get(key)
        if value is None:
            if required:
                self.fail(where, "thiếu trường bắt buộc", "missing required field")
            return None
        return self.markup(value, where, allowed)

    def markup(self, value: Any, where: str, allowed: frozenset[str]) -> str | None:
        if not isinstance(value, str):
            self.fail(where, "phải là một chuỗi văn bản", f"must be a string, not {type(value).__name__}")
            return None
        if not value.strip():
            self.fail(where, "không được để trống", "is empty")
            return None
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            self.fail(
                where,
                "dấu ngoặc nhọn không khớp; viết {{ và }} cho ngoặc nhọn thường",
                f"broken braces ({exc}); write {{{{ and }}}} for literal braces",
            )
            return None
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            shown = "{" + name + "}"
            if not _IDENTIFIER.fullmatch(name):
                self.fail(where, f"{shown} không phải là một tên đơn giản", f"placeholder {shown} is not a plain name")
                continue
            if conversion or (spec and spec not in FORMATS):
                self.fail(
                    where,
                    f"định dạng của {shown} không hợp lệ (được dùng: {', '.join(FORMATS)})",
                    f"placeholder {shown} has an unknown format '{spec or conversion}' (allowed: {', '.join(FORMATS)})",
                )
            if name not in allowed:
                self.fail(where, *self.unknown(name, allowed))
        for vi, en in _tag_errors(value):
            self.fail(where, vi, en)
        return value

    def unknown(self, name: str, allowed: frozenset[str]) -> tuple[str, str]:
        shown = "{" + name + "}"
        if self.form_fields is not None and name in self.sample and name not in self.form_fields:
            return (
                f"{shown} không phải là trường của tờ khai của thủ tục",
                f"placeholder {shown} is not a field of the procedure's form",
            )
        known = ", ".join(sorted(allowed))
        return (
            f"{shown} không phải là dữ liệu của hồ sơ hay của tờ khai (thêm trường vào 'sample' nếu là trường "
            f"của tờ khai; được dùng: {known})",
            f"unknown placeholder {shown}: neither a dossier value nor a form field listed in 'sample' "
            f"(allowed: {known})",
        )

    def name(self, data: Mapping[str, Any], key: str, pointer: str, allowed: frozenset[str]) -> str | None:
        value = data.get(key)
        where = f"{pointer}/{key}"
        if value is None:
            return None
        if not isinstance(value, str) or value not in allowed:
            self.fail(where, *self.unknown(str(value), allowed))
            return None
        return value


def _lines_of(found: list[tuple[str, str, str]], lines: Mapping[str, int]) -> list[TemplateProblem]:
    out = []
    for pointer, vi, en in found:
        probe = pointer
        while probe not in lines and probe:
            probe = probe.rsplit("/", 1)[0]
        out.append(TemplateProblem(lines.get(probe), pointer, vi, en))
    return out


def _check(data: Any, c: _Checker) -> None:
    top = c.obj(data, "", _TOP_KEYS)
    if top is None:
        return
    raw_sample = top.get("sample", {})
    if not isinstance(raw_sample, dict):
        c.fail("/sample", "phải là một đối tượng: dữ liệu mẫu của tờ khai", "must be an object: sample form data")
        raw_sample = {}
    for key in raw_sample:
        if not _IDENTIFIER.fullmatch(key):
            c.fail(f"/sample/{_pointer_part(key)}", "tên trường không hợp lệ", "is not a plain field name")
    c.sample = raw_sample
    form = frozenset(k for k in raw_sample if _IDENTIFIER.fullmatch(k))
    if c.form_fields is not None:
        form &= c.form_fields | frozenset(DOSSIER_VALUES)
    values = frozenset(DOSSIER_VALUES) | form

    c.text(top, "name", "", frozenset())
    if top.get("source") is not None and not isinstance(top.get("source"), str):
        c.fail("/source", "phải là một chuỗi văn bản", "must be a string")
    header = c.obj(top.get("header"), "/header", {"parent_agency", "agency"})
    if header is not None:
        c.text(header, "parent_agency", "/header", values, required=False)
        c.text(header, "agency", "/header", values)
    c.text(top, "title", "", values)
    subtitles = top.get("subtitles", [])
    if not isinstance(subtitles, list):
        c.fail("/subtitles", "phải là một danh sách chuỗi", "must be a list of strings")
    else:
        for i, line in enumerate(subtitles):
            c.markup(line, f"/subtitles/{i}", values)

    paragraphs = top.get("paragraphs")
    if not isinstance(paragraphs, list) or not paragraphs:
        c.fail("/paragraphs", "phải là một danh sách đoạn văn không rỗng", "must be a non-empty list of paragraphs")
        paragraphs = []
    for i, item in enumerate(paragraphs):
        where = f"/paragraphs/{i}"
        paragraph = c.obj(item, where, _PARAGRAPH_KEYS)
        if paragraph is None:
            continue
        c.text(paragraph, "text", where, values)
        level = paragraph.get("level", 1)
        if level not in (1, 2) or isinstance(level, bool):
            c.fail(f"{where}/level", "phải là 1 (đoạn đánh số) hoặc 2 (dòng thụt vào)", "must be 1 or 2")
        if not isinstance(paragraph.get("numbered", True), bool):
            c.fail(f"{where}/numbered", "phải là true hoặc false", "must be true or false")
        c.name(paragraph, "when", where, values)
        if "table" in paragraph:
            _check_table(c, paragraph["table"], f"{where}/table", values, form)

    signers = top.get("signers")
    if not isinstance(signers, list) or not signers:
        c.fail("/signers", "phải liệt kê các khối chữ ký", "must list the signature blocks")
        signers = []
    _check_signers(c, signers, values)

    register = c.obj(top.get("register"), "/register", {"series", "number", "date"})
    if register is not None:
        series = register.get("series")
        if not isinstance(series, str) or not re.fullmatch(r"[^\s/]{1,20}(?:/[^\s/]{1,20})?", series):
            c.fail("/register/series", "phải là ký hiệu sổ (ví dụ GCN-HKD)", "must be a register series (e.g. GCN-HKD)")
        c.text(register, "number", "/register", _NUMBER_VALUES, required=False)
        c.text(register, "date", "/register", _DATE_VALUES, required=False)
    document = c.obj(top.get("document"), "/document", {"filename", "sign_reason", "seal_reason", "seal"})
    if document is not None:
        filename = document.get("filename")
        if not isinstance(filename, str) or not _FILENAME.fullmatch(filename):
            c.fail(
                "/document/filename",
                "phải là tên tệp không dấu, chữ thường, nối bằng dấu gạch (ví dụ giay-chung-nhan)",
                "must be lower-case ASCII words joined by hyphens (e.g. giay-chung-nhan)",
            )
        c.text(document, "sign_reason", "/document", frozenset())
        c.text(document, "seal_reason", "/document", frozenset(), required=False)
        if not isinstance(document.get("seal", True), bool):
            c.fail("/document/seal", "phải là true hoặc false", "must be true or false")


def _check_table(c: _Checker, data: Any, where: str, values: frozenset[str], form: frozenset[str]) -> None:
    table = c.obj(data, where, _TABLE_KEYS)
    if table is None:
        return
    rows = c.name(table, "rows", where, form)
    if rows is None and "rows" not in table:
        c.fail(f"{where}/rows", "thiếu trường bắt buộc: trường lặp của tờ khai", "missing: the repeating form field")
    row_keys: set[str] = set()
    if rows is not None:
        sample = c.sample.get(rows)
        if not isinstance(sample, list):
            c.fail(f"{where}/rows", f"dữ liệu mẫu '{rows}' phải là một danh sách", f"sample '{rows}' must be a list")
        else:
            row_keys = {k for r in sample if isinstance(r, dict) for k in r if _IDENTIFIER.fullmatch(k)}
    in_row = values | _ROW_VALUES | row_keys
    columns = table.get("columns")
    if not isinstance(columns, list) or not columns:
        c.fail(f"{where}/columns", "phải liệt kê các cột", "must list the columns")
        columns = []
    for j, item in enumerate(columns):
        at = f"{where}/columns/{j}"
        column = c.obj(item, at, {"header", "value", "width_mm"})
        if column is None:
            continue
        c.text(column, "header", at, frozenset())
        c.text(column, "value", at, in_row)
        width = column.get("width_mm")
        bad = isinstance(width, bool) or not isinstance(width, int | float) or not 5 <= width <= 150
        if width is not None and bad:
            c.fail(f"{at}/width_mm", "phải là số milimét từ 5 đến 150", "must be a width in millimetres, 5 to 150")
    if "annex" in table:
        annex = c.obj(table["annex"], f"{where}/annex", {"title", "text"})
        if annex is not None:
            c.text(annex, "title", f"{where}/annex", values)
            c.text(annex, "text", f"{where}/annex", values)


def _check_signers(c: _Checker, signers: list[Any], values: frozenset[str]) -> None:
    sides: dict[str, int] = {}
    signing = []
    for i, item in enumerate(signers):
        where = f"/signers/{i}"
        signer = c.obj(item, where, _SIGNER_KEYS)
        if signer is None:
            continue
        authority = signer.get("authority", "")
        if authority not in AUTHORITIES:
            c.fail(
                f"{where}/authority",
                f"thẩm quyền ký phải là một trong {', '.join(a or '(trống)' for a in AUTHORITIES)} (Nghị định 30/2020)",
                f"must be one of {', '.join(a or '(empty)' for a in AUTHORITIES)} (Decree 30/2020)",
            )
        needs_body = authority in ("TM.", "KT.", "TL.", "TUQ.")
        body = c.text(signer, "body", where, values, required=needs_body)
        if authority in ("", "Q.") and body is not None:
            c.fail(
                f"{where}/body",
                f"thẩm quyền '{authority or '(trống)'}' chỉ ghi chức vụ (position)",
                f"authority '{authority}' takes the position alone (no body)",
            )
        c.text(signer, "position", where, values)
        c.text(signer, "name", where, values, required=False)
        c.text(signer, "note", where, values, required=False)
        side = signer.get("side", "right")
        if side not in ("right", "left"):
            c.fail(f"{where}/side", "phải là right hoặc left", "must be right or left")
        elif side in sides:
            taken = f"signers[{sides[side]}] is already on the {side}"
            c.fail(f"{where}/side", f"đã có khối chữ ký ở bên {side}", taken)
        else:
            sides[side] = i
        if "signs" in signer:
            if signer["signs"] != "leader":
                c.fail(f"{where}/signs", "chỉ có thể là leader", 'must be "leader" (the approving leader)')
            elif side != "right":
                c.fail(f"{where}/signs", "người ký (leader) phải ở bên phải", "the signing block must be on the right")
            signing.append(i)
    if signers and len(signing) != 1:
        c.fail(
            "/signers",
            'đúng một khối chữ ký phải có "signs": "leader" (lãnh đạo phê duyệt ký số)',
            'exactly one block must have "signs": "leader" (the approving leader\'s signature)',
        )


def check_template_text(
    text: str, where: str = "template", form_fields: Iterable[str] | None = None
) -> tuple[ResultTemplate | None, list[TemplateProblem]]:
    """The template in ``text`` (or None) and every problem found, each with its line and field.

    ``form_fields``: the keys of the procedure's form, when known (a placeholder must then be one of them)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [
            TemplateProblem(
                exc.lineno,
                "",
                f"JSON không hợp lệ ở cột {exc.colno}: {exc.msg}",
                f"invalid JSON at column {exc.colno}: {exc.msg}",
            )
        ]
    checker = _Checker(form_fields)
    _check(data, checker)
    if checker.found:
        return None, _lines_of(checker.found, value_lines(text))
    return ResultTemplate(where, data), []


def parse_template(text: str, where: str = "template", form_fields: Iterable[str] | None = None) -> ResultTemplate:
    """The template in ``text``; refused (:class:`ResultTemplateError`) with every problem."""
    template, problems = check_template_text(text, where, form_fields)
    if template is None:
        raise ResultTemplateError(where, problems)
    return template


def load_template(path: Path, form_fields: Iterable[str] | None = None) -> ResultTemplate:
    """The template in file ``path``; refused (:class:`ResultTemplateError`) when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultTemplateError(
            path.name, [TemplateProblem(None, "", "không đọc được tệp (UTF-8)", f"cannot be read: {exc}")]
        ) from exc
    return parse_template(text, path.name, form_fields)


# ------------------------------------------------------------------------------------------------- the template


def _nfc(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value))


def _day(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{name}: {value!r} is not a date YYYY-MM-DD") from exc


def _formatted(values: Mapping[str, Any], name: str, spec: str) -> str:
    value = values.get(name)
    if value is None or value == "":
        return ""
    if spec in ("money", "words"):
        try:
            amount = int(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: {value!r} is not a whole number") from exc
        return format_vnd(amount) if spec == "money" else amount_in_words(amount)
    if spec in ("date", "long_date"):
        day = _day(value, name)
        return short_date(day) if spec == "date" else long_date(day)
    if isinstance(value, dt.date):
        text = short_date(value)
    elif isinstance(value, list | tuple):
        text = ", ".join(_nfc(v) for v in value)
    elif isinstance(value, bool):
        text = "Có" if value else "Không"
    else:
        text = _nfc(value)
    return upper(text) if spec == "upper" else text


def fill(text: str, values: Mapping[str, Any]) -> str:
    """Paragraph markup: the template's text and tags, every value formatted and escaped."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        shown = escape(literal)
        for tag in _TAGS:
            shown = shown.replace(escape(tag), tag)
        out.append(shown)
        if name is not None:
            out.append(escape(_formatted(values, name, spec or "")))
    return "".join(out)


def plain(text: str, values: Mapping[str, Any]) -> str:
    """Text for the canvas (header, title, signer blocks): tags dropped, values formatted."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        shown = literal.replace("<br/>", " ")
        for tag in _TAGS:
            shown = shown.replace(tag, "")
        out.append(shown)
        if name is not None:
            out.append(_formatted(values, name, spec or ""))
    return " ".join("".join(out).split())


@dataclass(frozen=True)
class ResultTemplate:
    """One valid result template (:func:`parse_template`)."""

    where: str
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def series(self) -> str:
        return str(self.data["register"]["series"])

    @property
    def filename(self) -> str:
        return str(self.data["document"]["filename"])

    @property
    def sign_reason(self) -> str:
        return str(self.data["document"]["sign_reason"])

    @property
    def seal_reason(self) -> str:
        return str(self.data["document"].get("seal_reason") or "Đóng dấu cơ quan")

    @property
    def sealed(self) -> bool:
        """Whether the agency seal is drawn over the leader's signature (else it signs invisibly)."""
        return bool(self.data["document"].get("seal", True))

    @property
    def sample(self) -> Mapping[str, Any]:
        return dict(self.data.get("sample", {}))

    def number(self, serial: int, year: int) -> str:
        """The register number the clerk gives: ``01/GCN-HKD`` by default."""
        shape = str(self.data["register"].get("number") or "{serial}/{series}")
        return plain(shape, {"serial": f"{serial:02d}", "series": self.series, "year": str(year)})

    def date_text(self, place_name: str, day: dt.date) -> str:
        """The place and date line filled when the result is numbered: ``Hòa An, ngày 05 tháng 3 năm 2026``."""
        shape = str(self.data["register"].get("date") or "{place_name}, {long_date}")
        return plain(shape, {"place_name": place_name, "long_date": long_date(day), "short_date": short_date(day)})

    def signers(self, values: Mapping[str, Any]) -> tuple[Signer, ...]:
        """The signature blocks in Decree 30 form: the authority line, the position, the signer's name."""
        out = []
        for block in self.data["signers"]:
            authority = str(block.get("authority", ""))
            position = plain(str(block["position"]), values)
            if authority in ("", "Q."):
                lines = [f"{authority} {position}".strip()]
            else:
                lines = [f"{authority} {plain(str(block['body']), values)}", position]
            center = SIGNATURE_BOX.center_x if block.get("side", "right") == "right" else LEFT_CENTER
            note = plain(str(block["note"]), values) if block.get("note") else None
            name = plain(str(block["name"]), values) if block.get("name") else None
            out.append(Signer("\n".join(lines), note, name or None, center))
        return tuple(out)


# ------------------------------------------------------------------------------------------------- rendering


def _shown(paragraph: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    when = paragraph.get("when")
    return when is None or values.get(when) not in (None, "", [], ())


def _table(table: Mapping[str, Any], values: Mapping[str, Any]) -> Flowable:
    columns = table["columns"]
    fixed = sum(float(col.get("width_mm", 0)) * mm for col in columns)
    free = [col for col in columns if col.get("width_mm") is None]
    rest = max(CONTENT_WIDTH - fixed, 20 * mm) / max(len(free), 1)
    widths = [float(col["width_mm"]) * mm if col.get("width_mm") is not None else rest for col in columns]
    rows: list[list[Any]] = [[para(escape(plain(col["header"], values)), CELL_HEAD) for col in columns]]
    items = values.get(table["rows"]) or []
    if not isinstance(items, list | tuple):
        raise ValueError(f"{table['rows']}: the table's rows must be a list")
    for number, item in enumerate(items, start=1):
        row_values = {**values, "row_number": str(number)}
        if isinstance(item, Mapping):
            row_values.update(item)
        else:
            row_values["item"] = item
        rows.append([para(fill(col["value"], row_values), CELL) for col in columns])
    return grid(rows, widths)


def _body(
    template: ResultTemplate, values: Mapping[str, Any], compact: bool
) -> tuple[list[Flowable], list[tuple[str, Flowable]]]:
    """Page 1's paragraphs, and the tables that go to the annex with their titles (``compact``: those that may)."""
    body: list[Flowable] = []
    annex: list[tuple[str, Flowable]] = []
    number = 0
    for paragraph in template.data["paragraphs"]:
        if not _shown(paragraph, values):
            continue
        level = paragraph.get("level", 1)
        table = paragraph.get("table")
        moved = compact and table is not None and "annex" in table
        text = table["annex"]["text"] if moved else paragraph["text"]
        markup = fill(text, values)
        if level == 1 and paragraph.get("numbered", True):
            number += 1
            markup = f"{number}. {markup}"
        body.append(para(markup, BODY if level == 1 else ITEM))
        if table is not None:
            if moved:
                annex.append((plain(table["annex"]["title"], values), _table(table, values)))
            else:
                body.append(_table(table, values))
    return body, annex


def _header(c: Any, parent: str | None, agency: str) -> float:
    """The issuing agency (left, the number field under it) and the national motto (right, the place and date
    field under it); returns the y under which the title starts."""
    size = 11.5
    y = TOP - size
    if parent:
        y = wrapped_centered(c, upper(parent), LEFT_CENTER, y, LEFT_COLUMN_WIDTH - 4, REGULAR, size) - size * 1.25
    y = wrapped_centered(c, upper(agency), LEFT_CENTER, y, LEFT_COLUMN_WIDTH - 4, BOLD, size)
    rule(c, LEFT_CENTER, y - 7, 28 * mm)
    national_motto(c, size)
    return float(min(NUMBER_BOX[1], y - 14)) - 4


def render_result(template: ResultTemplate, values: Mapping[str, Any]) -> bytes:
    """The result as PDF bytes (embedded Noto Serif): header, title, numbered paragraphs and tables from
    ``values`` (the dossier's values and its form data), the signature blocks on page 1 — the number, the date,
    the signature and the seal are left to the fields. Tables with an ``annex`` move to the following pages when
    page 1 cannot hold the body."""
    register_fonts()
    header = template.data["header"]
    title = plain(template.data["title"], values)
    agency = plain(header["agency"], values)
    parent = plain(header["parent_agency"], values) if header.get("parent_agency") else None
    subject = " ".join(filter(None, (template.name, str(values.get("dossier_code") or ""))))
    buffer = io.BytesIO()
    c = canvas(buffer, title, parent or agency, subject)
    y = _header(c, parent, agency)
    cx = LEFT + CONTENT_WIDTH / 2
    y = wrapped_centered(c, title, cx, y - 30, CONTENT_WIDTH, BOLD, 14)
    for line in template.data.get("subtitles", []):
        shown = plain(line, values)
        if shown:
            y -= 18
            oblique_centered(c, shown, cx, y, 12)
    top = y - 14
    bottom = draw_signers(c, template.signers(values)) + 6
    body, _ = _body(template, values, compact=False)
    compact, tables = _body(template, values, compact=True)
    moved = bool(tables) and _natural_height(body, CONTENT_WIDTH) * _MIN_SCALE > top - bottom
    shrink_into(c, compact if moved else body, top, bottom)
    if moved:
        code = values.get("dossier_code")
        # one table: its title heads the annex; several: each under its own title
        heading = tables[0][0] if len(tables) == 1 else template.name
        annex: list[Flowable] = []
        for title, table in tables:
            if len(tables) > 1:
                annex.append(para(f"<b>{escape(upper(title))}</b>", BODY))
            annex.append(table)
        reference = f"(Kèm theo {template.name}, mã hồ sơ {code})" if code else f"(Kèm theo {template.name})"
        _draw_annex(
            c,
            Form(
                parent_agency=parent,
                agency=agency,
                number=None,
                place_name="",
                dated=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),  # not drawn: the annex pages carry no date
                title=title,
                subtitles=(),
                body=[],
                signers=(),
                subject=subject,
                annex_title=("PHỤ LỤC", upper(heading), reference),
                annex=annex,
            ),
        )
    c.showPage()
    c.save()
    return buffer.getvalue()


SAMPLE_DOSSIER: Mapping[str, Any] = {
    "dossier_code": "000.00.00.H00-260305-0001",
    "procedure_code": "0.000000",
    "procedure_name": "Thủ tục mẫu",
    "applicant_name": "Nguyễn Văn An",
    "applicant_id_number": "001085012345",
    "applicant_phone": "0912345678",
    "applicant_email": "nguyenvanan@example.vn",
    "agency_name": "Ủy ban nhân dân xã Hòa An",
    "department_name": "Phòng Kinh tế",
    "place_name": "Hòa An",
    "issued_date": dt.date(2026, 3, 5),
    "signer_name": "Phạm Văn Hùng",
}
"""The dossier values of a preview (the template's ``sample`` gives the form's and may override these)."""


def sample_values(template: ResultTemplate, **overrides: Any) -> dict[str, Any]:
    return {**SAMPLE_DOSSIER, **template.sample, **overrides}


def preview(template: ResultTemplate, **overrides: Any) -> bytes:
    """The template rendered with its sample data (what an administrator checks before publishing)."""
    return render_result(template, sample_values(template, **overrides))
