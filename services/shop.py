"""The dossier desk core the use cases share: reference data (agencies, catalogue, procedures), the audit
record, dossier reads and their authorization, verified document reads, status changes, documents and
idempotency keys. The capabilities build on it: intake (:mod:`services.intake`), tasks and decisions
(:mod:`services.tasks`), supplements (:mod:`services.supplements`); it imports none of them.

Every operation that changes state runs in one unit of work: dossier rows, document rows, audit entries
and — on the embedded engine — the engine step commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from dossiers.calendar import WorkingCalendar
from dossiers.catalogue import CatalogueEntry, parse_entry
from dossiers.errors import Forbidden, InvalidInput, NotFound
from dossiers.fees import FeeTable
from dossiers.lifecycle import check_transition, shifted_due
from dossiers.model import (
    Agency,
    AgencyStructure,
    DossierStatus,
    Person,
    Procedure,
    Role,
    structure_in_force,
)
from dossiers.ports import AuditEvent, AuditLog, Clock, DocumentStore, Engine, StoredObject
from persistence import dossier_records as records
from persistence.uow import Database, transaction
from services.accounts import Accounts
from services.handoffs import delivered_to
from storage.errors import IntegrityError

log = structlog.get_logger(__name__)
SPOOL_IN_MEMORY_BYTES = 1024 * 1024  # a verified download is held in memory up to this size, on disk beyond
# the reads of personal data a page view or an API read records (Decree 13/2023): frequent, and no change to commit
# with; exports, evidence packages and signature checks stay synchronous (rare, and an evidence package proves its own)
READ_EVENTS = frozenset(
    {
        "dossier.read",
        "dossier.listed",
        "dossier.tracked",
        "document.read",
        "result.draft_viewed",
        "statistics.read",
        "tracking_register.read",
    }
)


def stored_object(row: Any) -> StoredObject:
    """The store's handle of a ``document`` row (the store checks size and SHA-256 when it is read)."""
    return StoredObject(row.storage_key, row.sha256, row.size, row.content_type, row.version_id)


def catalogue_entry(row: Any) -> CatalogueEntry:
    """A ``procedure`` row's catalogue entry (validated when it was seeded; parsed again here)."""
    return parse_entry(row.data, f"procedure {row.code}")


class OneStopShop:
    """The desk core: what intake, tasks, supplements and the smaller use cases share about a dossier."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        store: DocumentStore,
        audit: AuditLog,
        clock: Clock,
        calendar: WorkingCalendar,
        structures: tuple[AgencyStructure, ...],
        bpmn_dirs: Path | Sequence[Path],
        max_file_bytes: int | None = None,
        accounts: Accounts | None = None,
        fees: FeeTable | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.store = store
        self.audit = audit
        self.clock = clock
        self.calendar = calendar
        self.structures = structures
        self.bpmn_dirs = [bpmn_dirs] if isinstance(bpmn_dirs, Path) else list(bpmn_dirs)
        self.max_file_bytes = max_file_bytes
        self.accounts = accounts
        self.fees = fees or FeeTable()  # per-agency fees the province sets (motcua/data/fees.json)
        self._entries: dict[str, tuple[Any, CatalogueEntry]] = {}  # code → (the row's data, its parsed entry)

    # ------------------------------------------------------------------ look-ups

    def structure_now(self) -> AgencyStructure:
        return structure_in_force(self.structures, self.clock.now().astimezone(dt.UTC).date())

    def agency(self, code: str, on: dt.date | None = None) -> Agency:
        structure = structure_in_force(self.structures, on) if on is not None else self.structure_now()
        found = structure.agency(code)
        if found is None:
            raise NotFound(
                f"Không có cơ quan mã '{code}' trong cơ cấu {structure.version}.",
                f"No agency '{code}' in structure {structure.version}.",
            )
        return found

    def catalogue(self) -> list[CatalogueEntry]:
        with transaction(self.db) as conn:
            rows = records.procedure_rows(conn)
        return [catalogue_entry(r) for r in rows]

    def procedures(self, on: dt.date | None = None) -> list[Procedure]:
        """The procedures offered on ``on`` (default: today), each under its version of that day: not one without
        a version in force, nor one withdrawn from the catalogue (its dossiers go on, no new ones are filed)."""
        day = on or self.clock.now().astimezone(self.calendar_tz()).date()
        return [e.at(day) for e in self.catalogue() if e.offered_on(day) and e.version_at(day) is not None]

    def procedure_names(self) -> dict[str, str]:
        """Every stored procedure's name by code, offered or not: a register or a list names the procedure of an
        older dossier too."""
        return {e.code: e.name for e in self.catalogue()}

    def entry(self, code: str) -> CatalogueEntry:
        """The catalogue entry of procedure ``code`` as the database holds it now. The row is read every time (a
        catalogue update in another process shows at once); it is parsed and checked again only when its data
        differ from what was parsed last for that code."""
        with transaction(self.db, read_only=True) as conn:
            row = records.find_procedure(conn, code)
        if row is None:
            raise InvalidInput(
                f"Không có thủ tục hành chính mã '{code}'.",
                f"Unknown procedure '{code}'.",
                procedure_code=code,
            )
        parsed = self._entries.get(code)
        if parsed is not None and parsed[0] == row.data:
            return parsed[1]
        entry = catalogue_entry(row)
        self._entries[code] = (row.data, entry)
        return entry

    def procedure(self, code: str, on: dt.date | None = None) -> Procedure:
        """The procedure under the rule version in force on ``on`` (default: today)."""
        return self.entry(code).at(on or self.clock.now().astimezone(self.calendar_tz()).date())

    def procedure_of(self, row: Any) -> Procedure:
        """The procedure a dossier is handled under: the rule version it recorded at intake."""
        entry = self.entry(row.procedure_code)
        if row.rule_version and entry.version(row.rule_version) is not None:
            return entry.under(row.rule_version)
        return entry.at(row.received_at.astimezone(self.calendar_tz()).date())

    def record(self, event_kind: str, actor: str, dossier_code: str | None = None, **details: Any) -> None:
        """Audit an event. A change's entry commits with the change (the caller's unit of work); a read's
        (:data:`READ_EVENTS`) is batched with other reads (:meth:`dossiers.ports.AuditLog.append_read`), so
        showing a dossier never waits for the writers' lock."""
        event = AuditEvent(event_kind, actor, self.clock.now(), dossier_code, details)
        if event_kind in READ_EVENTS:
            self.audit.append_read(event)
        else:
            self.audit.append(event)

    @staticmethod
    def calendar_tz() -> dt.tzinfo:
        from dossiers.calendar import VN_TZ

        return VN_TZ

    def insert_document(
        self,
        conn: Any,
        code: str,
        kind: str,
        paper_key: str | None,
        filename: str,
        obj: StoredObject,
        actor: str,
        idempotency_key: str | None = None,
    ) -> str:
        doc_id = str(uuid.uuid4())
        records.insert_document(
            conn,
            id=doc_id,
            dossier_code=code,
            kind=kind,
            paper_key=paper_key,
            filename=filename,
            content_type=obj.content_type,
            size=obj.size,
            sha256=obj.sha256,
            storage_key=obj.key,
            version_id=obj.version_id,
            idempotency_key=idempotency_key,
            created_by=actor,
            created_at=self.clock.now(),
        )
        self.record(
            "document.stored",
            actor,
            code,
            document_id=doc_id,
            kind=kind,
            paper=paper_key,
            sha256=obj.sha256,
            size=obj.size,
        )
        return doc_id

    # ------------------------------------------------------------------ reading

    def dossier_row(self, code: str) -> Any:
        with transaction(self.db, read_only=True) as conn:
            row = records.find_dossier(conn, code)
        if row is None:
            raise NotFound(f"Không tìm thấy hồ sơ {code}.", f"Dossier {code} not found.", dossier_code=code)
        return row

    def authorize_dossier(self, person: Person, code: str) -> Any:
        row = self.dossier_row(code)
        if person.role in (Role.ADMIN, Role.AUDITOR):
            return row
        if person.role == Role.CITIZEN:
            if row.submitted_by != person.username:
                raise Forbidden("Bạn không có quyền xem hồ sơ này.", "You may not see this dossier.")
            return row
        if person.agency_code != row.agency_code and person.agency_code not in self._partners(code):
            raise Forbidden("Hồ sơ thuộc cơ quan khác.", "This dossier belongs to another agency.", dossier_code=code)
        return row

    def dossier_view(self, code: str) -> dict[str, Any]:
        with transaction(self.db, read_only=True) as conn:  # the row and its documents in one snapshot
            row = self.dossier_row(code)
            docs = records.documents_of(conn, code)
        return {
            "code": row.code,
            "procedure_code": row.procedure_code,
            "agency_code": row.agency_code,
            "structure_version": row.structure_version,
            "status": row.status,
            "applicant": {"name": row.applicant_name, "id_number": row.applicant_id_number},
            "channel": row.channel,
            "received_at": row.received_at.isoformat(),
            "clock_start": row.clock_start.isoformat(),
            "due_at": row.due_at.isoformat(),
            "paused_seconds": row.paused_seconds,
            "accepted_at": row.accepted_at.isoformat() if row.accepted_at else None,
            "awaiting": row.awaiting,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "decision": row.decision,
            "rule_version": row.rule_version,
            "details": row.details or {},
            "documents": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "paper_key": d.paper_key,
                    "filename": d.filename,
                    "content_type": d.content_type,
                    "size": d.size,
                    "sha256": d.sha256,
                }
                for d in docs
            ],
        }

    def read_dossier(self, person: Person, code: str) -> dict[str, Any]:
        self.authorize_dossier(person, code)
        self.record("dossier.read", person.username, code)  # Decree 13/2023: reads of personal data
        return self.dossier_view(code)

    def history(self, person: Person, code: str) -> list[dict[str, Any]]:
        self.authorize_dossier(person, code)
        return [
            {
                "seq": e.seq,
                "kind": e.event.kind,
                "actor": e.event.actor,
                "at": e.event.at.isoformat(),
                "details": dict(e.event.details),
                "entry_hash": e.entry_hash,
            }
            for e in self.audit.for_dossier(code)
        ]

    def open_document(self, person: Person, code: str, doc_id: str) -> tuple[Any, Iterator[bytes]]:
        self.authorize_dossier(person, code)
        with transaction(self.db) as conn:
            row = records.find_document(conn, code, doc_id)
        if row is None:
            raise NotFound("Không tìm thấy tài liệu.", "Document not found.", document_id=doc_id)
        stream = self.verified_content(row, person.username)
        self.record("document.read", person.username, code, document_id=doc_id)
        return row, stream

    def verified_content(self, row: Any, actor: str, **how: Any) -> Iterator[bytes]:
        """The stored bytes of document ``row``, read whole and matched against its recorded SHA-256 and size
        *before* the caller answers — every route that serves a stored document goes through here.

        A response that has started cannot become an error any more (the download would start 200 and break
        off), so the bytes are spooled first (memory up to :data:`SPOOL_IN_MEMORY_BYTES`, a temporary file
        beyond). A mismatch is logged, recorded as ``document.integrity_failed`` and raised as
        :class:`storage.errors.IntegrityError`: a 503 ``application/problem+json`` with code
        ``motcua.storage_integrity`` ("Tài liệu … bị hỏng …"), nothing of the document sent."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - closed by the reader
        try:
            for chunk in self.store.open(stored_object(row)):
                spool.write(chunk)
        except IntegrityError as exc:
            spool.close()
            log.error("document.integrity_failed", dossier=row.dossier_code, document=row.id, reason=exc.message_en)
            self.record(
                "document.integrity_failed",
                actor,
                row.dossier_code,
                document_id=row.id,
                sha256=row.sha256,
                size=row.size,
                reason=str(exc.details.get("reason", "")),
                **how,
            )
            raise
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return _spooled_chunks(spool)

    def _partners(self, code: str) -> set[str]:
        """Agencies the dossier was handed to by a joint procedure (their officials may read it)."""
        return delivered_to(self.audit, code)

    # ------------------------------------------------------------------ status changes (workers)

    def change_status(self, code: str, target: DossierStatus, actor: str, **details: Any) -> tuple[bool, Any]:
        """Move a dossier to ``target``; idempotent for a redelivered task (returns changed=False)."""
        with transaction(self.db) as conn:
            row = records.lock_dossier(conn, code)
            if row is None:
                raise NotFound(f"Không tìm thấy hồ sơ {code}.", f"Dossier {code} not found.")
            changed = check_transition(DossierStatus(row.status), target)
            if not changed:
                return False, row
            now = self.clock.now()
            values: dict[str, Any] = {"status": target.value, "updated_at": now}
            # what the applicant is asked for, while asked (the lookup, the citizen's and the desk's pages show it)
            values["awaiting"] = details.get("awaiting") if target == DossierStatus.SUPPLEMENT_REQUESTED else None
            if target == DossierStatus.SUPPLEMENT_REQUESTED:
                values["paused_at"] = now
            if target == DossierStatus.IN_PROGRESS and row.paused_at is not None:
                new_due, paused = shifted_due(self.calendar, row.due_at, row.paused_at, now)
                values.update(paused_at=None, due_at=new_due, paused_seconds=row.paused_seconds + paused)
                details.update(paused_seconds=paused, due_at=new_due.isoformat())
            # finished = when the result (or refusal) was ready; handing it over later does not move it
            if target in (DossierStatus.RESULT_READY, DossierStatus.REFUSED, DossierStatus.WITHDRAWN) or (
                target == DossierStatus.RETURNED and row.finished_at is None
            ):
                values["finished_at"] = now
            fresh = records.update_and_load_dossier(conn, code, **values)
            self.record("dossier.status_changed", actor, code, status=target.value, previous=row.status, **details)
        return True, fresh

    def side_effect_result(self, key: str) -> dict[str, Any] | None:
        """What a side effect recorded under ``key`` (:meth:`once`) returned, or None when it has not happened."""
        with transaction(self.db) as conn:
            return records.side_effect_result(conn, key)

    def record_once(
        self, key: str, result: Mapping[str, Any], event_kind: str, actor: str, dossier_code: str, **details: Any
    ) -> bool:
        """Audit ``event_kind`` once per idempotency key (a retried worker step records it once), in one
        transaction with the side effect ``result`` (see :meth:`once`)."""
        with transaction(self.db):
            if not self.once(key, result):
                return False
            self.record(event_kind, actor, dossier_code, **details)
        return True

    def latest_document(self, code: str, paper_key: str, kinds: Sequence[str]) -> Any:
        """The newest document row of the dossier for ``paper_key`` among ``kinds`` (None when there is none)."""
        with transaction(self.db) as conn:
            return records.latest_document(conn, code, paper_key, kinds)

    def once(self, key: str, result: Mapping[str, Any]) -> bool:
        """Record a side effect under an idempotency key; False when it was already recorded."""
        with transaction(self.db) as conn:
            if records.has_side_effect(conn, key):
                return False
            records.insert_side_effect(conn, key, result, self.clock.now())
        return True


def _spooled_chunks(spool: Any, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The spool's bytes in chunks; the spool is closed when done, or when the consumer stops early."""
    with spool:
        while chunk := spool.read(chunk_size):
            yield chunk


# ------------------------------------------------------------------ what the pages read and change


def submitted_by(shop: OneStopShop, username: str, limit: int) -> list[Any]:
    """The dossiers an account filed online (``submitted_by``), newest first."""
    with transaction(shop.db) as conn:
        return records.submitted_by(conn, username, limit)


def set_applicant_email(shop: OneStopShop, code: str, email: str | None) -> None:
    """The applicant's e-mail for notifications (the intake use case does not take one yet)."""
    if email:
        with transaction(shop.db) as conn:
            records.update_dossier(conn, code, applicant_email=email)
