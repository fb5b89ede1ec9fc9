"""Intake: a dossier is registered — papers, form and files checked, bytes stored, its gap-free code allocated and
its process started, in one unit of work (on the embedded engine the first engine step joins it).

Bytes go to the document store *before* that transaction (content-addressed, so a failed transaction leaves at
most an orphan object that ``storage check --orphans`` finds, never a row pointing at nothing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from dossiers import text_rules
from dossiers.codes import MAX_SERIAL_PER_DAY, format_dossier_code
from dossiers.errors import Conflict, Forbidden, InvalidInput, TooLarge, Unavailable
from dossiers.lifecycle import due_at, warning_at
from dossiers.model import DossierStatus, Person, Procedure, Role
from dossiers.ports import TENANT_VARIABLE, Clock, DocumentStore, Engine, StoredObject
from persistence import dossier_records as records
from persistence.counters import next_dossier_serial
from persistence.uow import Database, transaction
from services.shop import OneStopShop
from services.uploads import Upload, check_upload

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str | None = None


def check_files(uploads: Sequence[Upload], max_file_bytes: int | None) -> None:
    """Every file is checked (size, type, content) before the first one is stored: a bad later file
    must not leave an earlier one behind in the store."""
    for upload in uploads:
        if max_file_bytes is not None:
            upload.stream.seek(0, 2)
            size = upload.stream.tell()
            upload.stream.seek(0)
            if size > max_file_bytes:
                raise TooLarge(
                    f"Tệp '{upload.filename}' vượt quá giới hạn {max_file_bytes // (1024 * 1024)} MB.",
                    f"File '{upload.filename}' exceeds the maximum allowed size of "
                    f"{max_file_bytes // (1024 * 1024)} MB ({max_file_bytes} bytes).",
                    filename=upload.filename,
                )
        check_upload(upload)


INCOMING_KEY = re.compile(r"[^/]+/incoming/[0-9]{8}/[0-9a-f]{32}/[0-9a-f]{64}")


def incoming_prefix(agency_code: str, now: dt.datetime) -> str:
    """Where an upload waits until it is filed under its dossier (``Supplements.file_uploads``): a folder of its
    own (``<agency>/incoming/<date>/<random>``), so no other upload shares its key and filing may remove it."""
    return f"{agency_code}/incoming/{now:%Y%m%d}/{uuid.uuid4().hex}"


@contextlib.contextmanager
def discarded_on_failure(store: DocumentStore) -> Iterator[list[StoredObject]]:
    """Uploads staged for one unit of work: when it fails (a refused paper, a rolled-back transaction) they are
    removed again — each has a key of its own (:func:`incoming_prefix`), so nothing else refers to them — and a
    failed intake leaves no orphan behind. Removal is best effort: what it misses, ``storage check --clean``
    finds. Only the writes up to the commit belong inside."""
    staged: list[StoredObject] = []
    try:
        yield staged
    except BaseException:
        for obj in staged:
            if owns_incoming_key(obj.key):
                with contextlib.suppress(Exception):
                    store.discard(obj)
        raise


def owns_incoming_key(key: str) -> bool:
    """A key made by :func:`incoming_prefix` (held by one upload only); older staging keys
    (``<agency>/incoming/<date>/<sha256>``) may be shared by identical uploads of that day and are left to
    ``motcua storage check --clean``."""
    return INCOMING_KEY.fullmatch(key) is not None


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


@dataclass
class DossierWriter:
    """What the use cases that register a dossier or file papers under it are given by the composition root."""

    desk: OneStopShop
    db: Database
    engine: Engine
    store: DocumentStore
    clock: Clock
    record: Callable[..., None]
    max_file_bytes: int | None = None


class Intake(DossierWriter):
    """Registering dossiers and starting their processes (also late, when a remote engine was unreachable)."""

    @property
    def engine_shares_db(self) -> bool:
        """The embedded engine keeps its state in this database: its steps join our transactions."""
        return bool(getattr(self.engine, "shares_database", False))

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
        desk = self.desk
        proc = desk.procedure(procedure_code)
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
        structure = desk.structure_now()
        agency = desk.agency(code_of_agency)
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
        with discarded_on_failure(self.store) as stored:
            for upload in uploads:
                stored.append(self.store.put(incoming_prefix(agency.code, now), upload.stream, upload.content_type))

            # An online dossier waits for reception (services.reception): no process, no receipt and no time limit
            # until an officer accepts it; received_at holds the filing time until then.
            waits_for_reception = channel == "online"
            received_at = now
            calendar = desk.calendar  # the running calendar (the administrator's overrides rebuild it)
            clock_start = calendar.clock_start(received_at)
            due = due_at(proc, calendar, received_at)
            with transaction(self.db) as conn:
                code = self._next_code(conn, agency.code, received_at.astimezone(desk.calendar_tz()).date())
                records.insert_dossier(
                    conn,
                    code=code,
                    procedure_code=proc.code,
                    agency_code=agency.code,
                    structure_version=structure.version,
                    status=(DossierStatus.SUBMITTED if waits_for_reception else DossierStatus.RECEIVED).value,
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
                    submitted_by=actor.username if actor.role == Role.CITIZEN else None,
                    accepted_at=None if waits_for_reception else received_at,
                    updated_at=now,
                )
                self.record(
                    "dossier.submitted" if waits_for_reception else "dossier.received",
                    actor.username,
                    code,
                    procedure=proc.code,
                    rule_version=proc.rule_version,
                    agency=agency.code,
                    structure=structure.version,
                    channel=channel,
                    due_at=due.isoformat(),
                )
                for upload, obj in zip(uploads, stored, strict=True):
                    desk.insert_document(
                        conn, code, "upload", upload.paper_key, upload.stored_filename, obj, actor.username
                    )
                if self.engine_shares_db and not waits_for_reception:
                    self._start_in(conn, code)
        if not self.engine_shares_db and not waits_for_reception:
            self.start_or_defer(code)
        log.info("dossier.submitted" if waits_for_reception else "dossier.received", dossier=code, procedure=proc.code)
        return desk.dossier_view(code)

    def _start_in(self, conn: Any, code: str) -> None:
        """Start the process inside the caller's transaction (the embedded engine shares the database)."""
        row = records.load_dossier(conn, code)
        instance_id = self.engine.start(self.desk.procedure_of(row).process_key, code, self._start_variables(row))
        records.set_process_instance(conn, code, instance_id)

    def start_or_defer(self, code: str) -> None:
        """Start the process of an accepted dossier on a remote engine; when it is unreachable the dossier and its
        papers are kept and the process starts when the engine is back (start_waiting_processes), which also
        writes the receipt — nobody is sent away."""
        try:
            self._start_process(code, skip_locked=False)
        except Unavailable as exc:
            log.warning("dossier.process_start_deferred", dossier=code, reason=exc.message_en)

    def _start_variables(self, row: Any) -> dict[str, Any]:
        """The process variables of a dossier, derived from its row (so a deferred start sends the same)."""
        return {
            "dossier_code": row.code,
            "procedure_code": row.procedure_code,
            "agency_code": row.agency_code,
            # whose officials act now (the engines keep user tasks by it); joint hand-offs change it
            TENANT_VARIABLE: row.agency_code,
            "due_at": row.due_at.isoformat(),
            "warn_at": warning_at(self.desk.calendar, row.received_at, row.due_at).isoformat(),
        }

    def _start_process(self, code: str, *, skip_locked: bool) -> bool:
        """Start the dossier's process unless it has one; the row lock keeps two processes from both starting
        it (a remote engine's start-by-business-key is check-then-start). True when this call started it."""
        with transaction(self.db) as conn:
            row = records.lock_dossier_without_process(conn, code, skip_locked=skip_locked)
            if row is None:
                return False
            proc = self.desk.procedure_of(row)
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

    def _check_files(self, uploads: Sequence[Upload]) -> None:
        check_files(uploads, self.max_file_bytes)

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
