"""The procedure catalogue (*danh mục thủ tục hành chính*) as data, with dated rule versions.

One entry per national procedure code. What the law changes over time — the levels that carry the procedure
out, the time limit, the fee, the papers, the legal source — lives in *versions*, each in force from a date
(``valid_from``) until the next one starts (or ``valid_to``). A dossier is handled under the version in force
on the day it was received and records it (``rule_version`` = that version's ``valid_from``), so the 1 July
2025 reform (districts dissolved, their procedures moved to communes or provinces) is a new version, not an
edit of history.

The file format (``motcua/data/procedures/<code>.json``)::

    {"code": "1.001193", "name": "…", "field": "…", "process_key": "birth_registration",
     "online_level": "full" | "partial", "channels": ["counter", "online", "postal"],
     "departments": {"specialist": ["TPHT", "TP"]},   # the kinds of department handling a role's steps
     "form": "forms/1.001193.json",                     # the application form: a JSON Schema (dossiers.form_schema)
     "result": {"template": "1.001612.json"} | {"renderer": "birth_certificate"},   # the result (services.results)
     "versions": [{"valid_from": "2025-07-01", "valid_to": null, "levels": ["commune"],
                   "time_limit": {"days": 0, "unit": "same_day|working_days|calendar_days"},
                   "fee_vnd": 0, "fee_set_by": "national|province", "legal_source": "…",
                   "papers": [{"key", "name", "form": "original|copy|certified_copy|original_or_copy",
                               "count": 1, "mandatory": true, "note": "…"}]}],
     "sources": [{"title": "…", "url": "…" | "reference": "…", "consulted": "2026-12-07",
                  "facts": ["code", "name", "level", "time_limit", "fee", "legal_basis", "papers"]}],
     "replaces": ["2.000575"],          # codes this procedure was catalogued under before (a corrected code)
     "withdrawn_on": "2026-12-07", "replaced_by": "1.001612"}   # written by `motcua init`, see below

``fee_set_by: province`` marks a fee the provincial People's Council sets: ``fee_vnd`` is then 0 and the amount is
each agency's value in the fee table (:mod:`dossiers.fees`). ``sources`` names where each fact was checked.

Parsing never stops at the first problem: :func:`check_entry` returns every problem with its JSON path, so an
operator who edits the catalogue sees all mistakes at once (``motcua procedures validate``).

A procedure leaves the catalogue when its file goes (or its code is corrected): the installation keeps its row, since
its dossiers point at it, and ``motcua init`` writes ``withdrawn_on`` (and ``replaced_by`` when an entry lists the old
code in ``replaces``) into the row's data. From that day no version is in force: the procedure is not offered and
intake refuses it, while each of its dossiers is still handled under the version it recorded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dossiers import form_schema
from dossiers.errors import InvalidInput, NotFound
from dossiers.model import AgencyLevel, FormField, FormSchema, Procedure, RequiredPaper, Role
from dossiers.problems import bilingual, written

ROLE_NAMES = {r.value for r in Role}


class TimeUnit(StrEnum):
    SAME_DAY = "same_day"  # trong ngày; received after 15:00 → the next working day
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class FeeAuthority(StrEnum):
    NATIONAL = "national"  # fee_vnd is the amount (or 0: no fee)
    PROVINCE = "province"  # the People's Council sets it: fee_vnd 0, the amount is per agency (dossiers.fees)


class OnlineLevel(StrEnum):
    FULL = "full"  # dịch vụ công trực tuyến toàn trình
    PARTIAL = "partial"  # một phần: some steps need the citizen at the desk


class Channel(StrEnum):
    COUNTER = "counter"
    ONLINE = "online"
    POSTAL = "postal"  # bưu chính công ích


PAPER_FORMS = ("original", "copy", "certified_copy", "original_or_copy")
PAPER_FORM_NAMES = {
    "original": "Bản chính",
    "copy": "Bản sao",
    "certified_copy": "Bản sao có chứng thực",
    "original_or_copy": "Bản chính hoặc bản sao",
}
ENTRY_KEYS = {
    "code",
    "name",
    "field",
    "process_key",
    "online_level",
    "channels",
    "form",
    "versions",
    "notes",
    "departments",
    "step_times",
    "sources",
    "result",
    "replaces",
    "withdrawn_on",
    "replaced_by",
}
VERSION_KEYS = {
    "valid_from",
    "valid_to",
    "levels",
    "time_limit",
    "fee_vnd",
    "fee_set_by",
    "legal_source",
    "papers",
    "notes",
}
PAPER_KEYS = {"key", "name", "form", "count", "mandatory", "note"}
SOURCE_KEYS = {"title", "url", "reference", "consulted", "facts"}
SOURCE_FACTS = ("code", "name", "level", "time_limit", "fee", "legal_basis", "papers")
FORM_FILE = re.compile(r"forms/[A-Za-z0-9][A-Za-z0-9._-]{0,79}\.json")
FormLoader = Callable[[str], Any]
"""Reads the form file an entry names (``forms/<code>.json``) as JSON; raises ``ValueError`` saying why it cannot."""


@dataclass(frozen=True)
class RuleVersion:
    valid_from: dt.date
    valid_to: dt.date | None
    levels: tuple[AgencyLevel, ...]
    time_limit_days: int
    time_unit: TimeUnit
    fee_vnd: int
    legal_source: str
    papers: tuple[RequiredPaper, ...]
    fee_set_by: FeeAuthority = FeeAuthority.NATIONAL

    @property
    def label(self) -> str:
        return self.valid_from.isoformat()

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Source:
    """Where a fact of the entry was checked: a title, a URL or a reference (a file, a gazette), the day it was
    consulted and which facts it supports."""

    title: str
    url: str
    reference: str
    consulted: dt.date
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str
    field: str
    process_key: str
    online_level: OnlineLevel
    channels: tuple[Channel, ...]
    form: FormSchema | None
    versions: tuple[RuleVersion, ...]  # ordered by valid_from
    departments: tuple[tuple[str, tuple[str, ...]], ...] = ()  # role → department kinds (code mnemonics)
    step_times: tuple[tuple[str, float], ...] = ()  # BPMN step id → working hours (the internal procedure)
    sources: tuple[Source, ...] = ()
    result: ResultSpec | None = None  # how the result document is made (services.results)
    replaces: tuple[str, ...] = ()  # codes this procedure was catalogued under before
    withdrawn_on: dt.date | None = None  # out of the catalogue from this day: not offered, its dossiers go on
    replaced_by: str = ""  # the code that replaced a withdrawn procedure, if any

    def offered_on(self, day: dt.date) -> bool:
        """Whether new dossiers may be filed on ``day``: not once the procedure has left the catalogue."""
        return self.withdrawn_on is None or day < self.withdrawn_on

    def department_kinds(self, role: str) -> tuple[str, ...]:
        return next((kinds for r, kinds in self.departments if r == role), ())

    @property
    def form_fields(self) -> tuple[FormField, ...]:
        return self.form.fields if self.form is not None else ()

    def version_at(self, day: dt.date) -> RuleVersion | None:
        if not self.offered_on(day):
            return None
        for version in reversed(self.versions):
            if version.in_force(day):
                return version
        return None

    def version(self, label: str) -> RuleVersion | None:
        return next((v for v in self.versions if v.label == label), None)

    def procedure(self, version: RuleVersion) -> Procedure:
        """The procedure as one dossier sees it: this entry under one rule version."""
        return Procedure(
            code=self.code,
            name=self.name,
            process_key=self.process_key,
            time_limit_days=0 if version.time_unit is TimeUnit.SAME_DAY else version.time_limit_days,
            working_days=version.time_unit is not TimeUnit.CALENDAR_DAYS,
            levels=version.levels,
            papers=version.papers,
            legal_source=version.legal_source,
            fee_vnd=version.fee_vnd,
            fee_set_by=version.fee_set_by.value,
            rule_version=version.label,
            form_fields=self.form_fields,
            form=self.form,
            field=self.field,
            online_level=self.online_level.value,
            channels=tuple(c.value for c in self.channels),
            departments=self.departments,
            step_times=self.step_times,
        )

    def at(self, day: dt.date) -> Procedure:
        """The procedure in force on ``day``; refused clearly when no version is."""
        if not self.offered_on(day):
            raise self.withdrawn_error()
        version = self.version_at(day)
        if version is None:
            raise InvalidInput(
                f"Thủ tục {self.code} không có quy định hiệu lực vào ngày {day:%d/%m/%Y}.",
                f"Procedure {self.code} has no rule version in force on {day.isoformat()}.",
                procedure_code=self.code,
            )
        return self.procedure(version)

    def withdrawn_error(self) -> InvalidInput:
        """Why no new dossier is taken: the procedure left the catalogue (and which code replaced it)."""
        assert self.withdrawn_on is not None
        day = self.withdrawn_on
        instead_vi = f" Hãy nộp hồ sơ theo thủ tục {self.replaced_by}." if self.replaced_by else ""
        instead_en = f" File under procedure {self.replaced_by} instead." if self.replaced_by else ""
        return InvalidInput(
            f"Thủ tục {self.code} ({self.name}) không còn trong danh mục thủ tục từ ngày {day:%d/%m/%Y}, "
            f"không tiếp nhận hồ sơ mới.{instead_vi}",
            f"Procedure {self.code} left the catalogue on {day.isoformat()}: no new dossiers.{instead_en}",
            procedure_code=self.code,
            withdrawn_on=day.isoformat(),
            **({"replaced_by": self.replaced_by} if self.replaced_by else {}),
        )

    def under(self, label: str) -> Procedure:
        """The procedure under the rule version a dossier recorded."""
        version = self.version(label)
        if version is None:
            raise NotFound(
                f"Thủ tục {self.code} không có phiên bản quy định {label}.",
                f"Procedure {self.code} has no rule version {label}.",
            )
        return self.procedure(version)


class CatalogueError(ValueError):
    """A catalogue entry is invalid; ``problems`` lists every mistake with its JSON path."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


# ---------------------------------------------------------------- parsing


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, vi: str, en: str) -> None:
        """One problem at a JSON path, "Vietnamese / English" (:mod:`dossiers.problems`)."""
        self.problems.append(f"{path}: {bilingual(vi, en)}")

    def text(self, data: Mapping[str, Any], key: str, path: str, required: bool = True) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "thiếu mục bắt buộc này", "missing")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(
                f"{path}.{key}",
                f"phải là một nội dung văn bản, không để trống, đang ghi {written(value)}",
                f"must be a non-empty text, got {value!r}",
            )
            return ""
        return value.strip()

    def date(self, value: Any, path: str) -> dt.date | None:
        if not isinstance(value, str):
            self.fail(
                path,
                f"phải là một ngày viết theo dạng năm-tháng-ngày (ví dụ 2025-07-01), đang ghi {written(value)}",
                f"must be a date YYYY-MM-DD, got {value!r}",
            )
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(
                path,
                f"ngày {written(value)} không có thật hoặc sai dạng năm-tháng-ngày (ví dụ 2025-07-01)",
                f"invalid date {value!r} (YYYY-MM-DD)",
            )
            return None

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(data) - allowed):
            if not key.startswith("_"):
                self.fail(
                    f"{path}.{key}",
                    f"mục này không có trong mẫu danh mục; chỉ dùng: {', '.join(sorted(allowed))}",
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )

    def choice(self, value: Any, allowed: Sequence[str], path: str) -> str | None:
        if value not in allowed:
            self.fail(
                path,
                ("chưa ghi" if value is None else f"giá trị {written(value)} không dùng được")
                + f"; chọn một trong: {', '.join(allowed)}",
                f"{value!r} is not one of {', '.join(allowed)}",
            )
            return None
        return str(value)


def _papers(c: _Checker, items: Any, path: str) -> tuple[RequiredPaper, ...]:
    if not isinstance(items, list) or not items:
        c.fail(path, "phải liệt kê ít nhất một thành phần hồ sơ (giấy tờ)", "must be a non-empty list of papers")
        return ()
    papers: list[RequiredPaper] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            c.fail(p, "phải là một đối tượng JSON {…}", "must be an object")
            continue
        c.unknown_keys(item, PAPER_KEYS, p)
        key, name = c.text(item, "key", p), c.text(item, "name", p)
        if key in seen:
            c.fail(
                f"{p}.key", f"mã giấy tờ {written(key)} bị trùng với một giấy tờ khác", f"duplicate paper key {key!r}"
            )
        seen.add(key)
        form = c.choice(item.get("form", "original_or_copy"), PAPER_FORMS, f"{p}.form") or "original_or_copy"
        count = item.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            c.fail(
                f"{p}.count",
                f"phải là số nguyên từ 1 trở lên, đang ghi {written(count)}",
                f"must be a whole number ≥ 1, got {count!r}",
            )
            count = 1
        mandatory = item.get("mandatory", True)
        if not isinstance(mandatory, bool):
            c.fail(
                f"{p}.mandatory",
                f"phải ghi true (bắt buộc) hoặc false (không bắt buộc), đang ghi {written(mandatory)}",
                f"must be true or false, got {mandatory!r}",
            )
            mandatory = True
        note = item.get("note", "")
        papers.append(RequiredPaper(key, name, mandatory, form=form, count=count, note=str(note or "")))
    return tuple(papers)


def _version(c: _Checker, data: Any, path: str) -> RuleVersion | None:
    if not isinstance(data, Mapping):
        c.fail(path, "phải là một đối tượng JSON {…}", "must be an object")
        return None
    before = len(c.problems)
    c.unknown_keys(data, VERSION_KEYS, path)
    valid_from = c.date(data.get("valid_from"), f"{path}.valid_from")
    valid_to = None if data.get("valid_to") is None else c.date(data.get("valid_to"), f"{path}.valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        c.fail(
            f"{path}.valid_to",
            f"ngày hết hiệu lực {valid_to} ở trước ngày bắt đầu hiệu lực (valid_from) {valid_from}",
            f"{valid_to} is before valid_from {valid_from}",
        )
    levels_raw = data.get("levels")
    levels: list[AgencyLevel] = []
    if not isinstance(levels_raw, list) or not levels_raw:
        c.fail(
            f"{path}.levels",
            "phải liệt kê cấp cơ quan thực hiện: province (tỉnh), district (huyện), commune (xã)",
            "must list the agency levels (province, district, commune)",
        )
    else:
        for j, level in enumerate(levels_raw):
            if c.choice(level, [lv.value for lv in AgencyLevel], f"{path}.levels[{j}]"):
                levels.append(AgencyLevel(level))
    limit = data.get("time_limit")
    days, unit = 0, TimeUnit.WORKING_DAYS
    if not isinstance(limit, Mapping):
        c.fail(
            f"{path}.time_limit",
            'thiếu thời hạn giải quyết, hãy ghi {"days": N, "unit": "same_day|working_days|calendar_days"}',
            'missing: {"days": N, "unit": "same_day|working_days|calendar_days"}',
        )
    else:
        unit_text = c.choice(limit.get("unit"), [u.value for u in TimeUnit], f"{path}.time_limit.unit")
        unit = TimeUnit(unit_text) if unit_text else unit
        raw_days = limit.get("days", 0)
        if not isinstance(raw_days, int) or isinstance(raw_days, bool) or raw_days < 0:
            c.fail(
                f"{path}.time_limit.days",
                f"phải là số nguyên từ 0 trở lên, đang ghi {written(raw_days)}",
                f"must be a whole number ≥ 0, got {raw_days!r}",
            )
        else:
            days = raw_days
        if unit is TimeUnit.SAME_DAY and days not in (0, 1):
            c.fail(
                f"{path}.time_limit.days",
                "thủ tục giải quyết trong ngày (same_day) ghi số ngày là 0",
                "a same-day limit has 0 days",
            )
        if unit is not TimeUnit.SAME_DAY and days < 1:
            c.fail(
                f"{path}.time_limit.days",
                f"thời hạn theo {unit.value} phải có ít nhất 1 ngày (giải quyết trong ngày thì ghi unit same_day)",
                f"{unit.value} needs at least 1 day (use unit same_day for 0)",
            )
    fee = data.get("fee_vnd", 0)
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        c.fail(
            f"{path}.fee_vnd",
            f"phải là số đồng, số nguyên từ 0 trở lên, đang ghi {written(fee)}",
            f"must be a whole number of đồng ≥ 0, got {fee!r}",
        )
        fee = 0
    authority = c.choice(data.get("fee_set_by", "national"), [a.value for a in FeeAuthority], f"{path}.fee_set_by")
    fee_set_by = FeeAuthority(authority) if authority else FeeAuthority.NATIONAL
    if fee_set_by is FeeAuthority.PROVINCE and fee:
        c.fail(
            f"{path}.fee_vnd",
            "phải ghi 0 khi lệ phí do Hội đồng nhân dân cấp tỉnh quyết định: mức thu của từng cơ quan ghi trong "
            "fees.json",
            "must be 0 when the province sets the fee: the amount is each agency's value in fees.json",
        )
    legal_source = c.text(data, "legal_source", path)
    papers = _papers(c, data.get("papers"), f"{path}.papers")
    if len(c.problems) > before or valid_from is None:
        return None
    return RuleVersion(valid_from, valid_to, tuple(levels), days, unit, fee, legal_source, papers, fee_set_by)


def _form(c: _Checker, ref: Any, path: str, load: FormLoader | None) -> FormSchema | None:
    """The application form: a JSON Schema checked by :func:`dossiers.form_schema.parse`, named as a file
    (``forms/<code>.json``, read by ``load``) or, as the catalogue's reader stores the entry, inline."""
    if ref is None:
        return None
    if isinstance(ref, Mapping):
        data, source = ref, path
    elif not isinstance(ref, str) or not FORM_FILE.fullmatch(ref):
        c.fail(
            path,
            f"phải ghi tên tệp biểu mẫu dạng forms/<tên>.json, đang ghi {written(ref)}",
            f"must name a form schema file forms/<name>.json, got {ref!r}",
        )
        return None
    elif load is None:
        return None  # parsed without its form (a check of the entry alone); the catalogue's reader gives a loader
    else:
        try:
            data, source = load(ref), ref
        except ValueError as exc:
            c.problems.append(f"{path}: {ref}: {exc}")  # the loader's words, "Vietnamese / English" already
            return None
    form, problems = form_schema.parse(data, source)
    for problem in problems:
        c.problems.append(f"{path}: {problem}")  # form_schema's problems are "Vietnamese / English" already
    return form


def _departments(c: _Checker, data: Any, path: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{"specialist": ["TPHT", "TP"]}``: the kinds of department (code mnemonics) that handle a role's steps."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        c.fail(
            path,
            'phải ghi mỗi vai trò kèm ký hiệu các loại phòng ban, ví dụ {"specialist": ["TPHT"]}',
            'must map a role to department mnemonics, e.g. {"specialist": ["TPHT"]}',
        )
        return ()
    out: list[tuple[str, tuple[str, ...]]] = []
    for role, kinds in data.items():
        if role not in ROLE_NAMES:
            c.fail(
                f"{path}.{role}",
                f"không có vai trò này; chỉ dùng: {', '.join(sorted(ROLE_NAMES))}",
                f"unknown role (known: {', '.join(sorted(ROLE_NAMES))})",
            )
            continue
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k.strip() for k in kinds):
            c.fail(
                f"{path}.{role}",
                "phải liệt kê ít nhất một ký hiệu loại phòng ban (ví dụ TPHT)",
                "must be a non-empty list of department mnemonics",
            )
            continue
        out.append((role, tuple(k.strip() for k in kinds)))
    return tuple(out)


MAX_STEP_HOURS = 24 * 365
STEP_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,79}")


def _step_times(c: _Checker, data: Any, path: str) -> tuple[tuple[str, float], ...]:
    """``{"review": 12, "approve": 4}``: working hours per BPMN step (the internal procedure, quy trình nội bộ)."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        c.fail(
            path,
            'phải ghi mã từng bước BPMN kèm số giờ làm việc, ví dụ {"review": 12}',
            'must map a BPMN step id to its working hours, e.g. {"review": 12}',
        )
        return ()
    out: list[tuple[str, float]] = []
    for step, hours in data.items():
        if not isinstance(step, str) or not STEP_ID.fullmatch(step):
            c.fail(
                f"{path}.{step}",
                "phải là mã một bước của quy trình BPMN (chữ cái không dấu, chữ số, _ và -)",
                "must be a BPMN step id (letters, digits, _ and -)",
            )
            continue
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= MAX_STEP_HOURS:
            c.fail(
                f"{path}.{step}",
                f"phải là số giờ làm việc lớn hơn 0 và không quá {MAX_STEP_HOURS}",
                f"must be a number of working hours above 0 and at most {MAX_STEP_HOURS}",
            )
            continue
        out.append((step, float(hours)))
    return tuple(out)


def _sources(c: _Checker, items: Any, path: str) -> tuple[Source, ...]:
    """``[{"title", "url" or "reference", "consulted": "YYYY-MM-DD", "facts": ["code", …]}]``."""
    if items is None:
        return ()
    if not isinstance(items, list):
        c.fail(path, "phải là danh sách các nguồn tra cứu", "must be a list of sources")
        return ()
    out: list[Source] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            c.fail(p, "phải là một đối tượng JSON {…}", "must be an object")
            continue
        c.unknown_keys(item, SOURCE_KEYS, p)
        title = c.text(item, "title", p)
        url = c.text(item, "url", p, required=False)
        reference = c.text(item, "reference", p, required=False)
        if not url and not reference:
            c.fail(p, "phải ghi địa chỉ trang (url) hoặc văn bản tham chiếu (reference)", "needs a url or a reference")
        consulted = c.date(item.get("consulted"), f"{p}.consulted")
        facts = item.get("facts", [])
        if not isinstance(facts, list):
            c.fail(
                f"{p}.facts",
                f"phải liệt kê các thông tin đã đối chiếu, chọn trong: {', '.join(SOURCE_FACTS)}",
                f"must list facts among {', '.join(SOURCE_FACTS)}",
            )
            facts = []
        for j, fact in enumerate(facts):
            c.choice(fact, SOURCE_FACTS, f"{p}.facts[{j}]")
        if consulted is not None:
            out.append(Source(title, url, reference, consulted, tuple(str(f) for f in facts)))
    return tuple(out)


@dataclass(frozen=True)
class ResultSpec:
    """What the procedure's result is: a template file (``documents.result_templates``, in the results
    directories) or a built-in renderer registered by name (``services.results``)."""

    template: str | None = None
    renderer: str | None = None


RESULT_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.json")


def _result(c: _Checker, data: Any, path: str) -> ResultSpec | None:
    """``{"template": "1.001612.json"}`` or ``{"renderer": "birth_certificate"}``: one of the two."""
    if data is None:
        return None
    if not isinstance(data, Mapping) or len(set(data) & {"template", "renderer"}) != 1:
        c.fail(
            path,
            'phải ghi một trong hai: {"template": "<tệp>.json"} hoặc {"renderer": "<tên>"}',
            'must be {"template": "<file>.json"} or {"renderer": "<name>"}',
        )
        return None
    c.unknown_keys(data, {"template", "renderer"}, path)
    template, renderer = data.get("template"), data.get("renderer")
    if template is not None and (not isinstance(template, str) or not RESULT_FILE.fullmatch(template)):
        c.fail(
            f"{path}.template",
            f"phải là tên tệp mẫu kết quả có đuôi .json, đang ghi {written(template)}",
            f"must be a file name ending in .json, got {template!r}",
        )
        return None
    if renderer is not None and (not isinstance(renderer, str) or not STEP_ID.fullmatch(renderer)):
        c.fail(
            f"{path}.renderer",
            f"phải là tên một bộ tạo văn bản kết quả có sẵn, đang ghi {written(renderer)}",
            f"must be the name of a built-in renderer, got {renderer!r}",
        )
        return None
    return ResultSpec(template, renderer)


CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,39}")


def _codes(c: _Checker, data: Any, path: str, own: str) -> tuple[str, ...]:
    """``["2.000575"]``: the codes an entry was catalogued under before (not its own)."""
    if data is None:
        return ()
    if not isinstance(data, list) or not all(isinstance(x, str) and CODE.fullmatch(x) for x in data):
        c.fail(
            path, f"phải liệt kê các mã thủ tục, đang ghi {written(data)}", f"must list procedure codes, got {data!r}"
        )
        return ()
    if own in data:
        c.fail(path, f"không được ghi chính mã của thủ tục này ({own})", f"lists the entry's own code {own}")
    return tuple(data)


def check_entry(
    data: Any, where: str = "$", load_form: FormLoader | None = None
) -> tuple[CatalogueEntry | None, list[str]]:
    """Parse one catalogue entry; returns it (or None) and every problem found, each with its JSON path.
    ``load_form`` reads the form file the entry names (the domain does no I/O); without it the form is not read."""
    c = _Checker()
    if not isinstance(data, Mapping):
        not_object = bilingual("mục danh mục phải là một đối tượng JSON {…}", "a catalogue entry must be a JSON object")
        return None, [f"{where}: {not_object}"]
    c.unknown_keys(data, ENTRY_KEYS | {"form_fields"}, where)  # form_fields: refused below, with what replaced it
    code = c.text(data, "code", where)
    name = c.text(data, "name", where)
    field = c.text(data, "field", where)
    process_key = c.text(data, "process_key", where)
    online = c.choice(data.get("online_level"), [o.value for o in OnlineLevel], f"{where}.online_level")
    channels: list[Channel] = []
    raw_channels = data.get("channels")
    if not isinstance(raw_channels, list) or not raw_channels:
        c.fail(
            f"{where}.channels",
            "phải liệt kê các cách nộp hồ sơ: counter (trực tiếp), online (trực tuyến), postal (bưu chính)",
            "must list the intake channels (counter, online, postal)",
        )
    else:
        for i, ch in enumerate(raw_channels):
            if c.choice(ch, [x.value for x in Channel], f"{where}.channels[{i}]"):
                channels.append(Channel(ch))
    if "form_fields" in data:
        c.fail(
            f"{where}.form_fields",
            'không dùng nữa, thay bằng tệp biểu mẫu: "form": "forms/<mã thủ tục>.json"',
            'replaced by a form schema file: "form": "forms/<code>.json"',
        )
    form = _form(c, data.get("form"), f"{where}.form", load_form)
    departments = _departments(c, data.get("departments"), f"{where}.departments")
    step_times = _step_times(c, data.get("step_times"), f"{where}.step_times")
    result = _result(c, data.get("result"), f"{where}.result")
    sources = _sources(c, data.get("sources"), f"{where}.sources")
    replaces = _codes(c, data.get("replaces"), f"{where}.replaces", code)
    withdrawn_on = None if data.get("withdrawn_on") is None else c.date(data["withdrawn_on"], f"{where}.withdrawn_on")
    replaced_by = c.text(data, "replaced_by", where, required=False)
    versions: list[RuleVersion] = []
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        c.fail(f"{where}.versions", "phải có ít nhất một phiên bản quy định", "must list at least one rule version")
    else:
        for i, raw in enumerate(raw_versions):
            version = _version(c, raw, f"{where}.versions[{i}]")
            if version is not None:
                versions.append(version)
    versions.sort(key=lambda v: v.valid_from)
    for earlier, later in zip(versions, versions[1:], strict=False):
        if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
            c.fail(
                f"{where}.versions",
                f"phiên bản {earlier.label} phải hết hiệu lực (valid_to) trước ngày phiên bản {later.label} bắt đầu",
                f"version {earlier.label} must end (valid_to) before version {later.label} starts",
            )
    if c.problems or online is None:
        return None, c.problems
    entry = CatalogueEntry(
        code,
        name,
        field,
        process_key,
        OnlineLevel(online),
        tuple(channels),
        form,
        tuple(versions),
        departments,
        step_times,
        sources,
        result=result,
        replaces=replaces,
        withdrawn_on=withdrawn_on,
        replaced_by=replaced_by,
    )
    return entry, []


def parse_entry(data: Any, where: str = "$", load_form: FormLoader | None = None) -> CatalogueEntry:
    entry, problems = check_entry(data, where, load_form)
    if entry is None:
        raise CatalogueError(problems)
    return entry
