"""Operations of the one-stop desk around a dossier: late notices and the apology letter (Mẫu 04), fees
(cash and a payment gateway's signed callback), digitised papers, notifications, and the public lookup's
rate limit and result link. Mounted by ``api.app.create_app`` (:func:`include_operations`)."""

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.datastructures import UploadFile

from api.openapi import download, json_body, multipart, problems
from dossiers.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from dossiers.model import STATUS_LABELS_VI, DossierStatus, Person, Role
from motcua.digitise import Digitiser
from motcua.late import LateNotices
from motcua.notify import build_dispatcher
from motcua.payments import SIGNATURE_HEADER, Payments, callback_secret
from motcua.uploads import Upload
from persistence.rate_limits import TooManyRequests
from persistence.schema import document, notification
from persistence.uow import transaction

RESULT_KINDS = ("result",)
REFUSAL_KINDS = ("refusal",)


class IssueApology(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why the dossier is late (printed on Mẫu 04).")
    new_due_at: dt.datetime = Field(
        description="The new appointment, ISO 8601 with offset (without: Vietnam time); a working moment after the "
        "current due date."
    )


class CashPaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt_number: str = Field(min_length=1, max_length=120, description="The number of the receipt handed over.")
    amount_vnd: int | None = Field(None, gt=0, description="Default: what is still due.")


# ------------------------------------------------------------------ public lookups: rate limit

RateLimited = TooManyRequests  # what the pages catch from :func:`public_lookup_limit`


def public_lookup_limit(request: Request) -> None:
    """Dependency: at most MOTCUA_PUBLIC_LOOKUPS_PER_MINUTE public lookups — the tracking API and page, result
    links, ratings: each tests a code and an ID number — per client IP address in any 60 seconds, counted in the
    database so several API processes share the count; more → 429 with ``Retry-After``."""
    runtime = request.app.state.runtime
    runtime.public_lookups.check(request.client.host if request.client else "unknown")


PublicLookupLimit = Depends(public_lookup_limit)


# ------------------------------------------------------------------ public lookups: the view and result links

LINK_PURPOSE = "motcua/public-result-link/2"  # a new label: links of the old format (no document hash) are dead


def _link_mac(runtime: Any, code: str, document_id: str, sha256: str, expires: int) -> bytes:
    message = f"{code}|{document_id}|{sha256}|{expires}".encode()
    return hmac.new(runtime.settings.derived_key(LINK_PURPOSE), message, hashlib.sha256).digest()[:20]


def result_link_token(runtime: Any, code: str, document_id: str, sha256: str, expires: dt.datetime) -> str:
    """A download link of one result or refusal document: the MAC covers the dossier, the document's id and its
    SHA-256 (the link opens those bytes and no others) and the expiry."""
    stamp = int(expires.timestamp())
    payload = f"{code}|{document_id}|{stamp}".encode()
    mac = _link_mac(runtime, code, document_id, sha256, stamp)
    return base64.urlsafe_b64encode(payload + b"|" + mac).decode().rstrip("=")


def open_result_link(runtime: Any, token: str) -> Any:
    """The document row a public link opens, after every check: a well-formed token whose MAC holds for a
    result or refusal document of that dossier with that SHA-256, and an expiry no later than
    MOTCUA_PUBLIC_LINK_HOURS from now (a far-off expiry was not issued by this installation). Everything but
    an expired link is the same 404, so a guess learns nothing."""
    bad = NotFound("Liên kết tải kết quả không hợp lệ.", "Invalid result download link.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        code_b, doc_b, expires_b, signature = raw.split(b"|", 3)
        code, document_id, expires = code_b.decode(), doc_b.decode(), int(expires_b)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise bad from None
    with transaction(runtime.shop.db) as conn:
        row = conn.execute(
            select(document).where(
                document.c.id == document_id,
                document.c.dossier_code == code,
                document.c.kind.in_(RESULT_KINDS + REFUSAL_KINDS),  # never a scan or an uploaded paper
            )
        ).first()
    if row is None or not hmac.compare_digest(signature, _link_mac(runtime, code, document_id, row.sha256, expires)):
        raise bad
    now = runtime.clock.now().timestamp()
    if expires - now > runtime.settings.public_link_hours * 3600:
        raise bad
    if now > expires:
        raise Forbidden(
            "Liên kết tải kết quả đã hết hạn; hãy tra cứu lại hồ sơ.",
            "The result download link has expired; look the dossier up again.",
        )
    return row


def public_tracking(runtime: Any, code: str, id_number: str) -> dict[str, Any]:
    """What anyone holding a dossier's code and the applicant's ID number may see: status, current step, due
    date, and a time-limited download link of the result once it is ready — no personal data (no name, ID
    number, phone, address, e-mail, form details)."""
    shop = runtime.shop
    try:
        row = shop.dossier_row(code.strip())
    except NotFound:
        row = None
    if row is None or not hmac.compare_digest(row.applicant_id_number.encode(), id_number.strip().encode()):
        raise NotFound(
            "Không tìm thấy hồ sơ với mã và số định danh đã nhập.",
            "No dossier with this code and ID number.",
        )
    status = DossierStatus(row.status)
    tasks = runtime.engine.user_tasks(business_key=row.code)
    proc = shop.procedure_of(row)
    kinds = RESULT_KINDS if status in (DossierStatus.RESULT_READY, DossierStatus.RETURNED) else ()
    kinds = REFUSAL_KINDS if status == DossierStatus.REFUSED else kinds
    result = None
    if kinds:
        with transaction(shop.db) as conn:
            doc = conn.execute(
                select(document.c.id, document.c.filename, document.c.kind, document.c.sha256)
                .where(document.c.dossier_code == row.code, document.c.kind.in_(kinds))
                .order_by(document.c.created_at.desc())
            ).first()
        if doc is not None:
            expires = runtime.clock.now() + dt.timedelta(hours=runtime.settings.public_link_hours)
            token = result_link_token(runtime, row.code, doc.id, doc.sha256, expires)
            result = {
                "kind": doc.kind,
                "filename": doc.filename,
                "download_url": f"/api/public/results/{token}",
                "expires_at": expires.isoformat(),
            }
    shop.record("dossier.tracked", "public", row.code)
    return {
        "code": row.code,
        "procedure_code": row.procedure_code,
        "procedure_name": proc.name,
        "status": status.value,
        "status_label": STATUS_LABELS_VI[status],
        "current_step": tasks[0].name if tasks else None,
        "received_at": row.received_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "result": result,
    }


# ------------------------------------------------------------------ the router


def operations_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter()
    bearer = HTTPBearer(auto_error=False)
    late = LateNotices(shop, runtime.paperwork)
    payments = Payments(shop, callback_secret(runtime.settings))
    digitiser = Digitiser(shop, runtime.paperwork.issuer.signer)

    def current_person(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Person:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized(
                "Cần đăng nhập (mã truy cập Bearer).", "A bearer token is required (POST /api/auth/token)."
            )
        person: Person = runtime.accounts.person_for_token(credentials.credentials, runtime.clock.now())
        return person

    CurrentPerson = Annotated[Person, Depends(current_person)]  # noqa: N806 - a type alias

    # ---------------------------------------------------------------- late notices

    @router.get("/api/late-notices", tags=["late"])
    def late_notices(
        person: CurrentPerson, status: Annotated[str | None, Query(pattern="^(open|issued)$")] = "open"
    ) -> list[dict[str, Any]]:
        """Dossiers at risk of being late, for the department handling them (open ones by default)."""
        return late.list_for(person, status)

    @router.get("/api/late-notices/{notice_id}", tags=["late"])
    def late_notice(notice_id: str, person: CurrentPerson) -> dict[str, Any]:
        return late.get(person, notice_id)

    @router.post("/api/late-notices/{notice_id}/issue", tags=["late"])
    def issue_apology(notice_id: str, body: IssueApology, person: CurrentPerson) -> dict[str, Any]:
        """Issue the apology letter (Mẫu 04), sealed by the agency; the dossier's due date moves to
        `new_due_at` and the applicant is notified."""
        return late.issue(person, notice_id, body.reason, body.new_due_at)

    # ---------------------------------------------------------------- fees

    @router.get("/api/dossiers/{code}/payments", tags=["fees"])
    def dossier_payments(code: str, person: CurrentPerson) -> dict[str, Any]:
        return payments.summary(person, code)

    @router.post("/api/dossiers/{code}/payments/cash", status_code=201, tags=["fees"])
    def cash_payment(code: str, body: CashPaymentRequest, person: CurrentPerson) -> dict[str, Any]:
        """The reception officer records a cash payment with the number of the receipt they issued."""
        return payments.record_cash(person, code, body.receipt_number, body.amount_vnd)

    @router.post("/api/dossiers/{code}/payments/online", status_code=201, tags=["fees"])
    def online_payment(code: str, person: CurrentPerson) -> dict[str, Any]:
        """A payment intent at the gateway: pay with its `reference`; the gateway's callback confirms it."""
        return payments.start_online(person, code)

    @router.post(
        "/api/payments/callback",
        tags=["fees"],
        responses=problems(403, 404),
        openapi_extra={
            "parameters": [
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "HMAC-SHA256 (hex) of the body with the gateway's key.",
                    "schema": {"type": "string", "maxLength": 128},
                }
            ],
            **json_body(
                {
                    "type": "object",
                    "required": ["reference", "status"],
                    "properties": {
                        "reference": {"type": "string", "maxLength": 120},
                        "status": {"type": "string", "enum": ["paid", "failed"]},
                        "amount_vnd": {"type": "integer", "minimum": 0},
                    },
                }
            ),
        },
    )
    async def payment_callback(request: Request) -> dict[str, Any]:
        """The gateway's notification: JSON `{reference, status: paid|failed, amount_vnd}` signed with
        HMAC-SHA256 (hex) in the `X-Motcua-Signature` header. Bad signatures and replays are refused."""
        body = await request.body()
        if len(body) > 64 * 1024:
            raise InvalidInput("Thông báo thanh toán quá lớn.", "The callback body is too large.")
        return await run_in_threadpool(payments.callback, body, request.headers.get(SIGNATURE_HEADER))

    # ---------------------------------------------------------------- digitising papers

    @router.post(
        "/api/dossiers/{code}/scans",
        status_code=201,
        tags=["dossiers"],
        openapi_extra=multipart(
            {"paper_key": {"type": "string", "maxLength": 80}, "file": {"type": "string", "format": "binary"}},
            ["paper_key", "file"],
            "The scan (PDF) of one required paper.",
        ),
    )
    async def scan_paper(code: str, request: Request, person: CurrentPerson) -> dict[str, Any]:
        """Multipart form: `paper_key` (which required paper) and `file` (the scan, PDF). The scan is stored
        and an electronic copy signed by the agency ("SAO Y", Decree 30) is issued as document `scan_copy`."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise InvalidInput("Gửi bản quét dạng multipart/form-data.", "Send the scan as multipart/form-data.")
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        paper_key = str(form.get("paper_key") or "").strip()
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Cần tải lên bản quét (trường 'file').", "Upload the scan in the form field 'file'.")
        if not paper_key:
            raise InvalidInput("Thiếu mã giấy tờ (trường 'paper_key').", "The form field 'paper_key' is required.")
        try:
            return await run_in_threadpool(
                digitiser.scan,
                person,
                code,
                paper_key,
                Upload(paper_key, upload.filename or "scan.pdf", upload.content_type or "", upload.file),
            )
        finally:
            await upload.close()

    # ---------------------------------------------------------------- notifications (operators)

    @router.get("/api/notifications", tags=["operations"])
    def notifications(
        person: CurrentPerson,
        status: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed)$")] = None,
        dossier_code: str | None = None,
    ) -> list[dict[str, Any]]:
        """The outbox: what was sent to citizens, what is waiting and what failed (with the error)."""
        if person.role not in (Role.ADMIN, Role.AUDITOR):
            raise Forbidden("Chỉ quản trị viên hoặc thanh tra.", "Admins and auditors only.")
        query = select(notification).order_by(notification.c.created_at.desc()).limit(500)
        if status:
            query = query.where(notification.c.status == status)
        if dossier_code:
            query = query.where(notification.c.dossier_code == dossier_code)
        with transaction(shop.db) as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "dossier_code": r.dossier_code,
                "channel": r.channel,
                "recipient": r.recipient,
                "subject": r.subject,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "created_at": r.created_at.isoformat(),
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            }
            for r in rows
        ]

    @router.post("/api/notifications/{notification_id}/retry", tags=["operations"])
    def retry_notification(notification_id: str, person: CurrentPerson) -> dict[str, Any]:
        """After the cause is fixed (gateway, address): a failed notification gets fresh attempts."""
        if person.role != Role.ADMIN:
            raise Forbidden("Chỉ quản trị viên.", "Admins only.")
        dispatcher = build_dispatcher(runtime.settings, shop.db, runtime.clock, shop.record)
        if not dispatcher.requeue(notification_id):
            raise NotFound("Không có thông báo lỗi với mã này.", "No failed notification with this id.")
        shop.record("notification.requeued", person.username, None, notification_id=notification_id)
        return {"id": notification_id, "status": "pending"}

    # ---------------------------------------------------------------- public result download

    @router.get(
        "/api/public/results/{token}",
        tags=["citizens"],
        dependencies=[PublicLookupLimit],
        response_class=StreamingResponse,
        responses={200: download("The result (or refusal notice), as signed."), **problems(403, 404, 429)},
    )
    def public_result(token: str) -> StreamingResponse:
        """The result offered by the public lookup: a signed link of that document, valid
        MOTCUA_PUBLIC_LINK_HOURS."""
        row = open_result_link(runtime, token)
        stream = shop.verified_content(row, "public", via="public_link")  # checked before the status line
        shop.record("document.read", "public", row.dossier_code, document_id=row.id, via="public_link")
        return StreamingResponse(
            _chunks(stream),
            media_type=row.content_type,
            headers={
                "content-disposition": f"attachment; filename*=UTF-8''{_quote(row.filename)}",
                "x-content-sha256": row.sha256,
                "content-length": str(row.size),
            },
        )

    return router


def include_operations(app: FastAPI, runtime: Any) -> None:
    """Mount :func:`operations_router` (the 429 of the public lookup limit is a domain error: a problem response
    with ``Retry-After``, api/problems.py)."""
    app.include_router(operations_router(runtime))


def _chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    yield from stream


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
