"""Receiving signed envelopes from partner installations (``POST /api/exchange/envelopes``, DESIGN §9).

:class:`EnvelopeReceiver` checks the receiver is an agency hosted here, the sender is a configured partner, the
signature chains to that partner's roots and names the sender's unit code, every document's hash, and the message
id; then, in one transaction, stores the documents, registers the dossier, starts or correlates its own process
and keeps the signed acknowledgment, which a replay of the same message gets back unchanged (processed once). A
partner acts only where it was invited: a hand-off creates dossiers only under its own unit's codes and touches
only dossiers exchanged with it, a reply completes only the step handed to that partner, and documents are only
the PDFs of the kinds its step carries. Anything refused — including an unexpected failure, rolled back — gets a
signed negative acknowledgment with a stable reason code (:data:`integrations.envelopes.manifest.REFUSALS`,
docs/exchange.md), in Vietnamese and English.

The partner's side of a joint procedure runs ``joint_partner.bpmn``: the partner's officials work the step the
envelope names (the step's decisions come from the procedure's own BPMN), and the ``exchange.reply`` worker
sends the outcome back as a ``reply`` envelope, which completes the waiting step of the originating process.
The procedure's BPMN does not change. The wire format and the partners are :mod:`integrations.envelopes`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from dossiers.codes import parse_dossier_code
from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.model import DossierStatus
from dossiers.ports import Clock, DocumentStore, Engine, UserTask
from dossiers.text_rules import check_form, clean_applicant_name, clean_id_number, clean_phone
from integrations.envelopes.manifest import (
    CHANNELS,
    CONTROL,
    DOSSIER_FIELDS,
    ENVELOPE_TYPE,
    RECORD_TIMES,
    REQUIRED_RECORD_TEXT,
    RETRYABLE,
    Answer,
    Refusal,
    aware_time,
    bounded_json,
    build_ack,
    check_manifest,
    sha256_hex,
    step_activity,
    text_field,
    unb64,
)
from integrations.envelopes.partners import PartnerRegistry, check_partner_signature
from persistence import dossier_records, exchange_records
from persistence.uow import Database, transaction
from services.handoffs import RECEIVED
from services.shop import OneStopShop
from services.tasks import decision_choices
from services.uploads import Upload, check_upload
from signing.cms import sign_detached

log = structlog.get_logger(__name__)

PARTNER_PROCESS = "joint_partner"
"""The partner's process for a joint procedure's step (``workflows/joint_partner.bpmn``)."""
HANDOFF_MESSAGE = "joint_handoff"
"""The message that hands the partner's waiting process its next step (or closes it)."""
REJECTED = "exchange.rejected"
"""Audit event: envelope refused here (reason; no personal data)."""


class EnvelopeReceiver:
    """Checks and accepts envelopes from partners (see the module docstring and :data:`REFUSALS`)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: DocumentStore,
        engine: Engine,
        desk: OneStopShop,
        signer_for: Callable[[str], Any],
        partners: PartnerRegistry,
        *,
        operator_agency: str,
        max_document_bytes: int,
        partner_documents: Callable[[str, str | None, bool], frozenset[str] | None],
        max_envelope_bytes: int = 256 * 1024 * 1024,
        timestamper_url: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.engine = engine
        self.desk = desk
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
            at=self.clock.now(),
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
            self.desk.agency(agency)
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
                    payload = bounded_json(bytes(payload), "envelope", max_bytes=self.max_envelope_bytes)
                if not isinstance(payload, Mapping):
                    raise Refusal("malformed", "Phong bì không đúng định dạng.", "The envelope is not a JSON object.")
                manifest_bytes = unb64(payload.get("manifest"), "manifest")
                parsed = bounded_json(manifest_bytes, "manifest")
                if not isinstance(parsed, dict) or parsed.get("type") != ENVELOPE_TYPE:
                    raise Refusal(
                        "malformed", "Bản kê không đúng loại.", f"The manifest's type is not {ENVELOPE_TYPE}."
                    )
                manifest = parsed
                check_manifest(manifest)
                return self._receive(payload, manifest_bytes, manifest)
            except Refusal:
                raise
            except Exception as exc:  # noqa: BLE001 - a partner gets a stable signed answer, never a 500
                log.exception("exchange.internal_error", message_id=text_field(manifest, "message_id"))
                raise Refusal(
                    "internal_error",
                    "Hệ thống nhận gặp lỗi khi xử lý phong bì; không có gì được lưu. Vui lòng liên hệ quản trị viên.",
                    f"The receiving installation failed while processing the envelope ({type(exc).__name__}); "
                    "nothing was kept. Its administrators have the details in their log.",
                ) from exc
        except Refusal as refusal:
            return self._refuse(refusal, manifest_bytes, manifest)

    def _refuse(self, refusal: Refusal, manifest_bytes: bytes, manifest: Mapping[str, Any]) -> Answer:
        receiver = text_field(manifest, "receiver")
        sender = text_field(manifest, "sender")
        message_id = text_field(manifest, "message_id")
        by = receiver if self._hosted(receiver) else self.operator_agency
        try:
            self.desk.record(
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
            manifest_bytes, False, by, sender, text_field(manifest, "dossier_code"), message_id, refusal
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
            manifest_bytes, unb64(payload.get("signature"), "signature"), partner, sender, self.clock.now()
        )
        digest = sha256_hex(manifest_bytes)
        with transaction(self.db) as conn:
            seen = exchange_records.received(conn, message_id)
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
        with transaction(self.db) as conn:
            # every rule first, then the writes: a refusal leaves nothing behind (the transaction rolls back)
            row: Any = dossier_records.find_dossier(conn, code)
            new_record: dict[str, Any] | None = None
            completion: tuple[UserTask, dict[str, Any]] | None = None
            if manifest["kind"] == "reply":
                completion = self._invited_reply(conn, manifest, row)
            else:
                new_record = self._invited_handoff(conn, manifest, row)
            exchange_records.add_received(
                conn,
                message_id=message_id,
                sender_agency=sender,
                receiver_agency=receiver,
                dossier_code=code,
                manifest_sha256=digest,
                status="accepted",
                ack=ack.ack,
                ack_signature=ack.signature,
                received_at=self.clock.now(),
            )
            if new_record is not None:
                dossier_records.insert_dossier(conn, code=code, updated_at=self.clock.now(), **new_record)
            stored = self._store(conn, manifest, contents)
            self.desk.record(
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
            data = unb64(given[item["id"]], f"document {item['id']}")
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
        step = step_activity(manifest)
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
            if dossier_records.document_id_for_key(conn, key) is None:
                data = contents[item["id"]]
                prefix = f"{manifest['receiver']}/dossiers/{code}/{item['kind']}"
                obj = self.store.put(prefix, io.BytesIO(data), "application/pdf")
                self.desk.insert_document(conn, code, item["kind"], None, item["filename"], obj, "system:exchange", key)
            stored.append({"id": item["id"], "kind": item["kind"], "sha256": item["sha256"]})
        return stored

    # ------------------------------------------------------------------ where the partner was invited

    @staticmethod
    def _exchanged(conn: Any, code: str, partner: str, local: str) -> bool:
        """The dossier went between that partner and that agency here: the partner handed it to us (accepted
        inbox) or we sent it to the partner (outbox)."""
        return exchange_records.accepted_from(conn, code, partner, local) or EnvelopeReceiver._sent(
            conn, code, partner, local
        )

    @staticmethod
    def _sent(conn: Any, code: str, partner: str, local: str) -> bool:
        return exchange_records.sent_to(conn, code, partner, local)

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
        instance = self.engine.instance(code)
        if instance is not None and instance.process_key != PARTNER_PROCESS:
            raise Refusal(
                "no_waiting_step",
                f"Hồ sơ {code} do cơ quan này giải quyết: cơ quan {sender} chỉ gửi trả lời cho bước được giao.",
                f"Dossier {code} is handled by this installation's own process: agency {sender} answers the step "
                "it was handed with a reply, not a hand-off.",
            )
        if instance is not None and instance.state == "running" and self.engine.user_tasks(business_key=code):
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
            if name in RECORD_TIMES:
                values[name] = aware_time(value)
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
                limit = dossier_records.record_text_limit(name)
                required = name in REQUIRED_RECORD_TEXT
                if value is None and not required:
                    values[name] = None
                    continue
                if not isinstance(value, str) or not value.strip() or len(value) > limit or CONTROL.search(value):
                    raise bad(name, f"is not a text of 1 to {limit} characters")
                values[name] = value
        if values["agency_code"] != unit:
            raise bad("agency_code", f"is not {unit}, the unit in the dossier's code")
        try:
            entry = self.desk.entry(values["procedure_code"])
        except (NotFound, InvalidInput) as exc:
            raise Refusal(
                "unknown_procedure",
                f"Thủ tục {values['procedure_code']} của hồ sơ {code} không có trong danh mục của hệ thống này.",
                f"Procedure {values['procedure_code']} of dossier {code} is not in this installation's catalogue.",
            ) from exc
        # the same rules as a local intake: a partner's record cannot carry what our own desk would refuse
        version = values["rule_version"]
        day = values["received_at"].astimezone(self.desk.calendar_tz()).date()
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
        step = step_activity(manifest) or ""
        waiting = [t for t in self.engine.user_tasks(business_key=code) if t.activity_id == step]
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
            sent = exchange_records.sent_manifest(conn, in_reply_to, code, sender, receiver)
        if sent is None or ((json.loads(sent).get("step") or {}).get("activity")) != step:
            raise Refusal(
                "no_waiting_step",
                f"Phong bì trả lời không ứng với phong bì chuyển bước '{step}' mà cơ quan này đã gửi cho {sender}.",
                f"The reply's in_reply_to ({in_reply_to!r}) is not the envelope that handed step '{step}' of "
                f"{code} to {sender}.",
            )
        given = dict(manifest["variables"])
        choices = decision_choices(self.desk.bpmn_dirs, self.desk.procedure_of(row).process_key, step).get("decision")
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
        instance = None if created else self.engine.instance(code)
        if instance is None:
            if manifest["closing"]:
                return  # documents for the record only (e.g. the signed result): filed, nothing to work on
            self.engine.start(PARTNER_PROCESS, code, variables)
            return
        if instance.state != "running":
            return  # the partner's part is over (closed by an earlier hand-off): the documents are filed
        try:
            self.engine.correlate_message(HANDOFF_MESSAGE, code, variables)
        except (Conflict, NotFound) as exc:
            raise Refusal(
                "no_waiting_step",
                f"Quy trình của hồ sơ {code} tại cơ quan này không chờ phong bì chuyển bước.",
                f"The process of dossier {code} here waits for no hand-off now: {exc.message_en}",
            ) from exc

    def _complete_waiting_step(self, manifest: Mapping[str, Any], task: UserTask, variables: dict[str, Any]) -> None:
        """A partner's reply, checked by :meth:`_invited_reply`: complete the step of our process."""
        code, step = manifest["dossier_code"], task.activity_id
        self.engine.complete_user_task(task.id, variables)
        self.desk.record(
            "task.completed",
            variables["last_actor"],
            code,
            task=step,
            decision=variables.get("decision"),
            comment=variables.get("comment"),
            via_message=manifest["message_id"],
        )
        if variables.get("decision") is not None:
            with transaction(self.db) as conn:  # the decision column follows the step, as for local officials
                dossier_records.update_dossier(conn, code, decision=variables["decision"], updated_at=self.clock.now())
