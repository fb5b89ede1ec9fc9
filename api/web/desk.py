"""The reception desk (*Bộ phận Một cửa*, role reception): find a procedure by its name or code — with or
without Vietnamese diacritics —, see its required papers, enter the applicant and the application form,
attach a scan per paper, register the dossier and hand over the signed receipt (Mẫu 01).

The registration form works without JavaScript (a multipart POST of the page form, answered by a redirect
to the receipt page or by the same form with its errors). ``/static/js/upload.js`` enhances it: the same
form is sent with ``XMLHttpRequest`` to show the upload's progress, and the answer is the same.

The helpers that read an application form (applicant, form fields, one upload per paper) are shared with the
citizens' online submission (:mod:`api.web.citizens`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.web import labels
from api.web.render import fee_text, page, parse_day, time_limit_text
from api.web.routes import form_of, signed_in
from dossiers import text_rules
from dossiers.catalogue import PAPER_FORM_NAMES
from dossiers.errors import Forbidden, InvalidInput, MotcuaError, NotFound
from dossiers.lifecycle import STOPPABLE
from dossiers.model import DossierStatus, FormField, Person, Procedure, Role
from dossiers.search_text import fold
from services.intake import Applicant
from services.shop import set_applicant_email
from services.stopping import StopRequest
from services.timeline import applicant_timeline
from services.uploads import Upload, check_upload

Message = tuple[str, str]  # (Vietnamese, English)
T = TypeVar("T")

STATUS_NAMES: Mapping[str, Message] = {s.value: labels.status(s.value) for s in DossierStatus}  # one table
DOCUMENT_NAMES: Mapping[str, Message] = {
    "upload": ("Giấy tờ đã nộp", "Submitted paper"),
    "supplement": ("Giấy tờ bổ sung", "Supplementary paper"),
    "receipt": ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)", "Receipt and appointment (form 01)"),
    "supplement_request": ("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02)", "Supplement request (form 02)"),
    "refusal": ("Phiếu từ chối giải quyết hồ sơ (Mẫu 03)", "Refusal (form 03)"),
    "apology": labels.document_kind("apology"),  # a name true of both sets' Mẫu 04
    "stop_notice": labels.document_kind("stop_notice"),  # Mẫu 05 of 2025: processing stopped
    "result": ("Kết quả giải quyết (có chữ ký số)", "Signed result"),
}
RECEPTION_OUTCOMES = ("accept", "supplement", "refuse")
STOP_KINDS = ("applicant", "agency")  # who stops the processing: the applicant asked, or the agency decides
APPLICANT_INPUTS = frozenset({"applicant_name", "applicant_id_number", "applicant_phone", "applicant_email"})
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
WORD = re.compile(r"[\w.]+")


# ------------------------------------------------------------------ search without diacritics


def matches(p: Procedure, query: str) -> bool:
    """Every word of the query starts a word of the procedure's name, or is part of its code: ``"dang ky ho
    kinh doanh"`` finds *Đăng ký thành lập hộ kinh doanh*, ``"001612"`` finds 1.001612."""
    words = WORD.findall(fold(p.name))
    code = p.code.casefold()
    return all(any(w.startswith(token) for w in words) or token in code for token in WORD.findall(fold(query)))


def search(procedures: Sequence[Procedure], query: str | None) -> list[Procedure]:
    if not query or not query.strip():
        return list(procedures)
    return [p for p in procedures if matches(p, query)]


# ------------------------------------------------------------------ reading an application form


@dataclass
class Application:
    """What a submitted application form says, with one message per wrong input (by the input's id)."""

    values: dict[str, str] = field(default_factory=dict)  # text inputs as typed, to fill the form again
    applicant: Applicant = Applicant("", "")
    email: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    errors: dict[str, Message] = field(default_factory=dict)


def field_id(key: str) -> str:
    return f"f-{key}"


def paper_id(key: str) -> str:
    return f"paper-{key}"


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.strip() if isinstance(value, str) else ""


def _files(form: Mapping[str, Any], name: str) -> list[UploadFile]:
    value = form.get(name)
    values = value if isinstance(value, list) else [value]
    # a file input left empty still arrives, as a part without a file name and without bytes
    return [v for v in values if isinstance(v, UploadFile) and (v.filename or (v.size or 0) > 0)]


def _refill(value: str, limit: int) -> str:
    """What goes back into an input after an error: never more than a little past its limit (a pasted
    megabyte is refused, not echoed into the page)."""
    return value[: limit + 20]


def _checked(app: Application, input_id: str, check: Callable[[], T]) -> T | None:
    """The domain's check of one input (:mod:`dossiers.text_rules`); its refusal is shown next to the input."""
    try:
        return check()
    except InvalidInput as exc:
        app.errors[input_id] = (exc.message_vi, exc.message_en)
        return None


def read_applicant(form: Mapping[str, Any], app: Application) -> None:
    """The applicant's inputs, checked by the same rules as the intake use case."""
    name = _text(form, "applicant_name")
    number = _text(form, "applicant_id_number")
    phone = _text(form, "applicant_phone")
    email = _text(form, "applicant_email")
    app.values.update(
        applicant_name=_refill(name, text_rules.NAME_MAX),
        applicant_id_number=_refill(number, 12),
        applicant_phone=_refill(phone, 20),
        applicant_email=_refill(email, text_rules.EMAIL_MAX),
    )
    checked_name = _checked(app, "applicant_name", lambda: text_rules.clean_applicant_name(name))
    _checked(app, "applicant_id_number", lambda: text_rules.clean_id_number(number))
    checked_phone = _checked(app, "applicant_phone", lambda: text_rules.clean_phone(phone))
    checked_email = _checked(
        app,
        "applicant_email",
        lambda: text_rules.clean_text(
            email,
            field="applicant_email",
            label_vi="Địa chỉ thư điện tử",
            label_en="The e-mail address",
            max_length=text_rules.EMAIL_MAX,
            name=True,
        ),
    )
    if checked_email and not EMAIL.match(checked_email):
        app.errors["applicant_email"] = ("Địa chỉ thư điện tử không hợp lệ.", "Invalid e-mail address.")
    app.applicant = Applicant(checked_name or name, number, checked_phone)
    app.email = checked_email or None


def read_details(proc: Procedure, form: Mapping[str, Any], app: Application) -> None:
    """The procedure's form fields (``f.<key>``), read by widget: text, an address (its lines joined), integer and
    money (dots and spaces between thousands allowed), date (ISO from a date input, or dd/mm/yyyy typed), a list
    (one item per line, or one per row ``f.<key>.<i>``), a table (``f.<key>.<i>.<cell>``). Each value is then
    checked by the bounds and the form's schema (:func:`dossiers.text_rules.check_form`): every wrong field gets
    its own Vietnamese message beside its input."""
    for f in proc.form_fields:
        fid = field_id(f.key)
        value = _field_value(f, form, app)
        if fid in app.errors:
            continue
        if value in (None, "", []):
            if f.required:
                app.errors[fid] = (f"Cần nhập mục “{f.name}”.", f"“{f.name}” is required.")
            continue
        checked = _checked(app, fid, lambda f=f, value=value: text_rules.form_value(f, value))
        if checked in ("", []) and f.required:
            app.errors[fid] = (f"Cần nhập mục “{f.name}”.", f"“{f.name}” is required.")
        elif checked not in (None, "", []) and fid not in app.errors:
            app.details[f.key] = checked
    if proc.form is not None:
        try:
            text_rules.check_form(proc, app.details)
        except InvalidInput as exc:
            errors = exc.details.get("errors")
            for error in errors if isinstance(errors, list) else []:
                fid = field_id(str(error.get("key", "")))
                if fid not in app.errors and error.get("kind") != "required":
                    app.errors[fid] = (str(error.get("message", "")), str(error.get("message_en", "")))
    # the page's list of errors follows the form's order
    ordered = {fid: app.errors.pop(fid) for f in proc.form_fields if (fid := field_id(f.key)) in app.errors}
    app.errors.update(ordered)


def _field_value(f: FormField, form: Mapping[str, Any], app: Application) -> Any:
    """One field's value as typed, converted for its kind; ``None`` when blank or (with an error set) unreadable."""
    name = f"f.{f.key}"
    if f.kind == "rows":
        # rows left blank are dropped and the others numbered again, so an error's row is the row shown after it
        rows: list[dict[str, Any]] = []
        for i in range(_rows_sent(form, name)):
            typed = {c.key: _text(form, f"{name}.{i}.{c.key}") for c in f.columns}
            if not any(typed.values()):
                continue
            for key, raw in typed.items():
                app.values[f"{name}.{len(rows)}.{key}"] = _refill(raw, text_rules.FORM_TEXT_MAX)
            rows.append({c.key: _typed(c, typed[c.key], app, field_id(f.key)) for c in f.columns if typed[c.key]})
        return rows
    if f.kind == "list" and f.widget == "rows":
        items = [raw for i in range(_rows_sent(form, name)) if (raw := _text(form, f"{name}.{i}"))]
        for i, raw in enumerate(items):
            app.values[f"{name}.{i}"] = _refill(raw, text_rules.FORM_TEXT_MAX)
        return items
    raw = _text(form, name)
    limit = text_rules.FORM_TEXT_MAX * (text_rules.LIST_ITEMS_MAX if f.kind == "list" else 1)
    app.values[name] = _refill(raw, limit)
    if not raw:
        return None
    if f.kind == "list":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if f.widget == "address":
        return ", ".join(line.strip() for line in raw.splitlines() if line.strip())
    return _typed(f, raw, app, field_id(f.key))


def _typed(f: FormField, raw: str, app: Application, fid: str) -> Any:
    if f.kind == "integer":
        return re.sub(r"[\s.]", "", raw)  # dots or spaces between thousands
    if f.kind == "date":
        day = _date(raw)
        if day is None:
            app.errors[fid] = (
                f"Mục “{f.name}” phải là một ngày, nhập theo dạng ngày/tháng/năm (ví dụ 25/12/1990).",
                f"“{f.name}” must be a date (day/month/year).",
            )
            return None
        return day.isoformat()
    return raw


def _rows_sent(form: Mapping[str, Any], name: str) -> int:
    """How many rows of a table or list the page sent (``<name>.<i>…``), at most a list's bound."""
    prefix = name + "."
    indexes = {key[len(prefix) :].split(".", 1)[0] for key in form if isinstance(key, str) and key.startswith(prefix)}
    sent = [int(i) + 1 for i in indexes if i.isdigit() and len(i) <= 3]
    return min(max(sent, default=0), text_rules.LIST_ITEMS_MAX)


def _date(raw: str) -> dt.date | None:
    """dd/mm/yyyy as typed (the input is text: a browser's date input shows its own language's order);
    yyyy-mm-dd is still read (old forms, scripts)."""
    return parse_day(raw)


def read_papers(proc: Procedure, form: Mapping[str, Any], app: Application, *, all_optional: bool = False) -> None:
    """One scan per paper (``paper.<key>``), each checked as the API checks it (PDF, JPEG or PNG, content
    matching its type, a PDF that opens) so a wrong file is named next to its input."""
    for p in proc.papers:
        files = _files(form, f"paper.{p.key}")
        if not files and p.mandatory and not all_optional:
            app.errors[paper_id(p.key)] = (
                f"Cần tải lên bản quét “{p.name}”.",
                f"Attach a scan of “{p.name}”.",
            )
        for f in files:
            upload = Upload(p.key, f.filename or "", f.content_type or "application/octet-stream", f.file)
            try:
                check_upload(upload)
            except InvalidInput as exc:
                app.errors[paper_id(p.key)] = (exc.message_vi, exc.message_en)
            else:
                app.uploads.append(upload)


OTHER_NAME_LIMIT = 120


def read_other_paper(form: Mapping[str, Any], app: Application) -> None:
    """A supplementary paper that is none of the procedure's papers ("giấy tờ khác"): its title names the file, so
    the officials read what it is (it is not forced into an unrelated slot)."""
    files = _files(form, "paper.other")
    raw = form.get("other_name")
    name = " ".join(raw.split())[:OTHER_NAME_LIMIT] if isinstance(raw, str) else ""
    app.values["other_name"] = name
    if files and not name:
        app.errors["other-name"] = ("Hãy ghi tên của giấy tờ khác.", "Name the other paper.")
        return
    if name and not files:
        app.errors[paper_id("other")] = (f"Cần tải lên bản quét “{name}”.", f"Attach a scan of “{name}”.")
        return
    for f in files:
        suffix = Path(f.filename or "").suffix[:10]
        upload = Upload("other", f"{name}{suffix}", f.content_type or "application/octet-stream", f.file)
        try:
            check_upload(upload)
        except InvalidInput as exc:
            app.errors[paper_id("other")] = (exc.message_vi, exc.message_en)
        else:
            app.uploads.append(upload)


def read_supplement(proc: Procedure, form: Mapping[str, Any]) -> Application:
    """The supplementary papers of a form (the citizen's page, the desk's): any of the procedure's papers and
    "another paper" with its name, at least one."""
    app = Application()
    read_papers(proc, form, app, all_optional=True)
    read_other_paper(form, app)
    if not app.uploads and not app.errors:
        first = proc.papers[0].key if proc.papers else "other"
        app.errors[paper_id(first)] = (
            "Hãy chọn ít nhất một giấy tờ bổ sung.",
            "Choose at least one supplementary paper.",
        )
    return app


def read_application(proc: Procedure, form: Mapping[str, Any]) -> Application:
    app = Application()
    read_applicant(form, app)
    read_details(proc, form, app)
    read_papers(proc, form, app)
    return app


def problem_fields(proc: Procedure, exc: MotcuaError, app: Application) -> dict[str, Message]:
    """The inputs a domain error is about (missing papers or form fields, a named file), for aria-describedby."""
    papers = {p.key for p in proc.papers}
    fields = {f.key for f in proc.form_fields}
    found: dict[str, Message] = {}
    message = (exc.message_vi, exc.message_en)
    named = exc.details.get("field")
    if isinstance(named, str) and named in APPLICANT_INPUTS:
        found[named] = message
    elif isinstance(named, str) and named.startswith("details.") and named[len("details.") :] in fields:
        found[field_id(named[len("details.") :])] = message
    errors = exc.details.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, Mapping) and error.get("key") in fields:
            found[field_id(str(error["key"]))] = (str(error.get("message", "")), str(error.get("message_en", "")))
    missing = exc.details.get("missing")
    for key in missing if isinstance(missing, list) else []:
        if key in papers:
            found[paper_id(str(key))] = message
        elif key in fields and field_id(str(key)) not in found:
            found[field_id(str(key))] = message
    filename = exc.details.get("filename")
    for upload in app.uploads:
        if filename and upload.filename == filename:
            found[paper_id(upload.paper_key)] = message
    return found


async def close_files(form: Mapping[str, Any]) -> None:
    for value in form.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, UploadFile):
                await item.close()


async def register(
    runtime: Any,
    person: Person,
    proc: Procedure,
    *,
    channel: str,
    agency_code: str | None,
    app: Application,
) -> tuple[dict[str, Any] | None, MotcuaError | None]:
    """Register the dossier when the form has no errors; the domain's own refusal is returned, not raised."""
    if app.errors:
        return None, None
    try:
        view = await run_in_threadpool(
            runtime.intake.intake, person, proc.code, app.applicant, app.uploads, agency_code, channel, app.details
        )
    except MotcuaError as exc:
        app.errors.update(problem_fields(proc, exc, app))
        return None, exc
    await run_in_threadpool(set_applicant_email, runtime.shop, view["code"], app.email)
    return view, None


def registered(request: Request, location: str, code: str) -> Response:
    """After a registration: the script that sent the form gets JSON, a browser without scripts a redirect."""
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JSONResponse({"code": code, "location": location}, status_code=201)
    return RedirectResponse(location, status_code=303)


def detail_text(f: FormField | None, value: Any) -> str:
    """A declared value as people read it (:func:`api.web.labels.value_text`); a table's rows as
    "cell: value, …; …"."""
    if f is not None and f.kind == "rows" and isinstance(value, list):
        return "; ".join(
            ", ".join(f"{c.name}: {labels.value_text(row[c.key])}" for c in f.columns if c.key in row)
            for row in value
            if isinstance(row, Mapping)
        )
    if f is not None and f.widget != "money" and isinstance(value, int) and not isinstance(value, bool):
        return str(value) if abs(value) < 10_000 else labels.value_text(value)  # a year is 1992, not 1.992
    return labels.value_text(value)


def rows_shown(f: FormField, values: Mapping[str, str]) -> int:
    """The rows a table or a list of rows offers: its fixed number of empty rows, or one more than the last row
    filled before an error, at most a list's bound."""
    prefix = f"f.{f.key}."
    filled = [key[len(prefix) :].split(".", 1)[0] for key, value in values.items() if key.startswith(prefix) and value]
    last = max((int(i) + 1 for i in filled if i.isdigit()), default=0)
    return min(max(f.rows or 1, last + 1 if last else 0), text_rules.LIST_ITEMS_MAX)


def form_helpers() -> dict[str, Any]:
    return {
        "rows_shown": rows_shown,
        "detail_text": detail_text,
        "form_value": labels.value_text,
        "forms": PAPER_FORM_NAMES,
        "time_limit_text": time_limit_text,
        "fee_text": fee_text,
        "field_id": field_id,
        "paper_id": paper_id,
        "statuses": STATUS_NAMES,
        "document_names": DOCUMENT_NAMES,
    }


# ------------------------------------------------------------------ the router


def desk_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter(include_in_schema=False)

    def counter_procedures(person: Person) -> list[Procedure]:
        """What this desk registers: procedures taken at the counter and handled at its agency's level."""
        procedures = [p for p in shop.procedures() if "counter" in p.channels]
        try:
            level = shop.agency(person.agency_code or "").level
        except NotFound:
            return procedures
        return [p for p in procedures if not p.levels or level in p.levels]

    def counter_procedure(person: Person, code: str) -> Procedure | None:
        return next((p for p in counter_procedures(person) if p.code == code), None)

    def not_found(request: Request, person: Person, message: Message, status: int = 404) -> HTMLResponse:
        return page(request, runtime, "desk/problem.html", status_code=status, person=person, message=message)

    @router.get("/mot-cua", response_class=HTMLResponse)
    def desk(request: Request, q: str | None = None) -> Response:
        person = signed_in(request, runtime, Role.RECEPTION)
        procedures = counter_procedures(person)
        found = search(procedures, q)
        return page(
            request,
            runtime,
            "desk/index.html",
            person=person,
            queue=runtime.reception.queue(person),
            waiting=runtime.reception.waiting_for_papers(person),
            procedure_names=shop.procedure_names(),
            q=q or "",
            procedures=found,
            total=len(procedures),
            **form_helpers(),
        )

    def registration_page(
        request: Request,
        person: Person,
        proc: Procedure,
        app: Application | None = None,
        error: MotcuaError | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        return page(
            request,
            runtime,
            "desk/register.html",
            status_code=status,
            person=person,
            p=proc,
            values=app.values if app else {},
            errors=app.errors if app else {},
            error=error,
            action=f"/mot-cua/tiep-nhan/{proc.code}",
            **form_helpers(),
        )

    @router.get("/mot-cua/tiep-nhan/{code}", response_class=HTMLResponse)
    def registration(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.RECEPTION)
        proc = counter_procedure(person, code)
        if proc is None:
            return not_found(request, person, ("Thủ tục này không tiếp nhận tại quầy.", "No such counter procedure."))
        return registration_page(request, person, proc)

    @router.post("/mot-cua/tiep-nhan/{code}", response_class=HTMLResponse)
    async def register_dossier(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.RECEPTION)
        form = await form_of(request, runtime)
        try:
            proc = counter_procedure(person, code)
            if proc is None:
                return not_found(request, person, ("Thủ tục này không tiếp nhận tại quầy.", "No such procedure."))
            app = await run_in_threadpool(read_application, proc, form)  # parses the PDFs: off the event loop
            view, error = await register(
                runtime, person, proc, channel="counter", agency_code=person.agency_code, app=app
            )
        finally:
            await close_files(form)
        if view is None:
            return registration_page(request, person, proc, app, error, status=422)
        return registered(request, f"/mot-cua/ho-so/{view['code']}", view["code"])

    def dossier_page(
        request: Request,
        person: Person,
        code: str,
        *,
        status: int = 200,
        errors: dict[str, Message] | None = None,
        error: MotcuaError | None = None,
        values: Mapping[str, str] | None = None,
        stop: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A dossier at the desk: its receipt; the check of an online dossier waiting for reception (accept, ask
        for papers, refuse); the papers a walk-in applicant brings when asked for a supplement."""
        try:
            view = shop.read_dossier(person, code)
        except (Forbidden, NotFound) as exc:
            status = 403 if isinstance(exc, Forbidden) else 404
            return not_found(request, person, (exc.message_vi, exc.message_en), status)
        proc = shop.procedure_of(shop.dossier_row(code))
        documents = view["documents"]
        receipts = [d for d in documents if d["kind"] == "receipt"]
        requests = [d for d in documents if d["kind"] == "supplement_request"]
        state = DossierStatus(view["status"])
        return page(
            request,
            runtime,
            "desk/dossier.html",
            status_code=status,
            person=person,
            d=view,
            p=proc,
            receipt=receipts[-1] if receipts else None,
            supplement_request=requests[-1] if requests else None,
            papers={x.key: x.name for x in proc.papers} | {"other": "Giấy tờ khác"},
            to_check=state == DossierStatus.SUBMITTED and not view["accepted_at"],
            takes_papers=state == DossierStatus.SUPPLEMENT_REQUESTED,
            can_stop=state in STOPPABLE,
            stop=stop or {},
            timeline=applicant_timeline(shop, person, code),
            # a Mẫu 04/05 the head has not signed yet is not among the papers: the desk is told why it is missing
            waiting_letters=[labels.document_kind(kind) for kind in runtime.signatures.letters_waiting(code)],
            errors=errors or {},
            error=error,
            values=values or {},
            notice=request.query_params.get("xong"),
            **form_helpers(),
        )

    @router.get("/mot-cua/ho-so/{code}", response_class=HTMLResponse)
    def receipt(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, Role.RECEPTION)
        return dossier_page(request, person, code)

    @router.post("/mot-cua/ho-so/{code}/kiem-tra", response_class=HTMLResponse)
    async def check_online_dossier(request: Request, code: str) -> Response:
        """Reception's outcome for an online dossier: accept, ask for papers (Mẫu 02) or refuse (Mẫu 03)."""
        person = signed_in(request, runtime, Role.RECEPTION)
        form = await form_of(request, runtime)
        decision = form.get("decision")
        comment = form.get("comment")
        values = {"decision": decision if isinstance(decision, str) else "", "comment": ""}
        values["comment"] = comment[:2000] if isinstance(comment, str) else ""
        if values["decision"] not in RECEPTION_OUTCOMES:
            errors: dict[str, Message] = {"decision": ("Hãy chọn một kết quả kiểm tra.", "Choose an outcome.")}
            return dossier_page(request, person, code, status=422, errors=errors, values=values)
        try:
            await run_in_threadpool(runtime.reception.decide, person, code, values["decision"], values["comment"])
        except MotcuaError as exc:
            status = 409 if exc.kind == "conflict" else 403 if exc.kind == "forbidden" else 422
            fields = {"comment": (exc.message_vi, exc.message_en)} if exc.details.get("field") == "comment" else {}
            return dossier_page(request, person, code, status=status, errors=fields, error=exc, values=values)
        return RedirectResponse(f"/mot-cua/ho-so/{code}?xong={values['decision']}", status_code=303)

    @router.post("/mot-cua/ho-so/{code}/dung-giai-quyet", response_class=HTMLResponse)
    async def stop_dossier(request: Request, code: str) -> Response:
        """Stop the dossier's processing (Mẫu 05), in two steps: the form is checked and shown back for
        confirmation (nothing happens yet); the confirmed form stops it."""
        person = signed_in(request, runtime, Role.RECEPTION)
        form = await form_of(request, runtime)
        stop = {name: _text(form, name)[:2000] for name in ("stop_by", "stop_reason", "stop_requested_at")}
        errors: dict[str, Message] = {}
        if stop["stop_by"] not in STOP_KINDS:
            errors["stop_by"] = ("Hãy chọn: công dân đề nghị rút hồ sơ hay cơ quan dừng giải quyết.", "Choose who.")
        by_applicant = stop["stop_by"] == "applicant"
        day = parse_day(stop["stop_requested_at"]) if stop["stop_requested_at"] else None
        if by_applicant and stop["stop_requested_at"] and day is None:
            errors["stop_requested_at"] = ("Ngày đề nghị phải có dạng ngày/tháng/năm.", "Type the day as dd/mm/yyyy.")
        if not by_applicant and stop["stop_by"] and not stop["stop_reason"].strip():
            errors["stop_reason"] = (
                "Hãy ghi rõ lý do dừng giải quyết: công dân đọc nội dung này trong thông báo (Mẫu 05).",
                "The reason is required.",
            )
        if errors:
            return dossier_page(request, person, code, status=422, errors=errors, stop=stop)
        if _text(form, "confirm") != "1":
            return dossier_page(request, person, code, stop=stop | {"confirming": "1"})
        wanted = StopRequest(by_applicant, stop["stop_reason"], day if by_applicant else None)
        try:
            await run_in_threadpool(runtime.stopping.stop, person, code, wanted)
        except MotcuaError as exc:
            status = 409 if exc.kind == "conflict" else 403 if exc.kind == "forbidden" else 422
            return dossier_page(request, person, code, status=status, error=exc, stop=stop)
        return RedirectResponse(f"/mot-cua/ho-so/{code}?xong=dung", status_code=303)

    @router.post("/mot-cua/ho-so/{code}/bo-sung", response_class=HTMLResponse)
    async def take_supplement(request: Request, code: str) -> Response:
        """The papers an applicant brings to the counter when asked for a supplement (scanned at the desk): the
        process resumes as when a citizen supplements online."""
        person = signed_in(request, runtime, Role.RECEPTION)
        form = await form_of(request, runtime)
        app = Application()
        error: MotcuaError | None = None
        try:
            try:
                row = shop.authorize_dossier(person, code)
            except (Forbidden, NotFound):
                return dossier_page(request, person, code)
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
            return dossier_page(request, person, code, status=status, errors=errors, error=error, values=app.values)
        return RedirectResponse(f"/mot-cua/ho-so/{code}?xong=bo-sung", status_code=303)

    @router.get("/mot-cua/tim-kiem", response_class=HTMLResponse)
    def find_dossier(request: Request, q: str = "", trang: str = "1") -> Response:
        """Reception finds a dossier as the officials do (services.search): by code, name with or without
        diacritics, ID number or phone; each result opens the dossier at the desk."""
        person = signed_in(request, runtime, Role.RECEPTION)
        text = q.strip()
        number = int(trang) if trang.isdigit() and 0 < len(trang) <= 5 and int(trang) > 0 else 1
        found, problem = None, None
        if text:
            try:
                found = runtime.search.search(person, text, page=number, listing="mot-cua")
            except MotcuaError as exc:
                problem = (exc.message_vi, exc.message_en)
        return page(
            request,
            runtime,
            "desk/search.html",
            person=person,
            q=text,
            found=found,
            problem=problem,
            page_url=lambda n: "/mot-cua/tim-kiem?" + urlencode({"q": text} | ({"trang": n} if n > 1 else {})),
            **form_helpers(),
        )

    return router
