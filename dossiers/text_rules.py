"""Bounds on what people type: lengths that fit the columns and the printed forms, no invisible or control
characters, numbers and dates in a sane range.

One rule for every way in (the JSON API, the pages, the CLI): the service layer calls these before anything is
stored, so a ~1 MB name or ``capital_vnd = 10**400`` is refused with an :class:`~dossiers.errors.InvalidInput`
naming the field (``field=`` detail) instead of stalling the receipt's renderer or bloating every page that
lists it. Text is returned NFC-normalised (Vietnamese typed with combining marks is stored as precomposed
letters), stripped; names have their inner white space collapsed.

Refused everywhere: C0/C1 control characters (a multi-line text keeps newline and tab; ``\\r\\n`` becomes
``\\n``), lone surrogates (they cannot be stored or printed), and the Unicode bidirectional controls — embeddings
and overrides U+202A–U+202E, isolates U+2066–U+2069, the marks U+200E/U+200F and U+061C — which reorder what a
reader sees ("Trojan source"); Vietnamese text never needs them. Names also refuse every other invisible format
character (zero-width space or joiner, soft hyphen, …), which would make two names look alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from dossiers import form_schema
from dossiers.errors import InvalidInput
from dossiers.form_schema import FieldError
from dossiers.model import FormField, Procedure

NAME_MAX = 120
"""A person's full name (applicant, official): two lines of the printed forms' name line; the columns are 255."""
EMAIL_MAX = 254
"""RFC 5321 limit of an address (column 255)."""
ID_NUMBER_LENGTHS = (9, 12)
"""Personal ID number (CCCD, 12 digits) or the old ID card (CMND, 9 digits); column 20."""
PHONE_DIGITS = (9, 12)
"""A Vietnamese mobile or landline (with or without the country code); column 20."""
COMMENT_MAX = 2000
"""An official's comment on a step, which becomes the reason printed on a supplement request or refusal."""
REASON_MAX = 2000
"""A reason printed on a form (the apology letter's reason for the delay)."""
FORM_TEXT_MAX = 255
"""One text item of the application form (an address, a business name, a parcel number)."""
LIST_ITEMS_MAX = 30
"""Items of a list on the application form (e.g. the business lines)."""
FORM_INTEGER_MAX = 10**15
"""Largest whole number on a form: one million billion đồng of capital, square metres or people."""
FIRST_DAY = dt.date(1800, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)
"""Dates on a form (birth dates, the day land was first used) lie between these."""
DETAILS_MAX_BYTES = 64 * 1024
"""The application form's JSON (``details``) as sent: far above any real form (a few hundred bytes)."""
DETAILS_MAX_DEPTH = 4
"""The form is an object whose values are scalars or lists of texts: two levels; two more of leeway."""

BIDI_CONTROLS = frozenset(
    {"\u061c", "\u200e", "\u200f", *(chr(c) for c in range(0x202A, 0x202F)), *(chr(c) for c in range(0x2066, 0x206A))}
)
_LINE_BREAKS = {"\n", "\u2028", "\u2029", "\x85"}
_DIGITS = re.compile(r"[0-9]+")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def clean_text(
    value: object,
    *,
    field: str,
    label_vi: str,
    label_en: str,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
    name: bool = False,
) -> str:
    """``value`` as stored: NFC, stripped, within ``max_length`` characters and free of refused characters.

    Empty (or ``None``) gives ``""`` unless ``required``. ``multiline`` keeps newlines and tabs; ``name`` also
    refuses invisible format characters and collapses runs of spaces."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{label_vi} phải là văn bản.", f"{label_en} must be text.", field=field, kind=type(value).__name__
        )
    # NFC at most composes a letter with its marks (three code points for a Vietnamese letter): anything much
    # longer than the limit is refused before any work proportional to its size beyond this one check
    if len(value) > 4 * max_length + 16:
        raise _too_long(field, label_vi, label_en, max_length, len(value))
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    for char in text:
        _check_char(char, field=field, label_vi=label_vi, label_en=label_en, multiline=multiline, name=name)
    if multiline:
        text = "\n".join(line.rstrip() for line in text.strip().split("\n"))
    else:
        text = " ".join(text.split()) if name else text.strip()
    if len(text) > max_length:
        raise _too_long(field, label_vi, label_en, max_length, len(text))
    if required and not text:
        raise InvalidInput(f"Cần nhập {_lower_first(label_vi)}.", f"{label_en} is required.", field=field)
    return text


def _check_char(char: str, *, field: str, label_vi: str, label_en: str, multiline: bool, name: bool) -> None:
    code = f"U+{ord(char):04X}"
    if char in BIDI_CONTROLS:
        raise InvalidInput(
            f"{label_vi} có ký tự điều khiển hướng văn bản ({code}), không được phép.",
            f"{label_en} contains the bidirectional control character {code}, which is not allowed.",
            field=field,
            character=code,
        )
    category = unicodedata.category(char)
    if char in _LINE_BREAKS or char == "\t":
        if multiline:
            return
        raise InvalidInput(
            f"{label_vi} chỉ được viết trên một dòng.",
            f"{label_en} must be a single line (it contains {code}).",
            field=field,
            character=code,
        )
    if category in ("Cc", "Cs") or (name and category in ("Cf", "Co", "Cn")):
        raise InvalidInput(
            f"{label_vi} có ký tự không hiển thị được ({code}), không được phép.",
            f"{label_en} contains the control or invisible character {code}, which is not allowed.",
            field=field,
            character=code,
        )


def _too_long(field: str, label_vi: str, label_en: str, max_length: int, length: int) -> InvalidInput:
    return InvalidInput(
        f"{label_vi} quá dài (tối đa {max_length} ký tự).",
        f"{label_en} is too long: {length} characters, at most {max_length}.",
        field=field,
        limit=max_length,
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _group(number: int) -> str:
    """``1000000`` → ``"1.000.000"`` (Vietnamese thousands separator)."""
    return f"{number:,}".replace(",", ".")


# ---------------------------------------------------------------- the applicant


def clean_person_name(value: object, *, field: str, label_vi: str, label_en: str) -> str:
    """A required person's name (at most :data:`NAME_MAX` characters, no control or invisible characters)."""
    return clean_text(
        value, field=field, label_vi=label_vi, label_en=label_en, max_length=NAME_MAX, required=True, name=True
    )


def clean_applicant_name(value: object) -> str:
    return clean_person_name(
        value, field="applicant_name", label_vi="Họ tên người nộp hồ sơ", label_en="The applicant's name"
    )


def clean_id_number(value: object, field: str = "applicant_id_number") -> str:
    """Twelve ASCII digits (CCCD) or nine (old CMND); other scripts' digits are refused, not converted."""
    text = value.strip() if isinstance(value, str) else ""
    if not (_DIGITS.fullmatch(text) and len(text) in ID_NUMBER_LENGTHS):
        raise InvalidInput(
            "Số định danh cá nhân/CCCD phải gồm 12 chữ số (hoặc CMND 9 chữ số).",
            "The personal ID number must have 12 digits (or 9 for an old ID card).",
            field=field,
        )
    return text


def clean_phone(value: object, field: str = "applicant_phone") -> str | None:
    """Optional: ``+`` then 9–12 digits; spaces, dots, hyphens and brackets between them are dropped."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = _PHONE_SEPARATORS.sub("", value) if isinstance(value, str) and len(value) <= 40 else "?"
    digits = text[1:] if text.startswith("+") else text
    low, high = PHONE_DIGITS
    if not (_DIGITS.fullmatch(digits) and low <= len(digits) <= high):
        raise InvalidInput(
            f"Số điện thoại không hợp lệ ({low} đến {high} chữ số).",
            f"Invalid phone number ({low} to {high} digits, optionally after +).",
            field=field,
        )
    return text


def clean_comment(
    value: object, *, field: str = "comment", label_vi: str = "Ý kiến", label_en: str = "The comment"
) -> str:
    """An optional multi-line free text (comments, reasons): at most :data:`COMMENT_MAX` characters."""
    return clean_text(value, field=field, label_vi=label_vi, label_en=label_en, max_length=COMMENT_MAX, multiline=True)


# ---------------------------------------------------------------- the application form (``details``)


def check_form(proc: Procedure, details: Mapping[str, Any]) -> dict[str, Any]:
    """The application form's declared values: known keys only, each value within the bounds of its field's kind
    (:func:`form_value`), then the form's JSON Schema (:func:`dossiers.form_schema.field_errors`). Every wrong
    field is named at once: ``errors`` lists them (field, Vietnamese and English message), ``missing`` the
    required ones left blank. Blank optional values are not stored."""
    fields = {f.key: f for f in proc.form_fields}
    unknown = sorted(set(details) - set(fields))
    if unknown:
        shown = ", ".join(k[:40] for k in unknown[:10])
        raise InvalidInput(
            f"Tờ khai có mục không thuộc thủ tục này: {shown}.",
            f"Unknown form fields for procedure {proc.code}: {shown}.",
            field="details",
            unknown=[k[:40] for k in unknown[:10]],
        )
    errors: dict[str, FieldError] = {}
    bounds: dict[str, InvalidInput] = {}
    out: dict[str, Any] = {}
    for f in proc.form_fields:
        try:
            cleaned = form_value(f, details.get(f.key))
        except InvalidInput as exc:
            errors[f.key] = FieldError(f.key, f.key, "bounds", exc.message_vi, exc.message_en)
            bounds[f.key] = exc
            continue
        if _blank(cleaned):
            if f.required:
                errors[f.key] = FieldError(
                    f.key, f.key, "required", f"Cần nhập mục “{f.name}”.", f"Form field '{f.key}' is required."
                )
            continue
        out[f.key] = cleaned
    if proc.form is not None:
        for error in form_schema.field_errors(proc.form, out):
            errors.setdefault(error.key, error)
    if errors:
        raise _form_refused([errors[f.key] for f in proc.form_fields if f.key in errors], bounds)
    return out


def _form_refused(errors: list[FieldError], bounds: Mapping[str, InvalidInput]) -> InvalidInput:
    """One refusal naming every wrong field; a single bound's own details (``limit``, …) are kept."""
    missing = [e.key for e in errors if e.kind == "required"]
    if len(errors) == 1:
        title = errors[0].message_vi
    elif len(missing) == len(errors):
        title = "Tờ khai còn thiếu: " + "; ".join(e.message_vi.removeprefix("Cần nhập mục ")[:-1] for e in errors) + "."
    else:
        title = f"Tờ khai có {len(errors)} mục chưa hợp lệ: " + " ".join(e.message_vi for e in errors)
    extra = dict(bounds[errors[0].key].details) if len(errors) == 1 and errors[0].key in bounds else {}
    extra.update(field=f"details.{errors[0].where}", errors=[e.as_json() for e in errors])
    if missing:
        extra["missing"] = missing
    return InvalidInput(
        title, "Invalid form fields: " + "; ".join(f"{e.where}: {e.message_en}" for e in errors), **extra
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def form_value(field: FormField, value: Any) -> Any:
    """One declared value, checked against its field's kind: ``integer`` 0 … :data:`FORM_INTEGER_MAX`,
    ``date`` YYYY-MM-DD between :data:`FIRST_DAY` and :data:`LAST_DAY`, ``list`` at most :data:`LIST_ITEMS_MAX`
    texts, ``text`` one line of at most :data:`FORM_TEXT_MAX` characters. ``None`` stays ``None``."""
    if value is None:
        return None
    where = f"details.{field.key}"
    label = f"Mục “{field.name}”"
    label_en = f"Form field '{field.key}'"
    if field.kind == "integer":
        return _form_integer(field, value)
    if field.kind == "date":
        return _form_date(field, value)
    if field.kind == "rows":
        return _form_rows(field, value)
    if field.kind == "list":
        if not isinstance(value, list):
            raise InvalidInput(f"{label} phải là một danh sách.", f"{label_en} must be a list of texts.", field=where)
        if len(value) > LIST_ITEMS_MAX:
            raise InvalidInput(
                f"{label} có quá nhiều mục (tối đa {LIST_ITEMS_MAX}).",
                f"{label_en} has {len(value)} items, at most {LIST_ITEMS_MAX}.",
                field=where,
                limit=LIST_ITEMS_MAX,
            )
        items = [
            clean_text(item, field=where, label_vi=label, label_en=label_en, max_length=FORM_TEXT_MAX) for item in value
        ]
        return [item for item in items if item]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{label} phải là văn bản.", f"{label_en} must be text.", field=where)
    if isinstance(value, int | float):
        # a number typed into a text item (a height "12.5"): printed as it is, within the numbers' bounds
        if not math.isfinite(value) or abs(value) > FORM_INTEGER_MAX:
            raise _not_a_number(field)
        value = str(value)
    return clean_text(value, field=where, label_vi=label, label_en=label_en, max_length=FORM_TEXT_MAX)


def _form_rows(field: FormField, value: Any) -> list[dict[str, Any]]:
    """A table's rows: at most :data:`LIST_ITEMS_MAX` objects of the row's cells, each cell within its kind's
    bounds; rows left wholly blank are dropped."""
    where, label = f"details.{field.key}", f"Mục “{field.name}”"
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        raise InvalidInput(
            f"{label} phải là một bảng.", f"Form field '{field.key}' must be a list of rows.", field=where
        )
    if len(value) > LIST_ITEMS_MAX:
        raise InvalidInput(
            f"{label} có quá nhiều dòng (tối đa {LIST_ITEMS_MAX}).",
            f"Form field '{field.key}' has {len(value)} rows, at most {LIST_ITEMS_MAX}.",
            field=where,
            limit=LIST_ITEMS_MAX,
        )
    cells = {c.key: c for c in field.columns}
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(value, start=1):
        unknown = [str(k)[:40] for k in row if k not in cells]
        if unknown:
            raise InvalidInput(
                f"{label}, dòng {i} có cột không thuộc bảng: {', '.join(unknown[:5])}.",
                f"Form field '{field.key}' row {i} has unknown cells: {', '.join(unknown[:5])}.",
                field=where,
            )
        cleaned = {}
        for key, cell in row.items():
            column = cells[key]
            named = FormField(
                f"{field.key}/{i - 1}/{key}", f"{field.name}, dòng {i}, cột {column.name}", kind=column.kind
            )
            checked = form_value(named, cell)
            if not _blank(checked):
                cleaned[key] = checked
        if cleaned:
            rows.append(cleaned)
    return rows


def _not_a_number(field: FormField) -> InvalidInput:
    return InvalidInput(
        f"Mục “{field.name}” phải là số nguyên từ 0 đến {_group(FORM_INTEGER_MAX)}.",
        f"Form field '{field.key}' must be a whole number from 0 to {FORM_INTEGER_MAX}.",
        field=f"details.{field.key}",
        limit=FORM_INTEGER_MAX,
    )


def _form_integer(field: FormField, value: Any) -> int:
    number: int
    if isinstance(value, bool):
        raise _not_a_number(field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise _not_a_number(field)
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        # ASCII digits only ("²" and other scripts' digits pass str.isdigit but are not numbers here);
        # the length test keeps int() away from huge texts
        if not (_DIGITS.fullmatch(text) and len(text) <= 19):
            raise _not_a_number(field)
        number = int(text)
    else:
        raise _not_a_number(field)
    if not 0 <= number <= FORM_INTEGER_MAX:
        raise _not_a_number(field)
    return number


def check_day(day: dt.date, *, field: str, label_vi: str) -> dt.date:
    """A day a request names (a period's bound, a date to look up): within :data:`FIRST_DAY` … :data:`LAST_DAY`,
    so no time arithmetic or database conversion meets year 1 or 9999."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"{label_vi} phải từ {FIRST_DAY:%d/%m/%Y} đến {LAST_DAY:%d/%m/%Y}.",
            f"'{field}' must be a day from {FIRST_DAY} to {LAST_DAY}, not {day.isoformat()}.",
            field=field,
        )
    return day


def _form_date(field: FormField, value: Any) -> str:
    bad = InvalidInput(
        f"Mục “{field.name}” phải là một ngày từ {FIRST_DAY:%d/%m/%Y} đến {LAST_DAY:%d/%m/%Y}.",
        f"Form field '{field.key}' must be a date YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}.",
        field=f"details.{field.key}",
    )
    text = value.strip() if isinstance(value, str) else ""
    if not _ISO_DAY.fullmatch(text):
        raise bad
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise bad from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise bad
    return day.isoformat()
