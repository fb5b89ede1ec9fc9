"""Form templates as data: the fixed texts, labels and layout numbers of Mẫu 01–06 (Circular 01/2018/TT-VPCP).

Each form has one JSON file, ``documents/templates/<form>.json`` (``mau-01.json`` … ``mau-06.json``)::

    {
      "form": "mau-01",
      "name": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
      "texts":  {"subtitle": "Mã hồ sơ: {dossier_code}", ...},
      "lists":  {"paper_headers": ["TT", "Tên giấy tờ", "Hình thức", "Số lượng"], ...},
      "labels": {"channels": {"counter": "Trực tiếp", ...}, ...},
      "layout": {"qr_size_mm": 26, ...}
    }

A text may use the placeholders :data:`SPEC` allows for it (``{dossier_code}``, ``{applicant_name}``, …;
``{{`` and ``}}`` for literal braces) and the tags ``<b>``, ``</b>``, ``<i>``, ``</i>``, ``<br/>``; every other
character is shown as written. Placeholder values are the dossier's data, escaped before they are set.

An agency edits the texts without code: it copies a file into its own templates directory (a setting), edits
it, and passes the directory to :class:`Templates`; a form without a file there keeps the shipped one. An
override file must be complete — :func:`validate_templates` says precisely what is missing or wrong, and
loading an invalid file raises :class:`TemplateError` with the same messages.
"""

from __future__ import annotations

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

__all__ = [
    "DEFAULT_DIR",
    "SPEC",
    "FormSpec",
    "FormTemplate",
    "TemplateError",
    "Templates",
    "default_templates",
    "validate_templates",
]

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
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

SPEC: dict[str, FormSpec] = {
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
"""Every form's required fields and the placeholders each text may use."""


class TemplateError(ValueError):
    """A template file that cannot be used; ``problems`` are :func:`validate_templates`' messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _placeholders(text: str) -> tuple[set[str], list[str]]:
    """The placeholder names a text uses, and what is wrong with its braces."""
    names: set[str] = set()
    errors: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return names, [f"broken braces ({exc}); write {{{{ and }}}} for literal braces"]
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            errors.append(f"placeholder {{{name}}} is not a plain name")
            continue
        if spec or conversion:
            errors.append(f"placeholder {{{name}}} has a format or conversion; write just {{{name}}}")
        names.add(name)
    return names, errors


def _tag_errors(text: str) -> list[str]:
    errors = [
        f"tag {tag} is not allowed (only {', '.join(_TAGS)})" for tag in _TAG_PATTERN.findall(text) if tag not in _TAGS
    ]
    for opening, closing in (("<b>", "</b>"), ("<i>", "</i>")):
        if text.count(opening) != text.count(closing):
            errors.append(f"{opening} and {closing} do not pair up")
    return errors


def _check_text(where: str, text: Any, allowed: frozenset[str]) -> list[str]:
    if not isinstance(text, str):
        return [f"{where}: must be a string, not {type(text).__name__}"]
    if not text.strip():
        return [f"{where}: is empty"]
    used, errors = _placeholders(text)
    problems = [f"{where}: {e}" for e in errors + _tag_errors(text)]
    allowed_text = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
    for name in sorted(used - allowed):
        problems.append(f"{where}: unknown placeholder {{{name}}} (allowed: {allowed_text})")
    return problems


def _section(data: Mapping[str, Any], name: str, problems: list[str], prefix: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.append(f"{prefix}: field '{name}' must be an object")
        return {}
    return value


def check_template(data: Any, form: str | None = None, where: str = "template") -> list[str]:
    """Problems of one parsed template; ``form`` is the form the file must be (from its name)."""
    if not isinstance(data, dict):
        return [f"{where}: the template must be a JSON object"]
    declared = data.get("form")
    if not isinstance(declared, str) or declared not in SPEC:
        return [f"{where}: field 'form' must be one of {', '.join(sorted(SPEC))} (found {declared!r})"]
    if form is not None and declared != form:
        return [f"{where}: file is for form '{form}' but field 'form' says '{declared}'"]
    spec = SPEC[declared]
    prefix = f"{where}: {declared}"
    problems: list[str] = []
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append(f"{prefix}: missing required field 'name'")
    known_top = {"form", "name", "source", "texts", "lists", "labels", "layout"}
    problems += [f"{prefix}: unknown field '{k}'" for k in sorted(set(data) - known_top)]

    texts = _section(data, "texts", problems, prefix)
    for key, allowed in spec.texts.items():
        if key not in texts:
            problems.append(f"{prefix}: missing required field 'texts.{key}'")
        else:
            problems += _check_text(f"{prefix}: texts.{key}", texts[key], allowed)
    problems += [f"{prefix}: unknown field 'texts.{k}'" for k in sorted(set(texts) - set(spec.texts))]

    lists = _section(data, "lists", problems, prefix)
    for key, length in spec.lists.items():
        value = lists.get(key)
        if key not in lists:
            problems.append(f"{prefix}: missing required field 'lists.{key}'")
        elif not isinstance(value, list) or not value:
            problems.append(f"{prefix}: lists.{key}: must be a non-empty list of strings")
        else:
            if length and len(value) != length:
                problems.append(f"{prefix}: lists.{key}: needs {length} entries, found {len(value)}")
            for i, item in enumerate(value):
                problems += _check_text(f"{prefix}: lists.{key}[{i}]", item, _NONE)
    problems += [f"{prefix}: unknown field 'lists.{k}'" for k in sorted(set(lists) - set(spec.lists))]

    labels = _section(data, "labels", problems, prefix)
    for key, needed in spec.labels.items():
        value = labels.get(key)
        if key not in labels:
            problems.append(f"{prefix}: missing required field 'labels.{key}'")
        elif not isinstance(value, dict):
            problems.append(f"{prefix}: labels.{key}: must be an object")
        else:
            for name in sorted(needed):
                if name not in value:
                    problems.append(f"{prefix}: missing required field 'labels.{key}.{name}'")
                else:
                    problems += _check_text(f"{prefix}: labels.{key}.{name}", value[name], _NONE)
    problems += [f"{prefix}: unknown field 'labels.{k}'" for k in sorted(set(labels) - set(spec.labels))]

    layout = _section(data, "layout", problems, prefix)
    for key in sorted(spec.layout):
        value = layout.get(key)
        if key not in layout:
            problems.append(f"{prefix}: missing required field 'layout.{key}'")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(f"{prefix}: layout.{key}: must be a positive number, found {value!r}")
    problems += [f"{prefix}: unknown field 'layout.{k}'" for k in sorted(set(layout) - spec.layout)]
    return problems


def _read(path: Path) -> tuple[Any, list[str]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
    except OSError as exc:
        return None, [f"{path}: cannot be read ({exc.strerror})"]
    try:
        return json.loads(raw), []
    except json.JSONDecodeError as exc:
        return None, [f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]


def validate_templates(directory: Path | str | None = None, *, complete: bool | None = None) -> list[str]:
    """Every problem of the templates in ``directory`` (default: the shipped ones), one message each, naming
    the file, the form and the field: invalid JSON, a missing required field, an unknown placeholder, a
    wrong type. An empty list means every file is usable.

    ``complete`` (default: True for the shipped directory, False for an agency's override directory) also
    requires a file for every form. Files whose name is not ``<form>.json`` of a known form are reported."""
    folder = Path(directory) if directory is not None else DEFAULT_DIR
    if complete is None:
        complete = directory is None or folder.resolve() == DEFAULT_DIR
    if not folder.is_dir():
        return [f"{folder}: templates directory does not exist"]
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")):
        form = path.stem
        if form not in SPEC:
            problems.append(f"{path}: unknown form '{form}' (files are named {', '.join(f'{f}.json' for f in SPEC)})")
            continue
        data, errors = _read(path)
        problems += errors or check_template(data, form, str(path))
    if complete:
        for form in SPEC:
            if not (folder / f"{form}.json").is_file():
                problems.append(f"{folder / f'{form}.json'}: missing template for {form} ({SPEC[form].name})")
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

    def raw(self, key: str) -> str:
        return str(self.data["texts"][key])

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
    """The templates in force: ``directory`` (an agency's overrides) first, then the shipped ones."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._cache: dict[str, FormTemplate] = {}
        self._lock = threading.Lock()

    def get(self, form: str) -> FormTemplate:
        if form not in SPEC:
            raise KeyError(f"unknown form {form!r}")
        with self._lock:
            found = self._cache.get(form)
            if found is None:
                found = self._load(form)
                self._cache[form] = found
            return found

    def _load(self, form: str) -> FormTemplate:
        path = DEFAULT_DIR / f"{form}.json"
        if self.directory is not None and (self.directory / f"{form}.json").is_file():
            path = self.directory / f"{form}.json"
        data, problems = _read(path)
        problems = problems or check_template(data, form, str(path))
        if problems:
            raise TemplateError(problems)
        return FormTemplate(form, data)


_default = Templates()


def default_templates() -> Templates:
    """The shipped templates (loaded once)."""
    return _default
