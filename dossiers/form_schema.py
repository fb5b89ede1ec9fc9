"""Application forms as JSON Schema (draft 2020-12) with presentation hints.

One file per procedure (``motcua/data/forms/<code>.json``, named by the catalogue entry's ``form``). The schema
says what a valid form is; annotation keywords say how the pages show it:

- ``x-label``: ``{"vi": …, "en": …}`` — every property has one; the Vietnamese label names the field in errors;
- ``x-order``: a whole number, the position among the fields (then the order of ``properties``);
- ``x-group``: the key of a group declared at the top in ``x-groups`` (``{"<key>": {"vi": …, "en": …}}``), shown
  as one fieldset with its legend;
- ``x-widget``: ``date`` (a string of format ``date``), ``id-number`` (12 digits), ``money`` (an integer of
  đồng), ``address`` (a text area whose lines are joined), ``textarea`` (a list of texts, one per line),
  ``rows`` (a list of texts or of objects: a table of a fixed number of empty rows, ``x-rows``);
- ``x-hint``: ``{"vi": …, "en": …}`` shown beside the input.

What the pages render is a subset of JSON Schema: an object of strings (optionally of format ``date`` or from an
``enum``), integers and arrays of strings or of flat objects of strings and integers. :func:`parse` refuses a
schema outside it, an invalid 2020-12 schema (the meta-schema's check, as ``Draft202012Validator.check_schema``
does it, but listing every error) and malformed hints, each problem with the file and the JSON pointer.
:func:`field_errors` validates a form and says what is wrong with each field in Vietnamese, naming its label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from dossiers.model import FormField, FormGroup, FormSchema
from dossiers.problems import bilingual, written

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
HINTS = frozenset({"x-label", "x-order", "x-group", "x-widget", "x-hint", "x-rows"})
TOP_HINTS = frozenset({"x-label", "x-groups"})
WIDGETS = {  # the widget → the kinds of field it fits
    "date": ("date",),
    "id-number": ("text",),
    "money": ("integer",),
    "address": ("text",),
    "textarea": ("list",),
    "rows": ("list", "rows"),
}
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
DEFAULT_ROWS = 3
MAX_ROWS = 30  # as many as a list may hold (dossiers.text_rules.LIST_ITEMS_MAX)
TYPE_NAMES = {
    "string": ("văn bản", "text"),
    "integer": ("số nguyên", "a whole number"),
    "number": ("số", "a number"),
    "array": ("danh sách", "a list"),
    "object": ("nhóm mục", "an object"),
    "boolean": ("có hoặc không", "true or false"),
    "null": ("để trống", "null"),
}
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def pointer(parts: Sequence[object]) -> str:
    """An RFC 6901 JSON pointer (``~`` and ``/`` escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# ---------------------------------------------------------------- the schema and its hints


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[str] = []

    def add(self, parts: Sequence[object], vi: str, en: str) -> None:
        """One problem at a JSON pointer, "Vietnamese / English" (:mod:`dossiers.problems`)."""
        self.found.append(f"{self.source}#{pointer(parts)}: {bilingual(vi, en)}")


def _label(p: _Problems, node: Mapping[str, Any], key: str, at: list[object], required: bool) -> tuple[str, str]:
    value = node.get(key)
    if value is None:
        if required:
            p.add(
                [*at, key],
                'thiếu nhãn tiếng Việt và tiếng Anh, hãy ghi {"vi": "…", "en": "…"}',
                'missing: {"vi": "…", "en": "…"}',
            )
        return "", ""
    ok = isinstance(value, Mapping) and set(value) == {"vi", "en"}
    if not ok or not all(isinstance(v, str) and v.strip() for v in value.values()):
        p.add(
            [*at, key],
            f'phải ghi {{"vi": "…", "en": "…"}} với hai nội dung không để trống, đang ghi {written(value)}',
            f'must be {{"vi": "…", "en": "…"}} with two non-empty texts, got {value!r}',
        )
        return "", ""
    return value["vi"].strip(), value["en"].strip()


def _hints(p: _Problems, node: Mapping[str, Any], at: list[object], allowed: frozenset[str]) -> None:
    for key in sorted(k for k in node if isinstance(k, str) and k.startswith("x-") and k not in allowed):
        known = ", ".join(sorted(allowed)) or "không có"
        p.add(
            [*at, key],
            f"chỉ dẫn hiển thị không có trong danh sách dùng được ({known})",
            f"unknown hint (known: {', '.join(sorted(allowed))})",
        )


def _kind(p: _Problems, node: Mapping[str, Any], at: list[object], *, cell: bool) -> str | None:
    """text | date | integer | list | rows, or None (a problem) for what the pages cannot show."""
    kind = node.get("type")
    if kind == "string":
        return "date" if node.get("format") == "date" else "text"
    if kind == "integer":
        return "integer"
    if kind == "array" and not cell:
        items = node.get("items")
        if isinstance(items, Mapping) and items.get("type") == "string":
            return "list"
        if isinstance(items, Mapping) and items.get("type") == "object":
            return "rows"
        p.add(
            [*at, "items"],
            'danh sách chỉ chứa văn bản ({"type": "string"}) hoặc các dòng ({"type": "object", …})',
            'a list holds texts ({"type": "string"}) or rows ({"type": "object", …})',
        )
        return None
    shown = "string or integer" if cell else "string, integer or array"
    shown_vi = "string hoặc integer" if cell else "string, integer hoặc array"
    p.add(
        [*at, "type"],
        f"kiểu dữ liệu phải là một kiểu trang tờ khai hiển thị được ({shown_vi}), đang ghi {written(kind)}",
        f"must be one of the types the pages show ({shown}), got {kind!r}",
    )
    return None


def _field(
    p: _Problems, key: str, node: Any, at: list[object], required: bool, groups: Mapping[str, Any], *, cell: bool
) -> tuple[int | None, FormField] | None:
    if not KEY.fullmatch(key):
        p.add(
            at,
            "tên trường chỉ gồm chữ thường không dấu a-z, chữ số 0-9 và dấu _, bắt đầu bằng chữ, tối đa 40 ký tự",
            "a field key is a-z, 0-9 and _, starting with a letter, at most 40 characters",
        )
        return None
    if not isinstance(node, Mapping):
        p.add(at, "phải là một đối tượng JSON {…}", "must be an object")
        return None
    _hints(p, node, at, HINTS - {"x-group", "x-order", "x-rows"} if cell else HINTS)
    before = len(p.found)
    name, name_en = _label(p, node, "x-label", at, required=True)
    hint = _label(p, node, "x-hint", at, required=False)
    kind = _kind(p, node, at, cell=cell)
    order = node.get("x-order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        p.add(
            [*at, "x-order"],
            f"phải là một số nguyên, đang ghi {written(order)}",
            f"must be a whole number, got {order!r}",
        )
    group = node.get("x-group", "")
    if group and group not in groups:
        p.add(
            [*at, "x-group"],
            f"nhóm {written(group)} chưa được khai báo trong /x-groups "
            f"(đã khai báo: {', '.join(groups) or 'không có'})",
            f"{group!r} is not declared in /x-groups (declared: {', '.join(groups) or 'none'})",
        )
    widget = node.get("x-widget", "")
    if widget and widget not in WIDGETS:
        p.add(
            [*at, "x-widget"],
            f"kiểu ô nhập {written(widget)} không có; chọn một trong: {', '.join(WIDGETS)}",
            f"{widget!r} is not one of {', '.join(WIDGETS)}",
        )
    elif widget and kind is not None and kind not in WIDGETS[widget]:
        p.add(
            [*at, "x-widget"],
            f"kiểu ô nhập {written(widget)} không dùng được cho trường loại {kind}",
            f"{widget!r} does not fit a field of kind {kind}",
        )
    rows = node.get("x-rows", DEFAULT_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_ROWS:
        p.add(
            [*at, "x-rows"],
            f"phải là một số nguyên từ 1 đến {MAX_ROWS}, đang ghi {written(rows)}",
            f"must be a whole number from 1 to {MAX_ROWS}, got {rows!r}",
        )
    choices = node.get("enum", ())
    if choices and (kind != "text" or not all(isinstance(c, str) and c for c in choices)):
        p.add(
            [*at, "enum"],
            "các lựa chọn chỉ dùng cho trường văn bản và mỗi lựa chọn là một nội dung không để trống",
            "choices are non-empty texts of a text field",
        )
    columns: list[FormField] = []
    if kind == "rows":
        columns = _columns(p, node["items"], [*at, "items"])
    if len(p.found) > before or kind is None:
        return None
    max_length = node.get("maxLength", 0)
    return order if isinstance(order, int) else None, FormField(
        key,
        name,
        required,
        kind,
        name_en=name_en,
        widget=str(widget) or ("rows" if kind == "rows" else "textarea" if kind == "list" else ""),
        group=str(group),
        hint=hint,
        choices=tuple(str(c) for c in choices),
        max_length=max_length if isinstance(max_length, int) else 0,
        columns=tuple(columns),
        rows=rows if kind in ("list", "rows") else 0,
    )


def _columns(p: _Problems, items: Mapping[str, Any], at: list[object]) -> list[FormField]:
    props = items.get("properties")
    if not isinstance(props, Mapping) or not props:
        p.add(
            [*at, "properties"],
            "mỗi dòng phải nêu các cột của nó trong properties",
            "a row names its cells in properties",
        )
        return []
    if items.get("additionalProperties") is not False:
        p.add(
            [*at, "additionalProperties"],
            "phải ghi false: một dòng chỉ có các cột đã nêu",
            "must be false: a row holds only its named cells",
        )
    _hints(p, items, at, frozenset())
    required = set(items.get("required") or ())
    found = [_field(p, k, v, [*at, "properties", k], k in required, {}, cell=True) for k, v in props.items()]
    return [f for _, f in filter(None, found)]


def parse(schema: Any, source: str) -> tuple[FormSchema | None, list[str]]:
    """The form of a schema file, or None and every problem (``<source>#<JSON pointer>: message``)."""
    p = _Problems(source)
    if not isinstance(schema, Mapping):
        p.add([], "biểu mẫu phải là một đối tượng JSON {…}", "a form schema must be a JSON object")
        return None, p.found
    if schema.get("$schema") != SCHEMA_URI:
        p.add(
            ["$schema"],
            f"phải ghi {written(SCHEMA_URI)} (JSON Schema 2020-12), đang ghi {written(schema.get('$schema'))}",
            f"must be {SCHEMA_URI!r} (JSON Schema draft 2020-12), got {schema.get('$schema')!r}",
        )
    for error in sorted(_META.iter_errors(schema), key=lambda e: pointer(e.absolute_path)):
        p.add(
            list(error.absolute_path),
            f"không đúng quy tắc JSON Schema 2020-12: giá trị {written(error.instance)} không dùng được ở đây "
            f"(quy tắc {error.validator})",
            f"not a valid JSON Schema 2020-12: {error.message}",
        )
    if p.found:
        return None, p.found
    _hints(p, schema, [], TOP_HINTS)
    if schema.get("type") != "object":
        p.add(
            ["type"],
            'tờ khai phải là một đối tượng, hãy ghi "type": "object"',
            'the form is an object: "type": "object"',
        )
    if schema.get("additionalProperties") is not False:
        p.add(
            ["additionalProperties"],
            "phải ghi false: tờ khai chỉ có các trường đã nêu",
            "must be false: a form holds only the fields it names",
        )
    groups = schema.get("x-groups", {})
    if not isinstance(groups, Mapping):
        p.add(
            ["x-groups"],
            'phải ghi mỗi nhóm kèm tiêu đề, ví dụ {"owner": {"vi": "…", "en": "…"}}',
            'must map a group key to its legend, e.g. {"owner": {"vi": "…", "en": "…"}}',
        )
        groups = {}
    legends = {key: _label(p, groups, key, ["x-groups"], required=True) for key in groups}
    title = _label(p, schema, "x-label", [], required=False)
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        p.add(["properties"], "tờ khai phải có ít nhất một trường", "a form names at least one field")
        return None, p.found
    required = schema.get("required") or []
    for i, key in enumerate(required):
        if key not in props:
            p.add(
                ["required", i],
                f"trường bắt buộc {written(key)} không có trong properties",
                f"{key!r} is not one of the properties",
            )
    found = [_field(p, k, v, ["properties", k], k in required, groups, cell=False) for k, v in props.items()]
    if p.found:
        return None, p.found
    placed = sorted(
        ((order, i, f) for i, (order, f) in enumerate(filter(None, found))),
        key=lambda t: (t[0] if t[0] is not None else 10**9, t[1]),
    )
    fields = tuple(f for _, _, f in placed)
    sections: list[FormGroup] = []
    for key in dict.fromkeys(f.group for f in fields):  # groups in the order of their first field
        name, name_en = legends.get(key) or (title if title[0] else ("Tờ khai", "Application form"))
        sections.append(FormGroup(key, name, name_en, tuple(f for f in fields if f.group == key)))
    shown = tuple(f for g in sections for f in g.fields)  # the fields in the order the page shows them
    return FormSchema(source, schema, shown, tuple(sections)), []


# ---------------------------------------------------------------- validating a form


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field (``where``: the field's key, then a row's index and a cell's key)."""

    key: str
    where: str
    kind: str  # the JSON Schema keyword that failed (required, type, pattern, …) or "bounds"
    message_vi: str
    message_en: str

    def as_json(self) -> dict[str, str]:
        return {
            "field": f"details.{self.where}",
            "key": self.key,
            "kind": self.kind,
            "message": self.message_vi,
            "message_en": self.message_en,
        }


def _group(number: object) -> str:
    """Thousands separated by dots (100.000.000), not in a four-digit number such as a year."""
    return f"{number:,}".replace(",", ".") if isinstance(number, int) and abs(number) >= 10_000 else str(number)


def _named(form: FormSchema, path: Sequence[object]) -> tuple[str, str, FormField | None]:
    """The Vietnamese and English names of the field (row, cell) at ``path``."""
    field = next((f for f in form.fields if f.key == path[0]), None) if path else None
    if field is None:
        return "“Tờ khai”", "the form", None
    vi, en = f"“{field.name}”", f"Form field '{field.key}'"
    if len(path) >= 2 and isinstance(path[1], int):
        vi, en = f"{vi}, dòng {path[1] + 1}", f"{en} row {path[1] + 1}"
        cell = next((c for c in field.columns if len(path) >= 3 and c.key == path[2]), None)
        if cell is not None:
            return f"{vi}, cột “{cell.name}”", f"{en} cell '{cell.key}'", cell
    return vi, en, field


def _message(error: ValidationError, vi: str, en: str, field: FormField | None) -> tuple[str, str]:
    kind, value = str(error.validator), error.validator_value
    if kind == "required" or (kind in ("minLength", "minItems") and value == 1):
        return f"Cần nhập mục {vi}.", f"{en} is required."
    if kind == "type":
        names = [TYPE_NAMES.get(t, (t, t)) for t in ([value] if isinstance(value, str) else value)]
        return (
            f"Mục {vi} phải là {' hoặc '.join(n[0] for n in names)}.",
            f"{en} must be {' or '.join(n[1] for n in names)}.",
        )
    if kind == "minLength":
        return f"Mục {vi} phải có ít nhất {value} ký tự.", f"{en} needs at least {value} characters."
    if kind == "maxLength":
        return f"Mục {vi} không được dài quá {value} ký tự.", f"{en} has more than {value} characters."
    if kind == "pattern":
        if field is not None and field.widget == "id-number":
            return f"Mục {vi} phải gồm đúng 12 chữ số.", f"{en} must be 12 digits."
        hint = field.hint if field is not None and field.hint[0] else None
        return (
            f"Mục {vi} không đúng định dạng" + (f" ({hint[0]})." if hint else "."),
            f"{en} does not match the expected format" + (f" ({hint[1]})." if hint else f" {value}."),
        )
    if kind == "format" and value == "date":
        return (
            f"Mục {vi} phải là một ngày có thật, theo dạng ngày/tháng/năm.",
            f"{en} must be a real date (YYYY-MM-DD).",
        )
    if kind == "format":
        return f"Mục {vi} không đúng định dạng.", f"{en} is not a valid {value}."
    bounds = {
        "minimum": ("không được nhỏ hơn", "must be at least"),
        "maximum": ("không được lớn hơn", "must be at most"),
        "exclusiveMinimum": ("phải lớn hơn", "must be more than"),
        "exclusiveMaximum": ("phải nhỏ hơn", "must be less than"),
    }
    if kind in bounds:
        return f"Mục {vi} {bounds[kind][0]} {_group(value)}.", f"{en} {bounds[kind][1]} {value}."
    if kind == "minItems":
        return f"Mục {vi} cần ít nhất {value} dòng.", f"{en} needs at least {value} items."
    if kind == "maxItems":
        return f"Mục {vi} có quá nhiều dòng (tối đa {value}).", f"{en} has more than {value} items."
    if kind in ("enum", "const"):
        allowed = value if isinstance(value, list) else [value]
        shown = ", ".join(str(v) for v in allowed)
        return f"Mục {vi} phải là một trong các giá trị: {shown}.", f"{en} must be one of: {shown}."
    if kind == "uniqueItems":
        return f"Các dòng của mục {vi} không được trùng nhau.", f"{en} has repeated items."
    if kind == "multipleOf":
        return f"Mục {vi} phải là bội số của {_group(value)}.", f"{en} must be a multiple of {value}."
    return f"Mục {vi} không hợp lệ.", f"{en} is not valid ({kind})."


def field_errors(form: FormSchema, details: Mapping[str, Any]) -> list[FieldError]:
    """Every field the schema refuses, at most one error each, in the order of the fields."""
    validator = Draft202012Validator(form.schema, format_checker=FormatChecker())
    found: dict[tuple[object, ...], FieldError] = {}
    for error in validator.iter_errors(details):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            paths = [[*path, k] for k in error.validator_value if k not in error.instance]
        elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = (error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else {}
            for extra in (k for k in error.instance if k not in known):
                shown = str(extra)[:40]
                found.setdefault(
                    (*path, extra),
                    FieldError(
                        str(path[0]) if path else shown,
                        "/".join(str(x) for x in [*path, shown]),
                        "additionalProperties",
                        f"Tờ khai có mục không thuộc thủ tục này: {shown}.",
                        f"Unknown form field: {shown}.",
                    ),
                )
            continue
        else:
            paths = [path]
        for at in paths:
            vi, en, field = _named(form, at)
            message_vi, message_en = _message(error, vi, en, field)
            key = str(at[0]) if at else ""
            found.setdefault(
                tuple(at), FieldError(key, "/".join(str(x) for x in at), str(error.validator), message_vi, message_en)
            )
    order = {f.key: i for i, f in enumerate(form.fields)}
    return sorted(found.values(), key=lambda e: (order.get(e.key, len(order)), e.where))
