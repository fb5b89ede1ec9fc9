"""Form templates as data: the fixed texts, labels and layout numbers of the one-stop desk's forms, in dated sets.

Two sets are shipped, listed with the day each comes into force in ``documents/templates/sets.json``: the forms of
Circular 01/2018/TT-VPCP (Mẫu 01–06, ``documents/templates/mau-0N.json``) and those of Circular 03/2025/TT-VPCP
(Mẫu 01–07, in force from 15 September 2025, ``documents/templates/2025/mau-0N.json``). A dossier keeps the set in
force on the day it was received (:meth:`Templates.on`); the set also says which of its forms serves which
purpose (``kinds``: the receipt is Mẫu 01 in both, the control sheet Mẫu 05 in 2018 and Mẫu 06 in 2025).

Each form has one JSON file::

    {
      "form": "mau-01",
      "name": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
      "texts":  {"subtitle": "Mã hồ sơ: {dossier_code}", ...},
      "lists":  {"paper_headers": ["TT", "Tên giấy tờ", "Hình thức", "Số lượng"], ...},
      "labels": {"channels": {"counter": "Trực tiếp", ...}, ...},
      "layout": {"qr_size_mm": 26, ...}
    }

A letter whose signer block is the head of the agency's (Mẫu 04 of both sets, Mẫu 05 of 2025) also says
``"signed_by_head": true``: the head signs it personally, in two steps, before the agency seal
(:meth:`services.paperwork.Paperwork.request_head_signature`).

A text may use the placeholders :data:`SPEC` allows for it (``{dossier_code}``, ``{applicant_name}``, …;
``{{`` and ``}}`` for literal braces) and the tags ``<b>``, ``</b>``, ``<i>``, ``</i>``, ``<br/>``; every other
character is shown as written. Placeholder values are the dossier's data, escaped before they are set.

An agency edits the texts without code: it copies a file into its own templates directory (a setting; the 2025
forms in its ``2025`` subdirectory, as shipped), edits it, and passes the directory to :class:`Templates`; a form
without a file there keeps the shipped one. An
override file must be complete — :func:`validate_templates` says precisely what is missing or wrong, and
loading an invalid file raises :class:`TemplateError` with the same messages.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from dossiers.calendar import VN_TZ
from dossiers.problems import bilingual

__all__ = [
    "DEFAULT_DIR",
    "KINDS",
    "SETS",
    "SPEC",
    "SPECS",
    "FormSpec",
    "FormTemplate",
    "TemplateError",
    "TemplateSet",
    "Templates",
    "default_templates",
    "template_sets",
    "validate_templates",
]

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
SETS_FILE = "sets.json"
KINDS = (
    "receipt",
    "supplement_request",
    "refusal",
    "apology",
    "stop_notice",
    "control_sheet",
    "tracking_register",
)
"""What a form is for, whatever its number in a set (what the services and renderers ask for)."""
_TAGS = ("<b>", "</b>", "<i>", "</i>", "<br/>")
_TAG_PATTERN = re.compile(r"<[^<>]*>")


@dataclass(frozen=True)
class FormSpec:
    """What a form's template must contain: text keys with the placeholders each may use, lists with their
    length (0: any non-empty length), label maps with their keys, and layout numbers."""

    name: str
    texts: Mapping[str, frozenset[str]]
    lists: Mapping[str, int]
    labels: Mapping[str, frozenset[str]]
    layout: frozenset[str]


def _p(*names: str) -> frozenset[str]:
    return frozenset(names)


_NONE = _p()
_TIMELINESS = _p("early", "on_time", "late")

SPEC: dict[str, FormSpec] = {  # Circular 01/2018/TT-VPCP
    "mau-01": FormSpec(
        name="Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        texts={
            "title": _NONE,
            "subtitle": _p("dossier_code"),
            "intro": _p("agency_name", "applicant_name"),
            "id_number": _p("applicant_id_number"),
            "address": _p("applicant_address"),
            "phone": _p("applicant_phone"),
            "email": _p("applicant_email"),
            "procedure": _p("procedure_name"),
            "procedure_code": _p("procedure_code"),
            "channel": _p("channel"),
            "papers": _NONE,
            "papers_in_annex": _p("paper_count"),
            "dossier_sets": _p("dossier_sets"),
            "processing_time": _p("processing_time"),
            "received": _p("received_at"),
            "appointment": _p("appointment_at"),
            "result_delivery": _p("result_delivery"),
            "tracking": _p("tracking_at", "dossier_code", "applicant_id_number"),
            "qr_caption": _p("lookup_url", "dossier_code"),
            "applicant_signer": _NONE,
            "officer_signer": _NONE,
            "signature_note": _NONE,
            "annex_heading": _NONE,
            "annex_reference": _p("dossier_code"),
        },
        lists={"paper_headers": 4},
        labels={"channels": _p("counter", "online", "postal")},
        layout=_p("qr_size_mm"),
    ),
    "mau-02": FormSpec(
        name="Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
        texts={
            "title": _NONE,
            "subtitle": _p("dossier_code"),
            "applicant": _p("applicant_name"),
            "procedure": _p("procedure_name"),
            "received_on": _p("received_date"),
            "request": _p("received_on", "agency_name", "dossier_code", "listed"),
            "items_here": _NONE,
            "items_in_annex": _NONE,
            "reason": _p("reason"),
            "official_phone": _p("official_phone"),
            "contact": _p("official_name", "official_phone"),
            "signer": _NONE,
            "signature_note": _NONE,
            "annex_heading": _NONE,
            "annex_reference": _p("dossier_code"),
        },
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-03": FormSpec(
        name="Phiếu từ chối tiếp nhận giải quyết hồ sơ",
        texts={
            "title": _NONE,
            "subtitle": _p("dossier_code"),
            "applicant": _p("applicant_name"),
            "procedure": _p("procedure_name"),
            "received_on": _p("received_date"),
            "refusal": _p("agency_name", "dossier_code", "received_on"),
            "closing": _NONE,
            "signer": _NONE,
            "signature_note": _NONE,
        },
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-04": FormSpec(
        name="Phiếu xin lỗi và hẹn lại ngày trả kết quả",
        texts={
            "title": _NONE,
            "subtitle": _p("dossier_code"),
            "received": _p("received_date", "agency_name", "applicant_name", "dossier_code"),
            "procedure": _p("procedure_name"),
            "old_due": _p("old_due_at"),
            "reason": _p("agency_name", "reason"),
            "apology": _p("agency_name", "new_due_at"),
            "closing": _NONE,
            "signer": _NONE,
            "signature_note": _NONE,
        },
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-05": FormSpec(
        name="Phiếu kiểm soát quá trình giải quyết hồ sơ",
        texts={
            "title": _NONE,
            "subtitle": _p("dossier_code"),
            "attached": _p("dossier_code"),
            "applicant": _p("applicant_name"),
            "procedure": _p("procedure_name"),
            "handling": _p("handling_agency"),
            "received": _p("received_at"),
            "due": _p("due_at"),
            "giver": _p("giver"),
            "receiver": _p("receiver"),
            "handed_at": _p("handed_at"),
            "taken_at": _p("taken_at"),
            "due_note": _p("due_at"),
            "no_rows": _NONE,
            "applicant_party": _p("applicant_name"),
            "signer": _NONE,
            "signature_note": _NONE,
            "annex_heading": _NONE,
            "annex_reference": _p("dossier_code"),
            "rows_in_annex": _p("row_count"),
        },
        lists={"headers": 5},
        labels={"timeliness": _TIMELINESS},
        layout=_p("col_number_mm", "col_time_mm", "col_result_mm", "col_note_mm"),
    ),
    "mau-06": FormSpec(
        name="Sổ theo dõi hồ sơ",
        texts={
            "title": _NONE,
            "period": _p("from_date", "to_date"),
            "summary": _p("total", "early", "on_time", "late", "in_progress", "overdue"),
            "no_rows": _NONE,
            "in_progress": _NONE,
            "overdue": _NONE,
            "signer": _NONE,
            "signature_note": _NONE,
            "sheet_name": _NONE,
            "page": _p("page"),
        },
        lists={"headers": 10},
        labels={"timeliness": _TIMELINESS},
        layout=_p("font_size"),
    ),
}
"""Every form's required fields and the placeholders each text may use (the 2018 set)."""

_CONTACT = {"address": _p("applicant_address"), "email": _p("applicant_email")}
_RETURNS = _p("counter", "postal", "online")
_LETTER = {
    "title": _NONE,
    "subtitle": _p("dossier_code"),
    "addressee": _p("applicant_name"),
    **_CONTACT,
    "received": _p("received_date", "agency_name", "dossier_code"),
    "procedure": _p("procedure_name"),
}

SPEC_2025: dict[str, FormSpec] = {  # Circular 03/2025/TT-VPCP
    "mau-01": FormSpec(
        name="Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        texts={**SPEC["mau-01"].texts, "register_entry": _p("register_book", "register_number")},
        lists=SPEC["mau-01"].lists,
        labels={**SPEC["mau-01"].labels, "returns": _RETURNS},
        layout=SPEC["mau-01"].layout,
    ),
    "mau-02": FormSpec(
        name="Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
        texts={**SPEC["mau-02"].texts, **_CONTACT},
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-03": FormSpec(
        name="Phiếu từ chối tiếp nhận giải quyết hồ sơ",
        texts={**SPEC["mau-03"].texts, **_CONTACT},
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-04": FormSpec(
        name="Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết",
        texts={
            **_LETTER,
            "old_due": _p("old_due_at"),
            "reason": _p("agency_name", "reason"),
            "apology": _p("agency_name"),
            "extension": _p("agency_name", "new_due_at"),
            "closing": _NONE,
            "signer": _NONE,
            "signature_note": _NONE,
        },
        lists={},
        labels={},
        layout=_NONE,
    ),
    "mau-05": FormSpec(
        name="Thông báo dừng giải quyết hồ sơ",
        texts={
            **_LETTER,
            "by_applicant": _p("requested_date", "agency_name", "dossier_code"),
            "by_agency": _p("agency_name", "dossier_code"),
            "reason": _p("reason"),
            "papers_back": _p("return_method"),
            "closing": _NONE,
            "signer": _NONE,
            "signature_note": _NONE,
        },
        lists={},
        labels={"returns": _RETURNS},
        layout=_NONE,
    ),
    "mau-06": FormSpec(
        name="Phiếu kiểm soát quá trình giải quyết hồ sơ",
        texts={
            **SPEC["mau-05"].texts,
            "coordinating": _p("coordinating_agencies"),
            "no_coordinating": _NONE,
        },
        lists=SPEC["mau-05"].lists,
        labels=SPEC["mau-05"].labels,
        layout=SPEC["mau-05"].layout,
    ),
    "mau-07": FormSpec(
        name="Sổ theo dõi hồ sơ",
        texts={**SPEC["mau-06"].texts, "book": _p("register_book")},
        lists=SPEC["mau-06"].lists,
        labels=SPEC["mau-06"].labels,
        layout=SPEC["mau-06"].layout,
    ),
}
"""The 2025 set: the new Mẫu 04 (apology and request to extend the time) and 05 (notice that processing stops),
the control sheet and the register renumbered 06 and 07, and the fields the 2018 forms lacked."""

SPECS: dict[str, dict[str, FormSpec]] = {"2018": SPEC, "2025": SPEC_2025}
"""Each set's forms (the set names of ``sets.json``)."""


class TemplateError(ValueError):
    """A template file that cannot be used; ``problems`` are :func:`validate_templates`' messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _problem(where: object, vi: str, en: str) -> str:
    """One problem of a template file, "<where>: Vietnamese / English" (:mod:`dossiers.problems`)."""
    return f"{where}: {bilingual(vi, en)}"


def _placeholders(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The placeholder names a text uses, and what is wrong with its braces (in Vietnamese and in English)."""
    names: set[str] = set()
    errors: list[tuple[str, str]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return names, [
            (
                "dấu ngoặc nhọn không khớp; viết {{ và }} cho ngoặc nhọn thường",
                f"broken braces ({exc}); write {{{{ and }}}} for literal braces",
            )
        ]
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            errors.append((f"{{{name}}} không phải là một tên đơn giản", f"placeholder {{{name}}} is not a plain name"))
            continue
        if spec or conversion:
            errors.append(
                (
                    f"{{{name}}} không được kèm định dạng hay chuyển đổi; chỉ ghi {{{name}}}",
                    f"placeholder {{{name}}} has a format or conversion; write just {{{name}}}",
                )
            )
        names.add(name)
    return names, errors


def _tag_errors(text: str) -> list[tuple[str, str]]:
    """What is wrong with a text's formatting tags, in Vietnamese and in English."""
    tags = ", ".join(_TAGS)
    errors = [
        (f"thẻ định dạng {tag} không được dùng (chỉ dùng: {tags})", f"tag {tag} is not allowed (only {tags})")
        for tag in _TAG_PATTERN.findall(text)
        if tag not in _TAGS
    ]
    for opening, closing in (("<b>", "</b>"), ("<i>", "</i>")):
        if text.count(opening) != text.count(closing):
            errors.append(
                (
                    f"thẻ mở {opening} và thẻ đóng {closing} không đi thành cặp",
                    f"{opening} and {closing} do not pair up",
                )
            )
    return errors


def _check_text(where: str, text: Any, allowed: frozenset[str]) -> list[str]:
    if not isinstance(text, str):
        return [_problem(where, "phải là một chuỗi văn bản", f"must be a string, not {type(text).__name__}")]
    if not text.strip():
        return [_problem(where, "không được để trống", "is empty")]
    used, errors = _placeholders(text)
    problems = [_problem(where, vi, en) for vi, en in errors + _tag_errors(text)]
    allowed_text = ", ".join(f"{{{n}}}" for n in sorted(allowed))
    for name in sorted(used - allowed):
        problems.append(
            _problem(
                where,
                f"không có dữ liệu {{{name}}} cho nội dung này (được dùng: {allowed_text or 'không có'})",
                f"unknown placeholder {{{name}}} (allowed: {allowed_text or 'none'})",
            )
        )
    return problems


def _section(data: Mapping[str, Any], name: str, problems: list[str], prefix: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.append(
            _problem(prefix, f"trường '{name}' phải là một đối tượng JSON {{…}}", f"field '{name}' must be an object")
        )
        return {}
    return value


def _missing(prefix: str, name: str) -> str:
    return _problem(prefix, f"thiếu trường bắt buộc '{name}'", f"missing required field '{name}'")


def _unknown(prefix: str, name: str) -> str:
    return _problem(prefix, f"trường '{name}' không có trong mẫu này, hãy xóa", f"unknown field '{name}'")


def check_template(data: Any, form: str | None = None, where: str = "template", *, edition: str = "2018") -> list[str]:
    """Problems of one parsed template of set ``edition``; ``form`` is the form the file must be (from its name)."""
    specs = SPECS[edition]
    if not isinstance(data, dict):
        return [_problem(where, "mẫu phải là một đối tượng JSON {…}", "the template must be a JSON object")]
    declared = data.get("form")
    if not isinstance(declared, str) or declared not in specs:
        forms = ", ".join(sorted(specs))
        return [
            _problem(
                where,
                f"trường 'form' phải là một trong: {forms} (đang ghi {declared!r})",
                f"field 'form' must be one of {forms} (found {declared!r})",
            )
        ]
    if form is not None and declared != form:
        return [
            _problem(
                where,
                f"tệp dành cho mẫu '{form}' nhưng trường 'form' ghi '{declared}'",
                f"file is for form '{form}' but field 'form' says '{declared}'",
            )
        ]
    spec = specs[declared]
    prefix = f"{where}: {declared}"
    problems: list[str] = []
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append(_missing(prefix, "name"))
    known_top = {"form", "name", "source", "signed_by_head", "texts", "lists", "labels", "layout"}
    problems += [_unknown(prefix, k) for k in sorted(set(data) - known_top)]
    if "signed_by_head" in data and not isinstance(data["signed_by_head"], bool):
        problems.append(
            _problem(
                f"{prefix}: signed_by_head",
                f"phải ghi true hoặc false, đang ghi {data['signed_by_head']!r}",
                f"must be true or false, found {data['signed_by_head']!r}",
            )
        )

    texts = _section(data, "texts", problems, prefix)
    for key, allowed in spec.texts.items():
        if key not in texts:
            problems.append(_missing(prefix, f"texts.{key}"))
        else:
            problems += _check_text(f"{prefix}: texts.{key}", texts[key], allowed)
    problems += [_unknown(prefix, f"texts.{k}") for k in sorted(set(texts) - set(spec.texts))]

    lists = _section(data, "lists", problems, prefix)
    for key, length in spec.lists.items():
        value = lists.get(key)
        if key not in lists:
            problems.append(_missing(prefix, f"lists.{key}"))
        elif not isinstance(value, list) or not value:
            problems.append(
                _problem(
                    f"{prefix}: lists.{key}",
                    "phải là danh sách các dòng văn bản, không để trống",
                    "must be a non-empty list of strings",
                )
            )
        else:
            if length and len(value) != length:
                problems.append(
                    _problem(
                        f"{prefix}: lists.{key}",
                        f"phải có đúng {length} dòng, đang có {len(value)}",
                        f"needs {length} entries, found {len(value)}",
                    )
                )
            for i, item in enumerate(value):
                problems += _check_text(f"{prefix}: lists.{key}[{i}]", item, _NONE)
    problems += [_unknown(prefix, f"lists.{k}") for k in sorted(set(lists) - set(spec.lists))]

    labels = _section(data, "labels", problems, prefix)
    for key, needed in spec.labels.items():
        value = labels.get(key)
        if key not in labels:
            problems.append(_missing(prefix, f"labels.{key}"))
        elif not isinstance(value, dict):
            problems.append(_problem(f"{prefix}: labels.{key}", "phải là một đối tượng JSON {…}", "must be an object"))
        else:
            for name in sorted(needed):
                if name not in value:
                    problems.append(_missing(prefix, f"labels.{key}.{name}"))
                else:
                    problems += _check_text(f"{prefix}: labels.{key}.{name}", value[name], _NONE)
    problems += [_unknown(prefix, f"labels.{k}") for k in sorted(set(labels) - set(spec.labels))]

    layout = _section(data, "layout", problems, prefix)
    for key in sorted(spec.layout):
        value = layout.get(key)
        if key not in layout:
            problems.append(_missing(prefix, f"layout.{key}"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(
                _problem(
                    f"{prefix}: layout.{key}",
                    f"phải là một số lớn hơn 0, đang ghi {value!r}",
                    f"must be a positive number, found {value!r}",
                )
            )
    problems += [_unknown(prefix, f"layout.{k}") for k in sorted(set(layout) - spec.layout)]
    return problems


def _read(path: Path) -> tuple[Any, list[str]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            _problem(
                path,
                f"tệp không phải văn bản mã hóa UTF-8 (byte {exc.start})",
                f"not UTF-8 text ({exc.reason} at byte {exc.start})",
            )
        ]
    except OSError as exc:
        return None, [_problem(path, "không đọc được tệp", f"cannot be read ({exc.strerror})")]
    try:
        return json.loads(raw), []
    except json.JSONDecodeError as exc:
        return None, [
            _problem(
                path,
                f"tệp không đúng cú pháp JSON ở dòng {exc.lineno}, cột {exc.colno}",
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            )
        ]


@dataclass(frozen=True)
class TemplateSet:
    """One dated set of forms (an entry of ``sets.json``): in force from ``valid_from`` (Vietnam date) until the
    next set's; its files in ``directory`` (relative to the templates directory); ``kinds`` maps each purpose
    (:data:`KINDS`) to the set's form."""

    name: str
    valid_from: dt.date
    directory: str
    source: str
    kinds: Mapping[str, str]

    def folder(self, root: Path) -> Path:
        return root if self.directory in ("", ".") else root / self.directory


def _set_problems(raw: Any, where: str) -> tuple[list[TemplateSet], list[str]]:
    """The sets a parsed ``sets.json`` lists, oldest first, and what is wrong with it."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sets"), list) or not raw["sets"]:
        return [], [
            _problem(
                where,
                "phải là một đối tượng JSON có danh sách 'sets' không để trống",
                "must be an object with a non-empty list 'sets'",
            )
        ]
    found: list[TemplateSet] = []
    problems: list[str] = []
    for i, entry in enumerate(raw["sets"]):
        at = f"{where}: sets[{i}]"
        if not isinstance(entry, dict):
            problems.append(_problem(at, "phải là một đối tượng JSON {…}", "must be an object"))
            continue
        name = entry.get("set")
        if name not in SPECS:
            sets = ", ".join(sorted(SPECS))
            problems.append(
                _problem(
                    at,
                    f"trường 'set' phải là một trong: {sets} (đang ghi {name!r})",
                    f"field 'set' must be one of {sets} (found {name!r})",
                )
            )
            continue
        try:
            valid_from = dt.date.fromisoformat(str(entry.get("valid_from")))
        except ValueError:
            problems.append(
                _problem(
                    at,
                    f"valid_from phải là một ngày dạng năm-tháng-ngày, ví dụ 2025-09-15 (đang ghi "
                    f"{entry.get('valid_from')!r})",
                    f"valid_from must be a date YYYY-MM-DD (found {entry.get('valid_from')!r})",
                )
            )
            continue
        kinds = entry.get("kinds")
        if not isinstance(kinds, dict):
            problems.append(
                _problem(at, "trường 'kinds' phải là một đối tượng JSON {…}", "field 'kinds' must be an object")
            )
            continue
        for kind, form in sorted(kinds.items()):
            if kind not in KINDS:
                problems.append(
                    _problem(
                        at,
                        f"không có loại giấy '{kind}' (các loại: {', '.join(KINDS)})",
                        f"unknown kind '{kind}' (kinds: {', '.join(KINDS)})",
                    )
                )
            elif form not in SPECS[name]:
                problems.append(
                    _problem(
                        f"{at}: kinds.{kind}",
                        f"'{form}' không phải là mẫu của bộ {name}",
                        f"'{form}' is not a form of set {name}",
                    )
                )
        for form in sorted(set(SPECS[name]) - set(kinds.values())):
            problems.append(
                _problem(
                    at,
                    f"mẫu {form} của bộ {name} chưa được dùng cho loại giấy nào",
                    f"form {form} of set {name} serves no kind",
                )
            )
        directory = entry.get("directory", ".")
        if not isinstance(directory, str) or ".." in Path(directory).parts or Path(directory).is_absolute():
            problems.append(
                _problem(
                    at,
                    "directory phải là một thư mục con nằm trong thư mục mẫu",
                    "directory must be a relative path inside the templates directory",
                )
            )
            continue
        found.append(TemplateSet(name, valid_from, directory, str(entry.get("source", "")), dict(kinds)))
    dates = [s.valid_from for s in found]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        problems.append(
            _problem(
                where,
                "các bộ mẫu phải xếp từ cũ đến mới, mỗi bộ bắt đầu từ một ngày khác nhau",
                "sets must be listed oldest first, each from a different day",
            )
        )
    return found, problems


def _load_sets() -> tuple[TemplateSet, ...]:
    data, problems = _read(DEFAULT_DIR / SETS_FILE)
    found, more = _set_problems(data, str(DEFAULT_DIR / SETS_FILE)) if not problems else ([], [])
    if problems or more:
        raise TemplateError(problems + more)
    return tuple(found)


SETS: tuple[TemplateSet, ...] = _load_sets()
"""The shipped sets, oldest first (``documents/templates/sets.json``)."""


def template_sets() -> tuple[TemplateSet, ...]:
    return SETS


def set_on(day: dt.date | dt.datetime) -> TemplateSet:
    """The set in force on ``day`` (an aware moment is taken in Vietnam time): the newest set from that day or
    before; the oldest also covers the days before it."""
    if isinstance(day, dt.datetime):
        day = day.astimezone(VN_TZ).date() if day.tzinfo is not None else day.date()
    chosen = SETS[0]
    for candidate in SETS:
        if candidate.valid_from <= day:
            chosen = candidate
    return chosen


def _set_named(name: str) -> TemplateSet:
    for candidate in SETS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown template set {name!r}")


def validate_templates(directory: Path | str | None = None, *, complete: bool | None = None) -> list[str]:
    """Every problem of the templates in ``directory`` (default: the shipped ones), one message each, naming
    the file, the form and the field: invalid JSON, a missing required field, an unknown placeholder, a
    wrong type. An empty list means every file is usable. Each set is read from its own folder (the 2018 set
    from ``directory`` itself, the 2025 set from ``directory/2025``).

    ``complete`` (default: True for the shipped directory, False for an agency's override directory) also
    requires a file for every form of every set. Files whose name is not ``<form>.json`` of a known form are
    reported."""
    folder = Path(directory) if directory is not None else DEFAULT_DIR
    shipped = directory is None or folder.resolve() == DEFAULT_DIR
    if complete is None:
        complete = shipped
    if not folder.is_dir():
        return [_problem(folder, "thư mục mẫu không tồn tại", "templates directory does not exist")]
    problems: list[str] = []
    if shipped:
        data, errors = _read(DEFAULT_DIR / SETS_FILE)
        problems += errors or _set_problems(data, str(DEFAULT_DIR / SETS_FILE))[1]
    for template_set in SETS:
        specs = SPECS[template_set.name]
        where = template_set.folder(folder)
        if not where.is_dir():
            if complete:
                problems.append(
                    _problem(
                        where,
                        f"thư mục mẫu của bộ {template_set.name} không tồn tại",
                        f"templates directory of set {template_set.name} does not exist",
                    )
                )
            continue
        for path in sorted(where.glob("*.json")):
            form = path.stem
            if path.name == SETS_FILE and where == folder:
                continue
            if form not in specs:
                names = ", ".join(f"{f}.json" for f in specs)
                problems.append(
                    _problem(
                        path,
                        f"không có mẫu '{form}' (các tệp được đặt tên: {names})",
                        f"unknown form '{form}' (files are named {names})",
                    )
                )
                continue
            data, errors = _read(path)
            problems += errors or check_template(data, form, str(path), edition=template_set.name)
        if complete:
            for form in specs:
                if not (where / f"{form}.json").is_file():
                    problems.append(
                        _problem(
                            where / f"{form}.json",
                            f"thiếu tệp mẫu {form} ({specs[form].name})",
                            f"missing template for {form} ({specs[form].name})",
                        )
                    )
    return problems


class _Escaped(dict[str, str]):
    def __missing__(self, key: str) -> str:  # validated templates use known names; others show as empty
        return ""


@dataclass(frozen=True)
class FormTemplate:
    """One loaded, valid template."""

    form: str
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def signed_by_head(self) -> bool:
        """Whether the head of the agency signs the form personally before the seal (``"signed_by_head": true``:
        the template's signer block is the head's, *Thủ trưởng cơ quan*); otherwise the agency seals it alone. An
        agency whose leaders have no signing certificates yet turns it off in its override file."""
        return bool(self.data.get("signed_by_head", False))

    def raw(self, key: str) -> str:
        return str(self.data["texts"][key])

    def has(self, key: str) -> bool:
        """Whether the form has text ``key`` (a field one set's form has and the other's lacks)."""
        return key in self.data.get("texts", {})

    def has_labels(self, key: str) -> bool:
        return key in self.data.get("labels", {})

    def markup(self, key: str, **values: Any) -> str:
        """Paragraph markup: the template's own text and tags, with every value escaped. Values given as
        :class:`Markup` are set as they are (text the renderer built from escaped pieces)."""
        text = escape(self.raw(key))
        for tag in _TAGS:
            text = text.replace(escape(tag), tag)
        filled = _Escaped({k: v if isinstance(v, Markup) else escape(_nfc(v)) for k, v in values.items()})
        return string.Formatter().vformat(text, (), filled)

    def plain(self, key: str, **values: Any) -> str:
        """Text for the canvas (titles, signer titles): tags dropped, values as they are."""
        text = self.raw(key).replace("<br/>", " ")
        for tag in _TAGS:
            text = text.replace(tag, "")
        return string.Formatter().vformat(text, (), _Escaped({k: _nfc(v) for k, v in values.items()}))

    def list(self, key: str) -> list[str]:
        return [str(v) for v in self.data["lists"][key]]

    def labels(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.data["labels"][key].items()}

    def layout(self, key: str) -> float:
        return float(self.data["layout"][key])


class Markup(str):
    """A value that is already paragraph markup (not escaped again by :meth:`FormTemplate.markup`)."""


def _nfc(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value))


class Templates:
    """The templates of one set (default: the oldest, Circular 01/2018) in force: ``directory`` (an agency's
    overrides) first, then the shipped ones. :meth:`on` gives the set in force on a day, sharing the overrides."""

    def __init__(self, directory: Path | str | None = None, *, edition: str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.set = _set_named(edition) if edition is not None else SETS[0]
        self._cache: dict[str, FormTemplate] = {}
        self._lock = threading.Lock()
        self._editions: dict[str, Templates] = {self.set.name: self}

    @property
    def edition(self) -> str:
        return self.set.name

    def on(self, day: dt.date | dt.datetime) -> Templates:
        """The templates of the set in force on ``day`` (a dossier's received date)."""
        name = set_on(day).name
        with self._lock:
            found = self._editions.get(name)
            if found is None:
                found = Templates(self.directory, edition=name)
                found._editions = self._editions
                self._editions[name] = found
            return found

    def kind(self, kind: str) -> str | None:
        """The form of this set that serves ``kind`` (None when the set has none)."""
        return self.set.kinds.get(kind)

    def form(self, kind: str) -> FormTemplate:
        """The template of the form that serves ``kind`` in this set (``KeyError`` when the set has none)."""
        form = self.kind(kind)
        if form is None:
            raise KeyError(f"set {self.set.name} has no form for {kind!r}")
        return self.get(form)

    def get(self, form: str) -> FormTemplate:
        if form not in SPECS[self.set.name]:
            raise KeyError(f"unknown form {form!r} in set {self.set.name}")
        with self._lock:
            found = self._cache.get(form)
            if found is None:
                found = self._load(form)
                self._cache[form] = found
            return found

    def _load(self, form: str) -> FormTemplate:
        path = self.set.folder(DEFAULT_DIR) / f"{form}.json"
        if self.directory is not None:
            own = self.set.folder(self.directory) / f"{form}.json"
            if own.is_file():
                path = own
        data, problems = _read(path)
        problems = problems or check_template(data, form, str(path), edition=self.set.name)
        if problems:
            raise TemplateError(problems)
        return FormTemplate(form, data)


_default = Templates()


def default_templates() -> Templates:
    """The shipped templates of the oldest set (loaded once; ``.on(day)`` for the set in force on a day)."""
    return _default


def form_number(kind: str, day: dt.date | dt.datetime) -> tuple[str, str] | None:
    """The number (``"06"``) and name of the form that serves ``kind`` in the set in force on ``day`` — what a
    page prints beside a paper, since the 2025 set renumbered the forms (the control sheet: Mẫu 05 → Mẫu 06);
    None when that set has no such form."""
    form = set_on(day).kinds.get(kind)
    if form is None:
        return None
    return form.removeprefix("mau-"), _default.on(day).get(form).name
