"""Moving in-flight process instances from the embedded engine to Operaton (``motcua engine migrate``).

Read side: every embedded instance that is ``running`` (or already ``migrated``, to report it) with its business
key, process key, variables and current wait states — open user tasks (with their assignee), pending external
tasks (locked or not: a locked one restarts fresh on Operaton), waiting catch events (the supplement message,
intermediate timers). The serialized SpiffWorkflow state is the authority for *which* activities wait; the
mirror tables (``wf_user_task``, ``wf_external_task``, ``wf_timer``) add assignees, locks and timer due dates.

Write side, per instance, inside one database transaction that holds the instance row:

1. skip it when Operaton already has an instance under its business key (running or completed) — a re-run
   after an interruption only finishes the embedded side;
2. ``POST /process-definition/key/{key}/start`` with the variables and one ``startBeforeActivity`` instruction
   per wait state (``skipCustomListeners``/``skipIoMappings``; Camunda 7 semantics);
3. check that Operaton waits where the embedded engine waited; give claimed user tasks their assignee back;
   timers attached to re-entered activities are created by Operaton itself from the same variables (a timer the
   embedded engine had already fired is *disarmed* — its due date moved to 9999 — so it does not fire twice);
4. mark the embedded instance ``migrated`` (the embedded engine serves ``running`` instances only), drop its
   task/timer mirror rows, resolve its open incidents, point ``dossier.process_instance_id`` at Operaton and
   append an ``engine.migrated`` audit event — committed together. When any step fails the Operaton instance
   is deleted again (with its history) and the transaction rolls back, so the run can simply be repeated.

History stays where it was written: the audit log and the embedded ``wf_instance.state`` are not copied.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, delete, select, update
from sqlalchemy import Engine as SqlEngine

from dossiers.errors import MotcuaError
from dossiers.ports import TENANT_VARIABLE, AuditEvent, Clock
from persistence.audit_log import SqlAuditLog
from persistence.schema import (
    dossier,
    wf_definition,
    wf_external_task,
    wf_incident,
    wf_instance,
    wf_timer,
    wf_user_task,
)
from persistence.uow import is_sqlite, transaction
from workflows.embedded.spiff import ClockScriptEngine, ExternalServiceTask, load_instance, parse_definition
from workflows.operaton.engine import OperatonEngine
from workflows.operaton.wire import format_time, parse_time, typed_variables

RUNNING = "running"
MIGRATED = "migrated"  # wf_instance.status of an instance that now runs on Operaton
DISARMED = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)  # due date of a timer that already fired on the embedded engine

WaitKind = Literal["user_task", "external_task", "message", "timer"]
Outcome = Literal["migrated", "would migrate", "skipped", "failed"]


class MigrationError(RuntimeError):
    """One instance could not be recreated on Operaton (the message says why)."""


@dataclass(frozen=True)
class WaitState:
    """Where an embedded instance waits: one ``startBeforeActivity`` on Operaton."""

    activity_id: str
    kind: WaitKind
    assignee: str | None = None  # user task: who claimed it
    locked_by: str | None = None  # external task: the worker that held it (it restarts fresh)
    detail: str = ""  # topic, message name, …

    def describe(self) -> str:
        text = self.activity_id
        if self.assignee:
            text += f" (assignee {self.assignee})"
        if self.locked_by:
            text += f" (was locked by {self.locked_by}: restarts)"
        return text


@dataclass(frozen=True)
class EmbeddedInstance:
    id: str
    business_key: str
    process_key: str
    status: str
    revision: int
    variables: dict[str, Any]
    waits: tuple[WaitState, ...]
    timers: dict[str, dt.datetime]  # activity id of a pending timer → its due date
    problems: tuple[str, ...] = ()  # wait states that cannot be recreated

    @property
    def activities(self) -> str:
        return ", ".join(w.describe() for w in self.waits) or "-"


@dataclass(frozen=True)
class MigrationResult:
    business_key: str
    process_key: str
    activities: str
    outcome: Outcome
    detail: str = ""
    operaton_id: str | None = None

    def line(self) -> str:
        return f"{self.business_key}  {self.activities}  {self.outcome}{': ' + self.detail if self.detail else ''}"


@dataclass
class MigrationReport:
    dry_run: bool
    deployed: list[str] = field(default_factory=list)
    results: list[MigrationResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def summary(self) -> str:
        parts = [f"{n} {o}" for o in ("migrated", "would migrate", "skipped", "failed") if (n := self.count(o))]
        return f"{len(self.results)} instance(s): " + (", ".join(parts) or "nothing to do")

    def lines(self) -> list[str]:
        return [*(r.line() for r in self.results), self.summary()]


# ---------------------------------------------------------------- reading the embedded engine


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(data), default=str))  # type: ignore[no-any-return]


def _variables(workflow: Any) -> dict[str, Any]:
    """The instance's variables as the embedded engine reports them (data of the waiting tasks, merged)."""
    merged: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged.update(workflow.last_task.data)
    return _jsonable(merged)


def _wait_states(
    workflow: Any, users: Mapping[str, Any], externals: Mapping[str, Any]
) -> tuple[list[WaitState], list[str]]:
    waits: list[WaitState] = []
    problems: list[str] = []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        spec = task.task_spec
        activity = str(spec.bpmn_id)
        event = getattr(spec, "event_definition", None)
        kind_name = type(spec).__name__
        if task.state == TaskState.READY and isinstance(spec, ExternalServiceTask):
            row = externals.get(str(task.id))
            locked = row.worker_id if row is not None and row.worker_id else None
            waits.append(WaitState(activity, "external_task", locked_by=locked, detail=row.topic if row else ""))
        elif task.state == TaskState.READY and getattr(spec, "manual", False):
            row = users.get(str(task.id))
            waits.append(WaitState(activity, "user_task", assignee=row.assignee if row is not None else None))
        elif kind_name == "BoundaryEvent":
            continue  # Operaton creates it again when the activity it is attached to is entered
        elif task.state == TaskState.WAITING and kind_name == "IntermediateCatchEvent":
            if isinstance(event, MessageEventDefinition):
                waits.append(WaitState(activity, "message", detail=event.name))
            elif isinstance(event, TimerEventDefinition):
                waits.append(WaitState(activity, "timer"))
            else:
                problems.append(f"{activity}: unsupported catch event {type(event).__name__}")
        elif spec.bpmn_id is not None:
            problems.append(f"{activity}: unsupported wait state {kind_name} ({TaskState.get_name(task.state)})")
    return waits, problems


def read_embedded(db: SqlEngine, clock: Clock, business_keys: Iterable[str] | None = None) -> list[EmbeddedInstance]:
    """The embedded engine's running (and already migrated) instances, oldest first."""
    wanted = set(business_keys) if business_keys is not None else None
    definitions: dict[str, Any] = {}
    found: list[EmbeddedInstance] = []
    script_engine = ClockScriptEngine(clock.now)
    with db.connect() as conn:
        rows = conn.execute(
            select(wf_instance)
            .where(wf_instance.c.status.in_([RUNNING, MIGRATED]))
            .order_by(wf_instance.c.created_at, wf_instance.c.business_key)
        ).all()
        for row in rows:
            if wanted is not None and row.business_key not in wanted:
                continue
            if row.definition_id not in definitions:
                d = conn.execute(select(wf_definition).where(wf_definition.c.id == row.definition_id)).one()
                definitions[row.definition_id] = parse_definition(
                    d.bpmn_xml.encode("utf-8"), d.process_key, d.source_name
                )
            workflow = load_instance(row.state, definitions[row.definition_id], script_engine)
            users = {r.id: r for r in conn.execute(select(wf_user_task).where(wf_user_task.c.instance_id == row.id))}
            externals = {
                r.id: r for r in conn.execute(select(wf_external_task).where(wf_external_task.c.instance_id == row.id))
            }
            timers = {
                r.activity_id: r.due_at for r in conn.execute(select(wf_timer).where(wf_timer.c.instance_id == row.id))
            }
            waits, problems = _wait_states(workflow, users, externals)
            if not waits and not problems:
                problems.append("no wait state found")
            found.append(
                EmbeddedInstance(
                    id=row.id,
                    business_key=row.business_key,
                    process_key=row.process_key,
                    status=row.status,
                    revision=row.revision,
                    variables=_variables(workflow),
                    waits=tuple(waits),
                    timers=timers,
                    problems=tuple(problems),
                )
            )
    return found


# ---------------------------------------------------------------- writing to Operaton


def _on_operaton(operaton: OperatonEngine, business_key: str) -> str | None:
    """The id of an Operaton instance under this business key: running, or completed (not one we deleted)."""
    rows = operaton.call("GET", "/process-instance", "process instances", params={"businessKey": business_key})
    if rows:
        return str(rows[0]["id"])
    done = operaton.call(
        "GET", "/history/process-instance", "history", params={"processInstanceBusinessKey": business_key}
    )
    for row in done or []:
        if str(row.get("state", "")).upper() == "COMPLETED":
            return str(row["id"])
    return None


def _waiting_activities(tree: Mapping[str, Any]) -> set[str]:
    """Activity ids of the leaves of ``GET /process-instance/{id}/activity-instances``."""
    found: set[str] = set()
    for transition in tree.get("childTransitionInstances") or []:
        found.add(str(transition.get("activityId")))
    children = tree.get("childActivityInstances") or []
    for child in children:
        found |= _waiting_activities(child) or {str(child.get("activityId"))}
    return found


def _operaton_tasks(operaton: OperatonEngine, instance_id: str) -> list[dict[str, Any]]:
    return list(operaton.call("GET", "/task", "user tasks", params={"processInstanceId": instance_id}) or [])


def _restore_assignees(
    operaton: OperatonEngine, instance_id: str, source: EmbeddedInstance, *, strict: bool = True
) -> list[str]:
    """Give claimed user tasks their assignee back (only tasks Operaton has unassigned). ``strict``: a claimed
    task Operaton does not have is an error (a fresh recreation), otherwise it is ignored (a resumed one)."""
    restored: list[str] = []
    tasks = _operaton_tasks(operaton, instance_id)
    for wait in source.waits:
        if wait.kind != "user_task" or not wait.assignee:
            continue
        for task in tasks:
            if task.get("taskDefinitionKey") == wait.activity_id and not task.get("assignee"):
                operaton.call("POST", f"/task/{task['id']}/assignee", "task assignee", json={"userId": wait.assignee})
                task["assignee"] = wait.assignee
                restored.append(f"{wait.activity_id} → {wait.assignee}")
                break
        else:
            if strict and not any(t.get("taskDefinitionKey") == wait.activity_id for t in tasks):
                raise MigrationError(f"Operaton has no user task {wait.activity_id} to assign")
    return restored


def _align_timers(
    operaton: OperatonEngine, instance_id: str, definition_id: str, source: EmbeddedInstance
) -> list[str]:
    """Timers Operaton created for the re-entered activities: keep the embedded due date; disarm a timer whose
    embedded twin already fired (no pending ``wf_timer`` row), so a deadline warning is not sent twice."""
    jobs = operaton.call("GET", "/job", "timer jobs", params={"processInstanceId": instance_id, "timers": "true"})
    if not jobs:
        return []
    definitions = operaton.call(
        "GET", "/job-definition", "job definitions", params={"processDefinitionId": definition_id}
    )
    activity_of = {d["id"]: str(d.get("activityId") or "") for d in definitions or []}
    notes: list[str] = []
    for job in jobs:
        activity = activity_of.get(job.get("jobDefinitionId") or "", "")
        wanted = source.timers.get(activity)
        due = parse_time(job.get("dueDate"))
        if wanted is None:
            target, note = DISARMED, f"timer {activity} already fired on the embedded engine: disarmed"
        elif due is not None and abs((due - wanted).total_seconds()) < 1:
            continue
        else:
            target, note = wanted, f"timer {activity} due {wanted.isoformat()}"
        operaton.call("PUT", f"/job/{job['id']}/duedate", "timer due date", json={"duedate": format_time(target)})
        notes.append(note)
    return notes


def _discard(operaton: OperatonEngine, instance_id: str) -> None:
    """Undo a half-made recreation: the instance and its history (so a re-run does not take it for done)."""
    try:
        operaton.request(
            "DELETE",
            f"/process-instance/{instance_id}",
            params={"skipCustomListeners": "true", "skipIoMappings": "true", "skipSubprocesses": "true"},
        )
        operaton.request("DELETE", f"/history/process-instance/{instance_id}")
    except MotcuaError:
        pass


def _with_tenant(variables: dict[str, Any]) -> dict[str, Any]:
    """An instance started before the tenant variable existed acts for the dossier's agency: Operaton's task
    query filters on the variable itself (no fallback there), so it is set on the way."""
    if variables.get(TENANT_VARIABLE) or not variables.get("agency_code"):
        return variables
    return variables | {TENANT_VARIABLE: variables["agency_code"]}


def recreate(operaton: OperatonEngine, source: EmbeddedInstance) -> tuple[str, list[str]]:
    """Start ``source`` on Operaton at its wait states; returns the new instance id and notes. On failure nothing
    is left behind on Operaton."""
    body = {
        "businessKey": source.business_key,
        "variables": typed_variables(_with_tenant(source.variables)),
        "startInstructions": [{"type": "startBeforeActivity", "activityId": w.activity_id} for w in source.waits],
        "skipCustomListeners": True,
        "skipIoMappings": True,
    }
    started = operaton.call(
        "POST", f"/process-definition/key/{source.process_key}/start", f"start of {source.process_key}", json=body
    )
    instance_id = str(started["id"])
    try:
        tree = operaton.call("GET", f"/process-instance/{instance_id}/activity-instances", "activity instances")
        waiting = _waiting_activities(tree or {})
        missing = sorted({w.activity_id for w in source.waits} - waiting)
        if missing:
            raise MigrationError(f"Operaton does not wait at {', '.join(missing)} (it waits at {sorted(waiting)})")
        notes = _restore_assignees(operaton, instance_id, source)
        notes += _align_timers(operaton, instance_id, str(started.get("definitionId") or ""), source)
    except BaseException:
        _discard(operaton, instance_id)
        raise
    return instance_id, notes


# ---------------------------------------------------------------- marking the embedded side


def _lock_instance(conn: Connection, db: SqlEngine, instance_id: str) -> Any:
    query = select(wf_instance).where(wf_instance.c.id == instance_id)
    if not is_sqlite(db):
        query = query.with_for_update()
    return conn.execute(query).first()


def _mark_migrated(
    conn: Connection,
    db: SqlEngine,
    clock: Clock,
    source: EmbeddedInstance,
    operaton_id: str,
    actor: str,
    notes: list[str],
) -> None:
    now = clock.now()
    conn.execute(update(wf_instance).where(wf_instance.c.id == source.id).values(status=MIGRATED, updated_at=now))
    for table in (wf_user_task, wf_external_task, wf_timer):
        conn.execute(delete(table).where(table.c.instance_id == source.id))
    conn.execute(
        update(wf_incident)
        .where(wf_incident.c.instance_id == source.id, wf_incident.c.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    conn.execute(update(dossier).where(dossier.c.code == source.business_key).values(process_instance_id=operaton_id))
    SqlAuditLog(db).append(
        AuditEvent(
            "engine.migrated",
            actor,
            now,
            source.business_key,
            {
                "from": "embedded",
                "to": "operaton",
                "embedded_instance_id": source.id,
                "operaton_instance_id": operaton_id,
                "process_key": source.process_key,
                "activities": [w.activity_id for w in source.waits],
                "notes": notes,
            },
        )
    )


def _migrate_one(
    db: SqlEngine, operaton: OperatonEngine, clock: Clock, source: EmbeddedInstance, actor: str
) -> MigrationResult:
    def result(outcome: Outcome, detail: str = "", operaton_id: str | None = None) -> MigrationResult:
        return MigrationResult(source.business_key, source.process_key, source.activities, outcome, detail, operaton_id)

    existing = _on_operaton(operaton, source.business_key)
    if source.status == MIGRATED:
        return result("skipped", "already migrated", existing)
    try:
        with transaction(db) as conn:
            row = _lock_instance(conn, db, source.id)
            if row is None or row.status != RUNNING or row.revision != source.revision:
                return result("failed", "the embedded instance changed during the migration (stop serve/workers)")
            if existing is not None:
                # an earlier run was interrupted after Operaton started it: finish the embedded side only
                notes = _restore_assignees(operaton, existing, source, strict=False)
                _mark_migrated(conn, db, clock, source, existing, actor, ["resumed after an interruption", *notes])
                return result("skipped", "already on Operaton; embedded instance marked migrated", existing)
            if source.problems:
                return result("failed", "; ".join(source.problems))
            operaton_id, notes = recreate(operaton, source)
            try:
                _mark_migrated(conn, db, clock, source, operaton_id, actor, notes)
            except BaseException:
                _discard(operaton, operaton_id)
                raise
            return result("migrated", "; ".join(notes), operaton_id)
    except (MotcuaError, MigrationError) as exc:
        message = exc.message_en if isinstance(exc, MotcuaError) else str(exc)
        return result("failed", message)


def migrate_to_operaton(
    db: SqlEngine,
    operaton: OperatonEngine,
    clock: Clock,
    *,
    dry_run: bool = False,
    actor: str = "cli",
    business_keys: Iterable[str] | None = None,
    progress: Callable[[MigrationResult], None] | None = None,
) -> MigrationReport:
    """Recreate the embedded engine's in-flight instances on Operaton (see the module docstring).

    ``dry_run``: read both sides, deploy nothing, change nothing, report what would happen."""
    report = MigrationReport(dry_run=dry_run)
    instances = read_embedded(db, clock, business_keys)
    if not dry_run:
        report.deployed = operaton.deploy()
    for source in instances:
        if dry_run:
            existing = _on_operaton(operaton, source.business_key)
            if source.status == MIGRATED:
                outcome: MigrationResult = MigrationResult(
                    source.business_key, source.process_key, source.activities, "skipped", "already migrated", existing
                )
            elif existing is not None:
                outcome = MigrationResult(
                    source.business_key,
                    source.process_key,
                    source.activities,
                    "skipped",
                    "already on Operaton",
                    existing,
                )
            elif source.problems:
                outcome = MigrationResult(
                    source.business_key, source.process_key, source.activities, "failed", "; ".join(source.problems)
                )
            else:
                outcome = MigrationResult(source.business_key, source.process_key, source.activities, "would migrate")
        else:
            outcome = _migrate_one(db, operaton, clock, source, actor)
        report.results.append(outcome)
        if progress is not None:
            progress(outcome)
    return report
