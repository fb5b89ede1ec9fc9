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
which a replay of the same message gets back unchanged (processed once). Anything refused gets a signed
negative acknowledgment with the reason, in Vietnamese and English.

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
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import insert, select, update

from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.model import DossierStatus
from dossiers.ports import ExchangeDocument, ExchangeReceipt
from motcua.db import document, dossier, exchange_inbox, exchange_outbox, transaction
from motcua.exchange import RECEIVED, InProcessExchange
from motcua.services import OneStopShop, stored_object
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


@dataclass(frozen=True)
class Refusal(Exception):
    """Why an envelope is refused: a stable code and the reason in Vietnamese and English."""

    code: str
    message_vi: str
    message_en: str


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
        pinned = {c.public_bytes(Encoding.DER) for c in partner.certificates}
        if cert.public_bytes(Encoding.DER) not in pinned:
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
    """Checks and accepts envelopes from partners (see the module docstring)."""

    def __init__(
        self,
        shop: OneStopShop,
        signer_for: Callable[[str], Any],
        partners: PartnerRegistry,
        *,
        operator_agency: str,
        max_document_bytes: int,
        timestamper_url: str | None = None,
    ) -> None:
        self.shop = shop
        self.signer_for = signer_for
        self.partners = partners
        self.operator_agency = operator_agency
        self.max_document_bytes = max_document_bytes
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
        return Answer(200 if accepted else 422, ack, signature)

    def _hosted(self, agency: str) -> bool:
        if self.partners.is_remote(agency):
            return False
        try:
            self.shop.agency(agency)
        except NotFound:
            return False
        return True

    def receive(self, payload: Any) -> Answer:
        manifest_bytes = b""
        manifest: dict[str, Any] = {}
        try:
            if not isinstance(payload, Mapping):
                raise Refusal("malformed", "Phong bì không đúng định dạng.", "The envelope is not a JSON object.")
            manifest_bytes = _unb64(payload.get("manifest"), "manifest")
            try:
                parsed = json.loads(manifest_bytes)
            except ValueError as exc:
                raise Refusal("malformed", "Bản kê không phải JSON.", "The manifest is not JSON.") from exc
            if not isinstance(parsed, dict) or parsed.get("type") != ENVELOPE_TYPE:
                raise Refusal("malformed", "Bản kê không đúng loại.", f"The manifest's type is not {ENVELOPE_TYPE}.")
            manifest = parsed
            for name in ("message_id", "sender", "receiver", "dossier_code"):
                if not isinstance(manifest.get(name), str) or not manifest[name]:
                    raise Refusal("malformed", f"Bản kê thiếu '{name}'.", f"The manifest has no '{name}'.")
            return self._receive(payload, manifest_bytes, manifest)
        except Refusal as refusal:
            receiver = str(manifest.get("receiver") or "")
            by = receiver if receiver and self._hosted(receiver) else self.operator_agency
            self.shop.record(
                REJECTED,
                "system:exchange",
                None,
                message_id=str(manifest.get("message_id") or ""),
                sender=str(manifest.get("sender") or ""),
                receiver=receiver,
                reason=refusal.code,
                detail=refusal.message_en,
            )
            log.warning("exchange.refused", code=refusal.code, reason=refusal.message_en)
            return self._answer(
                manifest_bytes,
                False,
                by,
                str(manifest.get("sender") or ""),
                str(manifest.get("dossier_code") or ""),
                str(manifest.get("message_id") or ""),
                refusal,
            )

    def _receive(self, payload: Mapping[str, Any], manifest_bytes: bytes, manifest: dict[str, Any]) -> Answer:
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
        ack = self._answer(manifest_bytes, True, receiver, sender, code, message_id, None)
        with transaction(self.shop.db) as conn:
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
            created = self._register(conn, manifest)
            stored = self._store(conn, manifest, contents)
            self.shop.record(
                RECEIVED,
                "system:exchange",
                code,
                message_id=message_id,
                sender=sender,
                receiver=receiver,
                kind=manifest.get("kind"),
                manifest_sha256=digest,
                documents=stored,
            )
            if manifest.get("kind") == "reply":
                self._complete_waiting_step(manifest)
            else:
                self._start_or_correlate(manifest, created)
        return ack

    def _documents(self, payload: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, bytes]:
        listed = manifest.get("documents") or []
        given = payload.get("documents") or {}
        if not isinstance(listed, list) or not isinstance(given, Mapping):
            raise Refusal("malformed", "Danh sách tài liệu không đúng định dạng.", "The document list is malformed.")
        ids = [str(d.get("id")) for d in listed if isinstance(d, Mapping)]
        if set(ids) != set(given) or len(ids) != len(listed):
            raise Refusal(
                "documents_mismatch",
                "Tài liệu gửi kèm không khớp với bản kê.",
                f"The documents sent ({sorted(given)}) are not the ones the manifest lists ({sorted(ids)}).",
            )
        out = {}
        for item in listed:
            data = _unb64(given[str(item["id"])], f"document {item['id']}")
            if len(data) > self.max_document_bytes:
                raise Refusal(
                    "too_large",
                    f"Tài liệu {item.get('filename')} vượt quá dung lượng cho phép.",
                    f"Document {item['id']} is larger than {self.max_document_bytes} bytes.",
                )
            if sha256_hex(data) != item.get("sha256") or len(data) != item.get("size"):
                raise Refusal(
                    "tampered",
                    f"Tài liệu {item.get('filename')} không khớp mã băm SHA-256 trong bản kê: đã bị thay đổi.",
                    f"Document {item['id']} does not match the SHA-256 in the signed manifest: it was changed.",
                )
            out[str(item["id"])] = data
        return out

    def _register(self, conn: Any, manifest: Mapping[str, Any]) -> bool:
        """Register the dossier the first time a partner hands it over; True when it was new here."""
        code = manifest["dossier_code"]
        if conn.execute(select(dossier.c.code).where(dossier.c.code == code)).first() is not None:
            return False
        record = dict(manifest.get("dossier") or {})
        if manifest.get("kind") == "reply" or not record:
            raise Refusal(
                "unknown_dossier",
                f"Hồ sơ {code} chưa từng được chuyển đến cơ quan này.",
                f"Dossier {code} was never handed to this agency.",
            )
        try:
            self.shop.entry(str(record["procedure_code"]))
            values = {name: record.get(name) for name in DOSSIER_FIELDS}
            for name in _TIMES:
                values[name] = dt.datetime.fromisoformat(str(record[name]))
        except (KeyError, ValueError, TypeError, NotFound) as exc:
            raise Refusal(
                "unknown_procedure",
                "Thủ tục hoặc thông tin hồ sơ trong bản kê không hợp lệ tại cơ quan nhận.",
                f"The dossier record in the manifest is not usable here: {exc}",
            ) from exc
        values["status"] = DossierStatus.IN_PROGRESS.value
        values["paused_seconds"] = int(values.get("paused_seconds") or 0)
        values["channel"] = values.get("channel") or "counter"
        values["return_channel"] = values.get("return_channel") or "counter"
        conn.execute(insert(dossier).values(code=code, updated_at=self.shop.clock.now(), **values))
        return True

    def _store(self, conn: Any, manifest: Mapping[str, Any], contents: Mapping[str, bytes]) -> list[dict[str, Any]]:
        code = manifest["dossier_code"]
        stored = []
        for item in manifest.get("documents") or []:
            key = f"exchange/{manifest['message_id']}/{item['id']}"[:200]
            if conn.execute(select(document.c.id).where(document.c.idempotency_key == key)).first() is None:
                data = contents[str(item["id"])]
                prefix = f"{manifest['receiver']}/dossiers/{code}/{item['kind']}"
                obj = self.shop.store.put(prefix, io.BytesIO(data), str(item.get("content_type") or "application/pdf"))
                self.shop.insert_document(
                    conn, code, str(item["kind"]), None, str(item["filename"]), obj, "system:exchange", key
                )
            stored.append({"id": item["id"], "kind": item["kind"], "sha256": item["sha256"]})
        return stored

    def _step_variables(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        step = manifest.get("step") or {}
        variables = dict(manifest.get("variables") or {})
        return {
            "dossier_code": manifest["dossier_code"],
            "current_agency": manifest["receiver"],
            "joint_origin": manifest["sender"],
            "joint_message": manifest["message_id"],
            "joint_step": str(step.get("activity") or ""),
            "joint_step_name": str(step.get("name") or ""),
            "joint_closing": "yes" if manifest.get("closing") else "no",
            "step_due_at": variables.get("step_due_at") or manifest["dossier"]["due_at"],
            "decision": None,
            "comment": None,
        }

    def _start_or_correlate(self, manifest: Mapping[str, Any], created: bool) -> None:
        code = manifest["dossier_code"]
        variables = self._step_variables(manifest)
        instance = None if created else self.shop.engine.instance(code)
        if instance is None:
            if manifest.get("closing"):
                return  # documents for the record only (e.g. the signed result): filed, nothing to work on
            self.shop.engine.start(PARTNER_PROCESS, code, variables)
            return
        if instance.state != "running":
            return  # the partner's part is over (closed by an earlier hand-off): the documents are filed
        self.shop.engine.correlate_message(HANDOFF_MESSAGE, code, variables)

    def _complete_waiting_step(self, manifest: Mapping[str, Any]) -> None:
        """A partner's reply: complete the step of our process that waited for that partner."""
        code = manifest["dossier_code"]
        step = str((manifest.get("step") or {}).get("activity") or "")
        waiting = [t for t in self.shop.engine.user_tasks(business_key=code) if t.activity_id == step]
        if not waiting:
            raise Refusal(
                "no_waiting_step",
                f"Hồ sơ {code} không có bước '{step}' đang chờ cơ quan {manifest['sender']}.",
                f"Dossier {code} has no step '{step}' waiting for agency {manifest['sender']}.",
            )
        task = waiting[0]
        acting = task.variables.get("current_agency")
        if acting != manifest["sender"]:
            raise Refusal(
                "not_your_step",
                f"Bước '{step}' của hồ sơ {code} không do cơ quan {manifest['sender']} xử lý.",
                f"Step '{step}' of dossier {code} is not handled by agency {manifest['sender']}.",
            )
        given = dict(manifest.get("variables") or {})
        row = self.shop.dossier_row(code)
        choices = self.shop.decision_choices(self.shop.procedure_of(row).process_key, step).get("decision")
        decision = given.get("decision")
        if choices and decision not in choices:
            raise Refusal(
                "bad_decision",
                f"Quyết định '{decision}' không hợp lệ cho bước '{step}'.",
                f"Decision {decision!r} is not one of {', '.join(choices)} for step '{step}'.",
            )
        actor = f"{given.get('by') or 'system'}@{manifest['sender']}"
        variables: dict[str, Any] = {"last_actor": actor, f"{step}_by": actor}
        if choices:
            variables["decision"] = decision
        if given.get("comment"):
            variables["comment"] = str(given["comment"])[:2000]
        self.shop.engine.complete_user_task(task.id, variables)
        self.shop.record(
            "task.completed",
            actor,
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
