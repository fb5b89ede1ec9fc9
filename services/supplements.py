"""Supplements: the papers an applicant adds when asked (the process waits for the ``supplement_received``
message), and filing a dossier's uploaded papers under its code once the code exists."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

from dossiers.errors import Conflict, Forbidden, InvalidInput
from dossiers.model import DossierStatus, Person, Procedure, Role
from persistence import dossier_records as records
from persistence.uow import transaction
from services.intake import DossierWriter, check_files
from services.shop import stored_object
from services.uploads import Upload

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
        staged = [
            (
                u,
                self.store.put(f"{row.agency_code}/incoming/{self.clock.now():%Y%m%d}", u.stream, u.content_type),
            )
            for u in uploads
        ]
        with transaction(self.db) as conn:
            for upload, obj in staged:
                self.desk.insert_document(
                    conn, code, "supplement", upload.paper_key, upload.stored_filename, obj, person.username
                )
            self.record("dossier.supplemented", person.username, code, files=len(staged))
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
        """Move the dossier's uploaded papers from the intake staging keys (``<agency>/incoming/<date>/<sha>``:
        bytes are stored before the dossier code exists, since the code is allocated inside the dossier's
        transaction to stay gap-free) to ``<agency>/dossiers/<code>/<kind>/<sha>``. The bytes are streamed and
        re-checked by the store; the staging object becomes an orphan that ``motcua storage check --clean``
        removes after its grace period. Idempotent: filed documents are skipped."""
        row = self.desk.dossier_row(code)
        home = f"{row.agency_code}/dossiers/{code}/"
        with transaction(self.db) as conn:
            docs = records.uploaded_documents(conn, code)
        moved = 0
        for doc in docs:
            if doc.storage_key.startswith(home):
                continue
            source = stored_object(doc)
            filed = self.store.put(home + doc.kind, _ChunkReader(self.store.open(source)), doc.content_type)
            if filed.sha256 != doc.sha256:  # the store re-hashed what it read back: never file other bytes
                raise Conflict("Nội dung tài liệu thay đổi khi lưu.", f"Document {doc.id} changed while being filed.")
            with transaction(self.db) as conn:
                records.refile_document(conn, doc.id, filed.key, filed.version_id)
                self.record(
                    "document.filed", actor, code, document_id=doc.id, key=filed.key, previous_key=doc.storage_key
                )
            moved += 1
        return moved


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (stream one store's object into another's put)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
