"""Late dossiers (DESIGN §6 "Late"): find the dossiers at risk, and issue the apology letter (Mẫu 04: of Circular
01/2018 or, for dossiers received from 15 September 2025, of Circular 03/2025 — the apology and request to extend).

:func:`find_late_risks` (run by the housekeeping thread, safe to run in several processes at once) opens a
``late_notice`` for each dossier in progress whose due date is near and that has none yet: the department
responsible is the one handling the dossier's current user task (its candidate group → the agency's
``role_departments`` of the kind the procedure names; the assignee's department when several remain). The department's
officials see their open notices and issue the apology with a reason and a new date
(:meth:`LateNotices.issue`): the dossier's ``due_at`` moves to the new date at once (the original stays in
``late_notice.old_due_at`` for statistics) and the event is audited. Mẫu 04's signer is the head of the agency
(``signed_by_head`` in its template): the letter is prepared for the agency's leader to sign on their device, and
once signed it is sealed, stored and the applicant is notified
(:meth:`services.paperwork.Paperwork.finish_signed_letter`); a template without the head's signature is sealed by
the agency at once and the applicant notified in the same unit of work.

"Near": the working time left until the due date is at most ``window_hours`` working hours when
configured (MOTCUA_LATE_NOTICE_WORKING_HOURS); by default at most one working day, and — so that a
same-day procedure is not "at risk" from the moment it is received — at most a quarter of the dossier's
whole working time (the rule of the near-due warning, :func:`dossiers.lifecycle.warning_at`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import structlog

from dossiers import text_rules
from dossiers.calendar import VN_TZ, WorkingCalendar
from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from dossiers.lifecycle import warning_at
from dossiers.model import FINAL_STATUSES, OFFICIAL_ROLES, Agency, DossierStatus, Person, Procedure, Role
from dossiers.ports import Clock, Engine, UserTask
from persistence import late_notices
from persistence.uow import Database, transaction
from services.notifications import Outbox, notify_applicant
from services.ports import DossierDesk

if TYPE_CHECKING:
    from services.paperwork import Paperwork

log = structlog.get_logger(__name__)
SYSTEM_ACTOR = "system:late"


# ------------------------------------------------------------------ finding dossiers at risk


def _at_risk(calendar: WorkingCalendar, row: Any, now: dt.datetime, window_seconds: int | None) -> bool:
    if row.due_at <= now:
        return True  # already late and no apology yet: the department still owes one
    left = calendar.working_seconds_between(now, row.due_at)
    if window_seconds is not None:
        return left <= window_seconds
    return now >= warning_at(calendar, row.clock_start, row.due_at)


def responsible_department(
    desk: DossierDesk, agency: Agency, tasks: list[UserTask], procedure: Procedure | None = None
) -> str | None:
    """The department handling the dossier now: the current user task's role mapped by the agency, narrowed to
    the kind of department the procedure names for the role (``departments`` in the catalogue); when that still
    leaves several, the assignee's; ``None`` when it cannot be told (no user task)."""
    for task in sorted(tasks, key=lambda t: t.created_at):
        for role in task.candidate_groups:
            departments = agency.departments_handling(role, procedure.department_kinds(role) if procedure else ())
            if not departments:
                continue
            if len(departments) == 1:
                return departments[0]
            person = desk.accounts.get(task.assignee) if task.assignee and desk.accounts else None
            if person is not None and person.department_code in departments:
                return person.department_code
            return None
    return None


def find_late_risks(
    db: Database, engine: Engine, desk: DossierDesk, now: dt.datetime, *, window_hours: float | None = None
) -> list[str]:
    """Open a late notice for every dossier in progress that is at risk of being late and has none.
    Returns the codes of the dossiers that got one now."""
    calendar = desk.calendar
    window = None if window_hours is None else int(window_hours * 3600)
    horizon = calendar.add_working_seconds(now, window if window is not None else calendar.hours.seconds_per_day)
    with transaction(db) as conn:
        rows = late_notices.dossiers_without_notice(conn, DossierStatus.IN_PROGRESS.value, horizon)
    opened: list[str] = []
    for row in rows:
        if not _at_risk(calendar, row, now, window):
            continue
        agency = desk.agency(row.agency_code, on=row.received_at.date())
        tasks = engine.user_tasks(business_key=row.code)
        department = responsible_department(desk, agency, tasks, desk.procedure_of(row))
        if _open_notice(db, desk, row, department, now):
            opened.append(row.code)
            log.info("late.notice_opened", dossier=row.code, department=department)
    return opened


def _open_notice(db: Database, desk: DossierDesk, row: Any, department: str | None, now: dt.datetime) -> bool:
    notice_id = str(uuid.uuid4())
    values = dict(
        id=notice_id,
        dossier_code=row.code,
        agency_code=row.agency_code,
        department_code=department,
        old_due_at=row.due_at,
        status="open",
        created_at=now,
    )
    with transaction(db) as conn:
        if not late_notices.open_notice(conn, values):
            return False  # another process opened it first
        desk.record(
            "late.notice_opened",
            SYSTEM_ACTOR,
            row.code,
            notice_id=notice_id,
            department=department,
            due_at=row.due_at.isoformat(),
        )
    return True


# ------------------------------------------------------------------ the department's side


def is_working_moment(calendar: WorkingCalendar, moment: dt.datetime) -> bool:
    """In working time, or exactly at the end of a working period (17:00, 11:30: how due dates are written)."""
    return calendar.is_working_time(moment) or calendar.is_working_time(moment - dt.timedelta(seconds=1))


def _vn(moment: dt.datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y")


class LateNotices:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        engine: Engine,
        desk: DossierDesk,
        paperwork: Paperwork,
        outbox: Outbox | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.engine = engine
        self.desk = desk
        self.paperwork = paperwork
        self.outbox = outbox or Outbox(db, clock)

    def _visible(self, person: Person, notice: Any) -> bool:
        if person.role in (Role.ADMIN, Role.AUDITOR):
            return True
        if person.role not in OFFICIAL_ROLES or person.agency_code != notice.agency_code:
            return False
        if person.role == Role.LEADER:
            return True  # the agency's leaders oversee every department's late dossiers
        return notice.department_code is None or notice.department_code == person.department_code

    def _may_issue(self, person: Person, notice: Any) -> bool:
        return person.role in OFFICIAL_ROLES and self._visible(person, notice)

    def view(self, notice: Any, row: Any | None = None) -> dict[str, Any]:
        row = row if row is not None else self.desk.dossier_row(notice.dossier_code)
        tasks = self.engine.user_tasks(business_key=notice.dossier_code)
        document_id, letter = notice.document_id, "issued" if notice.document_id else None
        if notice.status == "issued" and document_id is None:  # the head signs it: stored once signed and sealed
            document_id = self.paperwork.issuer.existing(f"{notice.dossier_code}/apology")
            letter = "issued" if document_id else "awaiting_head_signature"
        return {
            "id": notice.id,
            "dossier_code": notice.dossier_code,
            "procedure_code": row.procedure_code,
            "dossier_status": row.status,
            "current_step": tasks[0].name if tasks else None,
            "agency_code": notice.agency_code,
            "department_code": notice.department_code,
            "status": notice.status,
            "old_due_at": notice.old_due_at.isoformat(),
            "due_at": row.due_at.isoformat(),
            "new_due_at": notice.new_due_at.isoformat() if notice.new_due_at else None,
            "reason": notice.reason,
            "created_at": notice.created_at.isoformat(),
            "issued_at": notice.issued_at.isoformat() if notice.issued_at else None,
            "issued_by": notice.issued_by,
            "document_id": document_id,
            "letter": letter,  # issued | awaiting_head_signature (the head has not signed Mẫu 04 yet) | None
        }

    def list_for(self, person: Person, status: str | None = "open") -> list[dict[str, Any]]:
        if person.role not in (*OFFICIAL_ROLES, Role.ADMIN, Role.AUDITOR):
            raise Forbidden("Chỉ cán bộ mới xem được phiếu trễ hạn.", "Only officials see late notices.")
        every_agency = person.role in (Role.ADMIN, Role.AUDITOR)
        with transaction(self.db) as conn:
            notices = late_notices.notices(
                conn, status=status, agency_code=person.agency_code, every_agency=every_agency
            )
        out = []
        for notice in notices:
            if not self._visible(person, notice):
                continue
            row = self.desk.dossier_row(notice.dossier_code)
            if status == "open" and DossierStatus(row.status) in (*FINAL_STATUSES, DossierStatus.RESULT_READY):
                continue  # finished in time after all: nothing left to apologise for
            out.append(self.view(notice, row))
        return out

    def get(self, person: Person, notice_id: str) -> dict[str, Any]:
        notice = self._notice(notice_id)
        if not self._visible(person, notice):
            raise Forbidden("Phiếu thuộc bộ phận khác.", "This late notice belongs to another department.")
        return self.view(notice)

    def _notice(self, notice_id: str) -> Any:
        with transaction(self.db) as conn:
            notice = late_notices.notice(conn, notice_id)
        if notice is None:
            raise NotFound("Không có phiếu trễ hạn này.", "No such late notice.", notice_id=notice_id)
        return notice

    def issue(self, person: Person, notice_id: str, reason: str, new_due_at: dt.datetime) -> dict[str, Any]:
        """Issue the apology letter (Mẫu 04) with ``reason`` and the new appointment ``new_due_at``."""
        notice = self._notice(notice_id)
        if not self._may_issue(person, notice):
            raise Forbidden(
                "Chỉ cán bộ của bộ phận giải quyết hồ sơ được lập phiếu xin lỗi.",
                "Only officials of the department handling the dossier may issue the apology.",
            )
        if notice.status != "open":
            raise Conflict(
                "Phiếu xin lỗi của hồ sơ này đã được lập.",
                f"The apology for dossier {notice.dossier_code} was already issued.",
                notice_id=notice_id,
            )
        reason = text_rules.clean_text(
            reason,
            field="reason",
            label_vi="Lý do chậm trễ",
            label_en="The reason for the delay",
            max_length=text_rules.REASON_MAX,
            multiline=True,
        )
        if not reason:
            raise InvalidInput("Cần nêu lý do chậm trễ.", "The reason for the delay is required.", field="reason")
        if new_due_at.tzinfo is None:
            new_due_at = new_due_at.replace(tzinfo=VN_TZ)  # a date without offset is Vietnam time
        row = self.desk.dossier_row(notice.dossier_code)
        if DossierStatus(row.status) in (*FINAL_STATUSES, DossierStatus.RESULT_READY):
            raise Conflict(
                "Hồ sơ đã có kết quả hoặc đã kết thúc; không cần phiếu xin lỗi.",
                f"Dossier {row.code} already has its result or is closed (status {row.status}).",
            )
        now = self.clock.now()
        if new_due_at <= row.due_at or new_due_at <= now:
            raise InvalidInput(
                f"Ngày hẹn mới phải sau ngày hẹn cũ ({_vn(row.due_at)}) và sau thời điểm hiện tại.",
                f"The new date must be after the current due date {row.due_at.isoformat()} and after now.",
            )
        if not is_working_moment(self.desk.calendar, new_due_at):
            raise InvalidInput(
                f"Ngày hẹn mới ({_vn(new_due_at)}) không thuộc giờ làm việc.",
                f"The new date {new_due_at.isoformat()} is not within working hours of a working day.",
            )
        apology = getattr(self.paperwork, "apology", None)
        if apology is None:
            raise Unavailable(
                "Chưa lập được Phiếu xin lỗi (Mẫu 04) trên hệ thống này.",
                "The apology letter (Mẫu 04) cannot be issued: Paperwork.apology is missing.",
            )
        code = row.code
        key = f"{code}/apology"
        # the head signs the set's Mẫu 04 personally: prepared for them now, sealed and sent once they signed
        head_signs = self.paperwork.head_signs(code, "apology")
        pending_id: str | None = None
        document_id: str | None = None
        if head_signs:
            pending_id = self.paperwork.request_apology_signature(code, new_due_at, reason, key)
        else:
            document_id = str(apology(code, new_due_at, reason, person.username, key))
        agency = self.desk.agency(row.agency_code, on=row.received_at.date())
        proc = self.desk.procedure_of(row)
        letter = self.paperwork.templates.on(row.received_at).form("apology").name  # the set's Mẫu 04
        signed = "có chữ ký số của lãnh đạo và của cơ quan" if head_signs else "có chữ ký số của cơ quan"
        with transaction(self.db) as conn:
            issued = late_notices.mark_issued(
                conn,
                notice_id,
                new_due_at=new_due_at,
                reason=reason,
                issued_at=now,
                issued_by=person.username,
                document_id=document_id,
            )
            if not issued:
                raise Conflict("Phiếu xin lỗi của hồ sơ này vừa được lập.", f"The apology for {code} was just issued.")
            late_notices.move_due_date(conn, code, new_due_at, now)
            self.desk.record(
                "dossier.due_extended",
                person.username,
                code,
                notice_id=notice_id,
                document_id=document_id,
                pending_signature=pending_id,
                old_due_at=row.due_at.isoformat(),
                new_due_at=new_due_at.isoformat(),
                reason=reason[:2000],
            )
            subject = f"Hồ sơ {code}: xin lỗi và hẹn lại ngày trả kết quả"
            body = (
                f"Kính gửi Ông/Bà {row.applicant_name},\n\n"
                f"{agency.name} thành thật xin lỗi vì hồ sơ {code} ({proc.name}) không được giải quyết "
                f"đúng hẹn ({_vn(row.due_at)}).\n"
                f"Lý do: {reason}\n"
                f"Thời gian hẹn trả kết quả mới: {_vn(new_due_at)}.\n\n"
                f"{letter} (Mẫu 04) {signed}; "
                f"Ông/Bà có thể tra cứu hồ sơ bằng mã {code}."
            )
            if head_signs:  # told when the letter is signed and sealed, with it
                self.paperwork.defer_message(
                    key,
                    subject,
                    body,
                    old_due_at=row.due_at.isoformat(),
                    new_due_at=new_due_at.isoformat(),
                    reason=reason[:2000],
                )
            else:
                notify_applicant(self.outbox, row, subject, body, key)
        log.info("late.apology_issued", dossier=code, new_due_at=new_due_at.isoformat())
        return self.view(self._notice(notice_id))
