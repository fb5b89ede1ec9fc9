"""Personal signatures in two steps: the server prepares, the signer's own device signs, the server embeds.

The server holds only the official's *public* certificate chain. It prepares the PDF and what must be signed
(pyHanko interrupted signing, state kept in ``pending_signature``), the official's device (USB token, or a
remote-signing service) returns the signature value, and the server checks that value against the
certificate before embedding it. Completing a pending signature also completes the signing step of the
process, in the same transaction.

A letter the head of the agency signs (Mẫu 04, Mẫu 05: :data:`LETTER_KINDS`) has no step in the process: its
signature completes none, and once it is made the letter's finisher (:meth:`PersonalSignatures.on_letter_signed`,
set by :class:`services.paperwork.Paperwork`) seals it and tells the applicant. A finisher that fails leaves the
signature made; the housekeeping round finishes the letter later.
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog

from dossiers.errors import Conflict, Forbidden, NotFound
from dossiers.model import Person
from dossiers.ports import Clock, DocumentStore, Engine, SignatureRequest, StoredObject, UserTask
from persistence import pending_signatures as store
from persistence.uow import Database, transaction
from services.ports import DossierDesk
from services.shop import stored_object
from signing.ltv import Evidence
from signing.pki import DevelopmentPki
from signing.two_step import PreparedSignature, finish, prepare

# A draft run of a "prepare the result" step (services.result_drafts): the document is rendered exactly as it would
# be prepared, and handed back here instead of becoming a pending signature.
_DRAFTS: ContextVar[list[bytes] | None] = ContextVar("result_drafts", default=None)


class DraftReady(Exception):
    """Raised by :meth:`PersonalSignatures.request` during a draft run: the document is in the draft sink."""


@contextmanager
def drafting() -> Iterator[list[bytes]]:
    """Within this block, a signature request stores nothing: its document goes to the yielded list."""
    sink: list[bytes] = []
    token = _DRAFTS.set(sink)
    try:
        yield sink
    finally:
        _DRAFTS.reset(token)


@dataclass(frozen=True)
class PendingSignature:
    id: str
    dossier_code: str
    signer: str
    field_name: str
    document_kind: str
    data_to_sign: bytes
    digest_algorithm: str
    signer_certificate_sha256: str


log = structlog.get_logger(__name__)

LETTER_KINDS = frozenset({"apology", "stop_notice"})
"""Letters the head signs personally: their signature completes no process step (the letter is sealed after it)."""
SIGNED_NAMES = {  # document kind → the signed file's name
    "result": "ket-qua-da-ky-cho-vao-so",
    "apology": "mau-04-lanh-dao-da-ky-cho-dong-dau",
    "stop_notice": "mau-05-lanh-dao-da-ky-cho-dong-dau",
}
SIGNING_STEP_WAIT_SECONDS = 10.0  # how long a signature waits for its signing step to appear (remote engine)


class PersonalSignatures:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: DocumentStore,
        engine: Engine,
        desk: DossierDesk,
        pki: DevelopmentPki,
        sign_activity: str = "sign_result",
        *,
        evidence: Callable[[], Evidence] | None = None,
    ) -> None:
        """``evidence``: what a finished signature embeds (the TSA's timestamp, the chain and revocation data), the
        same as the agency's seals (:meth:`signing.pades.PadesSigner.evidence`); None: a bare B-B signature."""
        self.db = db
        self.clock = clock
        self.store = store
        self.engine = engine
        self.desk = desk
        self.pki = pki
        self.sign_activity = sign_activity
        self.evidence = evidence
        self._letter_finisher: Callable[[str], Any] | None = None

    def on_letter_signed(self, finisher: Callable[[str], Any]) -> None:
        """``finisher(pending_id)`` runs once a letter's signature is made (after its commit): it seals the letter."""
        self._letter_finisher = finisher

    def request(
        self,
        code: str,
        username: str,
        pdf: bytes,
        request: SignatureRequest,
        *,
        document_kind: str,
        idempotency_key: str,
        appearance: Any = None,
    ) -> str:
        """Prepare ``pdf`` for ``username``'s device; one pending signature per idempotency key."""
        sink = _DRAFTS.get()
        if sink is not None:
            sink.append(pdf)
            raise DraftReady()
        with transaction(self.db) as conn:
            existing = store.id_for_key(conn, idempotency_key)
            if existing is not None:
                return existing
        chain = self.pki.public_chain(f"person:{username}")
        timestamp_room = self.evidence is not None and bool(self.evidence().timestamper_url)
        prepared = prepare(
            pdf, chain, request, appearance=appearance, now=self.clock.now(), timestamp_room=timestamp_room
        )
        pending_id = str(uuid.uuid4())
        with transaction(self.db) as conn:
            store.add(
                conn,
                id=pending_id,
                dossier_code=code,
                signer=username,
                field_name=request.field_name,
                document_kind=document_kind,
                state=prepared.to_bytes().decode("ascii"),
                idempotency_key=idempotency_key,
                created_at=self.clock.now(),
            )
            self.desk.record(
                "signature.requested", "system:worker", code, pending_signature=pending_id, signer=username,
                field=request.field_name,
            )  # fmt: skip
        return pending_id

    @staticmethod
    def _view(row: Any) -> PendingSignature:
        prepared = PreparedSignature.from_bytes(row.state.encode("ascii"))
        return PendingSignature(
            id=row.id,
            dossier_code=row.dossier_code,
            signer=row.signer,
            field_name=row.field_name,
            document_kind=row.document_kind,
            data_to_sign=prepared.data_to_sign,
            digest_algorithm=prepared.md_algorithm,
            signer_certificate_sha256=prepared.signer_certificate_sha256,
        )

    def pending_for(self, person: Person) -> list[PendingSignature]:
        with transaction(self.db) as conn:
            rows = store.waiting_for(conn, person.username)
        return [self._view(r) for r in rows]

    def get(self, person: Person, pending_id: str) -> PendingSignature:
        return self._view(self._row_for(person, pending_id))

    def prepared_pdf(self, person: Person, pending_id: str) -> tuple[PendingSignature, bytes]:
        """The prepared PDF the signer is about to sign (only theirs, only while pending), recorded as
        ``document.read`` (Decree 13/2023)."""
        row = self._row_for(person, pending_id)
        pdf = PreparedSignature.from_bytes(row.state.encode("ascii")).prepared_pdf
        self.desk.record("document.read", person.username, row.dossier_code, pending_signature=pending_id)
        return self._view(row), pdf

    def _row_for(self, person: Person, pending_id: str) -> Any:
        with transaction(self.db) as conn:
            row = store.find(conn, pending_id)
        if row is None:
            raise NotFound("Không có yêu cầu ký số này.", "No such pending signature.", pending_id=pending_id)
        if row.signer != person.username:
            raise Forbidden("Yêu cầu ký số này dành cho người khác.", "This signature is to be made by someone else.")
        if row.completed_at is not None:
            raise Conflict("Văn bản đã được ký.", "This signature has already been made.", pending_id=pending_id)
        return row

    def complete(self, person: Person, pending_id: str, signature_value: bytes) -> str:
        """Check the device's signature value, embed it, store the signed PDF and complete the signing task."""
        row = self._row_for(person, pending_id)
        prepared = PreparedSignature.from_bytes(row.state.encode("ascii"))
        evidence = self.evidence() if self.evidence is not None else None
        signed = finish(prepared, signature_value, now=self.clock.now(), evidence=evidence)  # InvalidInput: mismatch
        dossier_row = self.desk.dossier_row(row.dossier_code)
        letter = row.document_kind in LETTER_KINDS
        tasks = [] if letter else self._signing_step(row.dossier_code)  # a letter waits on no process step
        prefix = f"{dossier_row.agency_code}/dossiers/{row.dossier_code}/{row.document_kind}-signed"
        obj: StoredObject = self.store.put(prefix, io.BytesIO(signed), "application/pdf")
        with transaction(self.db) as conn:
            if store.completed_at(conn, pending_id) is not None:
                raise Conflict("Văn bản đã được ký.", "This signature has already been made.")
            doc_id = self.desk.insert_document(
                conn,
                row.dossier_code,
                f"{row.document_kind}_draft",
                None,
                # the name officials read in the dossier's documents: what it is, not the field it fills
                f"{row.dossier_code}-{SIGNED_NAMES.get(row.document_kind, 'van-ban-da-ky')}.pdf",
                obj,
                person.username,
                idempotency_key=f"pending-signature/{pending_id}",
            )
            store.complete(conn, pending_id, self.clock.now(), doc_id)
            self.desk.record(
                "signature.applied", person.username, row.dossier_code, document_id=doc_id,
                signer=f"person:{person.username}", field=row.field_name, device=True,
            )  # fmt: skip
            for task in tasks:
                self.engine.complete_user_task(task.id, {f"{self.sign_activity}_by": person.username})
                self.desk.record("task.completed", person.username, row.dossier_code, task=task.activity_id)
        if letter:
            self._finish_letter(pending_id)
        return doc_id

    def _finish_letter(self, pending_id: str) -> None:
        """Seal the letter now; if that fails, the signature stays made and the housekeeping round retries."""
        if self._letter_finisher is None:
            return
        try:
            self._letter_finisher(pending_id)
        except Exception:  # noqa: BLE001 - the signature is made; finishing is retried by housekeeping
            log.warning("letter.finish_failed", pending_signature=pending_id, exc_info=True)

    def waiting_for_dossier(self, code: str) -> list[tuple[str, str]]:
        """The dossier's signatures not made yet: (document kind, signer) — what its page says is waiting."""
        with transaction(self.db) as conn:
            rows = store.waiting_for_dossier(conn, code)
        return [(str(r.document_kind), str(r.signer)) for r in rows]

    def letters_waiting(self, code: str) -> list[str]:
        """The kinds of the dossier's letters (Mẫu 04/05) the head has not signed yet: not among its documents, so
        the desk's and the officials' pages say why."""
        return [kind for kind, _ in self.waiting_for_dossier(code) if kind in LETTER_KINDS]

    def _signing_step(self, code: str) -> list[UserTask]:
        """The dossier's signing task, which this signature completes. On a remote engine (Operaton) the worker
        that prepared the document commits the pending signature first and completes its own step after, so the
        signing task appears a moment after the signature can be made: wait for it (bounded) rather than apply a
        signature that completes no step, which left the dossier at the signing step for good. Still missing
        (the engine did not take the worker's completion yet): refused, nothing stored, the signer tries again."""
        deadline = time.monotonic() + SIGNING_STEP_WAIT_SECONDS
        while True:
            tasks = [t for t in self.engine.user_tasks(business_key=code) if t.activity_id == self.sign_activity]
            if tasks:
                return tasks
            if time.monotonic() >= deadline:
                raise Conflict(
                    "Hồ sơ chưa đến bước ký số, vui lòng ký lại sau ít phút.",
                    "The dossier has not reached its signing step yet; sign again in a few minutes.",
                    dossier_code=code,
                )
            time.sleep(0.1)

    def signed_document(self, pending_id: str) -> tuple[Any, bytes]:
        """The PDF with the personal signature embedded (the next step fills and seals it)."""
        with transaction(self.db) as conn:
            row = store.signed_document(conn, pending_id)
        if row is None:
            raise NotFound("Văn bản chưa được ký.", "The document has not been signed yet.", pending_id=pending_id)
        return row, b"".join(self.store.open(stored_object(row)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
