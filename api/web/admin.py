"""Administration (*quản trị*, role admin): users and roles, the agency structure in force with its role →
department mapping, the holiday override calendar, the procedure catalogue with its check, incidents with a retry
button, and the officials' signing certificates (``/quan-tri/chung-thu-so``: who signs results but has no valid
certificate; an uploaded certificate is checked and, when it passes, registered — :mod:`services.certificates`).

Every change is a POST form with the session's CSRF token and is recorded in the audit log
(``admin.user_saved``, ``admin.user_deactivated``/``admin.user_reactivated``, ``admin.calendar_override_added``/
``admin.calendar_override_removed``, ``incident.retried``). Calendar overrides are checked with
:func:`dossiers.calendar.validate_overrides` together with the days already in force, and the running shop's
working calendar is rebuilt after each change (deadlines already computed stay as they are).

The changes and their records are use cases: :func:`services.accounts.save_user` and
:func:`services.accounts.set_user_active` (a deactivated account can neither log in nor use its sessions or
tokens), :mod:`services.calendar` for the overrides.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.downloads import content_disposition
from api.web.labels import INCIDENT_ADVICE, problems_read
from api.web.render import language, page, parse_day
from api.web.routes import form_of, signed_in
from dossiers.calendar import VN_TZ, validate_overrides, vietnam_year_days
from dossiers.errors import InvalidInput, MotcuaError
from dossiers.model import OFFICIAL_ROLES, Person, Role
from services import calendar as overrides_calendar
from services.accounts import save_user, set_user_active
from services.certificates import MAX_CERTIFICATE_BYTES
from services.operations import retry_incident
from workflows.introspect import activity_name

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")  # as dossiers.agencies checks the demo people
OVERRIDE_KINDS = {
    "holiday": ("Ngày nghỉ", "Day off"),
    "working_day": ("Ngày làm việc (làm bù)", "Working day (make-up)"),
}
SECTION = {"holiday": "holidays", "working_day": "working_days"}
LEVEL_NAMES = {
    "province": ("Cấp tỉnh", "Province"),
    "district": ("Cấp huyện", "District"),
    "commune": ("Cấp xã", "Commune"),
}
ROLES_WITH_DEPARTMENTS = ("reception", "specialist", "leader", "clerk", "auditor", "admin")
MAX_REASON = 1000


def _text(form: dict[str, Any], name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _invalid(vi: str, en: str) -> InvalidInput:
    return InvalidInput(vi, en)


def admin_router(runtime: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    shop = runtime.shop

    def admin(request: Request) -> Person:
        return signed_in(request, runtime, Role.ADMIN)

    def today() -> dt.date:
        day: dt.date = runtime.clock.now().astimezone(VN_TZ).date()
        return day

    # ------------------------------------------------------------------ overview

    @router.get("/quan-tri", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        person = admin(request)
        return page(
            request,
            runtime,
            "admin/index.html",
            person=person,
            users=len(runtime.accounts.list()),
            incidents=len(runtime.engine.incidents()),
            without_certificate=len(runtime.certificates.missing()),
            structure=shop.structure_now(),
            procedures=len(shop.catalogue()),
        )

    # ------------------------------------------------------------------ users and roles

    def users_page(request: Request, person: Person, status_code: int = 200, **context: Any) -> HTMLResponse:
        structure = shop.structure_now()
        return page(
            request,
            runtime,
            "admin/users.html",
            status_code=status_code,
            person=person,
            users=runtime.accounts.rows(),
            roles=[r.value for r in Role],
            agencies=structure.agencies,
            agency_names={a.code: a.name for a in structure.agencies},
            department_names={d.code: d.name for a in structure.agencies for d in a.departments},
            **context,
        )

    @router.get("/quan-tri/nguoi-dung", response_class=HTMLResponse)
    def users(request: Request, da_luu: str | None = None) -> Response:
        person = admin(request)
        return users_page(request, person, saved=da_luu)

    def check_new_user(form: dict[str, Any]) -> tuple[str, str, Role, str | None, str | None, str]:
        username = _text(form, "username", 80).lower()
        full_name = _text(form, "full_name", 200)
        password = form.get("password") if isinstance(form.get("password"), str) else ""
        agency_code = _text(form, "agency_code", 40) or None
        department_code = _text(form, "department_code", 40) or None
        if not USERNAME.fullmatch(username):
            raise _invalid(
                "Tên đăng nhập gồm 2–64 ký tự a-z, 0-9, dấu chấm, gạch dưới hoặc gạch ngang (không dấu).",
                "A user name is 2-64 characters of a-z 0-9 . _ - (ASCII).",
            )
        if not full_name:
            raise _invalid("Hãy nhập họ và tên.", "Enter the full name.")
        try:
            role = Role(_text(form, "role", 20))
        except ValueError:
            raise _invalid("Vai trò không hợp lệ.", "Unknown role.") from None
        if role is Role.CITIZEN:
            if agency_code or department_code:
                raise _invalid("Công dân không thuộc cơ quan, phòng ban nào.", "A citizen has no agency or department.")
            return username, full_name, role, None, None, str(password)
        if agency_code is None:
            raise _invalid("Cán bộ cần có cơ quan.", f"Role {role.value} needs an agency.")
        agency = shop.agency(agency_code)  # NotFound names the structure
        if department_code is None:
            if role in OFFICIAL_ROLES:
                raise _invalid("Cán bộ xử lý hồ sơ cần có phòng, ban.", f"Role {role.value} needs a department.")
        else:
            if agency.department(department_code) is None:
                raise _invalid(
                    f"Phòng, ban {department_code} không thuộc {agency.name}.",
                    f"Department {department_code} is not a department of {agency.code}.",
                )
            allowed = agency.departments_for_role(role.value)
            if allowed and department_code not in allowed:
                raise _invalid(
                    f"{agency.name} giao vai trò này cho {', '.join(allowed)}, không cho {department_code}: "
                    "người này sẽ không xử lý được việc nào.",
                    f"{agency.code} maps role {role.value} to {', '.join(allowed)}, not to {department_code}.",
                )
        return username, full_name, role, agency_code, department_code, str(password)

    @router.post("/quan-tri/nguoi-dung", response_class=HTMLResponse)
    async def add_user(request: Request) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        try:
            username, full_name, role, agency_code, department_code, password = check_new_user(form)
            await run_in_threadpool(
                save_user,
                runtime.accounts,
                shop,
                person.username,
                username,
                password,
                full_name,
                role,
                agency_code,
                department_code,
                runtime.clock.now(),
                after_save=runtime.certificates.person_saved,  # development: a leader's or clerk's certificate
                channel="browser",
            )
        except MotcuaError as exc:
            submitted = {k: _text(form, k) for k in ("username", "full_name", "role", "agency_code", "department_code")}
            status = 409 if exc.kind == "conflict" else 404 if exc.kind == "not_found" else 422
            return users_page(request, person, status, error=(exc.message_vi, exc.message_en), submitted=submitted)
        return RedirectResponse(f"/quan-tri/nguoi-dung?da_luu={quote(username)}", status_code=303)

    async def set_active(request: Request, username: str, active: bool) -> Response:
        person = admin(request)
        await form_of(request, runtime)
        if username == person.username:
            return users_page(
                request,
                person,
                422,
                error=("Không thể tự khóa tài khoản của mình.", "You cannot deactivate your own account."),
            )
        if not set_user_active(runtime.accounts, shop, person.username, username, active, channel="browser"):
            return users_page(
                request, person, 404, error=(f"Không có tài khoản {username}.", f"No account {username}.")
            )
        return RedirectResponse(f"/quan-tri/nguoi-dung?da_luu={quote(username)}", status_code=303)

    @router.post("/quan-tri/nguoi-dung/{username}/khoa", response_class=HTMLResponse)
    async def deactivate(request: Request, username: str) -> Response:
        return await set_active(request, username, False)

    @router.post("/quan-tri/nguoi-dung/{username}/mo-khoa", response_class=HTMLResponse)
    async def reactivate(request: Request, username: str) -> Response:
        return await set_active(request, username, True)

    # ------------------------------------------------------------------ officials' signing certificates

    def certificates_page(request: Request, person: Person, status_code: int = 200, **context: Any) -> HTMLResponse:
        structure = shop.structure_now()
        return page(
            request,
            runtime,
            "admin/certificates.html",
            status_code=status_code,
            person=person,
            missing=runtime.certificates.missing(),
            signers=runtime.certificates.signers(),
            agency_names={a.code: a.name for a in structure.agencies},
            max_kb=MAX_CERTIFICATE_BYTES // 1024,
            **context,
        )

    @router.get("/quan-tri/chung-thu-so", response_class=HTMLResponse)
    def certificates(request: Request, da_dang_ky: str | None = None) -> Response:
        person = admin(request)
        check = runtime.certificates.registered(da_dang_ky) if da_dang_ky else None
        return certificates_page(request, person, saved=da_dang_ky if check else None, check=check)

    @router.post("/quan-tri/chung-thu-so", response_class=HTMLResponse)
    async def register_certificate(request: Request) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        username = _text(form, "username", 80)
        upload = form.get("certificate")
        if not username:
            return certificates_page(request, person, 422, error=("Hãy chọn cán bộ.", "Choose the official."))
        if not isinstance(upload, UploadFile) or not upload.filename:
            return certificates_page(
                request,
                person,
                422,
                chosen=username,
                error=("Hãy chọn tệp chứng thư số.", "Choose the certificate file."),
            )
        data = await upload.read(MAX_CERTIFICATE_BYTES + 1)
        try:
            checked = await run_in_threadpool(
                runtime.certificates.register,
                person.username,
                username,
                data,
                channel="browser",
                filename=upload.filename[:200],
            )
        except MotcuaError as exc:
            status = 404 if exc.kind == "not_found" else 422
            return certificates_page(request, person, status, chosen=username, error=(exc.message_vi, exc.message_en))
        if not checked.passed:
            return certificates_page(
                request,
                person,
                422,
                chosen=username,
                check=checked,
                error=(
                    "Chứng thư số không đạt kiểm tra nên chưa được đăng ký (xem kết quả kiểm tra bên dưới).",
                    "The certificate failed the checks and was not registered (see below).",
                ),
            )
        return RedirectResponse(f"/quan-tri/chung-thu-so?da_dang_ky={quote(username)}", status_code=303)

    # ------------------------------------------------------------------ structure in force

    @router.get("/quan-tri/co-cau", response_class=HTMLResponse)
    def structure_page(request: Request) -> Response:
        person = admin(request)
        structure = shop.structure_now()
        agencies = []
        names = {a.code: a.name for a in structure.agencies}
        for agency in structure.agencies:
            roles_of: dict[str, list[str]] = defaultdict(list)
            for role, codes in agency.role_departments.items():
                for code in codes:
                    roles_of[code].append(role)
            unmapped = [r for r in ROLES_WITH_DEPARTMENTS if not agency.departments_for_role(r)]
            agencies.append(
                {
                    "agency": agency,
                    "parent": names.get(agency.parent_code or "", agency.parent_code),
                    "departments": [(d, sorted(roles_of.get(d.code, ()))) for d in agency.departments],
                    "unmapped": unmapped,
                }
            )
        return page(
            request,
            runtime,
            "admin/structure.html",
            person=person,
            structure=structure,
            agencies=agencies,
            levels=LEVEL_NAMES,
        )

    # ------------------------------------------------------------------ calendar overrides

    def overrides() -> list[Any]:
        return overrides_calendar.overrides(runtime.db)

    def calendar_page(
        request: Request, person: Person, year: int, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        rows = overrides()
        years = sorted({r.day.year for r in rows} | {today().year, year})
        statutory = vietnam_year_days(year)
        return page(
            request,
            runtime,
            "admin/calendar.html",
            status_code=status_code,
            person=person,
            year=year,
            years=years,
            rows=[r for r in rows if r.day.year == year],
            kinds=OVERRIDE_KINDS,
            statutory=sorted(statutory.holidays.items()),
            statutory_working=sorted(statutory.working_days.items()),
            **context,
        )

    def year_of(text: str | None) -> int:
        if text and text.isdigit() and 1900 <= int(text) <= 2200:
            return int(text)
        return today().year

    @router.get("/quan-tri/lich", response_class=HTMLResponse)
    def calendar(request: Request, nam: str | None = None, da_luu: str | None = None) -> Response:
        person = admin(request)
        return calendar_page(request, person, year_of(nam), saved=da_luu)

    def rebuild_calendar() -> None:
        shop.calendar = runtime.load_calendar()

    @router.post("/quan-tri/lich", response_class=HTMLResponse)
    async def add_override(request: Request) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        year = year_of(_text(form, "year", 4))
        typed = _text(form, "day", 40)
        kind = _text(form, "kind", 20)
        reason = _text(form, "reason", MAX_REASON)
        submitted = {"day": typed, "kind": kind, "reason": reason}
        parsed = parse_day(typed)  # dd/mm/yyyy as typed, yyyy-mm-dd still read
        day_text = parsed.isoformat() if parsed else typed

        def refuse(vi: str, en: str, problems: list[str] | None = None) -> HTMLResponse:
            return calendar_page(
                request, person, year, 422, error=(vi, en), problems=problems or [], submitted=submitted
            )

        if not typed:
            return refuse("Hãy nhập ngày.", "Enter the day.")
        if parsed is None:
            return refuse(
                f"Ngày '{typed}' không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 02/09/2026.",
                f"'{typed}' is not a date day/month/year.",
            )
        if kind not in OVERRIDE_KINDS:
            return refuse("Loại ngày phải là ngày nghỉ hoặc ngày làm việc.", "The kind is a day off or a working day.")
        if not reason:
            return refuse("Hãy nhập lý do và căn cứ (số văn bản).", "Enter the reason and its source.")
        rows = overrides()
        if any(r.day.isoformat() == day_text for r in rows):
            return refuse(
                f"Ngày {parsed:%d/%m/%Y} đã có trong lịch điều chỉnh; hãy xóa mục cũ trước.",
                f"{day_text} already has an override; remove it first.",
            )
        data: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: {"holidays": {}, "working_days": {}})
        for r in rows:
            data[str(r.day.year)][SECTION[r.kind]][r.day.isoformat()] = r.reason
        year_key = day_text[:4] if day_text[:4].isdigit() else str(year)
        data[year_key][SECTION[kind]][day_text] = reason
        problems = validate_overrides(dict(data))
        if problems:
            return refuse(
                "Ngày điều chỉnh không hợp lệ, chưa lưu:",
                "The override is invalid and was not saved:",
                problems_read(problems, language(request)),
            )
        day = dt.date.fromisoformat(day_text)
        overrides_calendar.add_override(
            runtime.db, shop, person.username, day, kind, reason, rebuild=rebuild_calendar, channel="browser"
        )
        return RedirectResponse(f"/quan-tri/lich?nam={day.year}&da_luu={day.isoformat()}", status_code=303)

    @router.post("/quan-tri/lich/{day}/xoa", response_class=HTMLResponse)
    async def remove_override(request: Request, day: str) -> Response:
        person = admin(request)
        await form_of(request, runtime)
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            when = None
        removed = None
        if when is not None:
            removed = overrides_calendar.remove_override(
                runtime.db, shop, person.username, when, rebuild=rebuild_calendar, channel="browser"
            )
        if removed is None or when is None:
            return calendar_page(
                request,
                person,
                when.year if when else today().year,
                404,
                error=(f"Không có ngày điều chỉnh {day}.", f"No override on {day}."),
            )
        return RedirectResponse(f"/quan-tri/lich?nam={when.year}", status_code=303)

    # ------------------------------------------------------------------ catalogue

    @router.get("/quan-tri/thu-tuc", response_class=HTMLResponse)
    def catalogue(request: Request, kiem_tra: str | None = None) -> Response:
        person = admin(request)
        day = today()
        entries = []
        for entry in shop.catalogue():
            version = entry.version_at(day)
            # withdrawn from the catalogue (its file gone or its code corrected): not offered, nothing to design
            entries.append({"entry": entry, "version": version, "withdrawn": not entry.offered_on(day)})
        problems = None
        if kiem_tra:
            problems = problems_read((str(p) for p in runtime.catalogue_problems()), language(request))
        return page(
            request,
            runtime,
            "admin/catalogue.html",
            person=person,
            entries=entries,
            day=day,
            problems=problems,
            levels=LEVEL_NAMES,
            result_kinds={item["entry"].code: runtime.results.kind_name(item["entry"]) for item in entries},
            drafts=[s for s in runtime.designer.summaries() if s.has_draft],  # the designer's unpublished work
            process_names=process_names({item["entry"].process_key for item in entries}),
        )

    def process_names(keys: set[str]) -> dict[str, str]:
        """Each process by the name its deployed BPMN gives it (what the designer shows), not its identifier."""
        names = {}
        for key in keys:
            xml = runtime.engine.definition_xml(key)
            names[key] = (activity_name(xml, key) if xml else None) or "—"
        return names

    @router.get("/quan-tri/thu-tuc/{code}/mau-ket-qua")
    def result_preview(request: Request, code: str) -> Response:
        """The procedure's result template filled with its sample data (services.results: a bad template is
        refused with each problem's line and field)."""
        admin(request)
        pdf = runtime.results.preview(code)
        disposition = content_disposition(f"xem-truoc-ket-qua-{code}.pdf", inline=True)
        return Response(
            pdf, media_type="application/pdf", headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
        )

    # ------------------------------------------------------------------ incidents

    def incidents_page(request: Request, person: Person, status_code: int = 200, **context: Any) -> HTMLResponse:
        incidents = sorted(runtime.engine.incidents(), key=lambda i: i.created_at)
        return page(
            request,
            runtime,
            "admin/incidents.html",
            status_code=status_code,
            person=person,
            incidents=incidents,
            incident_advice=INCIDENT_ADVICE,
            **context,
        )

    @router.get("/quan-tri/su-co", response_class=HTMLResponse)
    def incidents(request: Request, da_chay_lai: str | None = None) -> Response:
        person = admin(request)
        return incidents_page(request, person, retried=da_chay_lai)

    @router.post("/quan-tri/su-co/{incident_id}/chay-lai", response_class=HTMLResponse)
    async def retry(request: Request, incident_id: str) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        text = _text(form, "retries", 3) or "3"
        if not text.isdigit() or not 1 <= int(text) <= 10:
            return incidents_page(
                request, person, 422, error=("Số lần thử lại phải từ 1 đến 10.", "Retries must be 1 to 10.")
            )
        try:
            await run_in_threadpool(
                retry_incident, runtime.engine, shop.record, incident_id, person.username, int(text)
            )
        except MotcuaError as exc:
            status = 404 if exc.kind == "not_found" else 422
            return incidents_page(request, person, status, error=(exc.message_vi, exc.message_en))
        return RedirectResponse(f"/quan-tri/su-co?da_chay_lai={quote(incident_id)}", status_code=303)

    # ------------------------------------------------------------------ exchange with partner installations

    def exchange_page(request: Request, person: Person, status_code: int = 200, **context: Any) -> HTMLResponse:
        exchange = runtime.exchange
        return page(
            request,
            runtime,
            "admin/exchange.html",
            status_code=status_code,
            person=person,
            configured=exchange is not None,
            partners=sorted(exchange.partners.partners.values(), key=lambda p: p.agency) if exchange else [],
            messages=exchange.messages() if exchange else [],
            **context,
        )

    @router.get("/quan-tri/lien-thong", response_class=HTMLResponse)
    def exchange_messages(request: Request, da_gui: str | None = None) -> Response:
        person = admin(request)
        return exchange_page(request, person, sent=da_gui)

    @router.post("/quan-tri/lien-thong/{message_id:path}/gui-lai", response_class=HTMLResponse)
    async def deliver_now(request: Request, message_id: str) -> Response:
        person = admin(request)
        await form_of(request, runtime)  # the CSRF check
        if runtime.exchange is None:
            return exchange_page(request, person, 404, error=("Chưa cấu hình liên thông.", "No exchange partners."))
        try:
            await run_in_threadpool(runtime.exchange.retry_now, message_id, person.username)
        except MotcuaError as exc:
            status = 404 if exc.kind == "not_found" else 409
            return exchange_page(request, person, status, error=(exc.message_vi, exc.message_en))
        return RedirectResponse(f"/quan-tri/lien-thong?da_gui={quote(message_id)}", status_code=303)

    return router
