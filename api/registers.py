"""Control sheet and tracking register over HTTP, made on request and sealed by the agency; their form numbers
those of the set in force (2018: Mẫu 05 and 06; from 15/9/2025: Mẫu 06 and 07).

Mounted by ``create_app``: ``app.include_router(registers_router(runtime))``.
"""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import BearerPerson, Runtime
from api.downloads import content_disposition
from api.openapi import PDF, XLSX, problems
from documents.templating import form_number
from dossiers.errors import Forbidden, InvalidInput
from dossiers.model import OFFICIAL_ROLES, Role

MAX_PERIOD_DAYS = 366
# the forms' numbers changed with the 2025 set (Circular 03/2025/TT-VPCP, from 15/9/2025)
SHEET_DESCRIPTION = "Sealed by the agency: Mẫu 05 for a dossier received before 15/9/2025, Mẫu 06 from that day."
REGISTER_DESCRIPTION = "PDF sealed by the agency: Mẫu 06 for a period ending before 15/9/2025, Mẫu 07 from that day."


def registers_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["registers"])
    paperwork = runtime.paperwork

    def _forbidden(what: str) -> Forbidden:
        return Forbidden("Vai trò của bạn không được phép xem tài liệu này.", f"Role may not read the {what}.")

    @router.get(
        "/api/dossiers/{code}/control-sheet",
        response_class=Response,
        responses={200: {"content": {PDF: {}}, "description": SHEET_DESCRIPTION}},
    )
    def control_sheet(code: str, person: BearerPerson) -> Response:
        """Phiếu kiểm soát quá trình giải quyết hồ sơ (the form of the set in force when the dossier was received),
        as it stands now: every hand-over with its time and early / on time / late. Officials of the dossier's
        agency and auditors."""
        row = runtime.shop.dossier_row(code)
        if person.role != Role.AUDITOR and not (
            person.role in OFFICIAL_ROLES and person.agency_code == row.agency_code
        ):
            raise _forbidden("control sheet")
        pdf = paperwork.control_sheet(code, person.username)
        number = (form_number("control_sheet", row.received_at) or ("",))[0]
        return Response(pdf, media_type=PDF, headers=_attachment(f"{code}-mau-{number}-phieu-kiem-soat.pdf"))

    @router.get(
        "/api/registers/tracking",
        response_class=Response,
        responses={
            200: {"content": {PDF: {}, XLSX: {}}, "description": REGISTER_DESCRIPTION},
            **problems(404),
        },
    )
    async def tracking_register(
        person: BearerPerson,
        agency: Annotated[str | None, Query(max_length=40, description="Agency code; default the caller's.")] = None,
        first_day: Annotated[dt.date | None, Query(alias="from", description="First day received (incl.).")] = None,
        last_day: Annotated[dt.date | None, Query(alias="to", description="Last day received (incl.).")] = None,
        fmt: Annotated[Literal["pdf", "xlsx"], Query(alias="format")] = "pdf",
    ) -> Response:
        """Sổ theo dõi hồ sơ (the form of the set in force on the period's last day): one row per dossier the
        agency received in the period (default: the current month up to today). Officials of the agency, auditors
        and admins."""
        agency_code = agency or person.agency_code
        if not agency_code:
            raise InvalidInput("Cần chọn cơ quan (agency).", "The query parameter 'agency' is required.")
        if person.role not in (Role.AUDITOR, Role.ADMIN) and not (
            person.role in OFFICIAL_ROLES and person.agency_code == agency_code
        ):
            raise _forbidden("tracking register")
        runtime.shop.agency(agency_code)  # unknown agency: 404
        today = runtime.clock.now().astimezone(dt.timezone(dt.timedelta(hours=7))).date()
        last = last_day or today
        first = first_day or last.replace(day=1)
        if first > last:
            raise InvalidInput("Ngày bắt đầu sau ngày kết thúc.", "'from' is after 'to'.")
        if (last - first).days >= MAX_PERIOD_DAYS:
            raise InvalidInput(
                f"Kỳ báo cáo dài quá {MAX_PERIOD_DAYS} ngày.", f"The period is longer than {MAX_PERIOD_DAYS} days."
            )
        body = await run_in_threadpool(paperwork.tracking_register, agency_code, first, last, fmt, person.username)
        name = f"so-theo-doi-ho-so-{agency_code}-{first:%Y%m%d}-{last:%Y%m%d}.{fmt}"
        return Response(body, media_type=PDF if fmt == "pdf" else XLSX, headers=_attachment(name))

    return router


def _attachment(filename: str) -> dict[str, str]:
    return {"content-disposition": content_disposition(filename)}
