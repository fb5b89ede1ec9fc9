"""Digitising paper inputs at intake: the scan is stored and an electronic copy is issued — the agency's
signature with the Decree 30 copy stamp ("SAO Y", the copying agency, the signing time; top right of the
first page, no image; :func:`signing.appearance.copy_style` in :func:`~signing.appearance.copy_box`).

Two documents per scanned paper: the scan as received from the scanner (kind ``scan``) and the signed
electronic copy (kind ``scan_copy``, the one that counts as digitised), both with the paper key. Scanning
the same file for the same paper again issues nothing new (idempotency key: dossier, paper, SHA-256).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from documents.inspection import first_page_size
from dossiers.errors import Conflict, Forbidden, InvalidInput, TooLarge
from dossiers.model import FINAL_STATUSES, DossierStatus, Person, Role
from dossiers.ports import DocumentStore, SignatureRequest, Signer
from persistence.dossier_records import set_document_paper
from persistence.uow import Database, transaction
from services.issuing import DocumentIssuer, IssueRequest
from services.ports import DossierDesk
from services.uploads import Upload, check_upload

SCAN = "scan"
SCAN_COPY = "scan_copy"
COPY_FIELD = "copy_signature"


def copy_signer(desk: DossierDesk, base: Signer) -> Signer:
    """The agency's signer (same keys, same time-stamping) drawing the Decree 30 copy stamp."""
    from signing.appearance import SAO_Y, copy_style
    from signing.pades import PadesSigner

    if not isinstance(base, PadesSigner):
        return base  # a test signer: no appearance

    def style_for(request: SignatureRequest) -> Any:
        if request.field_name != COPY_FIELD or not request.signer.startswith("agency:"):
            return None
        agency = desk.agency(request.signer.removeprefix("agency:"))
        return copy_style(SAO_Y, agency.name)

    return base.restyled(style_for)


class Digitiser:
    def __init__(
        self,
        db: Database,
        store: DocumentStore,
        desk: DossierDesk,
        signer: Signer,
        max_file_bytes: int | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.desk = desk
        self.max_file_bytes = max_file_bytes
        self.issuer = DocumentIssuer(db, store, desk, copy_signer(desk, signer))

    def scan(self, person: Person, code: str, paper_key: str, upload: Upload) -> dict[str, Any]:
        """Store the scan of paper ``paper_key`` of dossier ``code`` and issue its signed electronic copy."""
        from signing.appearance import copy_box

        if person.role != Role.RECEPTION:
            raise Forbidden("Chỉ cán bộ tiếp nhận số hóa hồ sơ giấy.", "Only reception officers digitise papers.")
        row = self.desk.authorize_dossier(person, code)
        if DossierStatus(row.status) in FINAL_STATUSES:
            raise Conflict("Hồ sơ đã kết thúc.", f"Dossier {code} is closed (status {row.status}).")
        proc = self.desk.procedure_of(row)
        names = {p.key: p.name for p in proc.papers}
        if paper_key not in names:
            raise InvalidInput(
                f"Giấy tờ '{paper_key}' không thuộc thủ tục này.",
                f"Paper '{paper_key}' is not part of procedure {proc.code}.",
                known=sorted(names),
            )
        if (upload.content_type or "").split(";")[0].strip().lower() != "application/pdf":
            raise InvalidInput("Bản quét phải là tệp PDF.", "The scan must be a PDF file.")
        check_upload(upload)  # refuses active content: such a file is never sealed as a copy
        pdf = upload.stream.read()
        if self.max_file_bytes is not None and len(pdf) > self.max_file_bytes:
            raise TooLarge("Tệp quét quá lớn.", f"The scan exceeds {self.max_file_bytes} bytes.")
        width, height = first_page_size(pdf)  # before anything is stored: a refusal leaves no half-made scan
        sha = hashlib.sha256(pdf).hexdigest()
        key = f"{code}/{SCAN}/{paper_key}/{sha}"
        scan_id = self.issuer.existing(key)
        if scan_id is None:
            obj = self.store.put(f"{row.agency_code}/dossiers/{code}/{SCAN}", io.BytesIO(pdf), "application/pdf")
            with transaction(self.db) as conn:
                scan_id = self.desk.insert_document(
                    conn, code, SCAN, paper_key, upload.stored_filename, obj, person.username, idempotency_key=key
                )
        copy_key = f"{code}/{SCAN_COPY}/{paper_key}/{sha}"
        fresh = self.issuer.existing(copy_key) is None
        copy_id = self.issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind=SCAN_COPY,
                filename=f"{code}-{paper_key}-ban-sao-dien-tu.pdf",
                idempotency_key=copy_key,
                render=lambda: pdf,
                signatures=(
                    SignatureRequest(
                        signer=f"agency:{row.agency_code}",
                        field_name=COPY_FIELD,
                        reason=f"Sao y bản chính (số hóa): {names[paper_key]}",
                    ),
                ),
                field_boxes={COPY_FIELD: (0, copy_box(width, height))},
            ),
            person.username,
        )
        with transaction(self.db) as conn:
            set_document_paper(conn, copy_id, paper_key)
            if fresh:
                self.desk.record(
                    "dossier.digitised",
                    person.username,
                    code,
                    paper=paper_key,
                    scan_document_id=scan_id,
                    copy_document_id=copy_id,
                    sha256=sha,
                )
        return {
            "dossier_code": code,
            "paper_key": paper_key,
            "scan_document_id": scan_id,
            "copy_document_id": copy_id,
            "kind": SCAN_COPY,
            "sha256": sha,
        }
