"""Signed envelopes between Motcua installations (*một cửa liên thông* across systems, DESIGN §9).

An agency hosted elsewhere is a **partner** (configuration: ``MOTCUA_EXCHANGE_PARTNERS_FILE``, a JSON file listing
each partner agency's exchange URL and the certificates that may sign for it). A hand-off to a partner becomes an
envelope:

* the **manifest** — canonical JSON: type, message id, kind (``handoff`` or ``reply``), sender and receiver unit
  codes, dossier code, time, every document with its SHA-256 and size, the dossier's record (a receiver that
  has not seen the dossier registers it), the step the receiver acts on, the process variables it needs;
* the sender agency's **detached CAdES signature** over the manifest bytes (its seal key; timestamped when a
  TSA is configured);
* the documents' bytes (the signed PDFs).

:class:`EnvelopeExchange` implements the :class:`dossiers.ports.Exchange` port: a hand-off between agencies of
this installation is delivered in-process as before; one to a partner is signed and written to the
``exchange_outbox`` table in the caller's transaction (the worker's unit of work), and
:meth:`EnvelopeExchange.deliver_due` (housekeeping) posts it to the partner with exponential backoff until the
partner's **signed acknowledgment** is verified and stored. Nothing is lost while the partner is down and
nothing is sent twice by a retried task (the message id is the task's idempotency key).

:class:`EnvelopeReceiver` is the other side (``POST /api/exchange/envelopes``): it checks the receiver is an
agency hosted here, the sender is a configured partner, the signature chains to that partner's roots and names
the sender's unit code, every document's hash, and the message id; then, in one transaction, stores the
documents, registers the dossier, starts or correlates its own process and keeps the signed acknowledgment,
which a replay of the same message gets back unchanged (processed once). A partner acts only where it was
invited: a hand-off creates dossiers only under its own unit's codes and touches only dossiers exchanged with
it, a reply completes only the step handed to that partner, and documents are only the PDFs of the kinds its
step carries. Anything refused — including an unexpected failure, rolled back — gets a signed negative
acknowledgment with a stable reason code (:data:`REFUSALS`, docs/exchange.md), in Vietnamese and English.

The partner's side of a joint procedure runs ``joint_partner.bpmn``: the partner's officials work the step the
envelope names (the step's decisions come from the procedure's own BPMN), and the ``exchange.reply`` worker
sends the outcome back as a ``reply`` envelope, which completes the waiting step of the originating process.
The procedure's BPMN does not change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from cryptography import x509
from sqlalchemy import insert, select, update

from dossiers.bounded_json import MAX_JSON_BYTES, loads_bounded
from dossiers.codes import parse_dossier_code
from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.model import DossierStatus
from dossiers.ports import ExchangeDocument, ExchangeReceipt, UserTask
from dossiers.text_rules import check_form, clean_applicant_name, clean_id_number, clean_phone
from motcua.exchange import RECEIVED, InProcessExchange
from motcua.services import OneStopShop, stored_object
from motcua.uploads import Upload, check_upload
from persistence.schema import document, dossier, exchange_inbox, exchange_outbox
from persistence.uow import transaction
from signing.certs import der
from signing.cms import CmsInvalid, agency_code_of, sign_detached, verify_detached

log = structlog.get_logger(__name__)

ENVELOPE_TYPE = "motcua.exchange.envelope/1"
ACK_TYPE = "motcua.exchange.ack/1"
PARTNER_PROCESS = "joint_partner"
"""The partner's process for a joint procedure's step (``workflows/joint_partner.bpmn``)."""
HANDOFF_MESSAGE = "joint_handoff"
"""The message that hands the partner's waiting process its next step (or closes it)."""
QUEUED = "exchange.queued"
ACKNOWLEDGED = "exchange.acknowledged"
REFUSED = "exchange.refused"
REJECTED = "exchange.rejected"
"""Audit events: envelope signed and queued; partner's signed ACK stored; partner's signed NACK stored;
envelope accepted here; envelope refused here (reason; no personal data)."""

DOSSIER_FIELDS = (
    "procedure_code",
    "agency_code",
    "structure_version",
    "status",
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "applicant_email",
    "channel",
    "return_channel",
    "received_at",
    "clock_start",
    "due_at",
    "paused_seconds",
    "details",
    "rule_version",
    "received_by",
)
"""The dossier's record carried in a hand-off, so a partner that never saw the dossier can register it."""
_TIMES = ("received_at", "clock_start", "due_at")


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _real_now() -> dt.datetime:
    """Delivery retries run on the wall clock: they are operations, not the dossier's (possibly simulated) time."""
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------ partners


@dataclass(frozen=True)
class Partner:
    """An agency hosted by another installation: where its exchange endpoint is and who may sign for it."""

    agency: str
    url: str
    trust_roots: tuple[x509.Certificate, ...]
    certificates: tuple[x509.Certificate, ...] = ()  # pinned: when given, only these may sign for the agency
    name: str = ""
    tls_ca: str | None = None  # PEM file the partner's HTTPS certificate must chain to (default: system CAs)


def _pem_certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"Không đọc được chứng thư số của cơ quan liên thông: {path}.",
            f"Cannot read the partner certificate file {path}: {exc}",
        ) from exc


class PartnerRegistry:
    """The partner agencies of this installation (``{"partners": [{"agency", "url", "trust_roots", …}]}``)."""

    def __init__(self, partners: Sequence[Partner] = ()) -> None:
        self.partners = {p.agency: p for p in partners}

    @classmethod
    def load(cls, path: Path) -> PartnerRegistry:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"Không đọc được tệp cấu hình cơ quan liên thông {path}.",
                f"Cannot read the exchange partners file {path}: {exc}",
            ) from exc
        items = raw.get("partners") if isinstance(raw, Mapping) else None
        if not isinstance(items, list):
            raise InvalidInput(
                "Tệp cấu hình liên thông phải có danh sách 'partners'.",
                f"The exchange partners file {path} needs a 'partners' list.",
            )
        base = path.parent
        partners = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("agency") or not item.get("url"):
                raise InvalidInput(
                    "Mỗi cơ quan liên thông cần 'agency' và 'url'.",
                    f"Every partner in {path} needs 'agency' and 'url': {item!r}",
                )
            roots = [c for f in item.get("trust_roots", []) for c in _pem_certificates(base / str(f))]
            if not roots:
                raise InvalidInput(
                    f"Cơ quan liên thông {item['agency']} chưa có chứng thư gốc tin cậy ('trust_roots').",
                    f"Partner {item['agency']} has no 'trust_roots': its signatures could not be checked.",
                )
            pinned = [c for f in item.get("certificates", []) for c in _pem_certificates(base / str(f))]
            tls_ca = str(base / str(item["tls_ca"])) if item.get("tls_ca") else None
            partners.append(
                Partner(
                    str(item["agency"]),
                    str(item["url"]),
                    tuple(roots),
                    tuple(pinned),
                    str(item.get("name", "")),
                    tls_ca,
                )
            )
        return cls(partners)

    def get(self, agency: str) -> Partner | None:
        return self.partners.get(agency)

    def is_remote(self, agency: str) -> bool:
        return agency in self.partners

    @property
    def remote_agencies(self) -> frozenset[str]:
        return frozenset(self.partners)


# ------------------------------------------------------------------ acknowledgments


class Refusal(Exception):
    """Why an envelope is refused: a stable code and the reason in Vietnamese and English.

    A plain exception, not a frozen dataclass: leaving a ``with`` block (a transaction) sets ``__traceback__``
    on the exception, which a frozen dataclass refuses (FrozenInstanceError instead of the signed NACK)."""

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(code, message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en


def build_ack(
    *,
    message_id: str,
    accepted: bool,
    by_agency: str,
    to_agency: str,
    dossier_code: str,
    manifest_sha256: str,
    at: dt.datetime,
    refusal: Refusal | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "type": ACK_TYPE,
        "message_id": message_id,
        "status": "accepted" if accepted else "refused",
        "by": by_agency,
        "to": to_agency,
        "dossier_code": dossier_code,
        "manifest_sha256": manifest_sha256,
        "at": at.astimezone(dt.UTC).isoformat(),
    }
    if refusal is not None:
        body["reason"] = {"code": refusal.code, "vi": refusal.message_vi, "en": refusal.message_en}
    return canonical(body)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise Refusal("malformed", f"Thiếu {what} trong phong bì.", f"The envelope has no {what}.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("malformed", f"{what} không đúng định dạng base64.", f"The {what} is not valid base64.") from exc


def check_partner_signature(
    data: bytes, signature: bytes, partner: Partner, agency: str, at: dt.datetime
) -> dt.datetime | None:
    """The signature over ``data`` holds, chains to the partner's roots at ``at`` and names ``agency`` (the unit
    code in the certificate's serialNumber, or a pinned certificate). Returns the signing time; raises Refusal."""
    try:
        report = verify_detached(data, signature, list(partner.trust_roots), at=at)
    except CmsInvalid as exc:
        text = str(exc)
        if "expired" in text:
            raise Refusal(
                "certificate_expired",
                "Chứng thư số của cơ quan gửi đã hết hạn hoặc chưa có hiệu lực tại thời điểm ký.",
                f"The sender's certificate was not valid at the signing time: {text}.",
            ) from exc
        if "trusted authority" in text or "not trusted" in text or "revoked" in text:
            raise Refusal(
                "untrusted_certificate",
                "Chữ ký không do tổ chức chứng thực tin cậy của cơ quan gửi cấp.",
                f"The signature does not chain to the sender's trusted roots: {text}.",
            ) from exc
        raise Refusal(
            "bad_signature",
            "Chữ ký số trên phong bì không hợp lệ: nội dung đã bị thay đổi hoặc chữ ký hỏng.",
            f"The envelope's signature does not hold: {text}.",
        ) from exc
    cert = report.signer_certificate
    if partner.certificates:
        pinned = {der(c) for c in partner.certificates}
        if der(cert) not in pinned:
            raise Refusal(
                "foreign_certificate",
                f"Chứng thư số ký phong bì không phải chứng thư đã đăng ký của cơ quan {agency}.",
                f"The envelope is signed with a certificate not registered for agency {agency}.",
            )
    elif agency_code_of(cert) != agency:
        raise Refusal(
            "foreign_certificate",
            f"Chứng thư số ký phong bì không thuộc cơ quan {agency}.",
            f"The envelope is signed by {report.signer_common_name} ({agency_code_of(cert)}), not by {agency}.",
        )
    return report.timestamp_time or report.signing_time


# ------------------------------------------------------------------ the sending side


def _document_bytes(shop: OneStopShop, doc_id: str) -> tuple[Any, bytes]:
    with transaction(shop.db) as conn:
        row = conn.execute(select(document).where(document.c.id == doc_id)).first()
    if row is None:
        raise NotFound(f"Không tìm thấy tài liệu {doc_id}.", f"Document {doc_id} not found.")
    return row, b"".join(shop.store.open(stored_object(row)))


def _dossier_record(row: Any) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in DOSSIER_FIELDS}
    for name in _TIMES:
        record[name] = record[name].astimezone(dt.UTC).isoformat()
    return record


class EnvelopeExchange:
    """The :class:`~dossiers.ports.Exchange` port across installations (see the module docstring)."""

    def __init__(
        self,
        shop: OneStopShop,
        signer_for: Callable[[str], Any],
        partners: PartnerRegistry,
        *,
        timestamper_url: str | None = None,
        retry_seconds: float = 5.0,
        retry_max_seconds: float = 600.0,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.shop = shop
        self.signer_for = signer_for
        self.partners = partners
        self.local = InProcessExchange(shop)
        self.timestamper_url = timestamper_url
        self.retry_seconds = retry_seconds
        self.retry_max_seconds = retry_max_seconds
        self.timeout_seconds = timeout_seconds
        self.transport = transport

    def send(
        self,
        sender_agency: str,
        receiver_agency: str,
        dossier_code: str,
        message_id: str,
        documents: Sequence[ExchangeDocument],
        context: Mapping[str, Any] | None = None,
    ) -> ExchangeReceipt:
        remote_sender = self.partners.is_remote(sender_agency)
        if not self.partners.is_remote(receiver_agency):
            # both here, or a partner's step whose signed reply already reached us: record the hand-off here
            return self.local.send(sender_agency, receiver_agency, dossier_code, message_id, documents)
        if remote_sender:
            raise InvalidInput(
                f"Cả cơ quan gửi ({sender_agency}) và cơ quan nhận ({receiver_agency}) đều thuộc hệ thống khác.",
                f"Both {sender_agency} and {receiver_agency} are partners hosted elsewhere: this installation "
                "cannot hand the dossier over on their behalf.",
            )
        context = dict(context or {})
        with transaction(self.shop.db) as conn:
            found = conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).first()
            if found is not None:
                if (found.dossier_code, found.receiver_agency) != (dossier_code, receiver_agency):
                    raise Conflict(
                        "Mã thông điệp liên thông đã được dùng cho hồ sơ hoặc cơ quan khác.",
                        f"Message {message_id} was already used for another dossier or receiver.",
                    )
                return self._receipt(found, duplicate=True)
            row = self.shop.dossier_row(dossier_code)
            now = self.shop.clock.now()
            items = []
            for doc in documents:
                stored, data = _document_bytes(self.shop, doc.id)
                if stored.dossier_code != dossier_code or sha256_hex(data) != doc.sha256:
                    raise Conflict(
                        f"Tài liệu {doc.filename} không khớp mã băm đã ghi.",
                        f"Document {doc.id} does not match its recorded SHA-256.",
                    )
                items.append(
                    {
                        "id": doc.id,
                        "kind": doc.kind,
                        "filename": doc.filename,
                        "content_type": stored.content_type,
                        "sha256": doc.sha256,
                        "size": len(data),
                    }
                )
            manifest = canonical(
                {
                    "type": ENVELOPE_TYPE,
                    "message_id": message_id,
                    "kind": str(context.get("kind", "handoff")),
                    "sender": sender_agency,
                    "receiver": receiver_agency,
                    "dossier_code": dossier_code,
                    "created_at": now.astimezone(dt.UTC).isoformat(),
                    "documents": items,
                    "dossier": _dossier_record(row),
                    "step": context.get("step"),
                    "variables": dict(context.get("variables") or {}),
                    "in_reply_to": context.get("in_reply_to"),
                    "closing": bool(context.get("closing", False)),
                }
            )
            signature = sign_detached(
                manifest, self.signer_for(f"agency:{sender_agency}"), timestamper_url=self.timestamper_url
            )
            conn.execute(
                insert(exchange_outbox).values(
                    message_id=message_id,
                    dossier_code=dossier_code,
                    sender_agency=sender_agency,
                    receiver_agency=receiver_agency,
                    manifest=manifest,
                    signature=signature,
                    status="pending",
                    attempts=0,
                    next_attempt_at=_real_now(),
                    created_at=now,
                )
            )
            self.shop.record(
                QUEUED,
                "system:exchange",
                dossier_code,
                message_id=message_id,
                sender=sender_agency,
                receiver=receiver_agency,
                manifest_sha256=sha256_hex(manifest),
                documents=[{"id": d["id"], "kind": d["kind"], "sha256": d["sha256"]} for d in items],
            )
            row = conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).one()
        return self._receipt(row, duplicate=False)

    @staticmethod
    def _receipt(row: Any, duplicate: bool) -> ExchangeReceipt:
        manifest = json.loads(row.manifest)
        return ExchangeReceipt(
            message_id=row.message_id,
            sender_agency=row.sender_agency,
            receiver_agency=row.receiver_agency,
            dossier_code=row.dossier_code,
            delivered_at=row.delivered_at or row.created_at,
            documents=tuple(d["sha256"] for d in manifest.get("documents", ())),
            duplicate=duplicate,
            queued=row.status != "delivered",
        )

    # ------------------------------------------------------------------ delivery

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from ``retry_seconds`` up to ``retry_max_seconds``."""
        return float(min(self.retry_seconds * (2 ** max(0, attempts - 1)), self.retry_max_seconds))

    def deliver_due(self, limit: int = 20) -> int:
        """Post the envelopes whose time has come; returns how many were acknowledged (ACK or NACK)."""
        now = _real_now()
        with transaction(self.shop.db) as conn:
            rows = conn.execute(
                select(exchange_outbox.c.message_id, exchange_outbox.c.next_attempt_at)
                .where(exchange_outbox.c.status == "pending", exchange_outbox.c.next_attempt_at <= now)
                .order_by(exchange_outbox.c.next_attempt_at)
                .limit(limit)
            ).all()
        done = 0
        for message_id, due in rows:
            # claim it: another housekeeping loop (another process) that read the same row skips it
            with transaction(self.shop.db) as conn:
                claimed = conn.execute(
                    update(exchange_outbox)
                    .where(exchange_outbox.c.message_id == message_id, exchange_outbox.c.next_attempt_at == due)
                    .values(next_attempt_at=now + dt.timedelta(seconds=self.timeout_seconds * 3))
                ).rowcount
            if claimed:
                done += self.deliver(message_id)
        return done

    def deliver(self, message_id: str) -> int:
        with transaction(self.shop.db) as conn:
            row = conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).one()
        if row.status != "pending":
            return 0
        partner = self.partners.get(row.receiver_agency)
        try:
            if partner is None:
                raise RuntimeError(f"agency {row.receiver_agency} is no longer a configured partner")
            manifest = json.loads(row.manifest)
            payload = {
                "manifest": _b64(bytes(row.manifest)),
                "signature": _b64(bytes(row.signature)),
                "documents": {d["id"]: _b64(_document_bytes(self.shop, d["id"])[1]) for d in manifest["documents"]},
            }
            verify: Any = ssl.create_default_context(cafile=partner.tls_ca) if partner.tls_ca else True
            with httpx.Client(timeout=self.timeout_seconds, transport=self.transport, verify=verify) as client:
                response = client.post(partner.url, json=payload)
            if response.status_code not in (200, 422):
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            answer = response.json()
            ack = _unb64(answer.get("ack"), "acknowledgment")
            ack_signature = _unb64(answer.get("signature"), "acknowledgment signature")
            check_partner_signature(ack, ack_signature, partner, row.receiver_agency, self.shop.clock.now())
            body = json.loads(ack)
            if (
                body.get("type") != ACK_TYPE
                or body.get("message_id") != message_id
                or body.get("manifest_sha256") != sha256_hex(bytes(row.manifest))
            ):
                raise RuntimeError("the acknowledgment does not answer this envelope")
        except Exception as exc:  # noqa: BLE001 - any failure: keep the envelope and retry later
            reason = exc.message_en if isinstance(exc, Refusal) else f"{type(exc).__name__}: {exc}"
            attempts = row.attempts + 1
            with transaction(self.shop.db) as conn:
                conn.execute(
                    update(exchange_outbox)
                    .where(exchange_outbox.c.message_id == message_id)
                    .values(
                        attempts=attempts,
                        last_error=reason[:2000],
                        next_attempt_at=_real_now() + dt.timedelta(seconds=self.backoff(attempts)),
                    )
                )
            log.warning("exchange.delivery_failed", message_id=message_id, attempts=attempts, error=reason)
            return 0
        accepted = body.get("status") == "accepted"
        reason = body.get("reason") or {}
        with transaction(self.shop.db) as conn:
            conn.execute(
                update(exchange_outbox)
                .where(exchange_outbox.c.message_id == message_id)
                .values(
                    status="delivered" if accepted else "refused",
                    attempts=row.attempts + 1,
                    ack=ack,
                    ack_signature=ack_signature,
                    delivered_at=self.shop.clock.now(),
                    last_error=None if accepted else str(reason.get("en") or reason)[:2000],
                )
            )
            self.shop.record(
                ACKNOWLEDGED if accepted else REFUSED,
                "system:exchange",
                row.dossier_code,
                message_id=message_id,
                receiver=row.receiver_agency,
                ack_sha256=sha256_hex(ack),
                reason=reason.get("code"),
            )
        return 1

    def retry_now(self, message_id: str, actor: str) -> int:
        """An operator asks for an undelivered envelope to be sent now (the partner is back): try it at once."""
        with transaction(self.shop.db) as conn:
            row = conn.execute(select(exchange_outbox).where(exchange_outbox.c.message_id == message_id)).first()
            if row is None:
                raise NotFound("Không có phong bì liên thông này.", f"No envelope {message_id}.")
            if row.status != "pending":
                raise Conflict(
                    "Phong bì đã được cơ quan nhận trả lời (đã nhận hoặc từ chối); không gửi lại.",
                    f"Envelope {message_id} was already answered ({row.status}); it is not sent again.",
                )
            conn.execute(
                update(exchange_outbox)
                .where(exchange_outbox.c.message_id == message_id)
                .values(next_attempt_at=_real_now())
            )
            self.shop.record("exchange.retry_requested", actor, row.dossier_code, message_id=message_id)
        return self.deliver_due()

    def messages(self, dossier_code: str | None = None) -> list[dict[str, Any]]:
        """The outbox and inbox (newest first) for operators and auditors."""
        out: list[dict[str, Any]] = []
        with transaction(self.shop.db) as conn:
            q = select(exchange_outbox).order_by(exchange_outbox.c.created_at.desc()).limit(500)
            if dossier_code:
                q = q.where(exchange_outbox.c.dossier_code == dossier_code)
            for r in conn.execute(q).all():
                out.append(
                    {
                        "direction": "out",
                        "message_id": r.message_id,
                        "dossier_code": r.dossier_code,
                        "sender": r.sender_agency,
                        "receiver": r.receiver_agency,
                        "status": r.status,
                        "attempts": r.attempts,
                        "next_attempt_at": r.next_attempt_at.isoformat() if r.status == "pending" else None,
                        "last_error": r.last_error,
                        "acknowledged": r.ack is not None,
                    }
                )
            q = select(exchange_inbox).order_by(exchange_inbox.c.received_at.desc()).limit(500)
            if dossier_code:
                q = q.where(exchange_inbox.c.dossier_code == dossier_code)
            for r in conn.execute(q).all():
                out.append(
                    {
                        "direction": "in",
                        "message_id": r.message_id,
                        "dossier_code": r.dossier_code,
                        "sender": r.sender_agency,
                        "receiver": r.receiver_agency,
                        "status": r.status,
                        "received_at": r.received_at.isoformat(),
                    }
                )
        return out


# ------------------------------------------------------------------ the receiving side


@dataclass(frozen=True)
class Answer:
    """What the exchange endpoint answers: HTTP status and the signed (N)ACK."""

    status_code: int
    ack: bytes
    signature: bytes

    def json(self) -> dict[str, str]:
        return {"ack": _b64(self.ack), "signature": _b64(self.signature)}


class EnvelopeReceiver:
    """Checks and accepts envelopes from partners (see the module docstring and :data:`REFUSALS`)."""

    def __init__(
        self,
        shop: OneStopShop,
        signer_for: Callable[[str], Any],
        partners: PartnerRegistry,
        *,
        operator_agency: str,
        max_document_bytes: int,
        partner_documents: Callable[[str, str | None, bool], frozenset[str] | None],
        max_envelope_bytes: int = 256 * 1024 * 1024,
        timestamper_url: str | None = None,
    ) -> None:
        self.shop = shop
        self.signer_for = signer_for
        self.partners = partners
        self.operator_agency = operator_agency
        self.max_document_bytes = max_document_bytes
        self.partner_documents = partner_documents
        self.max_envelope_bytes = max_envelope_bytes
        self.timestamper_url = timestamper_url

    def _answer(
        self, body: bytes, accepted: bool, by: str, to: str, code: str, message_id: str, refusal: Refusal | None
    ) -> Answer:
        ack = build_ack(
            message_id=message_id,
            accepted=accepted,
            by_agency=by,
            to_agency=to,
            dossier_code=code,
            manifest_sha256=sha256_hex(body),
            at=self.shop.clock.now(),
            refusal=refusal,
        )
        signature = sign_detached(ack, self.signer_for(f"agency:{by}"), timestamper_url=self.timestamper_url)
        if accepted:
            return Answer(200, ack, signature)
        # a passing failure here is answered 503 (still signed): the sender keeps the envelope and retries with
        # its backoff, so nothing is lost; a rule's refusal (422) is final
        return Answer(503 if refusal is not None and refusal.code in RETRYABLE else 422, ack, signature)

    def _hosted(self, agency: str) -> bool:
        if not agency or self.partners.is_remote(agency):
            return False
        try:
            self.shop.agency(agency)
        except NotFound:
            return False
        return True

    def receive(self, payload: Any) -> Answer:
        """Check and accept one envelope. ``payload`` is the request body (bytes, parsed here within the
        envelope's size and nesting bounds) or its parsed JSON. Whatever goes wrong, the answer is a signed
        ACK or NACK: an unexpected failure is logged, rolled back and refused as ``internal_error``."""
        manifest_bytes = b""
        manifest: dict[str, Any] = {}
        try:
            try:
                if isinstance(payload, bytes | bytearray):
                    payload = _bounded_json(bytes(payload), "envelope", max_bytes=self.max_envelope_bytes)
                if not isinstance(payload, Mapping):
                    raise Refusal("malformed", "Phong bì không đúng định dạng.", "The envelope is not a JSON object.")
                manifest_bytes = _unb64(payload.get("manifest"), "manifest")
                parsed = _bounded_json(manifest_bytes, "manifest")
                if not isinstance(parsed, dict) or parsed.get("type") != ENVELOPE_TYPE:
                    raise Refusal(
                        "malformed", "Bản kê không đúng loại.", f"The manifest's type is not {ENVELOPE_TYPE}."
                    )
                manifest = parsed
                _check_manifest(manifest)
                return self._receive(payload, manifest_bytes, manifest)
            except Refusal:
                raise
            except Exception as exc:  # noqa: BLE001 - a partner gets a stable signed answer, never a 500
                log.exception("exchange.internal_error", message_id=_text_field(manifest, "message_id"))
                raise Refusal(
                    "internal_error",
                    "Hệ thống nhận gặp lỗi khi xử lý phong bì; không có gì được lưu. Vui lòng liên hệ quản trị viên.",
                    f"The receiving installation failed while processing the envelope ({type(exc).__name__}); "
                    "nothing was kept. Its administrators have the details in their log.",
                ) from exc
        except Refusal as refusal:
            return self._refuse(refusal, manifest_bytes, manifest)

    def _refuse(self, refusal: Refusal, manifest_bytes: bytes, manifest: Mapping[str, Any]) -> Answer:
        receiver = _text_field(manifest, "receiver")
        sender = _text_field(manifest, "sender")
        message_id = _text_field(manifest, "message_id")
        by = receiver if self._hosted(receiver) else self.operator_agency
        try:
            self.shop.record(
                REJECTED,
                "system:exchange",
                None,
                message_id=message_id,
                sender=sender,
                receiver=receiver,
                reason=refusal.code,
                detail=refusal.message_en[:1000],
            )
        except Exception:  # noqa: BLE001 - the partner still gets its signed NACK
            log.exception("exchange.refusal_not_audited", code=refusal.code)
        log.warning("exchange.refused", code=refusal.code, reason=refusal.message_en)
        return self._answer(
            manifest_bytes, False, by, sender, _text_field(manifest, "dossier_code"), message_id, refusal
        )

    def _receive(self, payload: Mapping[str, Any], manifest_bytes: bytes, manifest: Mapping[str, Any]) -> Answer:
        message_id, sender, receiver = manifest["message_id"], manifest["sender"], manifest["receiver"]
        code = manifest["dossier_code"]
        if not self._hosted(receiver):
            raise Refusal(
                "wrong_receiver",
                f"Cơ quan nhận {receiver} không thuộc hệ thống này.",
                f"Agency {receiver} is not hosted by this installation.",
            )
        partner = self.partners.get(sender)
        if partner is None:
            raise Refusal(
                "unknown_sender",
                f"Cơ quan gửi {sender} không có trong danh sách cơ quan liên thông.",
                f"Agency {sender} is not a configured exchange partner.",
            )
        check_partner_signature(
            manifest_bytes, _unb64(payload.get("signature"), "signature"), partner, sender, self.shop.clock.now()
        )
        digest = sha256_hex(manifest_bytes)
        with transaction(self.shop.db) as conn:
            seen = conn.execute(select(exchange_inbox).where(exchange_inbox.c.message_id == message_id)).first()
        if seen is not None:
            if seen.manifest_sha256 != digest:
                raise Refusal(
                    "message_id_reused",
                    f"Mã thông điệp {message_id} đã được dùng cho một phong bì khác.",
                    f"Message id {message_id} was already received with another manifest.",
                )
            # a replay or a retry after a lost answer: the first acknowledgment, nothing processed again
            return Answer(200, bytes(seen.ack), bytes(seen.ack_signature))
        contents = self._documents(payload, manifest)
        self._check_document_kinds(manifest, contents)
        ack = self._answer(manifest_bytes, True, receiver, sender, code, message_id, None)
        with transaction(self.shop.db) as conn:
            # every rule first, then the writes: a refusal leaves nothing behind (the transaction rolls back)
            row: Any = conn.execute(select(dossier).where(dossier.c.code == code)).first()
            new_record: dict[str, Any] | None = None
            completion: tuple[UserTask, dict[str, Any]] | None = None
            if manifest["kind"] == "reply":
                completion = self._invited_reply(conn, manifest, row)
            else:
                new_record = self._invited_handoff(conn, manifest, row)
            conn.execute(
                insert(exchange_inbox).values(
                    message_id=message_id,
                    sender_agency=sender,
                    receiver_agency=receiver,
                    dossier_code=code,
                    manifest_sha256=digest,
                    status="accepted",
                    ack=ack.ack,
                    ack_signature=ack.signature,
                    received_at=self.shop.clock.now(),
                )
            )
            if new_record is not None:
                conn.execute(insert(dossier).values(code=code, updated_at=self.shop.clock.now(), **new_record))
            stored = self._store(conn, manifest, contents)
            self.shop.record(
                RECEIVED,
                "system:exchange",
                code,
                message_id=message_id,
                sender=sender,
                receiver=receiver,
                kind=manifest["kind"],
                manifest_sha256=digest,
                documents=stored,
            )
            if completion is not None:
                self._complete_waiting_step(manifest, *completion)
            else:
                due = new_record["due_at"] if new_record is not None else row.due_at
                self._start_or_correlate(manifest, new_record is not None, due)
        return ack

    # ------------------------------------------------------------------ documents

    def _documents(self, payload: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, bytes]:
        listed = manifest["documents"]
        given = payload.get("documents") or {}
        if not isinstance(given, Mapping):
            raise Refusal("malformed", "Danh sách tài liệu không đúng định dạng.", "The document list is malformed.")
        ids = [item["id"] for item in listed]
        if set(ids) != set(given) or len(set(ids)) != len(listed):
            raise Refusal(
                "documents_mismatch",
                "Tài liệu gửi kèm không khớp với bản kê.",
                f"The documents sent ({sorted(map(str, given))}) are not the ones the manifest lists ({ids}), "
                "each once.",
            )
        out = {}
        for item in listed:
            data = _unb64(given[item["id"]], f"document {item['id']}")
            if len(data) > self.max_document_bytes:
                raise Refusal(
                    "too_large",
                    f"Tài liệu {item['filename']} vượt quá dung lượng cho phép.",
                    f"Document {item['id']} is larger than {self.max_document_bytes} bytes.",
                )
            if sha256_hex(data) != item["sha256"] or len(data) != item["size"]:
                raise Refusal(
                    "tampered",
                    f"Tài liệu {item['filename']} không khớp mã băm SHA-256 trong bản kê: đã bị thay đổi.",
                    f"Document {item['id']} does not match the SHA-256 in the signed manifest: it was changed.",
                )
            out[item["id"]] = data
        return out

    def _check_document_kinds(self, manifest: Mapping[str, Any], contents: Mapping[str, bytes]) -> None:
        """A partner attaches only the kinds of documents its part produces (the procedure's hand-offs name
        them; a reply carries none today), and only PDFs that parse: never a ``result`` of a step that does not
        issue one, never HTML or anything a browser would run."""
        kind, closing = manifest["kind"], manifest["closing"]
        step = _step_activity(manifest)
        allowed = self.partner_documents(kind, step, closing)
        if allowed is None:
            raise Refusal(
                "unknown_step",
                f"Bước '{step or ''}' không phải bước mà thủ tục liên thông chuyển hồ sơ đến.",
                f"No hand-off of a joint procedure leads to step {step!r}: the envelope names no step to work on.",
            )
        for item in manifest["documents"]:
            if item["kind"] not in allowed:
                raise Refusal(
                    "document_not_allowed",
                    f"Tài liệu '{item['filename']}' loại '{item['kind']}' không thuộc các tài liệu mà bước này "
                    "được gửi kèm.",
                    f"Document {item['id']} is of kind {item['kind']!r}; this {kind} may carry only "
                    f"{', '.join(sorted(allowed)) or 'no documents'}.",
                )
            try:
                if item["content_type"].split(";")[0].strip().lower() != "application/pdf":
                    raise InvalidInput(
                        f"Tài liệu '{item['filename']}' có định dạng {item['content_type']}, không phải PDF.",
                        f"Document {item['id']} has type {item['content_type']!r}, not application/pdf.",
                    )
                upload = Upload("", item["filename"], "application/pdf", io.BytesIO(contents[item["id"]]))
                check_upload(upload)
            except InvalidInput as exc:
                raise Refusal(
                    "not_pdf",
                    f"Chỉ nhận tài liệu PDF hợp lệ: {exc.message_vi}",
                    f"Only valid PDF documents are accepted: {exc.message_en}",
                ) from None

    def _store(self, conn: Any, manifest: Mapping[str, Any], contents: Mapping[str, bytes]) -> list[dict[str, Any]]:
        code = manifest["dossier_code"]
        stored = []
        for item in manifest["documents"]:
            key = f"exchange/{manifest['message_id']}/{item['id']}"
            if conn.execute(select(document.c.id).where(document.c.idempotency_key == key)).first() is None:
                data = contents[item["id"]]
                prefix = f"{manifest['receiver']}/dossiers/{code}/{item['kind']}"
                obj = self.shop.store.put(prefix, io.BytesIO(data), "application/pdf")
                self.shop.insert_document(conn, code, item["kind"], None, item["filename"], obj, "system:exchange", key)
            stored.append({"id": item["id"], "kind": item["kind"], "sha256": item["sha256"]})
        return stored

    # ------------------------------------------------------------------ where the partner was invited

    @staticmethod
    def _exchanged(conn: Any, code: str, partner: str, local: str) -> bool:
        """The dossier went between that partner and that agency here: the partner handed it to us (accepted
        inbox) or we sent it to the partner (outbox)."""
        received = conn.execute(
            select(exchange_inbox.c.message_id)
            .where(
                exchange_inbox.c.dossier_code == code,
                exchange_inbox.c.sender_agency == partner,
                exchange_inbox.c.receiver_agency == local,
                exchange_inbox.c.status == "accepted",
            )
            .limit(1)
        ).first()
        return received is not None or EnvelopeReceiver._sent(conn, code, partner, local)

    @staticmethod
    def _sent(conn: Any, code: str, partner: str, local: str) -> bool:
        found = conn.execute(
            select(exchange_outbox.c.message_id)
            .where(
                exchange_outbox.c.dossier_code == code,
                exchange_outbox.c.receiver_agency == partner,
                exchange_outbox.c.sender_agency == local,
            )
            .limit(1)
        ).first()
        return found is not None

    def _invited_handoff(self, conn: Any, manifest: Mapping[str, Any], row: Any) -> dict[str, Any] | None:
        """A hand-off creates a dossier only under a code of the sender's own unit (or one we sent that partner)
        and touches an existing dossier only when it went between that partner and the receiver. Returns the
        new dossier's row values, or None for a dossier already here."""
        code, sender, receiver = manifest["dossier_code"], manifest["sender"], manifest["receiver"]
        if row is None:
            if manifest["closing"]:
                raise Refusal(
                    "unknown_dossier",
                    f"Hồ sơ {code} chưa từng được chuyển đến cơ quan này; không có gì để lưu kết quả vào.",
                    f"Dossier {code} was never handed to this agency: a closing hand-off has nothing to file into.",
                )
            try:
                unit = parse_dossier_code(code)[0]
            except ValueError:
                unit = None
            if unit is None or (unit != sender and not self._sent(conn, code, sender, receiver)):
                raise Refusal(
                    "foreign_dossier",
                    f"Mã hồ sơ {code} không phải mã của cơ quan gửi {sender}: cơ quan liên thông chỉ chuyển hồ sơ "
                    "do chính mình tiếp nhận hoặc hồ sơ cơ quan này đã chuyển cho họ.",
                    f"Dossier code {code} is not of the sender's unit {sender} nor one this installation sent to "
                    f"{sender}: a partner creates dossiers here only under its own codes.",
                )
            return self._record_values(manifest.get("dossier"), code, unit)
        if not self._exchanged(conn, code, sender, receiver):
            raise Refusal(
                "not_exchanged",
                f"Hồ sơ {code} chưa từng được trao đổi giữa cơ quan {sender} và cơ quan {receiver}.",
                f"Dossier {code} was never exchanged between agency {sender} and agency {receiver}: a partner "
                "touches only the dossiers it exchanged with the receiver.",
            )
        instance = self.shop.engine.instance(code)
        if instance is not None and instance.process_key != PARTNER_PROCESS:
            raise Refusal(
                "no_waiting_step",
                f"Hồ sơ {code} do cơ quan này giải quyết: cơ quan {sender} chỉ gửi trả lời cho bước được giao.",
                f"Dossier {code} is handled by this installation's own process: agency {sender} answers the step "
                "it was handed with a reply, not a hand-off.",
            )
        if instance is not None and instance.state == "running" and self.shop.engine.user_tasks(business_key=code):
            raise Refusal(
                "no_waiting_step",
                f"Hồ sơ {code} đang được xử lý ở bước trước tại cơ quan này; chưa nhận bước tiếp theo.",
                f"Dossier {code} is still at its previous step here: it waits for no hand-off now.",
            )
        if manifest["closing"] and manifest["documents"] and sender != row.agency_code:
            raise Refusal(
                "document_not_allowed",
                f"Chỉ cơ quan giải quyết hồ sơ ({row.agency_code}) gửi kết quả giải quyết để lưu.",
                f"Only the agency handling dossier {code} ({row.agency_code}) files its result, not {sender}.",
            )
        return None

    def _record_values(self, record: Any, code: str, unit: str) -> dict[str, Any]:
        """The row of a dossier a hand-off registers here, every field checked (presence, type, length, times
        with an offset), so an incomplete record is a NACK, never an integrity error halfway through."""

        def bad(name: str, problem: str) -> Refusal:
            return Refusal(
                "bad_record",
                f"Thông tin hồ sơ {code} trong bản kê không đầy đủ hoặc không hợp lệ (trường '{name}').",
                f"The dossier record of {code} in the manifest is not usable: '{name}' {problem}.",
            )

        if not isinstance(record, Mapping):
            raise bad("dossier", "is missing (a hand-off of a new dossier carries its record)")
        values: dict[str, Any] = {}
        for name in DOSSIER_FIELDS:
            value = record.get(name)
            if name in _TIMES:
                values[name] = _aware_time(value)
                if values[name] is None:
                    raise bad(name, "is not an ISO 8601 time with an offset")
            elif name == "paused_seconds":
                if value is None:
                    value = 0
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
                    raise bad(name, "is not a number of seconds")
                values[name] = value
            elif name == "details":
                if value is not None and not isinstance(value, Mapping):
                    raise bad(name, "is not an object")
                values[name] = dict(value or {})
            elif name in ("channel", "return_channel"):
                if value not in (None, *CHANNELS):
                    raise bad(name, f"is not one of {', '.join(CHANNELS)}")
                values[name] = value or "counter"
            else:
                limit = _max_length(dossier.c[name])
                required = name in _REQUIRED_TEXT
                if value is None and not required:
                    values[name] = None
                    continue
                if not isinstance(value, str) or not value.strip() or len(value) > limit or _CONTROL.search(value):
                    raise bad(name, f"is not a text of 1 to {limit} characters")
                values[name] = value
        if values["agency_code"] != unit:
            raise bad("agency_code", f"is not {unit}, the unit in the dossier's code")
        try:
            entry = self.shop.entry(values["procedure_code"])
        except (NotFound, InvalidInput) as exc:
            raise Refusal(
                "unknown_procedure",
                f"Thủ tục {values['procedure_code']} của hồ sơ {code} không có trong danh mục của hệ thống này.",
                f"Procedure {values['procedure_code']} of dossier {code} is not in this installation's catalogue.",
            ) from exc
        # the same rules as a local intake: a partner's record cannot carry what our own desk would refuse
        version = values["rule_version"]
        day = values["received_at"].astimezone(self.shop.calendar_tz()).date()
        try:
            procedure = entry.under(version) if version and entry.version(version) is not None else entry.at(day)
            values["applicant_name"] = clean_applicant_name(values["applicant_name"])
            values["applicant_id_number"] = clean_id_number(values["applicant_id_number"])
            values["applicant_phone"] = clean_phone(values["applicant_phone"])
            values["details"] = check_form(procedure, values["details"])
        except (InvalidInput, LookupError) as exc:
            field = str(exc.details.get("field") or "details") if isinstance(exc, InvalidInput) else "rule_version"
            raise bad(field, f"breaks this installation's rules ({exc})") from exc
        values["status"] = DossierStatus.IN_PROGRESS.value
        return values

    def _invited_reply(self, conn: Any, manifest: Mapping[str, Any], row: Any) -> tuple[UserTask, dict[str, Any]]:
        """A reply completes only a step this installation handed to that partner and still waits on: the task
        for that step is open, works for that partner (``current_agency``) and answers an envelope we sent it."""
        code, sender, receiver = manifest["dossier_code"], manifest["sender"], manifest["receiver"]
        if row is None:
            raise Refusal(
                "unknown_dossier",
                f"Hồ sơ {code} không có tại hệ thống này.",
                f"Dossier {code} does not exist at this installation.",
            )
        if not self._sent(conn, code, sender, receiver):
            raise Refusal(
                "not_exchanged",
                f"Cơ quan {receiver} chưa từng chuyển hồ sơ {code} cho cơ quan {sender}.",
                f"Agency {receiver} never handed dossier {code} to agency {sender}: there is nothing to reply to.",
            )
        step = _step_activity(manifest) or ""
        waiting = [t for t in self.shop.engine.user_tasks(business_key=code) if t.activity_id == step]
        if not waiting:
            raise Refusal(
                "no_waiting_step",
                f"Hồ sơ {code} không có bước '{step}' đang chờ cơ quan {sender}.",
                f"Dossier {code} has no step '{step}' waiting for agency {sender}.",
            )
        task = waiting[0]
        if task.variables.get("current_agency") != sender:
            raise Refusal(
                "not_your_step",
                f"Bước '{step}' của hồ sơ {code} không do cơ quan {sender} xử lý.",
                f"Step '{step}' of dossier {code} is not handled by agency {sender}.",
            )
        in_reply_to = manifest.get("in_reply_to")
        sent = None
        if in_reply_to:
            sent = conn.execute(
                select(exchange_outbox.c.manifest).where(
                    exchange_outbox.c.message_id == in_reply_to,
                    exchange_outbox.c.dossier_code == code,
                    exchange_outbox.c.receiver_agency == sender,
                    exchange_outbox.c.sender_agency == receiver,
                )
            ).first()
        if sent is None or ((json.loads(sent.manifest).get("step") or {}).get("activity")) != step:
            raise Refusal(
                "no_waiting_step",
                f"Phong bì trả lời không ứng với phong bì chuyển bước '{step}' mà cơ quan này đã gửi cho {sender}.",
                f"The reply's in_reply_to ({in_reply_to!r}) is not the envelope that handed step '{step}' of "
                f"{code} to {sender}.",
            )
        given = dict(manifest["variables"])
        choices = self.shop.decision_choices(self.shop.procedure_of(row).process_key, step).get("decision")
        decision = given.get("decision")
        if choices and decision not in choices:
            raise Refusal(
                "bad_decision",
                f"Quyết định '{decision}' không hợp lệ cho bước '{step}'.",
                f"Decision {decision!r} is not one of {', '.join(choices)} for step '{step}'.",
            )
        actor = f"{given.get('by') or 'system'}@{sender}"
        variables: dict[str, Any] = {"last_actor": actor, f"{step}_by": actor}
        if choices:
            variables["decision"] = decision
        if given.get("comment"):
            variables["comment"] = str(given["comment"])[:2000]
        return task, variables

    # ------------------------------------------------------------------ the processes

    def _step_variables(self, manifest: Mapping[str, Any], due_at: dt.datetime) -> dict[str, Any]:
        step = manifest.get("step") or {}
        return {
            "dossier_code": manifest["dossier_code"],
            "current_agency": manifest["receiver"],
            "joint_origin": manifest["sender"],
            "joint_message": manifest["message_id"],
            "joint_step": str(step.get("activity") or ""),
            "joint_step_name": str(step.get("name") or ""),
            "joint_closing": "yes" if manifest["closing"] else "no",
            "step_due_at": manifest["variables"].get("step_due_at") or due_at.isoformat(),
            "decision": None,
            "comment": None,
        }

    def _start_or_correlate(self, manifest: Mapping[str, Any], created: bool, due_at: dt.datetime) -> None:
        code = manifest["dossier_code"]
        variables = self._step_variables(manifest, due_at)
        instance = None if created else self.shop.engine.instance(code)
        if instance is None:
            if manifest["closing"]:
                return  # documents for the record only (e.g. the signed result): filed, nothing to work on
            self.shop.engine.start(PARTNER_PROCESS, code, variables)
            return
        if instance.state != "running":
            return  # the partner's part is over (closed by an earlier hand-off): the documents are filed
        try:
            self.shop.engine.correlate_message(HANDOFF_MESSAGE, code, variables)
        except (Conflict, NotFound) as exc:
            raise Refusal(
                "no_waiting_step",
                f"Quy trình của hồ sơ {code} tại cơ quan này không chờ phong bì chuyển bước.",
                f"The process of dossier {code} here waits for no hand-off now: {exc.message_en}",
            ) from exc

    def _complete_waiting_step(self, manifest: Mapping[str, Any], task: UserTask, variables: dict[str, Any]) -> None:
        """A partner's reply, checked by :meth:`_invited_reply`: complete the step of our process."""
        code, step = manifest["dossier_code"], task.activity_id
        self.shop.engine.complete_user_task(task.id, variables)
        self.shop.record(
            "task.completed",
            variables["last_actor"],
            code,
            task=step,
            decision=variables.get("decision"),
            comment=variables.get("comment"),
            via_message=manifest["message_id"],
        )
        if variables.get("decision") is not None:
            with transaction(self.shop.db) as conn:  # the decision column follows the step, as for local officials
                conn.execute(
                    update(dossier)
                    .where(dossier.c.code == code)
                    .values(decision=variables["decision"], updated_at=self.shop.clock.now())
                )


# ------------------------------------------------------------------ checking what a partner sent

RECEIVED_KINDS = ("handoff", "reply")
CHANNELS = ("counter", "online", "postal")
MAX_MESSAGE_ID = 150
"""With a document id (at most 40 characters) the document's idempotency key ``exchange/<message>/<id>`` fits
its 200 characters: two documents of one message never share a key."""
_REQUIRED_TEXT = frozenset(
    {"procedure_code", "agency_code", "structure_version", "applicant_name", "applicant_id_number", "received_by"}
)
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
_ACTIVITY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FROM_MANIFEST: Any = object()

REFUSALS: Mapping[str, str] = {
    "malformed": "not an envelope: JSON too large or too deep, a field missing or of the wrong type",
    "wrong_receiver": "the receiver is not an agency hosted here",
    "unknown_sender": "the sender is not a configured partner",
    "bad_signature": "the signature does not hold over the manifest",
    "untrusted_certificate": "the signature does not chain to the partner's roots",
    "certificate_expired": "the certificate was not valid at the signing time",
    "foreign_certificate": "the certificate is not the sender's",
    "message_id_reused": "another manifest under a message id already received",
    "documents_mismatch": "the documents sent are not those listed, each once",
    "too_large": "a document is over the size limit",
    "tampered": "a document does not have the manifest's SHA-256",
    "unknown_step": "a hand-off names a step no hand-off leads to",
    "document_not_allowed": "a document of a kind the step does not carry (or a result not from the dossier's agency)",
    "not_pdf": "a document that is not a PDF that parses",
    "foreign_dossier": "a new dossier under a code not of the sender's unit",
    "not_exchanged": "a dossier that never went between the partner and the receiver",
    "unknown_dossier": "a reply or closing hand-off for a dossier not here",
    "bad_record": "the dossier record is incomplete or invalid",
    "unknown_procedure": "the record's procedure is not in the catalogue here",
    "no_waiting_step": "nothing here waits for this envelope (step done, not handed to that partner, wrong reply)",
    "not_your_step": "the step waits for another agency",
    "bad_decision": "a decision the step does not offer",
    "internal_error": "an unexpected failure here; logged, nothing kept",
}
"""Every reason code a NACK may carry (documented in docs/exchange.md)."""
RETRYABLE = frozenset({"internal_error"})
"""Refusals answered 503 instead of 422: the sender retries them (nothing was kept here; the cause may pass)."""


def _bounded_json(data: bytes, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Untrusted JSON within size and nesting bounds: hostile input is a ``malformed`` refusal, not a crash."""
    try:
        return loads_bounded(data, what=what, max_bytes=max_bytes)
    except InvalidInput as exc:
        raise Refusal("malformed", exc.message_vi, exc.message_en) from None


def _max_length(column: Any) -> int:
    """A text column's length: what the manifest's values are bounded by before any insert."""
    return int(column.type.length)


def _text_field(manifest: Mapping[str, Any], name: str, limit: int = MAX_MESSAGE_ID) -> str:
    """A manifest field for the NACK and the audit entry: a short text, or nothing."""
    value = manifest.get(name)
    return value if isinstance(value, str) and len(value) <= limit and not _CONTROL.search(value) else ""


def _step_activity(manifest: Mapping[str, Any]) -> str | None:
    step = manifest.get("step")
    activity = step.get("activity") if isinstance(step, Mapping) else None
    return activity if isinstance(activity, str) and activity else None


def _aware_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


def _check_manifest(manifest: dict[str, Any]) -> None:
    """Every field of the manifest has its type and bounds before anything else reads it (``malformed``); the
    optional ones are normalised (``documents`` a list, ``variables`` an object, ``closing`` a boolean)."""

    def malformed(problem_vi: str, problem_en: str) -> Refusal:
        return Refusal("malformed", f"Bản kê không hợp lệ: {problem_vi}.", f"The manifest is malformed: {problem_en}.")

    def text(name: str, limit: int, value: Any = _FROM_MANIFEST, *, optional: bool = False) -> None:
        value = manifest.get(name) if value is _FROM_MANIFEST else value
        if optional and value is None:
            return
        if not isinstance(value, str) or not value or len(value) > limit or _CONTROL.search(value):
            raise malformed(f"'{name}' phải là chuỗi 1–{limit} ký tự", f"'{name}' must be a text of 1 to {limit}")

    text("message_id", MAX_MESSAGE_ID)
    text("sender", 40)
    text("receiver", 40)
    text("dossier_code", _max_length(dossier.c.code))
    text("in_reply_to", MAX_MESSAGE_ID, optional=True)
    kind = manifest.get("kind")
    if kind not in RECEIVED_KINDS:
        raise malformed(f"loại '{kind}' không được hỗ trợ", f"kind {kind!r} is not one of {', '.join(RECEIVED_KINDS)}")
    if not isinstance(manifest.get("closing", False), bool):
        raise malformed("'closing' phải là true/false", "'closing' must be a boolean")
    step = manifest.get("step")
    if step is not None:
        if not isinstance(step, Mapping):
            raise malformed("'step' phải là đối tượng", "'step' must be an object")
        activity, name = step.get("activity"), step.get("name")
        if activity is not None and not (isinstance(activity, str) and _ACTIVITY.fullmatch(activity)):
            raise malformed("mã bước không hợp lệ", "'step.activity' is not an activity id")
        if name is not None and not (isinstance(name, str) and len(name) <= 255 and not _CONTROL.search(name)):
            raise malformed("tên bước không hợp lệ", "'step.name' must be a text of at most 255 characters")
    if kind == "reply" and _step_activity(manifest) is None:
        raise malformed("phong bì trả lời phải nêu bước", "a reply names the step it completes ('step.activity')")
    variables = manifest.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        raise malformed("'variables' phải là đối tượng", "'variables' must be an object")
    for name, limit in (("by", 60), ("decision", 30), ("comment", 4000)):
        value = variables.get(name)
        if value is not None and not (isinstance(value, str) and len(value) <= limit):
            raise malformed(f"'variables.{name}' không hợp lệ", f"'variables.{name}' must be a text up to {limit}")
    due = variables.get("step_due_at")
    if due is not None and _aware_time(due) is None:
        raise malformed("hạn của bước không hợp lệ", "'variables.step_due_at' is not an ISO 8601 time with offset")
    documents = manifest.get("documents")
    if documents is None:
        documents = []
    if not isinstance(documents, list):
        raise malformed("danh sách tài liệu phải là mảng", "'documents' must be a list")
    for item in documents:
        if not isinstance(item, Mapping):
            raise malformed("mỗi tài liệu phải là đối tượng", "every document must be an object")
        doc_id = item.get("id")
        if not (isinstance(doc_id, str) and _DOCUMENT_ID.fullmatch(doc_id)):
            raise malformed("mã tài liệu không hợp lệ", f"document id {doc_id!r} is not 1 to 40 of [A-Za-z0-9._-]")
        text("kind", _max_length(document.c.kind), item.get("kind"))
        text("filename", _max_length(document.c.filename), item.get("filename"))
        text("content_type", _max_length(document.c.content_type), item.get("content_type"))
        if any(c in item["filename"] for c in "/\\"):
            raise malformed("tên tệp không được chứa đường dẫn", "a document's filename must not contain a path")
        sha, size = item.get("sha256"), item.get("size")
        if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise malformed("mã băm SHA-256 không hợp lệ", f"document {doc_id} has no SHA-256 (64 hex digits)")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise malformed("kích thước tài liệu không hợp lệ", f"document {doc_id} has no size")
    manifest["documents"] = documents
    manifest["variables"] = dict(variables)
    manifest["closing"] = bool(manifest.get("closing", False))
