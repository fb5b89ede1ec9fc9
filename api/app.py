"""The HTTP application: JSON API for officials, citizens, auditors and admins."""

import base64
import datetime as dt
import hmac
import io
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.routing import Mount

from api.deps import BearerCredentials, CurrentPerson, Runtime, require_role, resolve_person
from api.downloads import content_disposition, download_name
from api.headers import SecurityHeaders
from api.json_limits import JsonBodyLimit
from api.limits import BodySizeLimit
from api.openapi import download as download_response
from api.openapi import install as install_openapi
from api.openapi import multipart, problems
from api.problems import install as install_problems
from api.public_results import PublicLookupLimit
from api.web.session import session_token
from dossiers.bounded_json import loads_bounded
from dossiers.clock import SimulatedClock
from dossiers.errors import InvalidInput, NotFound, Unauthorized
from dossiers.model import STATUS_LABELS_VI, DossierStatus, Procedure, Role
from dossiers.text_rules import DETAILS_MAX_BYTES, DETAILS_MAX_DEPTH, NAME_MAX
from services import operations
from services.accounts import log_in
from services.health import StoreProbe
from services.intake import Applicant
from services.operations import advance_simulated_clock, read_history
from services.public_lookup import public_tracking
from services.tasks import MAX_TASK_PAGE
from services.uploads import Upload, check_upload
from services.verification import RecordedVerification, validator_for

log = structlog.get_logger(__name__)
REQUESTS = Counter("motcua_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("motcua_http_request_seconds", "HTTP request latency", ["route"])
PAPER_FIELD_PREFIX = "paper."
UNMATCHED_ROUTE = "unmatched"  # the route label of a request no route answered (404, a slash redirect)
TASK_PAGE = 200  # GET /api/tasks without a limit
TASK_OFFSET_MAX = 1_000_000


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    username: str
    role: str


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: str | None = Field(None, max_length=40, description="One of the task's `decisions` values.")
    comment: str | None = Field(None, max_length=2000)


class SignatureValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signature_value: str = Field(
        min_length=8, max_length=20000, description="Base64 of the signature value the signer's device produced."
    )


class AdvanceClock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: float = Field(0, ge=0, le=24 * 400)
    days: int = Field(0, ge=0, le=400)


def procedure_json(p: Procedure) -> dict[str, Any]:
    from dossiers.catalogue import PAPER_FORM_NAMES

    return {
        "code": p.code,
        "name": p.name,
        "field": p.field,
        "rule_version": p.rule_version,
        "time_limit_days": p.time_limit_days,
        "working_days": p.working_days,
        "same_day": p.time_limit_days == 0,
        "levels": [lvl.value for lvl in p.levels],
        "fee_vnd": p.fee_vnd,
        "fee_set_by": p.fee_set_by,  # province: the amount is the receiving agency's (fees.json), not fee_vnd
        "online_level": p.online_level,
        "channels": list(p.channels),
        "legal_source": p.legal_source,
        "process_key": p.process_key,
        "papers": [
            {
                "key": x.key,
                "name": x.name,
                "form": x.form,
                "form_name": PAPER_FORM_NAMES.get(x.form, x.form),
                "count": x.count,
                "mandatory": x.mandatory,
            }
            for x in p.papers
        ],
        "form_fields": [
            {
                "key": f.key,
                "name": f.name,
                "name_en": f.name_en,
                "required": f.required,
                "kind": f.kind,
                "widget": f.widget,
                "group": f.group,
            }
            for f in p.form_fields
        ],
        # the application form as JSON Schema 2020-12 with its presentation hints (x-label, x-group, x-widget, …)
        "form_schema": dict(p.form.schema) if p.form is not None else None,
    }


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Motcua — Một cửa điện tử",
        version="0.1.0",
        description="Electronic one-stop shop for Vietnamese communes and provinces. "
        "Errors are `application/problem+json` with a Vietnamese `title` and an English `detail`.",
    )
    app.state.runtime = runtime
    install_problems(app)
    install_openapi(app)
    shop = runtime.shop

    @app.middleware("http")
    async def _context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:  # the router has put the matched route in the scope by now (none: the path matched nothing)
            LATENCY.labels(route=_route_label(request)).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, _route_label(request), str(response.status_code)).inc()
        response.headers["x-request-id"] = request_id
        structlog.contextvars.clear_contextvars()
        return response

    # ------------------------------------------------------------------ auth

    @app.post("/api/auth/token", response_model=TokenResponse, tags=["auth"], responses=problems(401, 429))
    def login(body: LoginRequest, request: Request) -> TokenResponse:
        """A bearer token for a local account. Failed attempts are throttled like the web login (per user name and
        per client address, across every API process) and recorded in the audit log."""
        address = request.client.host if request.client else "?"
        person = runtime.login_throttle.login(body.username, body.password, address, "api")
        ttl = dt.timedelta(hours=runtime.settings.token_ttl_hours)
        token, expires = log_in(runtime.accounts, shop, person, runtime.clock.now(), ttl)
        return TokenResponse(access_token=token, expires_at=expires, username=person.username, role=person.role)

    @app.get("/api/me", tags=["auth"])
    def me(person: CurrentPerson) -> dict[str, Any]:
        return {
            "username": person.username,
            "full_name": person.full_name,
            "role": person.role.value,
            "agency_code": person.agency_code,
            "department_code": person.department_code,
        }

    # ------------------------------------------------------------------ catalogue and agencies

    @app.get("/api/procedures", tags=["catalogue"])
    def procedures(on: dt.date | None = None) -> list[dict[str, Any]]:
        """The procedures in force on ``on`` (default today), each under that day's rule version."""
        return [procedure_json(p) for p in shop.procedures(on)]

    @app.get("/api/procedures/{code}", tags=["catalogue"])
    def procedure_detail(code: str, on: dt.date | None = None) -> dict[str, Any]:
        entry = shop.entry(code)
        return procedure_json(shop.procedure(code, on)) | {"versions": [v.label for v in entry.versions]}

    @app.get("/api/agencies", tags=["catalogue"], responses=problems(404))
    def agencies(on: dt.date | None = None) -> dict[str, Any]:
        from dossiers.model import structure_in_force

        day = on or runtime.clock.now().date()
        try:
            structure = structure_in_force(shop.structures, day)
        except LookupError:
            raise NotFound("Không có cơ cấu tổ chức cho ngày này.", f"No agency structure on {day}.") from None
        return {
            "version": structure.version,
            "tiers": structure.tiers,
            "valid_from": structure.valid_from.isoformat(),
            "valid_to": structure.valid_to.isoformat() if structure.valid_to else None,
            "agencies": [
                {
                    "code": a.code,
                    "name": a.name,
                    "level": a.level.value,
                    "parent_code": a.parent_code,
                    "departments": [{"code": d.code, "name": d.name} for d in a.departments],
                    "role_departments": {k: list(v) for k, v in a.role_departments.items()},
                }
                for a in structure.agencies
            ],
        }

    # ------------------------------------------------------------------ dossiers

    @app.post(
        "/api/dossiers",
        status_code=201,
        tags=["dossiers"],
        openapi_extra=multipart(
            {
                "procedure_code": {"type": "string", "maxLength": 40, "description": "Catalogue code, e.g. 1.001612."},
                "applicant_name": {"type": "string", "maxLength": NAME_MAX},
                "applicant_id_number": {"type": "string", "pattern": "^([0-9]{9}|[0-9]{12})$"},
                "applicant_phone": {"type": "string", "maxLength": 40},
                "agency_code": {"type": "string", "maxLength": 40, "description": "Default: the officer's agency."},
                "channel": {"type": "string", "enum": ["counter", "online", "postal"]},
                "details": {"type": "string", "maxLength": DETAILS_MAX_BYTES, "description": "JSON object."},
            },
            ["procedure_code", "applicant_name", "applicant_id_number"],
            "Plus one file field per paper, named `paper.<paper key>` (PDF, JPEG or PNG).",
            files=True,
        ),
    )
    async def create_dossier(request: Request, person: CurrentPerson) -> dict[str, Any]:
        """Multipart form: `procedure_code`, `applicant_name`, `applicant_id_number`, optional
        `applicant_phone`, `agency_code`, `channel`, `details` (a JSON object with the procedure's form
        fields); one file field per paper named `paper.<paper key>`."""
        fields, uploads = await _read_form(request)
        try:
            return await run_in_threadpool(
                runtime.intake.intake,
                person,
                _required(fields, "procedure_code"),
                Applicant(
                    fields.get("applicant_name", ""),
                    fields.get("applicant_id_number", ""),
                    fields.get("applicant_phone"),
                ),
                uploads,
                fields.get("agency_code") or None,
                fields.get("channel") or ("online" if person.role == Role.CITIZEN else "counter"),
                _json_field(fields, "details"),
            )
        finally:
            _close(uploads)

    from api.dossier_search import dossier_search_router

    app.include_router(dossier_search_router(runtime))  # before /api/dossiers/{code}: "search" is not a code

    @app.get("/api/dossiers/{code}", tags=["dossiers"])
    def get_dossier(code: str, person: CurrentPerson) -> dict[str, Any]:
        view = shop.read_dossier(person, code)
        view["status_label"] = STATUS_LABELS_VI[DossierStatus(view["status"])]
        return view

    @app.get("/api/dossiers/{code}/history", tags=["dossiers"])
    def dossier_history(code: str, person: CurrentPerson) -> list[dict[str, Any]]:
        return read_history(shop, person, code)

    @app.get(
        "/api/dossiers/{code}/documents/{document_id}",
        tags=["dossiers"],
        response_class=StreamingResponse,
        responses={
            200: download_response("The document's bytes, checked against its recorded SHA-256 before sending.")
        },
    )
    def download(code: str, document_id: str, person: CurrentPerson) -> StreamingResponse:
        row, stream = shop.open_document(person, code, document_id)
        return StreamingResponse(
            _chunks(stream),
            media_type=row.content_type,
            headers={
                "content-disposition": content_disposition(download_name(code, row.kind, row.filename)),
                "x-content-sha256": row.sha256,
                "content-length": str(row.size),
            },
        )

    @app.post(
        "/api/dossiers/{code}/supplement",
        tags=["dossiers"],
        openapi_extra=multipart({}, [], "One file field per supplied paper, named `paper.<paper key>`.", files=True),
    )
    async def supplement(code: str, request: Request, person: CurrentPerson) -> dict[str, Any]:
        """Multipart form with one file field per supplied paper, named `paper.<paper key>`."""
        _, uploads = await _read_form(request)
        try:
            return await run_in_threadpool(runtime.supplements.supplement, person, code, uploads)
        finally:
            _close(uploads)

    @app.get("/api/public/tracking", tags=["citizens"], dependencies=[PublicLookupLimit], responses=problems(404, 429))
    def tracking(code: str, id_number: str) -> dict[str, Any]:
        """Track a dossier by its code and the applicant's ID number: status, current step, due date and, once
        ready, a time-limited result download link; no personal data."""
        return public_tracking(runtime, code, id_number)

    def _exists(code: str) -> bool:
        try:
            shop.dossier_view(code)
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------ tasks

    @app.get("/api/tasks", tags=["tasks"])
    def tasks(
        person: CurrentPerson,
        limit: Annotated[
            int, Query(ge=1, le=MAX_TASK_PAGE, description=f"Tasks per page (at most {MAX_TASK_PAGE}).")
        ] = TASK_PAGE,
        offset: Annotated[
            int, Query(ge=0, le=TASK_OFFSET_MAX, description="How many of your tasks to skip (the next page: +limit).")
        ] = 0,
    ) -> list[dict[str, Any]]:
        """The open tasks you may act on (your role, your agency, your department), earliest due first, a page at
        a time: a page shorter than `limit` is the last."""
        return runtime.tasks.tasks_for(person, offset=offset, limit=limit)

    @app.post("/api/tasks/{task_id}/claim", tags=["tasks"])
    def claim(task_id: str, person: CurrentPerson) -> dict[str, Any]:
        return runtime.tasks.claim(person, task_id)

    @app.post("/api/tasks/{task_id}/unclaim", tags=["tasks"])
    def unclaim(task_id: str, person: CurrentPerson) -> dict[str, Any]:
        return runtime.tasks.unclaim(person, task_id)

    @app.post("/api/tasks/{task_id}/complete", tags=["tasks"])
    def complete(task_id: str, body: CompleteRequest, person: CurrentPerson) -> dict[str, Any]:
        return runtime.tasks.complete(person, task_id, body.decision, body.comment)

    # ------------------------------------------------------------------ personal signatures (two steps)

    def _pending_view(p: Any) -> dict[str, Any]:
        return {
            "id": p.id,
            "dossier_code": p.dossier_code,
            "field_name": p.field_name,
            "document_kind": p.document_kind,
            "digest_algorithm": p.digest_algorithm,
            "data_to_sign": base64.b64encode(p.data_to_sign).decode("ascii"),
            "signer_certificate_sha256": p.signer_certificate_sha256,
        }

    @app.get("/api/signatures/pending", tags=["signatures"])
    def pending_signatures(person: CurrentPerson) -> list[dict[str, Any]]:
        """What the caller's signing device has to sign: the data to sign (base64) and the algorithm."""
        return [_pending_view(p) for p in runtime.signatures.pending_for(person)]

    @app.get("/api/signatures/{pending_id}", tags=["signatures"])
    def pending_signature(pending_id: str, person: CurrentPerson) -> dict[str, Any]:
        return _pending_view(runtime.signatures.get(person, pending_id))

    @app.post("/api/signatures/{pending_id}", tags=["signatures"])
    def sign(pending_id: str, body: SignatureValue, person: CurrentPerson) -> dict[str, Any]:
        """Submit the signature value made by the signer's device; the server checks it against the signer's
        certificate, embeds it and completes the signing step."""
        try:
            value = base64.b64decode(body.signature_value, validate=True)
        except ValueError:
            raise InvalidInput("Giá trị chữ ký phải mã hóa base64.", "signature_value must be base64.") from None
        document_id = runtime.signatures.complete(person, pending_id, value)
        return {"id": pending_id, "signed": True, "document_id": document_id}

    # ------------------------------------------------------------------ verification (auditors)

    verification = RecordedVerification(shop, runtime.settings, validator_for(runtime.settings))

    @app.post(
        "/api/verify",
        tags=["verification"],
        openapi_extra=multipart({"file": {"type": "string", "format": "binary"}}, ["file"], "The PDF to verify."),
    )
    async def verify_upload(request: Request, person: CurrentPerson) -> dict[str, Any]:
        """Upload a PDF (multipart field `file`): the AdES validation report of every signature in it, and
        `active_content`: what in the file would act (scripts, launch or submit actions, embedded files…). Such
        a PDF is verified, not refused: it is neither stored nor opened, and an auditor may need its signatures."""
        require_role(person, (Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.CLERK, Role.SPECIALIST, Role.RECEPTION))
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Cần tải lên tệp PDF (trường 'file').", "Upload the PDF in the form field 'file'.")
        data = await upload.read()
        checked = Upload("file", upload.filename or "", upload.content_type or "", io.BytesIO(data))
        found = await run_in_threadpool(  # parsing a PDF is heavy work: never on the event loop
            lambda: check_upload(checked, allow_active_content=True)
        )
        report = await run_in_threadpool(verification.verify_file, person.username, checked.filename, data)
        return report | {"active_content": found}

    @app.get("/api/dossiers/{code}/documents/{document_id}/verification", tags=["verification"])
    def verify_document(code: str, document_id: str, person: CurrentPerson) -> dict[str, Any]:
        """The validation report of a stored signed document, computed now."""
        row, report = verification.verify_document(person, code, document_id)
        return report | {"document_id": document_id, "sha256": row.sha256}

    # ------------------------------------------------------------------ operations

    @app.get("/api/incidents", tags=["operations"])
    def incidents(person: CurrentPerson) -> list[dict[str, Any]]:
        require_role(person, (Role.ADMIN, Role.AUDITOR))
        return [
            {
                "id": i.id,
                "dossier_code": i.business_key,
                "activity_id": i.activity_id,
                "message": i.message,
                "created_at": i.created_at.isoformat(),
                "task_id": i.task_id,
                "retryable": i.task_id is not None,
            }
            for i in runtime.engine.incidents()
        ]

    @app.post("/api/incidents/{incident_id}/retry", tags=["operations"])
    def retry_incident(incident_id: str, person: CurrentPerson, retries: int = 3) -> dict[str, Any]:
        """After the cause is fixed: the failed step runs again (the workers fetch it at once)."""
        require_role(person, (Role.ADMIN,))
        incident = operations.retry_incident(runtime.engine, shop.record, incident_id, person.username, retries)
        return {"id": incident.id, "dossier_code": incident.business_key, "retried": True, "retries": max(1, retries)}

    @app.post("/api/admin/clock/advance", tags=["operations"])
    def advance_clock(body: AdvanceClock, person: CurrentPerson) -> dict[str, Any]:
        """Move the simulated clock (demo and test deployments only) and fire the timers that fell due."""
        require_role(person, (Role.ADMIN,))
        now, fired = advance_simulated_clock(
            runtime.clock, runtime.engine, shop, person, dt.timedelta(days=body.days, hours=body.hours)
        )
        return {"now": now.isoformat(), "timers_fired": fired}

    store_probe = StoreProbe(runtime.store)

    @app.get("/api/health", tags=["operations"])
    def health() -> JSONResponse:
        """``ok``, or ``degraded`` (HTTP 503) with the ``reasons``: the document store cannot take a new object
        (probed at most every few seconds)."""
        pending = getattr(runtime.engine, "pending_external_tasks", None)
        store_problem = store_probe.problem()
        reasons = [f"document store not writable: {store_problem}"] if store_problem else []
        body = {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "engine": runtime.settings.engine,
            "now": runtime.clock.now().isoformat(),
            "simulated_clock": isinstance(runtime.clock, SimulatedClock),
            "pending_external_tasks": pending() if pending else None,
            "open_incidents": len(runtime.engine.incidents()),
        }
        return JSONResponse(body, status_code=503 if reasons else 200)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request, credentials: BearerCredentials) -> Response:
        """Prometheus metrics, never public: the scraper's ``MOTCUA_METRICS_TOKEN``, or an administrator's or
        auditor's own token (the route names, request counts and latencies map the installation)."""
        scraper = runtime.settings.metrics_token
        if (
            scraper
            and credentials is not None
            and credentials.scheme.lower() == "bearer"
            and hmac.compare_digest(credentials.credentials.encode(), scraper.encode())
        ):
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
        if credentials is None and not session_token(request):
            raise Unauthorized(
                "Cần mã truy cập để xem số liệu giám sát (/metrics).",
                "GET /metrics needs a bearer token: MOTCUA_METRICS_TOKEN (the scraper's) or an administrator's or "
                "auditor's token.",
            )
        require_role(resolve_person(runtime, request, credentials, accept_session=True), (Role.ADMIN, Role.AUDITOR))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    from api.pages import pages_router
    from api.web.routes import install_login_redirect, web_router

    app.include_router(pages_router(runtime))
    app.include_router(web_router(runtime))
    from api.web.oidc_routes import oidc_router

    app.include_router(oidc_router(runtime))
    install_login_redirect(app)
    from api.web.errors import install_error_pages

    install_error_pages(app)  # browsers get Vietnamese pages for 403/404/500…, the API keeps problem+json
    from api.statistics import statistics_router

    app.include_router(statistics_router(runtime))
    from api.registers import registers_router

    app.include_router(registers_router(runtime))
    from api.audit_routes import audit_api_router

    app.include_router(audit_api_router(runtime))
    from api.evidence_routes import evidence_router

    app.include_router(evidence_router(runtime))
    from api.pki_routes import pki_router

    app.include_router(pki_router(runtime))  # the development PKI's CRLs under /pki/ (MOTCUA_PKI_PUBLIC_URL)
    from api.diagram import diagram_router

    app.include_router(diagram_router(runtime))
    from api.web.officials import officials_router

    app.include_router(officials_router(runtime))
    from api.web.registers_pages import registers_pages_router

    app.include_router(registers_pages_router(runtime))  # Mẫu 05 and Mẫu 06 as pages to print
    from api.web.admin import admin_router
    from api.web.audit_desk import audit_router

    app.include_router(audit_router(runtime))
    app.include_router(admin_router(runtime))
    from api.web.designer import designer_router

    app.include_router(designer_router(runtime))  # the procedure designer, /quan-tri/thu-tuc/{code}/thiet-ke
    from api.web.citizens import citizens_router
    from api.web.desk import desk_router

    app.include_router(desk_router(runtime))
    app.include_router(citizens_router(runtime))
    from api.exchange_routes import ENVELOPES_PATH, exchange_router

    app.include_router(exchange_router(runtime))
    from api.late_notices import late_notices_router
    from api.notifications import notifications_router
    from api.payments import payments_router
    from api.public_results import public_results_router
    from api.reception import reception_router
    from api.scans import scans_router
    from api.stopping import stopping_router

    app.include_router(late_notices_router(runtime))
    app.include_router(reception_router(runtime))
    app.include_router(stopping_router(runtime))
    app.include_router(payments_router(runtime))
    app.include_router(scans_router(runtime))
    app.include_router(notifications_router(runtime))
    app.include_router(public_results_router(runtime))

    # JSON bodies: at most 1 MiB and 32 levels deep, checked before FastAPI parses them (the exchange endpoint
    # reads its larger, signed envelopes itself and answers with a signed refusal)
    json_limited = JsonBodyLimit(app, skip_paths=(ENVELOPES_PATH,))
    limited = BodySizeLimit(
        json_limited,
        runtime.settings.max_upload_bytes + 1024 * 1024,
        file_limit_bytes=runtime.settings.max_upload_bytes,
        path_limits={ENVELOPES_PATH: runtime.settings.exchange_max_envelope_bytes},
    )
    app.state.asgi = SecurityHeaders(limited)  # outermost: refusals of the limits carry the headers too
    return app


def asgi(runtime: Runtime) -> Any:
    """The ASGI callable with the streaming body limit in front of the FastAPI app."""
    app = create_app(runtime)
    return app.state.asgi


async def _read_form(request: Request) -> tuple[dict[str, str], list[Upload]]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInput("Hồ sơ phải gửi dạng multipart/form-data.", "Send the dossier as multipart/form-data.")
    form = await request.form(max_files=50, max_fields=50)
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if not key.startswith(PAPER_FIELD_PREFIX):
                raise InvalidInput(
                    f"Trường tệp '{key}' phải có dạng paper.<mã giấy tờ>.",
                    f"File field '{key}' must be named paper.<paper key>.",
                )
            uploads.append(
                Upload(
                    paper_key=key[len(PAPER_FIELD_PREFIX) :],
                    filename=value.filename or "",  # reduced to a safe name by Upload
                    content_type=value.content_type or "application/octet-stream",
                    stream=value.file,
                )
            )
        else:
            fields[key] = str(value)
    return fields, uploads


def _json_field(fields: dict[str, str], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if not raw:
        return {}
    value = loads_bounded(raw, what=name, max_depth=DETAILS_MAX_DEPTH, max_bytes=DETAILS_MAX_BYTES)
    if not isinstance(value, dict):
        raise InvalidInput(f"Trường '{name}' phải là một đối tượng JSON.", f"Field '{name}' must be a JSON object.")
    return value


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise InvalidInput(f"Thiếu trường bắt buộc '{name}'.", f"Missing required field '{name}'.")
    return value


def _close(uploads: list[Upload]) -> None:
    for upload in uploads:
        upload.stream.close()


def _chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    yield from stream


def _route_label(request: Request) -> str:
    """The metrics' ``route`` label: the template of the route that answered (``/api/dossiers/{code}``), never
    the path itself — ids, codes, tokens and whatever a scanner tries would each make a new time series."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED_ROUTE
    if isinstance(route, Mount):
        return template.rstrip("/") + "/{path}"
    return template
