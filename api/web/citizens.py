"""The citizens' portal (role citizen) and the public lookup.

``/cong-dan``: the dossiers the signed-in citizen submitted online (the intake records the submitting account
as ``received_by``), each with its status and due date; ``/cong-dan/nop-ho-so?thu_tuc=CODE``: submit online
(only procedures whose channels include ``online``); ``/cong-dan/ho-so/{code}``: the dossier's papers and
issued documents (receipt, supplement request, signed result), the supplement form while one is asked for,
and the satisfaction rating (five levels, once) after the result is ready.

``/tra-cuu``: anyone with a dossier's code and the applicant's ID number sees its status, current step, due
date and result link — no personal data; the ID number is sent in a POST body (not in the address, so it
stays out of logs and history) and the lookups share the API's per-address rate limit. The receipt's QR
code points to ``/tra-cuu?ma=CODE``, which fills the code in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.public_results import RateLimited, public_lookup_limit
from api.web.desk import (
    DOCUMENT_NAMES,
    Application,
    Message,
    close_files,
    form_helpers,
    read_supplement,
    register,
    registered,
    search,
)
from api.web.desk import read_application as read_application_form
from api.web.render import page
from api.web.routes import form_of, signed_in
from dossiers.codes import normalize_dossier_code
from dossiers.errors import Forbidden, MotcuaError, NotFound
from dossiers.model import Agency, DossierStatus, Person, Procedure, Role
from dossiers.statistics import RATING_LEVELS, RESULT_STATUSES
from services import statistics as stats
from services.public_lookup import public_tracking
from services.shop import submitted_by
from services.timeline import applicant_timeline

RATING_NAMES: Mapping[int, Message] = {
    1: ("Rất không hài lòng", "Very dissatisfied"),
    2: ("Không hài lòng", "Dissatisfied"),
    3: ("Bình thường", "Neutral"),
    4: ("Hài lòng", "Satisfied"),
    5: ("Rất hài lòng", "Very satisfied"),
}
MAX_DOSSIERS_LISTED = 500


def supplement_answered(documents: list[dict[str, Any]]) -> bool:
    """Papers were sent after the latest supplement request (the status changes when a worker takes them in)."""
    kinds = [d["kind"] for d in documents]  # in the order they were stored
    asked = max((i for i, k in enumerate(kinds) if k == "supplement_request"), default=-1)
    return any(k == "supplement" for k in kinds[asked + 1 :])


def citizens_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter(include_in_schema=False)

    def online_procedures() -> list[Procedure]:
        return [p for p in shop.procedures() if "online" in p.channels]

    def agencies_for(proc: Procedure) -> list[Agency]:
        return [a for a in shop.structure_now().agencies if not proc.levels or a.level in proc.levels]

    def problem(request: Request, person: Person | None, message: Message, status: int, back: str) -> HTMLResponse:
        return page(
            request, runtime, "desk/problem.html", status_code=status, person=person, message=message, back=back
        )

    # ------------------------------------------------------------------ my dossiers

    @router.get("/cong-dan", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        rows = submitted_by(shop, person.username, MAX_DOSSIERS_LISTED)  # newest first
        names = {e.code: e.name for e in shop.catalogue()}
        return page(
            request,
            runtime,
            "citizens/home.html",
            person=person,
            dossiers=rows,
            names=names,
            **form_helpers(),
        )

    # ------------------------------------------------------------------ submitting online

    def submission_page(
        request: Request,
        person: Person,
        proc: Procedure,
        app: Application | None = None,
        error: MotcuaError | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        values = app.values if app else {"applicant_name": person.full_name}
        return page(
            request,
            runtime,
            "citizens/submit.html",
            status_code=status,
            person=person,
            p=proc,
            values=values,
            errors=app.errors if app else {},
            error=error,
            agencies=agencies_for(proc),
            action="/cong-dan/nop-ho-so",
            hidden={"thu_tuc": proc.code},
            **form_helpers(),
        )

    def online_procedure(code: str) -> Procedure | None:
        return next((p for p in online_procedures() if p.code == code), None)

    not_online: Message = (
        "Thủ tục này không nhận hồ sơ trực tuyến.",
        "This procedure does not take dossiers online.",
    )

    @router.get("/cong-dan/nop-ho-so", response_class=HTMLResponse)
    def submission(request: Request, thu_tuc: str | None = None, q: str | None = None) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        if not thu_tuc:
            procedures = online_procedures()
            return page(
                request,
                runtime,
                "citizens/choose.html",
                person=person,
                q=q or "",
                procedures=search(procedures, q),
                total=len(procedures),
                **form_helpers(),
            )
        proc = online_procedure(thu_tuc)
        if proc is None:
            return problem(request, person, not_online, 404, "/cong-dan/nop-ho-so")
        return submission_page(request, person, proc)

    @router.post("/cong-dan/nop-ho-so", response_class=HTMLResponse)
    async def submit(request: Request) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        form = await form_of(request, runtime)
        try:
            code = form.get("thu_tuc")
            proc = online_procedure(code) if isinstance(code, str) else None
            if proc is None:
                return problem(request, person, not_online, 404, "/cong-dan/nop-ho-so")
            app = await run_in_threadpool(read_application_form, proc, form)  # parses the PDFs: off the loop
            agency = form.get("agency_code")
            agency_code = agency.strip() if isinstance(agency, str) else ""
            app.values["agency_code"] = agency_code
            if agency_code not in {a.code for a in agencies_for(proc)}:
                app.errors = {
                    "agency_code": ("Hãy chọn cơ quan tiếp nhận hồ sơ.", "Choose the receiving agency."),
                    **app.errors,
                }
            view, error = await register(runtime, person, proc, channel="online", agency_code=agency_code, app=app)
        finally:
            await close_files(form)
        if view is None:
            return submission_page(request, person, proc, app, error, status=422)
        return registered(request, f"/cong-dan/ho-so/{view['code']}?moi=1", view["code"])

    # ------------------------------------------------------------------ one dossier

    def dossier_page(
        request: Request,
        person: Person,
        code: str,
        *,
        status: int = 200,
        supplement_errors: dict[str, Message] | None = None,
        supplement_error: MotcuaError | None = None,
        supplement_values: Mapping[str, str] | None = None,
        rating_error: Message | None = None,
    ) -> HTMLResponse:
        try:
            view = shop.read_dossier(person, code)
        except (Forbidden, NotFound) as exc:
            return problem(
                request,
                person,
                (exc.message_vi, exc.message_en),
                403 if isinstance(exc, Forbidden) else 404,
                "/cong-dan",
            )
        proc = shop.procedure_of(shop.dossier_row(code))
        state = DossierStatus(view["status"])
        tasks = runtime.engine.user_tasks(business_key=code)
        answered = supplement_answered(view["documents"])
        return page(
            request,
            runtime,
            "citizens/dossier.html",
            status_code=status,
            person=person,
            d=view,
            p=proc,
            current_step=tasks[0].name if tasks else None,
            documents=[x for x in view["documents"] if x["kind"] in DOCUMENT_NAMES],
            papers={x.key: x.name for x in proc.papers} | {"other": "Giấy tờ khác"},
            timeline=applicant_timeline(shop, person, code),
            waiting_for_reception=state == DossierStatus.SUBMITTED,
            supplement_open=state == DossierStatus.SUPPLEMENT_REQUESTED and not answered,
            supplement_answered=state == DossierStatus.SUPPLEMENT_REQUESTED and answered,
            can_rate=state in RESULT_STATUSES,
            rated=stats.rating_of(runtime.db, code),
            rating_names=RATING_NAMES,
            supplement_errors=supplement_errors or {},
            supplement_error=supplement_error,
            supplement_values=supplement_values or {},
            rating_error=rating_error,
            new=request.query_params.get("moi") == "1",
            supplemented=request.query_params.get("da_bo_sung") == "1",
            thanked=request.query_params.get("da_danh_gia") == "1",
            **form_helpers(),
        )

    @router.get("/cong-dan/ho-so/{code}", response_class=HTMLResponse)
    def dossier_detail(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        return dossier_page(request, person, code)

    @router.post("/cong-dan/ho-so/{code}/bo-sung", response_class=HTMLResponse)
    async def supplement(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        form = await form_of(request, runtime)
        app = Application()
        error: MotcuaError | None = None
        try:
            try:
                row = shop.authorize_dossier(person, code)
            except (Forbidden, NotFound):
                return dossier_page(request, person, code)  # says why, without touching anything
            app = await run_in_threadpool(read_supplement, shop.procedure_of(row), form)
            if not app.errors:
                try:
                    await run_in_threadpool(runtime.supplements.supplement, person, code, app.uploads)
                except MotcuaError as exc:
                    error = exc
        finally:
            await close_files(form)
        if app.errors or error is not None:
            status = 409 if error is not None and error.kind == "conflict" else 422
            errors = {f"supplement-{k}": m for k, m in app.errors.items()}
            return dossier_page(
                request,
                person,
                code,
                status=status,
                supplement_errors=errors,
                supplement_error=error,
                supplement_values=app.values,
            )
        return registered(request, f"/cong-dan/ho-so/{code}?da_bo_sung=1", code)

    @router.post("/cong-dan/ho-so/{code}/danh-gia", response_class=HTMLResponse)
    async def rate(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.CITIZEN)
        form = await form_of(request, runtime)
        try:
            row = shop.authorize_dossier(person, code)
        except (Forbidden, NotFound):
            return dossier_page(request, person, code)
        level = form.get("level")
        comment = form.get("comment")
        text = comment.strip()[:2000] if isinstance(comment, str) else None
        if not (isinstance(level, str) and level.isdigit() and int(level) in RATING_LEVELS):
            message: Message = ("Hãy chọn một mức đánh giá từ 1 đến 5.", "Choose a level from 1 to 5.")
            return dossier_page(request, person, code, status=422, rating_error=message)
        try:
            await run_in_threadpool(
                stats.rate, runtime.db, runtime.clock, shop, code, row.applicant_id_number, int(level), text or None
            )
        except MotcuaError as exc:
            status = 409 if exc.kind == "conflict" else 422
            return dossier_page(request, person, code, status=status, rating_error=(exc.message_vi, exc.message_en))
        return RedirectResponse(f"/cong-dan/ho-so/{code}?da_danh_gia=1", status_code=303)

    # ------------------------------------------------------------------ public lookup

    def lookup_page(
        request: Request,
        code: str = "",
        *,
        result: dict[str, Any] | None = None,
        errors: dict[str, Message] | None = None,
        message: Message | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        return page(
            request,
            runtime,
            "citizens/lookup.html",
            status_code=status,
            code=code,
            result=result,
            errors=errors or {},
            message=message,
            **form_helpers(),
        )

    @router.get("/tra-cuu", response_class=HTMLResponse)
    def lookup_form(request: Request, ma: str | None = None) -> Response:
        return lookup_page(request, (ma or "").strip()[:40])

    @router.post("/tra-cuu", response_class=HTMLResponse)
    async def lookup(request: Request) -> Response:
        form = await request.form(max_fields=10, max_files=0)
        code = normalize_dossier_code(str(form.get("ma") or ""))  # as typed from the receipt: case and spaces forgiven
        number = "".join(str(form.get("so_dinh_danh") or "").split())
        errors: dict[str, Message] = {}
        if not code or len(code) > 40:
            errors["ma"] = ("Hãy nhập mã hồ sơ (in trên giấy tiếp nhận).", "Enter the dossier code (on the receipt).")
        if not (number.isdigit() and len(number) in (9, 12)):
            errors["so_dinh_danh"] = (
                "Số định danh cá nhân/CCCD gồm 12 chữ số (hoặc CMND 9 chữ số).",
                "The personal ID number has 12 digits (or 9 for an old ID card).",
            )
        if errors:
            return lookup_page(request, code[:40], errors=errors, status=422)
        try:
            await run_in_threadpool(public_lookup_limit, request)  # counted in the database
        except RateLimited as exc:
            message: Message = (
                f"Quá nhiều lượt tra cứu từ địa chỉ này; vui lòng thử lại sau {exc.retry_after} giây.",
                f"Too many lookups from this address; please try again in {exc.retry_after} seconds.",
            )
            response = lookup_page(request, code, message=message, status=429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        try:
            result = await run_in_threadpool(public_tracking, runtime, code, number)
        except NotFound as exc:
            return lookup_page(request, code, message=(exc.message_vi, exc.message_en), status=404)
        return lookup_page(request, code, result=result)

    return router
