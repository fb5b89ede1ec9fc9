"""Issuing signed documents: render → create every signature field → sign in order → store → record.

One document per idempotency key: a redelivered task finds the document it already issued and issues no
second one. Bytes are stored before the row is written (content-addressed), so a crash in between leaves
at most an orphan object, never a row without its bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog

from documents.time_limit import DEFAULT_RENDER_SECONDS, within_time_limit
from dossiers.ports import DocumentStore, SignatureRequest, Signer
from persistence.dossier_records import document_id_for_key
from persistence.uow import Database, transaction
from services.ports import DossierDesk

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class IssueRequest:
    dossier_code: str
    kind: str  # receipt | supplement_request | refusal | apology | result
    filename: str
    idempotency_key: str
    render: Callable[[], bytes]
    signatures: Sequence[SignatureRequest] = ()
    field_boxes: dict[str, tuple[int, tuple[int, int, int, int]]] | None = None
    fields_ready: bool = False  # every field was created before the first signature (Decree 30 order)


class DocumentIssuer:
    def __init__(
        self,
        db: Database,
        store: DocumentStore,
        desk: DossierDesk,
        signer: Signer,
        render_seconds: float = DEFAULT_RENDER_SECONDS,
    ) -> None:
        """``render_seconds``: how long a form's renderer may take (:mod:`documents.time_limit`)."""
        self.db = db
        self.store = store
        self.desk = desk
        self.signer = signer
        self.render_seconds = render_seconds

    def with_signer(self, signer: Signer) -> DocumentIssuer:
        """The same issuer signing with ``signer`` (certified copies are sealed by a wrapped signer)."""
        return DocumentIssuer(self.db, self.store, self.desk, signer, render_seconds=self.render_seconds)

    def render(self, render: Callable[[], T], what: str) -> T:
        """Run a renderer in its own thread within the time limit (``Unavailable`` after it)."""
        return within_time_limit(render, seconds=self.render_seconds, what=what)

    def existing(self, idempotency_key: str) -> str | None:
        with transaction(self.db) as conn:
            return document_id_for_key(conn, idempotency_key)

    def sign(
        self,
        pdf: bytes,
        signatures: Sequence[SignatureRequest],
        field_boxes: dict[str, tuple[int, tuple[int, int, int, int]]] | None = None,
        fields_ready: bool = False,
    ) -> bytes:
        """Create every signature field (unless ``fields_ready``), then sign in order; nothing is stored.
        Documents made on request (the control sheet, the tracking register) are sealed this way."""
        from signing.pades import create_signature_fields

        if signatures and not fields_ready:
            pdf = create_signature_fields(pdf, [s.field_name for s in signatures], boxes=field_boxes)
        for signature in signatures:
            pdf = self.signer.sign(pdf, signature)
        return pdf

    def issue(self, request: IssueRequest, actor: str) -> str:
        found = self.existing(request.idempotency_key)
        if found is not None:
            log.info("document.already_issued", key=request.idempotency_key)
            return found
        pdf = self.sign(
            self.render(request.render, request.kind), request.signatures, request.field_boxes, request.fields_ready
        )
        row = self.desk.dossier_row(request.dossier_code)
        prefix = f"{row.agency_code}/dossiers/{request.dossier_code}/{request.kind}"
        obj = self.store.put(prefix, io.BytesIO(pdf), "application/pdf")
        with transaction(self.db) as conn:
            doc_id = self.desk.insert_document(
                conn,
                request.dossier_code,
                request.kind,
                None,
                request.filename,
                obj,
                actor,
                idempotency_key=request.idempotency_key,
            )
            for signature in request.signatures:
                self.desk.record(
                    "signature.applied",
                    actor,
                    request.dossier_code,
                    document_id=doc_id,
                    signer=signature.signer,
                    field=signature.field_name,
                    certify=signature.certify,
                )
        return doc_id
