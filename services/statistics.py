"""Statistics from the database (QĐ 766 indicators, computed by :mod:`dossiers.statistics`), their CSV/XLSX
export, and the citizen's satisfaction rating of a resolved dossier."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from dossiers import text_rules
from dossiers.calendar import VN_TZ
from dossiers.codes import normalize_dossier_code
from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound
from dossiers.model import AgencyStructure, DossierStatus, Person, Role
from dossiers.ports import Clock
from dossiers.statistics import RATING_LEVELS, RESULT_STATUSES, GroupBy, Period, Report, table
from dossiers.text_rules import check_day
from persistence import ratings, reports
from persistence.dossier_records import find_dossier
from persistence.uow import Database, transaction
from services.ports import DossierDesk


def period_of_days(first: dt.date, last: dt.date) -> Period:
    """Vietnamese calendar days ``first`` … ``last`` (both included) as ``[first 00:00, last+1 00:00)`` +07:00."""
    check_day(first, field="from", label_vi="Ngày bắt đầu")
    check_day(last, field="to", label_vi="Ngày kết thúc")
    if last < first:
        raise InvalidInput("Ngày kết thúc không được trước ngày bắt đầu.", "'to' must not be before 'from'.")
    if (last - first).days > 3660:
        raise InvalidInput("Kỳ thống kê tối đa 10 năm.", "The period may span at most ten years.")
    start = dt.datetime.combine(first, dt.time(0), tzinfo=VN_TZ)
    return Period(start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=VN_TZ))


def report_of(db: Database, period: Period, group_by: GroupBy, agency_codes: Collection[str] | None = None) -> Report:
    """The indicators of ``period`` counted by the database (:func:`persistence.reports.statistics_report`: one
    grouped query, so a province's year costs a query, not a load of every dossier), in a read-only unit."""
    with transaction(db, read_only=True) as conn:
        return reports.statistics_report(conn, period, group_by, agency_codes)


# ------------------------------------------------------------------ who may see what


def visible_agencies(structure: AgencyStructure, person: Person) -> frozenset[str] | None:
    """Agencies whose statistics ``person`` may read: auditors and admins every agency (``None``); a leader
    their own agency and the agencies under it (a province's leader sees its communes)."""
    if person.role in (Role.AUDITOR, Role.ADMIN):
        return None
    if person.role != Role.LEADER or not person.agency_code:
        raise Forbidden(
            "Chỉ lãnh đạo, thanh tra và quản trị được xem số liệu thống kê.",
            "Only leaders, auditors and administrators may read statistics.",
        )
    children: dict[str | None, list[str]] = defaultdict(list)
    for a in structure.agencies:
        children[a.parent_code].append(a.code)
    seen: set[str] = set()
    todo = [person.agency_code]
    while todo:
        code = todo.pop()
        if code not in seen:
            seen.add(code)
            todo.extend(children.get(code, ()))
    return frozenset(seen)


def agency_scope(structure: AgencyStructure, person: Person, agency: str | None) -> frozenset[str] | None:
    """The agency filter of a request: the asked agency (when the person may see it) or all they may see."""
    allowed = visible_agencies(structure, person)
    if agency is None:
        return allowed
    if allowed is not None and agency not in allowed:
        raise Forbidden(
            "Bạn không được xem số liệu của cơ quan này.", f"You may not read the statistics of agency {agency}."
        )
    return frozenset({agency})


def group_names(desk: DossierDesk, group_by: GroupBy) -> dict[str, str]:
    """Display names of group keys, from every agency structure (older dossiers keep their agencies' names)
    and the catalogue."""
    names: dict[str, str] = {}
    if group_by is GroupBy.PROCEDURE:
        return desk.procedure_names()  # a withdrawn procedure's dossiers are named too
    for structure in sorted(desk.structures, key=lambda s: s.valid_from):  # the newest name wins
        for a in structure.agencies:
            if group_by is GroupBy.AGENCY:
                names[a.code] = a.name
            else:
                names.update({d.code: d.name for d in a.departments})
    return names


def statistics(
    db: Database, desk: DossierDesk, person: Person, period: Period, group_by: GroupBy, agency: str | None = None
) -> tuple[Report, dict[str, str]]:
    scope = agency_scope(desk.structure_now(), person, agency)
    report = report_of(db, period, group_by, scope)
    return report, group_names(desk, group_by)


# ------------------------------------------------------------------ export


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    return "" if value is None else value


def to_csv(rows: list[list[object]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Vietnamese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else str(v) for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def to_xlsx(rows: list[list[object]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Thống kê"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(v) for v in row])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(report: Report, names: dict[str, str], fmt: str, first: dt.date, last: dt.date) -> tuple[bytes, str, str]:
    """(body, media type, file name) of the report as CSV or XLSX."""
    rows = table(report, names)
    stem = f"thong-ke-{report.group_by.value}-{first.isoformat()}-{last.isoformat()}"
    if fmt == "csv":
        return to_csv(rows), "text/csv; charset=utf-8", stem + ".csv"
    if fmt == "xlsx":
        title = f"Thống kê giải quyết thủ tục hành chính từ ngày {first:%d/%m/%Y} đến ngày {last:%d/%m/%Y}"
        return (
            to_xlsx(rows, title),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            stem + ".xlsx",
        )
    raise InvalidInput("Định dạng phải là csv hoặc xlsx.", "format must be csv or xlsx.")


def read_statistics(
    db: Database,
    desk: DossierDesk,
    person: Person,
    first: dt.date,
    last: dt.date,
    group_by: GroupBy,
    agency: str | None,
    **how: Any,
) -> tuple[Report, dict[str, str]]:
    """The indicators of the days ``first``..``last`` within the person's scope, recorded as ``statistics.read``."""
    report, names = statistics(db, desk, person, period_of_days(first, last), group_by, agency)
    desk.record(
        "statistics.read",
        person.username,
        group_by=group_by.value,
        agency=agency,
        **how,
        **{"from": first.isoformat(), "to": last.isoformat()},
    )
    return report, names


def export_statistics(
    db: Database,
    desk: DossierDesk,
    person: Person,
    first: dt.date,
    last: dt.date,
    group_by: GroupBy,
    agency: str | None,
    fmt: str,
    **how: Any,
) -> tuple[bytes, str, str]:
    """The same figures as a CSV or XLSX file (body, media type, file name), recorded as ``statistics.exported``."""
    report, names = statistics(db, desk, person, period_of_days(first, last), group_by, agency)
    body, media_type, filename = export(report, names, fmt, first, last)
    desk.record(
        "statistics.exported",
        person.username,
        group_by=group_by.value,
        agency=agency,
        format=fmt,
        **how,
        **{"from": first.isoformat(), "to": last.isoformat()},
    )
    return body, media_type, filename


# ------------------------------------------------------------------ the citizen's rating


def rating_of(db: Database, code: str) -> int | None:
    """The level the applicant gave the dossier, None before they rate it."""
    with transaction(db, read_only=True) as conn:
        return ratings.level_of(conn, code)


def rate(
    db: Database, clock: Clock, desk: DossierDesk, code: str, id_number: str, level: int, comment: str | None
) -> dict[str, Any]:
    """Record the applicant's satisfaction (levels 1–5) with a resolved dossier, once."""
    if level not in RATING_LEVELS:
        raise InvalidInput("Mức đánh giá phải từ 1 đến 5.", "The level must be 1 to 5.")
    text = text_rules.clean_comment(comment, label_vi="Ý kiến đánh giá", label_en="The rating's comment") or None
    not_found = NotFound(
        "Không tìm thấy hồ sơ với mã và số định danh đã nhập.", "No dossier with this code and ID number."
    )
    code = normalize_dossier_code(code)
    now = clock.now()
    already = Conflict("Hồ sơ này đã được đánh giá.", "This dossier has already been rated.")
    with transaction(db) as conn:
        row = find_dossier(conn, code)
        if row is None or row.applicant_id_number != id_number.strip():
            raise not_found
        if DossierStatus(row.status) not in RESULT_STATUSES:
            raise Conflict(
                "Chỉ đánh giá được hồ sơ đã có kết quả giải quyết.",
                f"Only a resolved dossier can be rated (this one is {row.status}).",
                dossier_status=row.status,
            )
        if ratings.is_rated(conn, code):
            raise already
        if not ratings.add(conn, code, level, text, now):  # a concurrent rating of the same dossier won
            raise already
        desk.record("dossier.rated", "public", code, level=level, commented=text is not None)
    return {"code": code, "level": level, "rated_at": now.isoformat()}
