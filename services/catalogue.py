"""Loading and checking the procedure catalogue (``motcua/data/procedures/*.json`` plus an agency's own
directory, ``MOTCUA_CATALOGUE_DIR``).

Adding a procedure takes a BPMN file and a catalogue entry, no Python. Because the catalogue is edited by
people, :func:`validate` checks everything a bad edit could break and reports every problem with the file it
is in: entries against the schema (:mod:`dossiers.catalogue`), duplicate codes, a process key without BPMN,
BPMN that breaks the portable rules, roles a BPMN names that an agency carrying the procedure does not map to a
department, roles it maps to several departments without the entry naming which kind handles them
(``departments``), form templates with missing fields, calendar overrides with invalid dates, and the per-agency
fee table (``fees.json``: rows naming no known procedure or agency, or a procedure whose fee is national). ``motcua
serve`` and ``motcua init`` refuse to start on an invalid catalogue.

:func:`fee_warnings` is not a refusal: a procedure whose fee the province sets (``fee_set_by: province``) and that
an agency offers without a configured amount is *warned about* — a new province must be able to start before its
People's Council resolution is entered; until then the fee counts as 0.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dossiers.catalogue import CatalogueEntry, FeeAuthority, check_entry
from dossiers.fees import FeeTable, check_fee_table, merge
from dossiers.model import Agency, AgencyStructure, department_kind
from dossiers.problems import bilingual

BUILT_IN = Path(str(resources.files("motcua").joinpath("data", "procedures")))


@dataclass(frozen=True)
class Problem:
    where: str  # file (and JSON path) or BPMN file
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def unreadable(exc: Exception) -> str:
    """Why a JSON file cannot be read, "Vietnamese / English": the line and column of a syntax error."""
    if isinstance(exc, json.JSONDecodeError):
        return bilingual(
            f"tệp không đúng cú pháp JSON ở dòng {exc.lineno}, cột {exc.colno}", f"not readable JSON: {exc}"
        )
    if isinstance(exc, UnicodeDecodeError):
        return bilingual("tệp không phải văn bản mã hóa UTF-8", f"not readable JSON: {exc}")
    return bilingual("không đọc được tệp", f"not readable JSON: {exc}")


def catalogue_dirs(extra: str | Path | None = None) -> list[Path]:
    dirs = [BUILT_IN]
    if extra:
        dirs.append(Path(extra))
    return dirs


FEE_TABLE = "fees.json"  # an agency's per-agency fees beside its catalogue entries (dossiers.fees), not an entry


def _files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        if d.is_dir():
            files.extend(sorted(p for p in d.glob("*.json") if p.name != FEE_TABLE))
    return files


def form_loader(base: Path) -> Callable[[str], Any]:
    """Reads an entry's form schema (``forms/<code>.json``) from beside its catalogue directory — the built-in
    entries' from ``motcua/data/forms``, an agency's from ``forms/`` next to ``MOTCUA_CATALOGUE_DIR`` — or else
    the shipped one of that name (an agency's entry may use a built-in form, as it may a built-in BPMN)."""

    def load(ref: str) -> Any:
        tried = list(dict.fromkeys([base / ref, BUILT_IN.parent / ref]))
        path = next((p for p in tried if p.is_file()), None)
        if path is None:
            files = " hoặc ".join(str(p) for p in tried)
            raise ValueError(bilingual(f"không có tệp {files}", "no such file " + " or ".join(str(p) for p in tried)))
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: {unreadable(exc)}") from None

    return load


def read_catalogue(dirs: Iterable[Path]) -> tuple[list[tuple[Path, dict[str, Any], CatalogueEntry]], list[Problem]]:
    """Every entry of the directories (a later directory's entry replaces a built-in one with the same code)."""
    problems: list[Problem] = []
    by_code: dict[str, tuple[Path, dict[str, Any], CatalogueEntry]] = {}
    seen_in: dict[str, tuple[Path, Path]] = {}
    for path in _files(dirs):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(Problem(str(path), unreadable(exc)))
            continue
        entry, found = check_entry(data, "$", form_loader(path.parent.parent))
        problems.extend(Problem(str(path), p) for p in found)
        if entry is None:
            continue
        if entry.form is not None:
            data = data | {"form": dict(entry.form.schema)}  # stored with the entry: a version keeps its form
        previous = by_code.get(entry.code)
        if previous is not None and previous[0].parent == path.parent:
            problems.append(
                Problem(
                    str(path),
                    bilingual(
                        f"thủ tục {entry.code} đã được khai báo trong tệp {previous[0].name}",
                        f"procedure {entry.code} is also defined in {previous[0].name}",
                    ),
                )
            )
            continue
        if previous is not None:
            seen_in[entry.code] = (previous[0], path)
        by_code[entry.code] = (path, data, entry)
    return [by_code[c] for c in sorted(by_code)], problems


def _bpmn_index(bpmn_dirs: Sequence[Path]) -> tuple[dict[str, Path], list[Problem]]:
    from workflows.introspect import process_ids

    index: dict[str, Path] = {}
    problems: list[Problem] = []
    for d in bpmn_dirs:
        for path in sorted(Path(d).glob("*.bpmn")):
            try:
                ids = process_ids(path.read_bytes())
            except Exception as exc:  # noqa: BLE001 - any XML error is reported, not raised
                problems.append(
                    Problem(
                        str(path),
                        bilingual(
                            "tệp BPMN không đọc được (không phải XML hợp lệ)", f"not a readable BPMN file: {exc}"
                        ),
                    )
                )
                continue
            for pid in ids:
                if pid in index:
                    problems.append(
                        Problem(
                            str(path),
                            bilingual(
                                f"quy trình '{pid}' đã có trong tệp {index[pid].name}",
                                f"process '{pid}' is also defined in {index[pid].name}",
                            ),
                        )
                    )
                index[pid] = path
    return index, problems


def _roles(bpmn: Path) -> set[str]:
    from workflows.introspect import read_activity_attributes

    attrs = read_activity_attributes(bpmn.read_bytes())
    return {g for a in attrs.values() if a.kind == "userTask" for g in a.candidate_groups}


def _structures_during(structures: Sequence[AgencyStructure], start: dt.date, end: dt.date | None) -> list[Any]:
    """The structures in force on some day of a rule version (a structure's ``valid_to`` is exclusive, a
    version's ``valid_to`` its last day)."""
    return [
        s for s in structures if (s.valid_to is None or s.valid_to > start) and (end is None or s.valid_from <= end)
    ]


def validate(
    catalogue: Iterable[Path],
    bpmn_dirs: Sequence[Path],
    structures: Sequence[AgencyStructure] = (),
    *,
    templates_dir: Path | None = None,
    calendar_overrides: Any = None,
    fee_tables: Sequence[tuple[str, Any]] = (),
) -> list[Problem]:
    """Every problem of the catalogue and what it depends on (empty: all good)."""
    from workflows.lint import lint_paths

    rows, problems = read_catalogue(catalogue)
    index, bpmn_problems = _bpmn_index(bpmn_dirs)
    problems.extend(bpmn_problems)
    used: set[Path] = set()
    for path, _data, entry in rows:
        bpmn = index.get(entry.process_key)
        if bpmn is None:
            known = ", ".join(sorted(index))
            problems.append(
                Problem(
                    str(path),
                    bilingual(
                        f"thủ tục {entry.code}: chưa có tệp BPMN nào cho quy trình process_key '{entry.process_key}' "
                        f"(các quy trình đang có: {known or 'không có'})",
                        f"procedure {entry.code}: process_key '{entry.process_key}' has no BPMN file "
                        f"(known: {known or 'none'})",
                    ),
                )
            )
            continue
        used.add(bpmn)
        roles = _roles(bpmn)
        for version in entry.versions:
            for structure in _structures_during(structures, version.valid_from, version.valid_to):
                for agency in structure.agencies:
                    if agency.level not in version.levels:
                        continue
                    missing = sorted(r for r in roles if not agency.departments_for_role(r))
                    if missing:
                        problems.append(
                            Problem(
                                str(path),
                                bilingual(
                                    f"thủ tục {entry.code} (phiên bản {version.label}): cơ quan {agency.code} "
                                    f"({structure.version}) chưa giao phòng ban nào cho vai trò {', '.join(missing)} "
                                    f"mà quy trình {bpmn.name} giao việc",
                                    f"procedure {entry.code} (version {version.label}): agency {agency.code} "
                                    f"({structure.version}) maps no department to the role(s) {', '.join(missing)} "
                                    f"that {bpmn.name} assigns tasks to",
                                ),
                            )
                        )
                    problems.extend(
                        Problem(
                            str(path),
                            bilingual(
                                f"thủ tục {entry.code} (phiên bản {version.label}): {vi}",
                                f"procedure {entry.code} (version {version.label}): {en}",
                            ),
                        )
                        for vi, en in _undecided_roles(entry, roles, agency, structure.version, bpmn.name)
                    )
    for lint in lint_paths(sorted(used)):
        problems.append(Problem(str(lint.path) if hasattr(lint, "path") else "bpmn", str(lint)))
    problems.extend(_template_problems(templates_dir))
    if calendar_overrides is not None:
        problems.extend(_calendar_problems(calendar_overrides))
    problems.extend(_fee_table_problems([e for _, _, e in rows], structures, fee_tables))
    return problems


def read_fee_tables(fee_tables: Sequence[tuple[str, Any]]) -> tuple[FeeTable, list[Problem]]:
    """The fee tables (``(where, parsed JSON)``: the built-in one, then an agency's own) as one table."""
    tables, problems = [], []
    for where, data in fee_tables:
        table, found = check_fee_table(data, where)
        tables.append(table)
        problems.extend(Problem(where, p.removeprefix(f"{where}: ")) for p in found)
    return merge(tables), problems


def _fee_table_problems(
    entries: Sequence[CatalogueEntry], structures: Sequence[AgencyStructure], fee_tables: Sequence[tuple[str, Any]]
) -> list[Problem]:
    """A fee row for an unknown procedure or agency, or for a procedure whose fee is national (it would be
    ignored): a bad edit of fees.json, refused like one of the catalogue."""
    table, problems = read_fee_tables(fee_tables)
    by_code = {e.code: e for e in entries}
    known_agencies = {a.code for s in structures for a in s.agencies}
    for row in table.rows:
        where = f"fees.json ({row.procedure}, {row.valid_from.isoformat()})"
        entry = by_code.get(row.procedure)
        if entry is None:
            problems.append(
                Problem(
                    where,
                    bilingual(
                        f"thủ tục {row.procedure} không có trong danh mục thủ tục",
                        f"procedure {row.procedure} is not in the catalogue",
                    ),
                )
            )
            continue
        if not any(v.fee_set_by is FeeAuthority.PROVINCE for v in entry.versions):
            problems.append(
                Problem(
                    where,
                    bilingual(
                        f"lệ phí của thủ tục {row.procedure} do trung ương quy định (fee_vnd trong mục danh mục), "
                        "không do tỉnh quyết định: dòng này sẽ không được dùng, hãy xóa dòng này",
                        f"procedure {row.procedure}'s fee is national (fee_vnd in its catalogue entry), not set by the "
                        "province: this row would be ignored",
                    ),
                )
            )
        unknown = sorted(a for a in row.agencies if a != "*" and known_agencies and a not in known_agencies)
        if unknown:
            problems.append(
                Problem(
                    where,
                    bilingual(
                        f"không có cơ quan mang mã {', '.join(unknown)}",
                        f"unknown agency code(s) {', '.join(unknown)}",
                    ),
                )
            )
    return problems


def fee_warnings(
    entries: Sequence[CatalogueEntry],
    structures: Sequence[AgencyStructure],
    fees: FeeTable,
    today: dt.date,
) -> list[Problem]:
    """Each (procedure, agency) that must charge a fee the province sets but has none configured, for the rule
    versions and agency structures in force today or later (history is not re-checked). Warnings, Vietnamese
    first: the installation still serves and the fee counts as 0 until it is configured."""
    found: list[Problem] = []
    for entry in entries:
        for version in entry.versions:
            if version.fee_set_by is not FeeAuthority.PROVINCE:
                continue
            if version.valid_to is not None and version.valid_to < today:
                continue
            for structure in _structures_during(structures, max(version.valid_from, today), version.valid_to):
                day = max(version.valid_from, structure.valid_from, today)
                for agency in structure.agencies:
                    if agency.level not in version.levels or fees.amount(entry.code, agency.code, day) is not None:
                        continue
                    found.append(
                        Problem(
                            f"thủ tục {entry.code}",
                            f"cảnh báo: cơ quan {agency.code} ({agency.name}) chưa cấu hình lệ phí do Hội đồng nhân "
                            f"dân cấp tỉnh quyết định cho thủ tục {entry.code} (phiên bản {version.label}); hệ thống "
                            f"tính 0 đồng cho đến khi khai báo trong fees.json / warning: agency {agency.code} has "
                            f"no configured fee for procedure {entry.code}, whose fee the province sets; it counts "
                            "as 0 until fees.json gives it",
                        )
                    )
    return found


def _undecided_roles(
    entry: CatalogueEntry, roles: set[str], agency: Agency, structure: str, bpmn: str
) -> list[tuple[str, str]]:
    """Roles an agency maps to several departments whose kind the entry does not name (``departments``):
    without it any of those departments could decide the steps — the economic department certifying copies.
    Each problem in Vietnamese and in English."""
    found = []
    for role in sorted(roles):
        departments = agency.departments_for_role(role)
        if len(departments) < 2:
            continue
        kinds = entry.department_kinds(role)
        if not kinds:
            example = f'{{"{role}": ["{department_kind(departments[0])}"]}}'
            found.append(
                (
                    f"cơ quan {agency.code} ({structure}) giao nhiều phòng ban ({', '.join(departments)}) cho vai "
                    f"trò {role} mà quy trình {bpmn} giao việc; hãy ghi loại phòng ban xử lý trong 'departments' "
                    f"(ví dụ {example})",
                    f"agency {agency.code} ({structure}) maps several departments ({', '.join(departments)}) to the "
                    f"role {role} that {bpmn} assigns tasks to; name the kind of department that handles them in "
                    f"'departments' (e.g. {example})",
                )
            )
        elif not any(department_kind(d) in kinds for d in departments):
            found.append(
                (
                    f"cơ quan {agency.code} ({structure}) không có phòng ban nào thuộc loại {', '.join(kinds)} mà "
                    f"'departments.{role}' nêu, trong số các phòng ban giao cho vai trò này ({', '.join(departments)})",
                    f"agency {agency.code} ({structure}) has none of the departments {', '.join(kinds)} that "
                    f"'departments.{role}' names among those it maps to the role ({', '.join(departments)})",
                )
            )
    return found


def _template_problems(templates_dir: Path | None) -> list[Problem]:
    """The shipped form templates, and an agency's edited ones when it has a directory of its own."""
    from documents.templating import validate_templates

    found = [Problem("templates", p) for p in validate_templates()]
    if templates_dir is not None:
        found += [Problem(str(templates_dir), p) for p in validate_templates(templates_dir)]
    return found


def _calendar_problems(data: Any) -> list[Problem]:
    from dossiers import calendar

    check = getattr(calendar, "validate_overrides", None)
    if check is not None:
        return [Problem("calendar_overrides.json", str(p)) for p in check(data)]
    try:
        calendar.CalendarOverrides.from_data(data)
    except ValueError as exc:
        return [Problem("calendar_overrides.json", str(exc))]
    return []
