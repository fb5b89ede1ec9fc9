"""Public lookups, without an account: the tracking view of a dossier (its code and the applicant's ID number)
and the signed, time-limited links that download its result. Both are recorded in the audit log here, where
the data is read; the HTTP routes and their rate limit are in ``api.public_results``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from dossiers.codes import normalize_dossier_code
from dossiers.errors import Forbidden, NotFound
from dossiers.model import STATUS_LABELS_VI, DossierStatus
from persistence.dossier_records import find_document_of_kinds, newest_of_kinds
from persistence.uow import transaction

RESULT_KINDS = ("result",)
REFUSAL_KINDS = ("refusal",)
STOP_KINDS = ("stop_notice",)  # Mẫu 05 (2025): processing stopped, at the applicant's request or by the agency


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
    with transaction(runtime.db) as conn:
        # never a scan or an uploaded paper
        row = find_document_of_kinds(conn, code, document_id, RESULT_KINDS + REFUSAL_KINDS + STOP_KINDS)
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
        row = shop.dossier_row(normalize_dossier_code(code))
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
    kinds = STOP_KINDS if status in (DossierStatus.WITHDRAWN, DossierStatus.STOPPED) else kinds
    result = None
    if kinds:
        with transaction(runtime.db) as conn:
            doc = newest_of_kinds(conn, row.code, kinds)
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
        # an online dossier reception has not accepted yet: received_at is when it was filed, no time limit runs
        "accepted": row.accepted_at is not None,
        # what the agency waits for from the applicant (the supplement request's papers), while it waits
        "awaiting": row.awaiting if status == DossierStatus.SUPPLEMENT_REQUESTED else None,
        "result": result,
    }


def open_public_result(runtime: Any, token: str) -> tuple[Any, Iterator[bytes]]:
    """The document a public link opens and its verified content (checked before anything is sent), recorded
    as a public read."""
    row = open_result_link(runtime, token)
    stream = runtime.shop.verified_content(row, "public", via="public_link")
    runtime.shop.record("document.read", "public", row.dossier_code, document_id=row.id, via="public_link")
    return row, stream
