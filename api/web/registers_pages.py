"""The two papers an office prints, as pages: the control sheet of a dossier (*phiếu kiểm soát quá trình giải quyết
hồ sơ*) and the tracking register of a period (*sổ theo dõi hồ sơ*).

Their form numbers follow the set in force (Mẫu 05 and 06 of 2018, Mẫu 06 and 07 from 15/9/2025): the sheet's on
the day the dossier was received, the register's on the period's last day — as ``services.paperwork`` chooses the
forms of the PDF.

Each page shows the same rows as the sealed PDF (``services.paperwork``: ``control_sheet_data``,
``read_tracking_register``), has a print button (``/static/js/print.js``; ``/static/css/registers.css`` hides the
navigation and the form on paper) and offers the sealed PDF — and the register also as XLSX — with the session:
``/api/dossiers/{code}/control-sheet`` and ``/api/registers/tracking`` take bearer tokens only.

Who: the control sheet as in the API (auditors, and the officials of the dossier's agency); the register for
reception, leaders (their own agency) and auditors (any agency). The period is in the URL (``from``, ``to`` as
dd/mm/yyyy, ``agency`` for auditors), so a bookmark opens the same table; a day that is not a day is answered
with the page and a Vietnamese message (422).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.downloads import content_disposition
from api.openapi import PDF, XLSX
from api.web.labels import form_no
from api.web.render import page, parse_day
from api.web.routes import signed_in
from dossiers.calendar import VN_TZ
from dossiers.errors import Forbidden, InvalidInput
from dossiers.model import OFFICIAL_ROLES, Person, Role

SHEET_ROLES = (*sorted(OFFICIAL_ROLES), Role.AUDITOR)
REGISTER_ROLES = (Role.RECEPTION, Role.LEADER, Role.AUDITOR)
REGISTER_PATH = "/can-bo/so-theo-doi"
# the longest period, as GET /api/registers/tracking allows (api.registers.MAX_PERIOD_DAYS: importing it from the
# pages would make a cycle api.web → api.registers → api.deps → api.web; a test keeps the two equal)
MAX_PERIOD_DAYS = 366

Message = tuple[str, str]
TIMELINESS: dict[str, Message] = {
    "early": ("Trước hạn", "Early"),
    "on_time": ("Đúng hạn", "On time"),
    "late": ("Quá hạn", "Late"),
}
IN_PROGRESS: Message = ("Đang giải quyết", "In progress")
OVERDUE: Message = ("Đang giải quyết, quá hạn", "In progress, overdue")


def control_sheet_url(code: str) -> str:
    return f"/can-bo/ho-so/{quote(code, safe='')}/phieu-kiem-soat"


def may_read_control_sheet(person: Person, agency_code: str) -> bool:
    """The rule of ``GET /api/dossiers/{code}/control-sheet``: auditors, or an official of the dossier's agency."""
    return person.role == Role.AUDITOR or (person.role in OFFICIAL_ROLES and person.agency_code == agency_code)


def _day(text: str, default: dt.date, what: str) -> dt.date:
    if not text.strip():
        return default
    day = parse_day(text)
    if day is None:
        raise InvalidInput(
            f"Ngày “{text[:20]}” ({what}) không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 01/07/2025.",
            f"'{text[:20]}' ({what}) is not a day/month/year date.",
            field="from" if what == "từ ngày" else "to",
        )
    return day


def period(first_text: str, last_text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The register's period as typed (default: this month up to today), checked as the API checks it."""
    last = _day(last_text, today, "đến ngày")
    first = _day(first_text, last.replace(day=1), "từ ngày")
    if first > last:
        raise InvalidInput("Ngày bắt đầu sau ngày kết thúc.", "'from' is after 'to'.", field="from")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"Kỳ theo dõi dài quá {MAX_PERIOD_DAYS} ngày; hãy chọn kỳ ngắn hơn.",
            f"The period is longer than {MAX_PERIOD_DAYS} days.",
            field="from",
        )
    return first, last


@dataclass(frozen=True)
class Totals:
    """The register's summary line: as the form counts it (resolved by timeliness, the rest in progress)."""

    total: int
    early: int
    on_time: int
    late: int
    in_progress: int
    overdue: int


def totals(rows: Any) -> Totals:
    done = [r.timeliness for r in rows if r.timeliness]
    waiting = [r for r in rows if not r.timeliness]
    return Totals(
        total=len(rows),
        early=done.count("early"),
        on_time=done.count("on_time"),
        late=done.count("late"),
        in_progress=len(waiting),
        overdue=sum(1 for r in waiting if r.overdue),
    )


def register_result(row: Any) -> tuple[str, Message]:
    """The last column of a register row: its timeliness when resolved, else in progress (overdue or not)."""
    if row.timeliness:
        return row.timeliness, TIMELINESS.get(row.timeliness, (row.timeliness, row.timeliness))
    return ("late", OVERDUE) if row.overdue else ("in_progress", IN_PROGRESS)


def registers_pages_router(runtime: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    shop = runtime.shop
    paperwork = runtime.paperwork

    def today() -> dt.date:
        day: dt.date = runtime.clock.now().astimezone(VN_TZ).date()
        return day

    def readable_sheet(request: Request, code: str) -> Person:
        """The signed-in person, when they may read the dossier's control sheet (404 for an unknown dossier)."""
        person = signed_in(request, runtime, *SHEET_ROLES)
        row = shop.dossier_row(code)
        if not may_read_control_sheet(person, row.agency_code):
            raise Forbidden(
                "Phiếu kiểm soát của hồ sơ thuộc cơ quan khác; bạn không được phép xem.",
                "This dossier belongs to another agency.",
                dossier_code=code,
            )
        return person

    def back_link(person: Person, code: str) -> tuple[str, Message]:
        if person.role == Role.AUDITOR:
            return f"/thanh-tra/ho-so/{quote(code, safe='')}", ("Quá trình xử lý hồ sơ", "Dossier trail")
        if person.role == Role.RECEPTION:
            return f"/mot-cua/ho-so/{quote(code, safe='')}", ("Hồ sơ tại Bộ phận Một cửa", "Dossier at the desk")
        return "/can-bo/nhiem-vu", ("Danh sách nhiệm vụ", "Task list")

    # ------------------------------------------------------------------ the control sheet of a dossier

    @router.get("/can-bo/ho-so/{code}/phieu-kiem-soat", response_class=HTMLResponse)
    def control_sheet(request: Request, code: str) -> Response:
        person = readable_sheet(request, code)
        shop.read_dossier(person, code)  # the read of the applicant's data, recorded (Decree 13/2023)
        data = paperwork.control_sheet_data(code)
        back, back_label = back_link(person, code)
        return page(
            request,
            runtime,
            "registers/control_sheet.html",
            person=person,
            sheet=data,
            timeliness=TIMELINESS,
            back=back,
            back_label=back_label,
            pdf_url=control_sheet_url(code) + ".pdf",
            form_no=form_no("control_sheet", data.received_at),
        )

    @router.get("/can-bo/ho-so/{code}/phieu-kiem-soat.pdf")
    def control_sheet_pdf(request: Request, code: str) -> Response:
        """The sealed sheet, as ``GET /api/dossiers/{code}/control-sheet`` makes it (recorded there)."""
        person = readable_sheet(request, code)
        pdf = paperwork.control_sheet(code, person.username)
        number = form_no("control_sheet", shop.dossier_row(code).received_at)[0]
        name = f"{number} - Phiếu kiểm soát quá trình giải quyết hồ sơ - {code}.pdf"
        return Response(pdf, media_type=PDF, headers=_download(name))

    # ------------------------------------------------------------------ the tracking register of a period

    def register_agencies(person: Person) -> list[Any]:
        if person.role == Role.AUDITOR:
            return list(shop.structure_now().agencies)
        return [shop.agency(person.agency_code)] if person.agency_code else []

    def register_agency(person: Person, asked: str) -> str | None:
        """The agency whose register is shown: auditors choose (their own by default), officials see theirs."""
        agency_code = asked.strip() or person.agency_code
        if not agency_code:
            return None
        if person.role != Role.AUDITOR and agency_code != person.agency_code:
            raise Forbidden(
                "Bạn chỉ được xem sổ theo dõi hồ sơ của cơ quan mình.",
                "You may only read your own agency's register.",
            )
        shop.agency(agency_code)  # unknown agency: 404
        return agency_code

    def register_query(request: Request) -> dict[str, str]:
        params = request.query_params
        return {key: (params.get(key) or "")[:40] for key in ("from", "to", "agency")}

    @router.get(REGISTER_PATH, response_class=HTMLResponse)
    def tracking_register(request: Request) -> Response:
        person = signed_in(request, runtime, *REGISTER_ROLES)
        asked = register_query(request)
        agency_code = register_agency(person, asked["agency"])
        context: dict[str, Any] = {
            "asked": asked,
            "agencies": register_agencies(person),
            "chooses_agency": person.role == Role.AUDITOR,
            "agency_code": agency_code,
        }
        try:
            first, last = period(asked["from"], asked["to"], today())
            data = None
            if agency_code is not None:
                data = paperwork.read_tracking_register(agency_code, first, last, person.username)
        except InvalidInput as exc:
            return page(
                request,
                runtime,
                "registers/tracking.html",
                status_code=422,
                person=person,
                error=(exc.message_vi, exc.message_en),
                error_field=exc.details.get("field") or "from",
                form_no=form_no("tracking_register", today()),  # no period: the set in force today
                **context,
            )
        query = {"from": first.strftime("%d/%m/%Y"), "to": last.strftime("%d/%m/%Y")}
        if agency_code and person.role == Role.AUDITOR:
            query["agency"] = agency_code
        return page(
            request,
            runtime,
            "registers/tracking.html",
            person=person,
            first=first,
            last=last,
            register=data,
            totals=totals(data.rows) if data else None,
            result_of=register_result,
            sheet_url=control_sheet_url,
            pdf_url=f"{REGISTER_PATH}.pdf?{urlencode(query)}",
            xlsx_url=f"{REGISTER_PATH}.xlsx?{urlencode(query)}",
            form_no=form_no("tracking_register", last),
            **context,
        )

    def register_file(request: Request, fmt: str) -> Response:
        person = signed_in(request, runtime, *REGISTER_ROLES)
        asked = register_query(request)
        agency_code = register_agency(person, asked["agency"])
        if agency_code is None:
            raise InvalidInput("Hãy chọn cơ quan.", "Choose an agency.", field="agency")
        first, last = period(asked["from"], asked["to"], today())
        body = paperwork.tracking_register(agency_code, first, last, fmt, person.username)
        number = form_no("tracking_register", last)[0]
        name = f"{number} - Sổ theo dõi hồ sơ - {agency_code} - {first:%d.%m.%Y}-{last:%d.%m.%Y}.{fmt}"
        return Response(body, media_type=PDF if fmt == "pdf" else XLSX, headers=_download(name))

    @router.get(REGISTER_PATH + ".pdf")
    def tracking_register_pdf(request: Request) -> Response:
        """The sealed register of the period on the page (recorded as ``tracking_register.exported``)."""
        return register_file(request, "pdf")

    @router.get(REGISTER_PATH + ".xlsx")
    def tracking_register_xlsx(request: Request) -> Response:
        return register_file(request, "xlsx")

    return router


def _download(filename: str) -> dict[str, str]:
    return {"content-disposition": content_disposition(filename), "cache-control": "no-store"}
