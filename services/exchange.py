"""Inter-agency exchange (*một cửa liên thông*, DESIGN §9): the delivery of hand-offs, in-process or as signed
envelopes to partner installations, and the routing of hand-offs to partner agencies.

:class:`InProcessExchange` implements the :class:`dossiers.ports.Exchange` port for agencies that share one
Motcua installation: it checks the manifest (every document belongs to the dossier and has the SHA-256 the
sender named, as a receiver of a signed envelope would), records the delivery once per message id (the
``side_effect`` table keeps the receipt) and appends one ``exchange.delivered`` audit entry. Delivery is what
lets the receiving agency's officials act: their task lists show the dossier's steps while the process
variable ``current_agency`` names their agency (set by the ``exchange.send`` worker from the receipt), and
they may read a dossier delivered to them. The BPMN files, which only name the ``exchange.send`` topic, do not
change with the adapter.

:class:`EnvelopeExchange` is the same port across installations: a hand-off between agencies of this
installation is delivered in-process as before; one to a partner (:class:`integrations.envelopes.partners.
PartnerRegistry`) is signed and written to the ``exchange_outbox`` table in the caller's transaction (the
worker's unit of work), and :meth:`EnvelopeExchange.deliver_due` (housekeeping) posts it to the partner with
the outbox mechanism of :mod:`persistence.outbox` (exponential backoff) until the partner's **signed
acknowledgment** is verified and stored. Nothing is lost while the partner is down and nothing is sent twice
by a retried task (the message id is the task's idempotency key). The other side is :mod:`services.receiving`.

:class:`PartnerDirectory` answers "which agency of this kind serves that commune" from
``motcua/data/exchange_partners.json`` (data, not code: a province edits it with its own branches).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import httpx
import structlog

from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.ports import Clock, DocumentStore, ExchangeDocument, ExchangeReceipt
from integrations.envelopes.manifest import ENVELOPE_TYPE, Refusal, canonical, dossier_record, sha256_hex
from integrations.envelopes.partners import PartnerRegistry
from integrations.envelopes.sender import post_envelope
from persistence import dossier_records, exchange_records
from persistence import outbox as queues
from persistence.uow import Database, transaction
from services.handoffs import DELIVERED
from services.ports import DossierDesk
from services.shop import stored_object
from signing.cms import sign_detached

log = structlog.get_logger(__name__)

ORIGIN = "origin"
"""The partner kind naming the agency that received the dossier (hand-offs back to the commune)."""
QUEUED = "exchange.queued"
ACKNOWLEDGED = "exchange.acknowledged"
REFUSED = "exchange.refused"
"""Audit events: envelope signed and queued; partner's signed ACK stored; partner's signed NACK stored."""


def _key(message_id: str) -> str:
    return f"exchange/{message_id}"[:200]


def _receipt(data: Mapping[str, Any], duplicate: bool) -> ExchangeReceipt:
    return ExchangeReceipt(
        message_id=str(data["message_id"]),
        sender_agency=str(data["sender_agency"]),
        receiver_agency=str(data["receiver_agency"]),
        dossier_code=str(data["dossier_code"]),
        delivered_at=dt.datetime.fromisoformat(str(data["delivered_at"])),
        documents=tuple(str(d) for d in data.get("documents", ())),
        duplicate=duplicate,
    )


class InProcessExchange:
    """Delivers at once inside this installation; idempotent by message id."""

    def __init__(self, db: Database, clock: Clock, desk: DossierDesk, actor: str = "system:exchange") -> None:
        self.db = db
        self.clock = clock
        self.desk = desk
        self.actor = actor

    def send(
        self,
        sender_agency: str,
        receiver_agency: str,
        dossier_code: str,
        message_id: str,
        documents: Sequence[ExchangeDocument],
        context: Mapping[str, Any] | None = None,
    ) -> ExchangeReceipt:
        if not message_id:
            raise InvalidInput("Thiếu mã thông điệp liên thông.", "An exchange message needs a message id.")
        if sender_agency == receiver_agency:
            raise InvalidInput(
                "Cơ quan gửi và nhận liên thông trùng nhau.",
                f"Sender and receiver are the same agency ({sender_agency}).",
            )
        self.desk.agency(sender_agency)  # NotFound for an agency outside the structure in force
        self.desk.agency(receiver_agency)
        with transaction(self.db) as conn:
            found = dossier_records.side_effect_result(conn, _key(message_id))
            if found is not None:
                first = _receipt(found, duplicate=True)
                if (first.dossier_code, first.receiver_agency) != (dossier_code, receiver_agency):
                    raise Conflict(
                        "Mã thông điệp liên thông đã được dùng cho hồ sơ hoặc cơ quan khác.",
                        f"Message {message_id} was already used for another dossier or receiver.",
                    )
                return first
            self._check_manifest(conn, dossier_code, documents)
            now = self.clock.now()
            receipt = {
                "message_id": message_id,
                "sender_agency": sender_agency,
                "receiver_agency": receiver_agency,
                "dossier_code": dossier_code,
                "delivered_at": now.isoformat(),
                "documents": [d.sha256 for d in documents],
            }
            dossier_records.insert_side_effect(conn, _key(message_id), receipt, now)
            self.desk.record(
                DELIVERED,
                self.actor,
                dossier_code,
                message_id=message_id,
                sender=sender_agency,
                receiver=receiver_agency,
                documents=[{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in documents],
            )
        return _receipt(receipt, duplicate=False)

    @staticmethod
    def _check_manifest(conn: Any, dossier_code: str, documents: Sequence[ExchangeDocument]) -> None:
        """Every document belongs to the dossier and is the one the sender named (same SHA-256)."""
        if not documents:
            return
        stored = dossier_records.document_hashes(conn, dossier_code, [d.id for d in documents])
        for d in documents:
            if d.id not in stored:
                raise NotFound(
                    f"Tài liệu {d.id} không thuộc hồ sơ {dossier_code}.",
                    f"Document {d.id} is not part of dossier {dossier_code}.",
                )
            if stored[d.id] != d.sha256:
                raise Conflict(
                    f"Tài liệu {d.filename} không khớp mã băm đã gửi.",
                    f"Document {d.id} does not match the SHA-256 in the manifest.",
                )


class PartnerDirectory:
    """Which agency of a kind (``land_registration``, ``tax``, …) serves the agency that received a dossier.

    Data shape (``motcua/data/exchange_partners.json``)::

        {"partners": {"land_registration": {"000.00.31.H99": "000.40.00.H99", "*": "000.40.00.H99"}}}

    ``"*"`` is the default for agencies not listed. The kind ``origin`` is the receiving agency itself.
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        if data is None:
            text = resources.files("motcua").joinpath("data", "exchange_partners.json").read_text(encoding="utf-8")
            data = json.loads(text)
        raw = data.get("partners", {})
        if not isinstance(raw, Mapping):
            raise ValueError("exchange partners: 'partners' must be an object")
        self.routes: dict[str, dict[str, str]] = {
            str(kind): {str(k): str(v) for k, v in table.items() if not str(k).startswith("_")}
            for kind, table in raw.items()
            if not str(kind).startswith("_") and isinstance(table, Mapping)
        }

    def resolve(self, kind: str, origin_agency: str) -> str:
        if kind == ORIGIN:
            return origin_agency
        table = self.routes.get(kind)
        found = None if table is None else table.get(origin_agency, table.get("*"))
        if found is None:
            raise NotFound(
                f"Chưa cấu hình cơ quan liên thông loại '{kind}' cho cơ quan {origin_agency}.",
                f"No partner agency of kind '{kind}' is configured for agency {origin_agency}.",
            )
        return found


# ------------------------------------------------------------------ signed envelopes to partners


def _real_now() -> dt.datetime:
    """Delivery retries run on the wall clock: they are operations, not the dossier's (possibly simulated) time."""
    return dt.datetime.now(dt.UTC)


def _document_bytes(db: Database, store: DocumentStore, doc_id: str) -> tuple[Any, bytes]:
    with transaction(db) as conn:
        row = dossier_records.document_by_id(conn, doc_id)
    if row is None:
        raise NotFound(f"Không tìm thấy tài liệu {doc_id}.", f"Document {doc_id} not found.")
    return row, b"".join(store.open(stored_object(row)))


class EnvelopeExchange:
    """The :class:`~dossiers.ports.Exchange` port across installations (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: DocumentStore,
        desk: DossierDesk,
        signer_for: Callable[[str], Any],
        partners: PartnerRegistry,
        *,
        timestamper_url: str | None = None,
        retry_seconds: float = 5.0,
        retry_max_seconds: float = 600.0,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.desk = desk
        self.signer_for = signer_for
        self.partners = partners
        self.local = InProcessExchange(db, clock, desk)
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
        with transaction(self.db) as conn:
            found = exchange_records.sent(conn, message_id)
            if found is not None:
                if (found.dossier_code, found.receiver_agency) != (dossier_code, receiver_agency):
                    raise Conflict(
                        "Mã thông điệp liên thông đã được dùng cho hồ sơ hoặc cơ quan khác.",
                        f"Message {message_id} was already used for another dossier or receiver.",
                    )
                return self._receipt(found, duplicate=True)
            row = self.desk.dossier_row(dossier_code)
            now = self.clock.now()
            items = []
            for doc in documents:
                stored, data = _document_bytes(self.db, self.store, doc.id)
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
                    "dossier": dossier_record(row),
                    "step": context.get("step"),
                    "variables": dict(context.get("variables") or {}),
                    "in_reply_to": context.get("in_reply_to"),
                    "closing": bool(context.get("closing", False)),
                }
            )
            signature = sign_detached(
                manifest, self.signer_for(f"agency:{sender_agency}"), timestamper_url=self.timestamper_url
            )
            exchange_records.add_sent(
                conn,
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
            self.desk.record(
                QUEUED,
                "system:exchange",
                dossier_code,
                message_id=message_id,
                sender=sender_agency,
                receiver=receiver_agency,
                manifest_sha256=sha256_hex(manifest),
                documents=[{"id": d["id"], "kind": d["kind"], "sha256": d["sha256"]} for d in items],
            )
            row = exchange_records.sent_one(conn, message_id)
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

    @property
    def queue(self) -> queues.Queue:
        """The ``exchange_outbox`` table as an outbox queue: a claim holds an envelope for three HTTP timeouts."""
        return exchange_records.outbox_queue(
            queues.Backoff(self.retry_seconds, self.retry_max_seconds), lease_seconds=self.timeout_seconds * 3
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from ``retry_seconds`` up to ``retry_max_seconds``."""
        return self.queue.backoff.after(attempts)

    def deliver_due(self, limit: int = 20) -> int:
        """Post the envelopes whose time has come; returns how many were acknowledged (ACK or NACK)."""
        now = _real_now()
        done = 0
        tried: list[str] = []
        while len(tried) < limit:
            # claimed: another housekeeping loop (another process) skips it
            row = queues.claim_next(self.db, self.queue, now, skip=tried)
            if row is None:
                break
            tried.append(row.message_id)
            done += self.deliver(row.message_id)
        return done

    def deliver(self, message_id: str) -> int:
        with transaction(self.db) as conn:
            row = exchange_records.sent_one(conn, message_id)
        if row.status != queues.PENDING:
            return 0
        partner = self.partners.get(row.receiver_agency)
        attempt = row.attempts + 1
        try:
            if partner is None:
                raise RuntimeError(f"agency {row.receiver_agency} is no longer a configured partner")
            manifest = json.loads(row.manifest)
            documents = {d["id"]: _document_bytes(self.db, self.store, d["id"])[1] for d in manifest["documents"]}
            answer = post_envelope(
                partner,
                bytes(row.manifest),
                bytes(row.signature),
                documents,
                at=self.clock.now(),
                timeout=self.timeout_seconds,
                transport=self.transport,
            )
        except Exception as exc:  # noqa: BLE001 - any failure: keep the envelope and retry later
            reason = exc.message_en if isinstance(exc, Refusal) else f"{type(exc).__name__}: {exc}"
            queues.record_failure(self.db, self.queue, message_id, attempt, reason, _real_now())
            log.warning("exchange.delivery_failed", message_id=message_id, attempts=attempt, error=reason)
            return 0
        reason = answer.body.get("reason") or {}
        with transaction(self.db):
            queues.record_delivery(
                self.db,
                self.queue,
                message_id,
                attempt,
                "delivered" if answer.accepted else "refused",
                ack=answer.ack,
                ack_signature=answer.signature,
                delivered_at=self.clock.now(),
                last_error=None if answer.accepted else str(reason.get("en") or reason)[: queues.MAX_ERROR_CHARS],
            )
            self.desk.record(
                ACKNOWLEDGED if answer.accepted else REFUSED,
                "system:exchange",
                row.dossier_code,
                message_id=message_id,
                receiver=row.receiver_agency,
                ack_sha256=sha256_hex(answer.ack),
                reason=reason.get("code"),
            )
        return 1

    def retry_now(self, message_id: str, actor: str) -> int:
        """An operator asks for an undelivered envelope to be sent now (the partner is back): try it at once."""
        with transaction(self.db) as conn:
            row = exchange_records.sent(conn, message_id)
            if row is None:
                raise NotFound("Không có phong bì liên thông này.", f"No envelope {message_id}.")
            if row.status != "pending":
                raise Conflict(
                    "Phong bì đã được cơ quan nhận trả lời (đã nhận hoặc từ chối); không gửi lại.",
                    f"Envelope {message_id} was already answered ({row.status}); it is not sent again.",
                )
            exchange_records.retry_sent_at(conn, message_id, _real_now())
            self.desk.record("exchange.retry_requested", actor, row.dossier_code, message_id=message_id)
        return self.deliver_due()

    def messages(self, dossier_code: str | None = None) -> list[dict[str, Any]]:
        """The outbox and inbox (newest first) for operators and auditors."""
        out: list[dict[str, Any]] = []
        with transaction(self.db) as conn:
            for r in exchange_records.sent_newest(conn, dossier_code):
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
            for r in exchange_records.received_newest(conn, dossier_code):
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
