"""Supplements: the papers an applicant adds when asked (the process waits for the ``supplement_received``
message), and filing a dossier's uploaded papers under its code once the code exists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from dossiers.errors import Conflict, Forbidden, InvalidInput, MotcuaError
from dossiers.model import DossierStatus, Person, Procedure, Role
from dossiers.ports import StoredObject
from persistence import dossier_records as records
from persistence.uow import after_commit, transaction
from services.intake import DossierWriter, check_files, discarded_on_failure, incoming_prefix, owns_incoming_key
from services.shop import stored_object
from services.uploads import Upload
from storage.errors import ObjectMissing, WriteOnceViolation

log = structlog.get_logger(__name__)

SUPPLEMENT_MESSAGE = "supplement_received"
# a supplementary paper that is none of the procedure's papers ("giấy tờ khác"): its file is named by its title
OTHER_PAPER = "other"


class Supplements(DossierWriter):
    """Accepting supplementary papers and filing uploads under the dossier."""

    def supplement(self, person: Person, code: str, uploads: Sequence[Upload]) -> dict[str, Any]:
        row = self.desk.authorize_dossier(person, code)
        if person.role not in (Role.RECEPTION, Role.CITIZEN):
            raise Forbidden("Chỉ bộ phận tiếp nhận nhận hồ sơ bổ sung.", "Only reception accepts supplements.")
        if row.status != DossierStatus.SUPPLEMENT_REQUESTED.value:
            raise Conflict(
                "Hồ sơ không ở trạng thái chờ bổ sung.",
                f"Dossier {code} is not waiting for a supplement (status {row.status}).",
            )
        if not uploads:
            raise InvalidInput("Cần ít nhất một giấy tờ bổ sung.", "At least one supplementary file is required.")
        proc = self.desk.procedure_of(row)
        self._check_known_papers(proc, uploads)
        check_files(uploads, self.max_file_bytes)
        with discarded_on_failure(self.store) as stored:
            for u in uploads:
                stored.append(
                    self.store.put(incoming_prefix(row.agency_code, self.clock.now()), u.stream, u.content_type)
                )
            with transaction(self.db) as conn:
                for upload, obj in zip(uploads, stored, strict=True):
                    self.desk.insert_document(
                        conn, code, "supplement", upload.paper_key, upload.stored_filename, obj, person.username
                    )
                self.record("dossier.supplemented", person.username, code, files=len(stored))
                if row.accepted_at is None:
                    # asked for at reception, before acceptance: back into the reception queue (there is no process)
                    self.desk.change_status(code, DossierStatus.SUBMITTED, person.username, stage="reception")
                else:
                    self.engine.correlate_message(SUPPLEMENT_MESSAGE, code, {"supplemented_by": person.username})
        return self.desk.dossier_view(code)

    def _check_known_papers(self, proc: Procedure, uploads: Sequence[Upload]) -> None:
        known = {p.key for p in proc.papers} | {OTHER_PAPER}
        unknown = sorted({u.paper_key for u in uploads} - known)
        if unknown:
            raise InvalidInput(
                f"Giấy tờ không thuộc thủ tục này: {', '.join(unknown)}.",
                f"Papers not part of procedure {proc.code}: {', '.join(unknown)}.",
            )

    # ------------------------------------------------------------------ filing uploads under the dossier

    def file_uploads(self, code: str, actor: str) -> int:
        """File the dossier's uploaded papers under it: from the intake staging keys
        (``<agency>/incoming/<date>/<random>/<sha>``: bytes are stored before the dossier code exists, since the
        code is allocated inside the dossier's transaction to stay gap-free) to ``<agency>/dossiers/<code>/<kind>/
        <sha>`` (write-once). The store copies inside itself (a hard link, a server-side copy: no byte through
        here), the document row then points at the copy, and only after that commit is the staging object removed
        — so the bytes are stored once, and a failure at any point leaves the document pointing at bytes that
        exist (at worst an orphan for ``motcua storage check --clean``). Where the store keeps every version
        anyway (an object-locked bucket) the papers stay where they were uploaded, referenced there: a copy would
        be kept twice. Idempotent: filed documents are skipped."""
        if self.store.keeps_every_version:
            return 0
        row = self.desk.dossier_row(code)
        home = f"{row.agency_code}/dossiers/{code}/"
        with transaction(self.db) as conn:
            docs = records.uploaded_documents(conn, code)
        moved = 0
        for doc in docs:
            if doc.storage_key.startswith(home):
                continue
            source = stored_object(doc)
            try:
                filed = self.store.copy(source, home + doc.kind)
            except (ObjectMissing, WriteOnceViolation):
                if self._filed_meanwhile(code, doc.id, home):
                    continue  # another run of this step (its lock ran out while it worked) filed it first
                raise
            if filed.sha256 != doc.sha256:  # never file other bytes
                raise Conflict("Nội dung tài liệu thay đổi khi lưu.", f"Document {doc.id} changed while being filed.")
            with transaction(self.db) as conn:
                current = records.find_document(conn, code, doc.id)
                if current is None or current.storage_key.startswith(home):
                    continue  # filed by another run meanwhile: one "document.filed" per paper
                records.refile_document(conn, doc.id, filed.key, filed.version_id)
                self.record(
                    "document.filed", actor, code, document_id=doc.id, key=filed.key, previous_key=doc.storage_key
                )
                if owns_incoming_key(source.key):
                    # once committed (the worker's unit of work may hold this transaction open): never before
                    after_commit(lambda source=source: self._discard_staging(source))
            moved += 1
        return moved

    def _filed_meanwhile(self, code: str, doc_id: str, home: str) -> bool:
        with transaction(self.db, read_only=True) as conn:
            current = records.find_document(conn, code, doc_id)
        return current is not None and str(current.storage_key).startswith(home)

    def _discard_staging(self, source: StoredObject) -> None:
        try:
            self.store.discard(source)
        except MotcuaError as exc:  # filed and committed: the staging copy is an orphan `storage check --clean` removes
            log.warning("document.staging_not_removed", key=source.key, error=exc.message_en)
