"""Tasks and decisions: the officials' task lists, claiming and releasing a step, completing it with a decision.

Who may act on a task is decided here (role, department kinds of the procedure, the agency acting on the current
step); the dossier's own reads and the reference data come from the desk core (:class:`services.shop.OneStopShop`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog

from dossiers import text_rules
from dossiers.calendar import WorkingCalendar
from dossiers.errors import Conflict, Forbidden, InvalidInput, NotFound
from dossiers.lifecycle import Timeliness, timeliness, warning_at
from dossiers.model import OFFICIAL_ROLES, Agency, Person, Procedure, Role, can_act_on_task
from dossiers.ports import TENANT_VARIABLE, Clock, Engine, UserTask
from dossiers.step_times import step_due
from persistence import dossier_records as records
from persistence.uow import Database, transaction
from services.certificates import SigningCertificates
from services.fees import RETURN_ACTIVITY, require_paid
from services.shop import OneStopShop
from workflows.introspect import bpmn_file_for, decision_options, user_tasks_after

SIGNING_ACTIVITIES = frozenset({"sign_result"})  # user tasks completed by a personal signature, not a click
# The process variable naming the agency whose officials act on the current step: the dossier's agency from the
# start (services.intake), the receiver at each joint hand-off (the exchange.send worker); without it (an instance
# started before it was a start variable), the dossier's own agency acts. The engines list user tasks by it.
CURRENT_AGENCY = TENANT_VARIABLE
MAX_TASK_PAGE = 500  # the most tasks one JSON page returns
JOINT_STEP = "joint_step"  # a partner installation's task: the procedure step it stands for (services.receiving)
JOINT_STEP_NAME = "joint_step_name"


log = structlog.get_logger(__name__)


def _bpmn_file(bpmn_dirs: Iterable[Path], process_key: str) -> Path | None:
    return next((p for d in bpmn_dirs if (p := bpmn_file_for(process_key, d)) is not None), None)


def decision_choices(bpmn_dirs: Iterable[Path], process_key: str, activity_id: str) -> dict[str, list[str]]:
    """The decisions a step offers (its outgoing gateway's conditions), read from the process's BPMN file."""
    path = _bpmn_file(bpmn_dirs, process_key)
    if path is None:
        return {}
    return {k: list(v) for k, v in _decision_options(path, path.stat().st_mtime_ns, activity_id).items()}


@lru_cache(maxsize=1024)
def _decision_options(path: Path, _version: int, activity_id: str) -> Mapping[str, Sequence[str]]:
    """Parsed once per file version (its modification time) and step, not once per task shown."""
    return decision_options(path.read_bytes(), activity_id)


def signature_follows(path: Path | None, activity_id: str, variables: Mapping[str, Any]) -> bool:
    """Whether completing ``activity_id`` with ``variables`` can lead to a personal signature step (the one who
    completes it signs next: the prepare step reads ``<activity>_by``)."""
    if path is None:
        return False
    return bool(SIGNING_ACTIVITIES & user_tasks_after(path.read_bytes(), activity_id, variables))


@lru_cache(maxsize=512)
def _signature_follows_decision(path: Path | None, activity_id: str, decision: str | None) -> bool:
    return signature_follows(path, activity_id, {} if decision is None else {"decision": decision})


def task_timeliness(now: dt.datetime, received: dt.datetime, due: dt.datetime, calendar: WorkingCalendar) -> str:
    """early (in time) / soon (past the warning point) / on_time (due today) / late, for an open task."""
    state = timeliness(now, due)
    if state == Timeliness.LATE:
        return "late"
    if state == Timeliness.ON_TIME:
        return "on_time"
    return "soon" if now >= warning_at(calendar, received, due) else "early"


class TaskDesk:
    """The officials' tasks and decisions. ``remote_agencies``: agencies hosted by partner installations (signed
    envelopes), whose steps are worked there, not here."""

    def __init__(
        self,
        desk: OneStopShop,
        db: Database,
        engine: Engine,
        clock: Clock,
        record: Callable[..., None],
        bpmn_dirs: Path | Sequence[Path],
        remote_agencies: frozenset[str] = frozenset(),
        certificates: SigningCertificates | None = None,
    ) -> None:
        self.desk = desk
        self.certificates = certificates  # None: no check of the signer's certificate before approving
        self.db = db
        self.engine = engine
        self.clock = clock
        self.record = record
        self.bpmn_dirs = [bpmn_dirs] if isinstance(bpmn_dirs, Path) else list(bpmn_dirs)
        self.remote_agencies = remote_agencies

    def _task_agency(self, task: UserTask, row: Any = None) -> Agency:
        row = row if row is not None else self.desk.dossier_row(task.business_key)
        acting = task.variables.get(CURRENT_AGENCY) or row.agency_code
        return self.desk.agency(str(acting), on=row.received_at.date())

    def tasks_for(self, person: Person, *, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """The person's tasks in due order; ``offset``/``limit`` count the tasks the person may act on."""
        if offset < 0 or (limit is not None and not 1 <= limit <= MAX_TASK_PAGE):
            raise InvalidInput(
                f"Phân trang không hợp lệ: vị trí bắt đầu từ 0, mỗi trang từ 1 đến {MAX_TASK_PAGE} nhiệm vụ.",
                f"Bad paging: offset from 0, limit from 1 to {MAX_TASK_PAGE}.",
                field="limit" if offset >= 0 else "offset",
            )
        return [view for view, _row, _proc in self._visible(person, offset=offset, limit=limit)]

    def _visible(
        self, person: Person, *, offset: int = 0, limit: int | None = None
    ) -> list[tuple[dict[str, Any], Any, Procedure]]:
        """The tasks the person may act on, each with its dossier row and procedure. The engine returns only the
        open tasks of the person's role in their own agency (``tenant``), in due order, a page at a time; the
        department check runs on that set. The dossiers are read in one query per engine page and each procedure
        (catalogue entry under a rule version) parsed once per list, not per task."""
        if person.role not in OFFICIAL_ROLES:
            raise Forbidden("Chỉ cán bộ mới có danh sách nhiệm vụ.", "Only officials have task lists.")
        procedures: dict[tuple[str, str], Procedure] = {}
        visible: list[tuple[dict[str, Any], Any, Procedure]] = []
        skipped, at = 0, 0
        # enough for the page when every task is the person's department's; more pages only when some are not
        chunk = None if limit is None else max(offset + limit, 50)
        while True:
            # one snapshot for the page: the tasks, their dossiers and procedures (not a transaction each)
            with transaction(self.db, read_only=True) as conn:
                tasks = self.engine.user_tasks(
                    candidate_groups=[person.role.value], tenant=person.agency_code, offset=at, limit=chunk
                )
                rows = records.find_dossiers(conn, [t.business_key for t in tasks])
                for task in tasks:
                    row = rows.get(task.business_key)
                    if row is None:
                        log.warning("task.without_dossier", task=task.id, business_key=task.business_key)
                        continue  # a task of another installation on a shared engine: not this desk's, and not a 404
                    key = (row.procedure_code, row.rule_version or row.received_at.isoformat())
                    proc = procedures.get(key)
                    if proc is None:
                        proc = procedures[key] = self.desk.procedure_of(row)
                    agency = self._task_agency(task, row)
                    if agency.code in self.remote_agencies:
                        continue  # the partner's officials work this step in their own system
                    if not can_act_on_task(
                        person, agency, task.candidate_groups, proc.department_kinds(person.role.value)
                    ):
                        continue
                    if skipped < offset:
                        skipped += 1
                        continue
                    visible.append((self._task_view(task, row, proc), row, proc))
                    if limit is not None and len(visible) >= limit:
                        return visible
                if chunk is None or len(tasks) < chunk:
                    return visible
            at += chunk

    @staticmethod
    def _step_of(task: UserTask) -> str:
        """The procedure step a task stands for: itself, or for a partner's task the step the envelope named."""
        return str(task.variables.get(JOINT_STEP) or task.activity_id)

    def _task_view(self, task: UserTask, row: Any, proc: Procedure) -> dict[str, Any]:
        joint_name = task.variables.get(JOINT_STEP_NAME)
        step = self._step_of(task)
        choices = self.decision_choices(proc.process_key, step)
        return {
            "id": task.id,
            "name": f"{task.name}: {joint_name}" if joint_name else task.name,
            "activity_id": task.activity_id,
            "dossier_code": task.business_key,
            "procedure_code": row.procedure_code,
            "candidate_groups": list(task.candidate_groups),
            "assignee": task.assignee,
            "created_at": task.created_at.isoformat(),
            "due_at": task.due_at.isoformat() if task.due_at else None,  # what the engine holds for the step
            # this step's share of the time limit (dossiers.step_times), never after the dossier's
            "step_due_at": self._step_due(task, row, proc, step).isoformat(),
            "dossier_due_at": row.due_at.isoformat(),  # the dossier's, after pauses and apology letters
            "dossier_status": row.status,
            "decisions": choices,
            "signs_after": self._signature_may_follow(proc.process_key, step, choices.get("decision", [])),
        }

    def _step_due(self, task: UserTask, row: Any, proc: Procedure, step: str) -> dt.datetime:
        role = task.candidate_groups[0] if task.candidate_groups else None
        calendar = self.desk.calendar
        return step_due(proc, step, role, calendar, task.created_at, row.clock_start, row.due_at)

    def _signature_may_follow(self, process_key: str, step: str, decisions: Sequence[str]) -> bool:
        """Some decision of this step leads to a personal signature by whoever completes it."""
        path = _bpmn_file(self.bpmn_dirs, process_key)
        options: list[str | None] = [*decisions] or [None]
        return any(_signature_follows_decision(path, step, d) for d in options)

    def certificate_notice(self, person: Person, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """(Vietnamese, English) of what to do, when this task leads to the person's own signature (or is the
        signing step) and they have no valid certificate; None otherwise."""
        if self.certificates is None or not (row.get("signing") or row.get("signs_after")):
            return None
        status = self.certificates.status(person.username)
        return None if status.valid else status.notice()

    def decision_choices(self, process_key: str, activity_id: str) -> dict[str, list[str]]:
        return decision_choices(self.bpmn_dirs, process_key, activity_id)

    def _authorized_task(self, person: Person, task_id: str) -> UserTask:
        return self._authorized(person, task_id)[0]

    def _authorized(self, person: Person, task_id: str) -> tuple[UserTask, Any, Procedure]:
        """The task the person may act on, with its dossier row and procedure (read once, in one snapshot, for
        the caller to use again rather than read them a second time)."""
        with transaction(self.db, read_only=True):
            task = self.engine.user_task(task_id)
            if task is None:
                raise NotFound(
                    "Nhiệm vụ không tồn tại hoặc đã hoàn thành.",
                    "Task not found or already completed.",
                    task_id=task_id,
                )
            row = self.desk.dossier_row(task.business_key)
            proc = self.desk.procedure_of(row)
        kinds = proc.department_kinds(person.role.value)
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
        return task, row, proc

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
        task, row, proc = self._authorized(person, task_id)
        if task.assignee is not None and task.assignee != person.username:
            raise Conflict(f"Nhiệm vụ đang do {task.assignee} xử lý.", f"Task is claimed by {task.assignee}.")
        if task.activity_id in SIGNING_ACTIVITIES:
            raise Conflict(
                "Bước này hoàn thành bằng chữ ký số trên thiết bị của người ký (POST /api/signatures/{id}).",
                "This step is completed by a signature from the signer's device (POST /api/signatures/{id}).",
                task_id=task_id,
            )
        if task.activity_id == RETURN_ACTIVITY:
            # the fee before the result is handed over (409 motcua.fee_not_paid)
            require_paid(self.db, self.desk, task.business_key)
        choices = self.decision_choices(proc.process_key, self._step_of(task))
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
        if self.certificates is not None and signature_follows(
            _bpmn_file(self.bpmn_dirs, proc.process_key),
            self._step_of(task),
            {**task.variables, **variables},
        ):
            # the next step prepares this person's signature: refuse now rather than fail there (409)
            self.certificates.require_valid(person.username)
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

    # ------------------------------------------------------------------ what the pages read

    def task_rows(self, person: Person) -> list[dict[str, Any]]:
        """The tasks the person may act on, each with its dossier's procedure, applicant, dates and timeliness."""
        now = self.clock.now()
        rows = []
        for task, row, proc in self._visible(person):
            due = dt.datetime.fromisoformat(task["step_due_at"])  # the list judges each task by its own step
            started = dt.datetime.fromisoformat(task["created_at"])
            rows.append(
                task
                | {
                    "procedure_name": proc.name,
                    "applicant_name": row.applicant_name,
                    "received_at": row.received_at,
                    "due": due,
                    "dossier_due": row.due_at,
                    "timeliness": task_timeliness(now, started, due, self.desk.calendar),
                    "mine": task["assignee"] == person.username,
                    "signing": task["activity_id"] in SIGNING_ACTIVITIES,
                }
            )
        return rows

    def list_tasks(
        self,
        person: Person,
        *,
        keep: Callable[[dict[str, Any]], bool],
        order_by: str,
        descending: bool,
        page: str,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """All the person's task rows and those shown (kept, sorted by ``order_by`` then dossier code). The shown
        rows carry their applicants' names: recorded as ``dossier.listed`` (Decree 13/2023)."""
        everything = self.task_rows(person)
        shown = [r for r in everything if keep(r)]
        shown.sort(key=lambda r: (r[order_by], r["dossier_code"]), reverse=descending)
        if shown:
            self.record("dossier.listed", person.username, None, codes=[r["dossier_code"] for r in shown], page=page)
        return everything, shown
