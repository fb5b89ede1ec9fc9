"""The wire format of signed envelopes between Motcua installations (*một cửa liên thông* across systems,
DESIGN §9; docs/exchange.md).

An envelope is:

* the **manifest** — canonical JSON: type, message id, kind (``handoff`` or ``reply``), sender and receiver unit
  codes, dossier code, time, every document with its SHA-256 and size, the dossier's record (a receiver that
  has not seen the dossier registers it), the step the receiver acts on, the process variables it needs;
* the sender agency's **detached CAdES signature** over the manifest bytes (its seal key; timestamped when a
  TSA is configured);
* the documents' bytes (the signed PDFs).

The answer is a signed acknowledgment (:func:`build_ack`): accepted, or refused with a stable reason code
(:data:`REFUSALS`) in Vietnamese and English. :func:`check_manifest` gives every field of a received manifest
its type and bounds before anything reads it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dossiers.bounded_json import MAX_JSON_BYTES, loads_bounded
from dossiers.errors import InvalidInput
from persistence.schema import document, dossier

ENVELOPE_TYPE = "motcua.exchange.envelope/1"
ACK_TYPE = "motcua.exchange.ack/1"

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
RECORD_TIMES = ("received_at", "clock_start", "due_at")


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dossier_record(row: Any) -> dict[str, Any]:
    """The dossier's record for a hand-off's manifest (times in UTC, ISO 8601)."""
    record = {name: getattr(row, name) for name in DOSSIER_FIELDS}
    for name in RECORD_TIMES:
        record[name] = record[name].astimezone(dt.UTC).isoformat()
    return record


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


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise Refusal("malformed", f"Thiếu {what} trong phong bì.", f"The envelope has no {what}.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("malformed", f"{what} không đúng định dạng base64.", f"The {what} is not valid base64.") from exc


@dataclass(frozen=True)
class Answer:
    """What the exchange endpoint answers: HTTP status and the signed (N)ACK."""

    status_code: int
    ack: bytes
    signature: bytes

    def json(self) -> dict[str, str]:
        return {"ack": b64(self.ack), "signature": b64(self.signature)}


# ------------------------------------------------------------------ checking what a partner sent

RECEIVED_KINDS = ("handoff", "reply")
CHANNELS = ("counter", "online", "postal")
MAX_MESSAGE_ID = 150
"""With a document id (at most 40 characters) the document's idempotency key ``exchange/<message>/<id>`` fits
its 200 characters: two documents of one message never share a key."""
REQUIRED_RECORD_TEXT = frozenset(
    {"procedure_code", "agency_code", "structure_version", "applicant_name", "applicant_id_number", "received_by"}
)
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
_ACTIVITY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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


def bounded_json(data: bytes, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Untrusted JSON within size and nesting bounds: hostile input is a ``malformed`` refusal, not a crash."""
    try:
        return loads_bounded(data, what=what, max_bytes=max_bytes)
    except InvalidInput as exc:
        raise Refusal("malformed", exc.message_vi, exc.message_en) from None


def max_length(column: Any) -> int:
    """A text column's length: what the manifest's values are bounded by before any insert."""
    return int(column.type.length)


def text_field(manifest: Mapping[str, Any], name: str, limit: int = MAX_MESSAGE_ID) -> str:
    """A manifest field for the NACK and the audit entry: a short text, or nothing."""
    value = manifest.get(name)
    return value if isinstance(value, str) and len(value) <= limit and not CONTROL.search(value) else ""


def step_activity(manifest: Mapping[str, Any]) -> str | None:
    step = manifest.get("step")
    activity = step.get("activity") if isinstance(step, Mapping) else None
    return activity if isinstance(activity, str) and activity else None


def aware_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


def check_manifest(manifest: dict[str, Any]) -> None:
    """Every field of the manifest has its type and bounds before anything else reads it (``malformed``); the
    optional ones are normalised (``documents`` a list, ``variables`` an object, ``closing`` a boolean)."""

    def malformed(problem_vi: str, problem_en: str) -> Refusal:
        return Refusal("malformed", f"Bản kê không hợp lệ: {problem_vi}.", f"The manifest is malformed: {problem_en}.")

    def text(name: str, limit: int, value: Any = _FROM_MANIFEST, *, optional: bool = False) -> None:
        value = manifest.get(name) if value is _FROM_MANIFEST else value
        if optional and value is None:
            return
        if not isinstance(value, str) or not value or len(value) > limit or CONTROL.search(value):
            raise malformed(f"'{name}' phải là chuỗi 1–{limit} ký tự", f"'{name}' must be a text of 1 to {limit}")

    text("message_id", MAX_MESSAGE_ID)
    text("sender", 40)
    text("receiver", 40)
    text("dossier_code", max_length(dossier.c.code))
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
        if name is not None and not (isinstance(name, str) and len(name) <= 255 and not CONTROL.search(name)):
            raise malformed("tên bước không hợp lệ", "'step.name' must be a text of at most 255 characters")
    if kind == "reply" and step_activity(manifest) is None:
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
    if due is not None and aware_time(due) is None:
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
        text("kind", max_length(document.c.kind), item.get("kind"))
        text("filename", max_length(document.c.filename), item.get("filename"))
        text("content_type", max_length(document.c.content_type), item.get("content_type"))
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
