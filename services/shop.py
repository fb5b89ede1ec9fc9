"""Use cases of the one-stop shop: intake, task lists, decisions, supplements, documents, history.

Every operation that changes state runs in one unit of work: dossier rows, document rows, audit entries
and — on the embedded engine — the engine step commit or roll back together. Bytes go to the document
store *before* that transaction (content-addressed, so a failed transaction leaves at most an orphan
object that ``storage check --orphans`` finds, never a row pointing at nothing).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from dossiers import text_rules
from dossiers.calendar import WorkingCalendar
from dossiers.catalogue import CatalogueEntry, parse_entry
from dossiers.codes import MAX_SERIAL_PER_DAY, format_dossier_code
from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge, Unavailable
from dossiers.lifecycle import Timeliness, check_transition, due_at, shifted_due, timeliness, warning_at
from dossiers.model import (
    OFFICIAL_ROLES,
    Agency,
    AgencyStructure,
    DossierStatus,
    Person,
    Procedure,
    Role,
    can_act_on_task,
    structure_in_force,
)
from dossiers.ports import AuditEvent, AuditLog, Clock, DocumentStore, Engine, Incident, StoredObject, UserTask
from persistence import dossier_records as records
from persistence.counters import next_dossier_serial
from persistence.uow import Database, transaction
from services.accounts import Accounts
from services.fees import RETURN_ACTIVITY, require_paid
from services.handoffs import delivered_to
from services.uploads import Upload, check_upload
from storage.errors import IntegrityError
from workflows.introspect import bpmn_file_for, decision_options

log = structlog.get_logger(__name__)
SPOOL_IN_MEMORY_BYTES = 1024 * 1024  # a verified download is held in memory up to this size, on disk beyond

SUPPLEMENT_MESSAGE = "supplement_received"
SIGNING_ACTIVITIES = frozenset({"sign_result"})  # user tasks completed by a personal signature, not a click
# Joint procedures: the process variable naming the agency whose officials act on the current step (set by the
# exchange.send worker at each hand-off); without it, the dossier's own agency acts.
CURRENT_AGENCY = "current_agency"
JOINT_STEP = "joint_step"  # a partner installation's task: the procedure step it stands for (services.receiving)
JOINT_STEP_NAME = "joint_step_name"


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str | None = None


def stored_object(row: Any) -> StoredObject:
    """The store's handle of a ``document`` row (the store checks size and SHA-256 when it is read)."""
    return StoredObject(row.storage_key, row.sha256, row.size, row.content_type, row.version_id)


def catalogue_entry(row: Any) -> CatalogueEntry:
    """A ``procedure`` row's catalogue entry (validated when it was seeded; parsed again here)."""
    return parse_entry(row.data, f"procedure {row.code}")


class OneStopShop:
    """The application facade the API, the CLI and the workers call."""

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
        # the embedded engine keeps its state in this database: its steps join our transactions
        self.engine_shares_db = bool(getattr(engine, "shares_database", False))
        # agencies hosted by partner installations (signed envelopes): their steps are worked there, not here
        self.remote_agencies: frozenset[str] = frozenset()

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
        """The procedures in force on ``on`` (default: today), each under its version of that day."""
        day = on or self.clock.now().astimezone(self.calendar_tz()).date()
        return [e.at(day) for e in self.catalogue() if e.version_at(day) is not None]

    def entry(self, code: str) -> CatalogueEntry:
        with transaction(self.db) as conn:
            row = records.find_procedure(conn, code)
        if row is None:
            raise InvalidInput(
                f"Không có thủ tục hành chính mã '{code}'.",
                f"Unknown procedure '{code}'.",
                procedure_code=code,
            )
        return catalogue_entry(row)

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
        self.audit.append(AuditEvent(event_kind, actor, self.clock.now(), dossier_code, details))

    # ------------------------------------------------------------------ operations

    def retry_incident(self, incident_id: str, actor: str, retries: int = 3) -> Incident:
        """An operator fixed the cause (a printer, a certificate, a full disk): give the step new retries."""
        found = [i for i in self.engine.incidents() if i.id == incident_id]
        if not found:
            raise NotFound(
                "Không có sự cố đang mở với mã này.", "No open incident with this id.", incident_id=incident_id
            )
        incident = found[0]
        if incident.task_id is None:
            raise InvalidInput(
                "Sự cố này không thuộc một bước tự động nên không thể chạy lại.",
                "This incident is not a failed service task; it cannot be retried here.",
                incident_id=incident_id,
            )
        self.engine.set_retries(incident.task_id, max(1, retries))
        self.record(
            "incident.retried",
            actor,
            incident.business_key or None,
            incident_id=incident.id,
            activity_id=incident.activity_id,
            retries=max(1, retries),
        )
        return incident

    # ------------------------------------------------------------------ intake

    def intake(
        self,
        actor: Person,
        procedure_code: str,
        applicant: Applicant,
        uploads: Sequence[Upload],
        agency_code: str | None = None,
        channel: str = "counter",
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a dossier: check papers and form, store files, allocate the code, start the process."""
        if actor.role not in (Role.RECEPTION, Role.CITIZEN):
            raise Forbidden(
                "Chỉ cán bộ tiếp nhận hoặc công dân được nộp hồ sơ.",
                "Only reception officers and citizens may submit dossiers.",
            )
        proc = self.procedure(procedure_code)
        if channel not in proc.channels:
            names = {"counter": "trực tiếp", "online": "trực tuyến", "postal": "bưu chính công ích"}
            raise InvalidInput(
                f"Thủ tục '{proc.name}' không nhận hồ sơ qua kênh {names.get(channel, channel)} "
                f"(nhận qua: {', '.join(names.get(c, c) for c in proc.channels)}).",
                f"Procedure {proc.code} does not take dossiers through the '{channel}' channel "
                f"(accepted: {', '.join(proc.channels)}).",
                channel=channel,
            )
        code_of_agency = agency_code or actor.agency_code
        if not code_of_agency:
            raise InvalidInput("Cần chọn cơ quan tiếp nhận.", "agency_code is required.")
        if actor.role == Role.RECEPTION and code_of_agency != actor.agency_code:
            raise Forbidden(
                "Cán bộ chỉ tiếp nhận hồ sơ cho cơ quan của mình.",
                "A reception officer registers dossiers for their own agency only.",
            )
        structure = self.structure_now()
        agency = self.agency(code_of_agency)
        if proc.levels and agency.level not in proc.levels:
            raise InvalidInput(
                f"Thủ tục '{proc.name}' không thực hiện tại cấp {agency.level}.",
                f"Procedure {proc.code} is not handled at {agency.level} level.",
            )
        applicant_checked = _check_applicant(applicant)
        self._check_papers(proc, uploads)
        declared = check_form(proc, details or {})
        self._check_files(uploads)

        now = self.clock.now()
        staged: list[tuple[Upload, StoredObject]] = []
        for upload in uploads:
            prefix = f"{agency.code}/incoming/{now:%Y%m%d}"
            staged.append((upload, self.store.put(prefix, upload.stream, upload.content_type)))

        received_at = now
        clock_start = self.calendar.clock_start(received_at)
        due = due_at(proc, self.calendar, received_at)
        with transaction(self.db) as conn:
            code = self._next_code(conn, agency.code, received_at.astimezone(self.calendar_tz()).date())
            records.insert_dossier(
                conn,
                code=code,
                procedure_code=proc.code,
                agency_code=agency.code,
                structure_version=structure.version,
                status=DossierStatus.RECEIVED.value,
                applicant_name=applicant_checked.name,
                applicant_id_number=applicant_checked.id_number,
                applicant_phone=applicant_checked.phone,
                channel=channel,
                details=declared,
                rule_version=proc.rule_version or None,
                received_at=received_at,
                clock_start=clock_start,
                due_at=due,
                paused_seconds=0,
                received_by=actor.username,
                updated_at=now,
            )
            self.record(
                "dossier.received",
                actor.username,
                code,
                procedure=proc.code,
                rule_version=proc.rule_version,
                agency=agency.code,
                structure=structure.version,
                channel=channel,
                due_at=due.isoformat(),
            )
            for upload, obj in staged:
                self.insert_document(
                    conn, code, "upload", upload.paper_key, upload.stored_filename, obj, actor.username
                )
            if self.engine_shares_db:
                row = records.load_dossier(conn, code)
                instance_id = self.engine.start(proc.process_key, code, self._start_variables(row))
                records.set_process_instance(conn, code, instance_id)
        if not self.engine_shares_db:
            try:
                self._start_process(code, skip_locked=False)
            except Unavailable as exc:
                # The dossier is registered and its papers are kept; the citizen is not sent away. The process
                # starts when the engine is back (start_waiting_processes), which also writes the receipt.
                log.warning("dossier.process_start_deferred", dossier=code, reason=exc.message_en)
        log.info("dossier.received", dossier=code, procedure=proc.code)
        return self.dossier_view(code)

    def _start_variables(self, row: Any) -> dict[str, Any]:
        """The process variables of a dossier, derived from its row (so a deferred start sends the same)."""
        return {
            "dossier_code": row.code,
            "procedure_code": row.procedure_code,
            "agency_code": row.agency_code,
            "due_at": row.due_at.isoformat(),
            "warn_at": warning_at(self.calendar, row.received_at, row.due_at).isoformat(),
        }

    def _start_process(self, code: str, *, skip_locked: bool) -> bool:
        """Start the dossier's process unless it has one; the row lock keeps two processes from both starting
        it (a remote engine's start-by-business-key is check-then-start). True when this call started it."""
        with transaction(self.db) as conn:
            row = records.lock_dossier_without_process(conn, code, skip_locked=skip_locked)
            if row is None:
                return False
            proc = self.procedure_of(row)
            instance_id = self.engine.start(proc.process_key, code, self._start_variables(row))
            records.set_process_instance(conn, code, instance_id)
        return True

    def start_waiting_processes(self, limit: int = 100) -> int:
        """Dossiers registered while the remote engine was unreachable: start their processes now."""
        if self.engine_shares_db:
            return 0
        with transaction(self.db) as conn:
            codes = records.codes_without_process(conn, limit)
        started = 0
        for code in codes:
            if self._start_process(code, skip_locked=True):
                log.info("dossier.process_started_late", dossier=code)
                started += 1
        return started

    @staticmethod
    def calendar_tz() -> dt.tzinfo:
        from dossiers.calendar import VN_TZ

        return VN_TZ

    def _check_files(self, uploads: Sequence[Upload]) -> None:
        """Every file is checked (size, type, content) before the first one is stored: a bad later file
        must not leave an earlier one behind in the store."""
        for upload in uploads:
            if self.max_file_bytes is not None:
                upload.stream.seek(0, 2)
                size = upload.stream.tell()
                upload.stream.seek(0)
                if size > self.max_file_bytes:
                    raise TooLarge(
                        f"Tệp '{upload.filename}' vượt quá giới hạn {self.max_file_bytes // (1024 * 1024)} MB.",
                        f"File '{upload.filename}' exceeds the maximum allowed size of "
                        f"{self.max_file_bytes // (1024 * 1024)} MB ({self.max_file_bytes} bytes).",
                        filename=upload.filename,
                    )
            check_upload(upload)

    def _check_papers(self, proc: Procedure, uploads: Sequence[Upload]) -> None:
        known = {p.key for p in proc.papers}
        given = {u.paper_key for u in uploads}
        unknown = sorted(given - known)
        if unknown:
            raise InvalidInput(
                f"Giấy tờ không thuộc thủ tục này: {', '.join(unknown)}.",
                f"Papers not part of procedure {proc.code}: {', '.join(unknown)}.",
                unknown=unknown,
            )
        missing = [p for p in proc.papers if p.mandatory and p.key not in given]
        if missing:
            raise InvalidInput(
                "Hồ sơ còn thiếu giấy tờ bắt buộc: " + "; ".join(p.name for p in missing) + ".",
                "Missing required papers: " + ", ".join(p.key for p in missing) + ".",
                missing=[p.key for p in missing],
            )

    def _next_code(self, conn: Any, unit_code: str, day: dt.date) -> str:
        """Gap-free serial per unit and day: the counter row is incremented in the dossier's transaction,
        so a rolled-back intake gives its number back and concurrent intakes queue on the row lock. A code
        already taken (a row imported or written outside the counter) is skipped, never a failed intake."""
        while True:
            serial = next_dossier_serial(conn, unit_code, day)
            if serial > MAX_SERIAL_PER_DAY:
                raise Conflict("Đã hết số hồ sơ trong ngày của cơ quan.", "No dossier serial numbers left for today.")
            code = format_dossier_code(unit_code, day, serial)
            if not records.dossier_code_taken(conn, code):
                return code

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
        with transaction(self.db) as conn:
            row = records.find_dossier(conn, code)
        if row is None:
            raise NotFound(f"Không tìm thấy hồ sơ {code}.", f"Dossier {code} not found.", dossier_code=code)
        return row

    def authorize_dossier(self, person: Person, code: str) -> Any:
        row = self.dossier_row(code)
        if person.role in (Role.ADMIN, Role.AUDITOR):
            return row
        if person.role == Role.CITIZEN:
            if row.received_by != person.username:
                raise Forbidden("Bạn không có quyền xem hồ sơ này.", "You may not see this dossier.")
            return row
        if person.agency_code != row.agency_code and person.agency_code not in self._partners(code):
            raise Forbidden("Hồ sơ thuộc cơ quan khác.", "This dossier belongs to another agency.", dossier_code=code)
        return row

    def dossier_view(self, code: str) -> dict[str, Any]:
        row = self.dossier_row(code)
        with transaction(self.db) as conn:
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

    # ------------------------------------------------------------------ tasks

    def _partners(self, code: str) -> set[str]:
        """Agencies the dossier was handed to by a joint procedure (their officials may read it)."""
        return delivered_to(self.audit, code)

    def _task_agency(self, task: UserTask, row: Any = None) -> Agency:
        row = row if row is not None else self.dossier_row(task.business_key)
        acting = task.variables.get(CURRENT_AGENCY) or row.agency_code
        return self.agency(str(acting), on=row.received_at.date())

    def tasks_for(self, person: Person) -> list[dict[str, Any]]:
        if person.role not in OFFICIAL_ROLES:
            raise Forbidden("Chỉ cán bộ mới có danh sách nhiệm vụ.", "Only officials have task lists.")
        tasks = self.engine.user_tasks(candidate_groups=[person.role.value])
        visible = []
        for task in tasks:
            row = self.dossier_row(task.business_key)
            agency = self._task_agency(task, row)
            if agency.code in self.remote_agencies:
                continue  # the partner's officials work this step in their own system
            kinds = self.procedure_of(row).department_kinds(person.role.value)
            if can_act_on_task(person, agency, task.candidate_groups, kinds):
                visible.append(self._task_view(task, row))
        return visible

    @staticmethod
    def _step_of(task: UserTask) -> str:
        """The procedure step a task stands for: itself, or for a partner's task the step the envelope named."""
        return str(task.variables.get(JOINT_STEP) or task.activity_id)

    def _task_view(self, task: UserTask, row: Any) -> dict[str, Any]:
        proc = self.procedure_of(row)
        joint_name = task.variables.get(JOINT_STEP_NAME)
        return {
            "id": task.id,
            "name": f"{task.name}: {joint_name}" if joint_name else task.name,
            "activity_id": task.activity_id,
            "dossier_code": task.business_key,
            "procedure_code": row.procedure_code,
            "candidate_groups": list(task.candidate_groups),
            "assignee": task.assignee,
            "created_at": task.created_at.isoformat(),
            "due_at": task.due_at.isoformat() if task.due_at else None,  # this step's
            "dossier_due_at": row.due_at.isoformat(),  # the dossier's, after pauses and apology letters
            "dossier_status": row.status,
            "decisions": self.decision_choices(proc.process_key, self._step_of(task)),
        }

    def decision_choices(self, process_key: str, activity_id: str) -> dict[str, list[str]]:
        path = next((p for d in self.bpmn_dirs if (p := bpmn_file_for(process_key, d)) is not None), None)
        if path is None:
            return {}
        return {k: list(v) for k, v in decision_options(path.read_bytes(), activity_id).items()}

    def _authorized_task(self, person: Person, task_id: str) -> UserTask:
        task = self.engine.user_task(task_id)
        if task is None:
            raise NotFound(
                "Nhiệm vụ không tồn tại hoặc đã hoàn thành.",
                "Task not found or already completed.",
                task_id=task_id,
            )
        row = self.dossier_row(task.business_key)
        kinds = self.procedure_of(row).department_kinds(person.role.value)
        acting = self._task_agency(task, row)
        if acting.code in self.remote_agencies:
            raise Forbidden(
                f"Bước này do cơ quan liên thông {acting.name} xử lý trên hệ thống của cơ quan đó.",
                f"This step is handled by the partner agency {acting.code} in its own system.",
                task_id=task_id,
            )
        if not can_act_on_task(person, acting, task.candidate_groups, kinds):
            raise Forbidden(
                "Nhiệm vụ thuộc bộ phận hoặc vai trò khác.",
                "This task belongs to another department or role.",
                task_id=task_id,
            )
        return task

    def claim(self, person: Person, task_id: str) -> dict[str, Any]:
        task = self._authorized_task(person, task_id)
        with transaction(self.db):
            self.engine.claim(task_id, person.username)
            self.record(
                "task.claimed",
                person.username,
                task.business_key,
                task=task.activity_id,
                department=person.department_code,
            )
        return {"id": task_id, "assignee": person.username}

    def unclaim(self, person: Person, task_id: str) -> dict[str, Any]:
        task = self._authorized_task(person, task_id)
        if task.assignee not in (None, person.username) and person.role != Role.ADMIN:
            raise Forbidden("Nhiệm vụ do người khác nhận.", f"Task is claimed by {task.assignee}.")
        with transaction(self.db):
            self.engine.unclaim(task_id)
            self.record("task.unclaimed", person.username, task.business_key, task=task.activity_id)
        return {"id": task_id, "assignee": None}

    def complete(self, person: Person, task_id: str, decision: str | None, comment: str | None) -> dict[str, Any]:
        task = self._authorized_task(person, task_id)
        if task.assignee is not None and task.assignee != person.username:
            raise Conflict(f"Nhiệm vụ đang do {task.assignee} xử lý.", f"Task is claimed by {task.assignee}.")
        if task.activity_id in SIGNING_ACTIVITIES:
            raise Conflict(
                "Bước này hoàn thành bằng chữ ký số trên thiết bị của người ký (POST /api/signatures/{id}).",
                "This step is completed by a signature from the signer's device (POST /api/signatures/{id}).",
                task_id=task_id,
            )
        row = self.dossier_row(task.business_key)
        if task.activity_id == RETURN_ACTIVITY:
            require_paid(self, task.business_key)  # the fee before the result is handed over (409 motcua.fee_not_paid)
        choices = self.decision_choices(self.procedure_of(row).process_key, self._step_of(task))
        variables: dict[str, Any] = {"last_actor": person.username, f"{task.activity_id}_by": person.username}
        allowed = choices.get("decision")
        if allowed:
            if decision not in allowed:
                shown = decision if decision is None or len(decision) <= 40 else decision[:40] + "…"
                raise InvalidInput(
                    f"Quyết định '{shown}' không hợp lệ; chọn một trong: {', '.join(allowed)}.",
                    f"Decision '{shown}' is not known by the process; expected one of {', '.join(allowed)}.",
                    field="decision",
                    allowed=allowed,
                )
            variables["decision"] = decision
        elif decision is not None:
            raise InvalidInput(
                "Bước này không cần quyết định.", "This step takes no decision.", activity=task.activity_id
            )
        comment = text_rules.clean_comment(comment, label_vi="Ý kiến xử lý", label_en="The comment") or None
        if comment:
            variables["comment"] = comment
        with transaction(self.db) as conn:
            if task.assignee is None:
                self.engine.claim(task_id, person.username)
            self.engine.complete_user_task(task_id, variables)
            self.record(
                "task.completed",
                person.username,
                task.business_key,
                task=task.activity_id,
                decision=decision,
                comment=comment,
                department=person.department_code,  # who handled it then (statistics per department)
            )
            if decision is not None:
                records.update_dossier(conn, task.business_key, decision=decision, updated_at=self.clock.now())
        return {"id": task_id, "completed": True, "decision": decision}

    # ------------------------------------------------------------------ supplements

    def supplement(self, person: Person, code: str, uploads: Sequence[Upload]) -> dict[str, Any]:
        row = self.authorize_dossier(person, code)
        if person.role not in (Role.RECEPTION, Role.CITIZEN):
            raise Forbidden("Chỉ bộ phận tiếp nhận nhận hồ sơ bổ sung.", "Only reception accepts supplements.")
        if row.status != DossierStatus.SUPPLEMENT_REQUESTED.value:
            raise Conflict(
                "Hồ sơ không ở trạng thái chờ bổ sung.",
                f"Dossier {code} is not waiting for a supplement (status {row.status}).",
            )
        if not uploads:
            raise InvalidInput("Cần ít nhất một giấy tờ bổ sung.", "At least one supplementary file is required.")
        proc = self.procedure_of(row)
        self._check_known_papers(proc, uploads)
        self._check_files(uploads)
        staged = [
            (
                u,
                self.store.put(f"{row.agency_code}/incoming/{self.clock.now():%Y%m%d}", u.stream, u.content_type),
            )
            for u in uploads
        ]
        with transaction(self.db) as conn:
            for upload, obj in staged:
                self.insert_document(
                    conn, code, "supplement", upload.paper_key, upload.stored_filename, obj, person.username
                )
            self.record("dossier.supplemented", person.username, code, files=len(staged))
            self.engine.correlate_message(SUPPLEMENT_MESSAGE, code, {"supplemented_by": person.username})
        return self.dossier_view(code)

    def _check_known_papers(self, proc: Procedure, uploads: Sequence[Upload]) -> None:
        known = {p.key for p in proc.papers}
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
        row = self.dossier_row(code)
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
            records.update_dossier(conn, code, **values)
            self.record("dossier.status_changed", actor, code, status=target.value, previous=row.status, **details)
            fresh = records.load_dossier(conn, code)
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


def check_form(proc: Procedure, details: Mapping[str, Any]) -> dict[str, Any]:
    """The application form's declared values, within the domain's bounds (:func:`dossiers.text_rules.check_form`)."""
    return text_rules.check_form(proc, details)


def _check_applicant(applicant: Applicant) -> Applicant:
    """The applicant as stored: a bounded name without control or bidi characters, a 12/9-digit ID number, an
    optional phone (:mod:`dossiers.text_rules`)."""
    return Applicant(
        text_rules.clean_applicant_name(applicant.name),
        text_rules.clean_id_number(applicant.id_number),
        text_rules.clean_phone(applicant.phone),
    )


# ------------------------------------------------------------------ what the pages read and change


def submitted_by(shop: OneStopShop, username: str, limit: int) -> list[Any]:
    """The dossiers an account submitted (the intake records it as ``received_by``), newest first."""
    with transaction(shop.db) as conn:
        return records.submitted_by(conn, username, limit)


def set_applicant_email(shop: OneStopShop, code: str, email: str | None) -> None:
    """The applicant's e-mail for notifications (the intake use case does not take one yet)."""
    if email:
        with transaction(shop.db) as conn:
            records.update_dossier(conn, code, applicant_email=email)


def task_timeliness(now: dt.datetime, received: dt.datetime, due: dt.datetime, calendar: WorkingCalendar) -> str:
    """early (in time) / soon (past the warning point) / on_time (due today) / late, for an open task."""
    state = timeliness(now, due)
    if state == Timeliness.LATE:
        return "late"
    if state == Timeliness.ON_TIME:
        return "on_time"
    return "soon" if now >= warning_at(calendar, received, due) else "early"


def task_rows(shop: OneStopShop, person: Person) -> list[dict[str, Any]]:
    """The tasks the person may act on, each with its dossier's procedure, applicant, dates and timeliness."""
    now = shop.clock.now()
    rows = []
    for task in shop.tasks_for(person):
        row = shop.dossier_row(task["dossier_code"])
        proc = shop.procedure_of(row)
        due = dt.datetime.fromisoformat(task["dossier_due_at"])
        rows.append(
            task
            | {
                "procedure_name": proc.name,
                "applicant_name": row.applicant_name,
                "received_at": row.received_at,
                "due": due,
                "timeliness": task_timeliness(now, row.received_at, due, shop.calendar),
                "mine": task["assignee"] == person.username,
                "signing": task["activity_id"] in SIGNING_ACTIVITIES,
            }
        )
    return rows


def list_tasks(
    shop: OneStopShop,
    person: Person,
    *,
    keep: Callable[[dict[str, Any]], bool],
    order_by: str,
    descending: bool,
    page: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All the person's task rows and those shown (kept, sorted by ``order_by`` then dossier code). The shown
    rows carry their applicants' names: recorded as ``dossier.listed`` (Decree 13/2023)."""
    everything = task_rows(shop, person)
    shown = [r for r in everything if keep(r)]
    shown.sort(key=lambda r: (r[order_by], r["dossier_code"]), reverse=descending)
    if shown:
        shop.record("dossier.listed", person.username, None, codes=[r["dossier_code"] for r in shown], page=page)
    return everything, shown
