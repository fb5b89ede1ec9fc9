"""The embedded engine: SpiffWorkflow persisted in the application database (DESIGN §4).

One *engine step* = lock the instance row → restore its state (the parsed spec is cached per definition)
→ apply one command → run until the process waits → save the state and, in the same transaction, mirror
its waiting tasks into ``wf_external_task``, ``wf_user_task`` and ``wf_timer`` rows. Workers fetch and lock
external-task rows outside the instance lock and come back with a new engine step. Because a completion
deletes the row in the same transaction that advances the instance, each external task completes once.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, and_, bindparam, delete, false, func, insert, literal, or_, select, union_all, update
from sqlalchemy import Engine as SqlEngine

from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.ports import (
    TENANT_VARIABLE,
    ActivityStates,
    Clock,
    ExternalTask,
    Incident,
    JsonValue,
    ProcessInstance,
    UserTask,
)
from persistence.schema import wf_definition, wf_external_task, wf_incident, wf_instance, wf_timer, wf_user_task
from persistence.uow import is_sqlite, transaction
from workflows.embedded.spiff import (
    ClockScriptEngine,
    ExternalServiceTask,
    ParsedDefinition,
    dump_instance,
    load_instance,
    new_instance,
    parse_definition,
    sha256_hex,
)
from workflows.introspect import process_ids
from workflows.refusals import (
    external_task_gone,
    external_task_taken,
    external_task_unknown,
    no_deployed_process,
    no_running_process,
    not_waiting_for_message,
    user_task_gone,
    user_task_taken,
)

log = structlog.get_logger(__name__)
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
CANCELLED = "cancelled"  # wf_instance.status of an instance ended where it was (Engine.cancel)
_PRUNABLE = ("completed", CANCELLED)  # the statuses of a finished instance whose state may be pruned

# An engine step's statements, built once: SQLAlchemy's compiled cache then serves them without building and
# coercing the expression again at every step.
_INSTANCE = select(wf_instance).where(wf_instance.c.id == bindparam("instance_id"))
_INSTANCE_FOR_UPDATE = _INSTANCE.with_for_update()
_SAVE_INSTANCE = update(wf_instance).where(wf_instance.c.id == bindparam("instance_id"))
_MIRRORS = (wf_external_task, wf_user_task, wf_timer)  # the tables that mirror an instance's waiting tasks
# the ids each mirror table holds for an instance, in one round trip instead of one per table
_MIRRORED_IDS = union_all(
    *(
        select(literal(table.name).label("mirror"), table.c.id).where(table.c.instance_id == bindparam("instance_id"))
        for table in _MIRRORS
    )
)
_INSERT_MIRROR = {table.name: insert(table) for table in _MIRRORS}
# a task's completion reads its instance row with the task, in one statement (both locked on PostgreSQL)
_USER_TASK_INSTANCE = (
    select(wf_instance)
    .join_from(wf_user_task, wf_instance, wf_instance.c.id == wf_user_task.c.instance_id)
    .where(wf_user_task.c.id == bindparam("task_id"))
)
_USER_TASK_INSTANCE_FOR_UPDATE = _USER_TASK_INSTANCE.with_for_update()
_EXTERNAL_TASK_INSTANCE = (
    select(wf_instance, wf_external_task.c.worker_id.label("task_worker_id"))
    .join_from(wf_external_task, wf_instance, wf_instance.c.id == wf_external_task.c.instance_id)
    .where(wf_external_task.c.id == bindparam("task_id"))
)
_EXTERNAL_TASK_INSTANCE_FOR_UPDATE = _EXTERNAL_TASK_INSTANCE.with_for_update()
_EXTERNAL_TASK_LOCK = select(
    wf_external_task.c.instance_id,
    wf_external_task.c.business_key,
    wf_external_task.c.activity_id,
    wf_external_task.c.worker_id,
).where(wf_external_task.c.id == bindparam("task_id"))
_EXTERNAL_TASK_LOCK_FOR_UPDATE = _EXTERNAL_TASK_LOCK.with_for_update()
# fetch-and-lock in one statement: the due tasks' ids (oldest first, at most max_tasks; on PostgreSQL skipping rows
# another worker is locking) locked to the worker, their rows returned
_FETCHABLE = (
    select(wf_external_task.c.id)
    .where(
        wf_external_task.c.topic.in_(bindparam("topics", expanding=True)),
        or_(wf_external_task.c.retries.is_(None), wf_external_task.c.retries > 0),
        wf_external_task.c.available_at <= bindparam("now"),
        or_(wf_external_task.c.worker_id.is_(None), wf_external_task.c.lock_expires_at <= bindparam("now")),
    )
    .order_by(wf_external_task.c.created_at, wf_external_task.c.id)
    .limit(bindparam("max_tasks"))
)
_FETCH_COLUMNS = (
    wf_external_task.c.id,
    wf_external_task.c.topic,
    wf_external_task.c.activity_id,
    wf_external_task.c.instance_id,
    wf_external_task.c.business_key,
    wf_external_task.c.variables,
    wf_external_task.c.retries,
    wf_external_task.c.created_at,
)
_FETCH_AND_LOCK = update(wf_external_task).where(wf_external_task.c.id.in_(_FETCHABLE)).returning(*_FETCH_COLUMNS)
_FETCH_AND_LOCK_SKIP_LOCKED = (
    update(wf_external_task)
    .where(wf_external_task.c.id.in_(_FETCHABLE.with_for_update(skip_locked=True)))
    .returning(*_FETCH_COLUMNS)
)
_USER_TASK = select(wf_user_task).where(wf_user_task.c.id == bindparam("task_id"))
_CLAIM = update(wf_user_task).where(
    wf_user_task.c.id == bindparam("task_id"),
    or_(wf_user_task.c.assignee.is_(None), wf_user_task.c.assignee == bindparam("user")),
)


class ProcessError(InvalidInput):
    """The process could not advance with the given input (e.g. no gateway path matches)."""

    code = "motcua.process_error"


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(data), default=str))  # type: ignore[no-any-return]


def _like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '\\' (a group named ``specialist_x`` is not ``specialistyx``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _activity_ids(tasks: Iterable[Any]) -> tuple[str, ...]:
    """The BPMN ids of tasks, in order (SpiffWorkflow's own tasks, the root and the end, have none)."""
    return tuple(bpmn_id for t in tasks if (bpmn_id := getattr(t.task_spec, "bpmn_id", None)))


class EmbeddedEngine:
    """The ``Engine`` port on SpiffWorkflow and SQLAlchemy (SQLite by default, PostgreSQL too)."""

    shares_database = True  # engine steps run in the caller's transaction (persistence.uow.transaction)

    def __init__(
        self,
        db: SqlEngine,
        clock: Clock,
        bpmn_dirs: Iterable[Path],
        tenant_variables: Sequence[str] = (TENANT_VARIABLE, "agency_code"),
    ) -> None:
        """``tenant_variables``: the first of these process variables with a value is a user task's tenant (kept
        on its row, indexed); ``agency_code`` is what instances started before the tenant variable existed carry."""
        self.db = db
        self.tenant_variables = tuple(tenant_variables)
        self.clock = clock
        self.bpmn_dirs = list(bpmn_dirs)
        self._definitions: dict[str, ParsedDefinition] = {}
        self._sqlite = is_sqlite(db)

    # ------------------------------------------------------------------ deployment

    def deploy(self) -> list[str]:
        """Register every BPMN file; a changed file becomes a new version, an unchanged one is skipped."""
        deployed: list[str] = []
        files = sorted(p for d in self.bpmn_dirs for p in d.glob("*.bpmn"))
        with transaction(self.db) as conn:
            for path in files:
                xml = path.read_bytes()
                digest = sha256_hex(xml)
                for key in process_ids(xml):
                    latest = self._latest(conn, key)
                    if latest is not None and latest.sha256 == digest:
                        continue
                    parse_definition(xml, key, path.name)  # refuse to deploy what does not parse
                    version = 1 if latest is None else latest.version + 1
                    conn.execute(
                        insert(wf_definition).values(
                            id=f"{key}:{version}",
                            process_key=key,
                            version=version,
                            sha256=digest,
                            source_name=path.name,
                            bpmn_xml=xml.decode("utf-8"),
                            deployed_at=self.clock.now(),
                        )
                    )
                    deployed.append(f"{key}:{version}")
        return deployed

    @staticmethod
    def _latest(conn: Connection, process_key: str) -> Any:
        """The newest deployed version of a process (its ``wf_definition`` row), or None."""
        return conn.execute(
            select(wf_definition)
            .where(wf_definition.c.process_key == process_key)
            .order_by(wf_definition.c.version.desc())
            .limit(1)
        ).first()

    def definition_xml(self, process_key: str, business_key: str | None = None) -> bytes | None:
        with transaction(self.db) as conn:
            row = None
            if business_key is not None:
                row = conn.execute(
                    select(wf_definition.c.bpmn_xml)
                    .join(wf_instance, wf_instance.c.definition_id == wf_definition.c.id)
                    .where(wf_instance.c.business_key == business_key, wf_definition.c.process_key == process_key)
                ).first()
            if row is None:
                row = self._latest(conn, process_key)
        return None if row is None else str(row.bpmn_xml).encode("utf-8")

    def _definition(self, conn: Connection, definition_id: str) -> ParsedDefinition:
        cached = self._definitions.get(definition_id)
        if cached is None:
            row = conn.execute(select(wf_definition).where(wf_definition.c.id == definition_id)).one()
            cached = parse_definition(row.bpmn_xml.encode("utf-8"), row.process_key, row.source_name)
            self._definitions[definition_id] = cached
        return cached

    def _script_engine(self, now: dt.datetime | None = None) -> ClockScriptEngine:
        fixed = now
        return ClockScriptEngine(lambda: fixed if fixed is not None else self.clock.now())

    # ------------------------------------------------------------------ instances

    def start(self, process_key: str, business_key: str, variables: Mapping[str, JsonValue]) -> str:
        with transaction(self.db) as conn:
            existing = conn.execute(select(wf_instance.c.id).where(wf_instance.c.business_key == business_key)).first()
            if existing is not None:
                return str(existing.id)
            definition_row = self._latest(conn, process_key)
            if definition_row is None:
                raise no_deployed_process(process_key)
            definition = self._definition(conn, definition_row.id)
            instance_id = str(uuid.uuid4())
            workflow = new_instance(definition, self._script_engine())
            workflow.task_tree.data.update(_jsonable(variables))
            self._run(workflow)
            now = self.clock.now()
            conn.execute(
                insert(wf_instance).values(
                    id=instance_id,
                    definition_id=definition_row.id,
                    process_key=process_key,
                    business_key=business_key,
                    status="running",
                    state="{}",
                    revision=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            self._save(conn, instance_id, business_key, definition, workflow, revision=0)
            log.info("process.started", process_key=process_key, business_key=business_key)
            return instance_id

    def instance(self, business_key: str) -> ProcessInstance | None:
        """A pruned instance (see :meth:`prune_finished`) answers without its variables: its history is the audit
        log's."""
        with transaction(self.db, read_only=True) as conn:
            pruned = self._pruned(conn, business_key)
            found = None if pruned is not None else self._by_business_key(conn, business_key)
        if pruned is not None:
            return ProcessInstance(pruned.id, pruned.process_key, pruned.business_key, pruned.status, {})
        if found is None:
            return None
        row, workflow = found
        return ProcessInstance(
            id=row.id,
            process_key=row.process_key,
            business_key=row.business_key,
            state=row.status,
            variables=_jsonable(self._variables(workflow)),
        )

    def activity_states(self, business_key: str) -> ActivityStates | None:
        """From the instance's task tree (whatever its status: running, completed or migrated), or from the summary
        a pruned instance keeps."""
        with transaction(self.db, read_only=True) as conn:
            pruned = self._pruned(conn, business_key)
            found = None if pruned is not None else self._by_business_key(conn, business_key)
        if pruned is not None:
            return ActivityStates(current=(), completed=tuple((pruned.summary or {}).get("completed") or ()))
        if found is None:
            return None
        row, workflow = found
        waiting = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
        return ActivityStates(
            current=() if row.status == CANCELLED else _activity_ids(waiting),
            completed=_activity_ids(workflow.get_tasks(state=TaskState.COMPLETED)),
        )

    def _by_business_key(self, conn: Connection, business_key: str) -> tuple[Any, Any] | None:
        """The instance of a business key (its ``wf_instance`` row) and its workflow as saved, or None."""
        row = conn.execute(select(wf_instance).where(wf_instance.c.business_key == business_key)).first()
        if row is None:
            return None
        _definition, workflow = self._restore(conn, row)
        return row, workflow

    def _restore(self, conn: Connection, row: Any, now: dt.datetime | None = None) -> tuple[ParsedDefinition, Any]:
        """An instance's definition and its workflow as saved (``row``: its ``wf_instance`` row)."""
        definition = self._definition(conn, row.definition_id)
        return definition, load_instance(row.state, definition, self._script_engine(now))

    @staticmethod
    def _variables(workflow: Any) -> dict[str, Any]:
        if workflow.is_completed():
            return dict(workflow.data or (workflow.last_task.data if workflow.last_task else {}))
        merged: dict[str, Any] = {}
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            merged.update(task.data)
        if not merged and workflow.last_task is not None:
            merged.update(workflow.last_task.data)
        return merged

    @staticmethod
    def _run(workflow: Any) -> None:
        try:
            workflow.do_engine_steps()
        except (SpiffWorkflowException, KeyError, ValueError) as exc:
            raise ProcessError(
                f"Quy trình không thể tiếp tục: {exc}",
                f"The process cannot continue: {exc}",
            ) from exc

    def _step(
        self,
        conn: Connection,
        instance_id: str,
        command: Callable[[Any], None],
        now: dt.datetime | None = None,
        row: Any = None,
    ) -> None:
        """``row``: the instance's ``wf_instance`` row when the caller read (and locked) it already."""
        if row is None:
            query = _INSTANCE if self._sqlite else _INSTANCE_FOR_UPDATE
            row = conn.execute(query, {"instance_id": instance_id}).first()
        if row is None:
            raise NotFound("Không tìm thấy quy trình.", "Process instance not found.", instance_id=instance_id)
        if row.status != "running":
            raise Conflict("Quy trình đã kết thúc.", "The process instance has already ended.", instance_id=instance_id)
        definition, workflow = self._restore(conn, row, now)
        command(workflow)
        self._run(workflow)
        self._save(conn, instance_id, row.business_key, definition, workflow, revision=row.revision + 1)

    def _save(
        self,
        conn: Connection,
        instance_id: str,
        business_key: str,
        definition: ParsedDefinition,
        workflow: Any,
        revision: int,
    ) -> None:
        now = self.clock.now()
        completed = workflow.is_completed()
        conn.execute(
            _SAVE_INSTANCE,
            {
                "instance_id": instance_id,
                "state": dump_instance(workflow),
                "status": "completed" if completed else "running",
                "revision": revision,
                "updated_at": now,
                "finished_at": now if completed else None,
            },
        )
        externals: dict[str, dict[str, Any]] = {}
        users: dict[str, dict[str, Any]] = {}
        timers: dict[str, dict[str, Any]] = {}
        if not completed:
            for task in workflow.get_tasks(state=TaskState.READY):
                spec = task.task_spec
                attrs = definition.activities.get(spec.bpmn_id)
                if isinstance(spec, ExternalServiceTask):
                    if attrs is None or not attrs.topic:
                        raise ProcessError(
                            f"Tác vụ dịch vụ {spec.bpmn_id} không có topic.",
                            f"Service task {spec.bpmn_id} has no camunda:topic.",
                        )
                    externals[str(task.id)] = {
                        "topic": attrs.topic,
                        "activity_id": spec.bpmn_id,
                        "variables": _jsonable(task.data),
                    }
                elif spec.manual:
                    groups = attrs.candidate_groups if attrs else ()
                    users[str(task.id)] = {
                        "activity_id": spec.bpmn_id,
                        "name": attrs.name if attrs else spec.bpmn_id,
                        "candidate_groups": ",".join(groups),
                        "candidate_group": groups[0] if len(groups) == 1 else None,
                        "tenant": self._tenant(task.data),
                        "variables": _jsonable(task.data),
                        "due_at": self._due(attrs.due_date if attrs else None, task.data),
                    }
            for task in workflow.get_tasks(state=TaskState.WAITING):
                value = task._get_internal_data("event_value")
                if value is not None and getattr(task.task_spec, "event_definition", None) is not None:
                    due = dt.datetime.fromisoformat(str(value))
                    timers[str(task.id)] = {"activity_id": task.task_spec.bpmn_id, "due_at": due}
        mirrored: dict[str, set[str]] = {table.name: set() for table in _MIRRORS}
        for mirror, task_id in conn.execute(_MIRRORED_IDS, {"instance_id": instance_id}):
            mirrored[mirror].add(task_id)
        self._sync(
            conn,
            wf_external_task,
            mirrored[wf_external_task.name],
            instance_id,
            externals,
            business_key=business_key,
            available_at=now,
            created_at=now,
            retries=None,
        )
        self._sync(
            conn,
            wf_user_task,
            mirrored[wf_user_task.name],
            instance_id,
            users,
            business_key=business_key,
            created_at=now,
        )
        self._sync(conn, wf_timer, mirrored[wf_timer.name], instance_id, timers)
        if completed:
            conn.execute(
                update(wf_incident)
                .where(wf_incident.c.instance_id == instance_id, wf_incident.c.resolved_at.is_(None))
                .values(resolved_at=now)
            )

    def _tenant(self, data: Mapping[str, Any]) -> str | None:
        found = next((data[name] for name in self.tenant_variables if data.get(name)), None)
        return None if found is None else str(found)

    @staticmethod
    def _due(expression: str | None, data: Mapping[str, Any]) -> dt.datetime | None:
        if not expression:
            return None
        text = expression.strip()
        if text.startswith("${") and text.endswith("}"):
            value = data.get(text[2:-1].strip())
            if value is None:
                return None
            text = str(value)
        moment = dt.datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    @staticmethod
    def _sync(
        conn: Connection,
        table: Any,
        existing: set[str],
        instance_id: str,
        wanted: Mapping[str, Mapping[str, Any]],
        **columns: Any,
    ) -> None:
        """Make the instance's rows of a mirror table (``existing``: the ids it holds) the ``wanted`` ones: rows no
        longer wanted go, new ones are inserted with ``columns``; a row still wanted is left as it is (its lock,
        assignee or retries stay). Nothing is written for a table whose rows are already the wanted ones."""
        gone = existing - wanted.keys()
        if gone:
            conn.execute(delete(table).where(table.c.id.in_(sorted(gone))))
        new = [
            {"id": task_id, "instance_id": instance_id, **columns, **info}
            for task_id, info in wanted.items()
            if task_id not in existing
        ]
        if new:
            conn.execute(_INSERT_MIRROR[table.name], new)

    # ------------------------------------------------------------------ pruning finished instances

    @staticmethod
    def _pruned(conn: Connection, business_key: str) -> Any:
        """The ``wf_instance`` row of a business key whose state was pruned, or None."""
        return conn.execute(
            select(
                wf_instance.c.id,
                wf_instance.c.process_key,
                wf_instance.c.business_key,
                wf_instance.c.status,
                wf_instance.c.summary,
            ).where(wf_instance.c.business_key == business_key, wf_instance.c.pruned_at.is_not(None))
        ).first()

    def prune_finished(self, finished_before: dt.datetime, batch: int = 100) -> int:
        """Drop the SpiffWorkflow state (~10 KB) of instances that completed before ``finished_before``, keeping
        the ids of their completed activities (the diagram's visited steps); their history is the audit log's.
        Reads only due rows (``ix_wf_instance_prune``), ``batch`` at most, each in its own short transaction.
        Returns how many were pruned."""
        t = wf_instance
        with transaction(self.db, read_only=True) as conn:
            due = conn.execute(
                select(t.c.id)
                .where(t.c.pruned_at.is_(None), t.c.finished_at <= finished_before, t.c.status.in_(_PRUNABLE))
                .order_by(t.c.finished_at)
                .limit(batch)
            ).all()
        pruned = 0
        for (instance_id,) in due:
            with transaction(self.db) as conn:
                row = conn.execute(select(t).where(t.c.id == instance_id, t.c.pruned_at.is_(None))).first()
                if row is None or row.status not in _PRUNABLE:
                    continue  # another process pruned it meanwhile
                _definition, workflow = self._restore(conn, row)
                completed = _activity_ids(workflow.get_tasks(state=TaskState.COMPLETED))
                conn.execute(
                    update(t)
                    .where(t.c.id == instance_id, t.c.pruned_at.is_(None))
                    .values(state="", summary={"completed": list(completed)}, pruned_at=self.clock.now())
                )
                pruned += 1
        if pruned:
            log.info("process.state_pruned", instances=pruned)
        return pruned

    # ------------------------------------------------------------------ external tasks

    def fetch_and_lock(
        self, worker_id: str, topics: Sequence[str], max_tasks: int, lock_seconds: float, wait_seconds: float = 0.0
    ) -> list[ExternalTask]:
        """No long polling here (``wait_seconds`` is ignored): idle workers sleep between fetches."""
        now = self.clock.now()
        until = now + dt.timedelta(seconds=lock_seconds)
        with transaction(self.db) as conn:
            statement = _FETCH_AND_LOCK if self._sqlite else _FETCH_AND_LOCK_SKIP_LOCKED
            parameters = {
                "topics": list(topics),
                "now": now,
                "max_tasks": max_tasks,
                "worker_id": worker_id,
                "lock_expires_at": until,
            }
            rows = sorted(conn.execute(statement, parameters).all(), key=lambda r: (r.created_at, r.id))
            return [
                ExternalTask(
                    id=r.id,
                    topic=r.topic,
                    activity_id=r.activity_id,
                    instance_id=r.instance_id,
                    business_key=r.business_key,
                    variables=r.variables,
                    retries=r.retries,
                    worker_id=worker_id,
                    lock_expires_at=until,
                )
                for r in rows
            ]

    def _locked_row(self, conn: Connection, task_id: str, worker_id: str) -> Any:
        """The external task's instance, business key, activity and worker, locked (a few columns: its variables
        are not needed to complete, extend or fail it)."""
        query = _EXTERNAL_TASK_LOCK if self._sqlite else _EXTERNAL_TASK_LOCK_FOR_UPDATE
        row = conn.execute(query, {"task_id": task_id}).first()
        if row is None:
            raise external_task_gone(task_id)
        if row.worker_id != worker_id:
            raise external_task_taken(row.worker_id, task_id)
        return row

    def complete_external_task(self, task_id: str, worker_id: str, variables: Mapping[str, JsonValue]) -> None:
        with transaction(self.db) as conn:
            # the task and its instance in one read, both locked (the task row first decides who may complete it)
            query = _EXTERNAL_TASK_INSTANCE if self._sqlite else _EXTERNAL_TASK_INSTANCE_FOR_UPDATE
            row = conn.execute(query, {"task_id": task_id}).first()
            if row is None:
                raise external_task_gone(task_id)
            if row.task_worker_id != worker_id:
                raise external_task_taken(row.task_worker_id, task_id)
            data = _jsonable(variables)

            def command(workflow: Any) -> None:
                task = workflow.get_task_from_id(uuid.UUID(task_id))
                task.data.update(data)
                task.run()

            self._step(conn, row.id, command, row=row)

    def extend_lock(self, task_id: str, worker_id: str, lock_seconds: float) -> None:
        with transaction(self.db) as conn:
            self._locked_row(conn, task_id, worker_id)
            until = self.clock.now() + dt.timedelta(seconds=lock_seconds)
            conn.execute(update(wf_external_task).where(wf_external_task.c.id == task_id).values(lock_expires_at=until))

    def fail_external_task(
        self, task_id: str, worker_id: str, message: str, retries: int, retry_seconds: float
    ) -> None:
        now = self.clock.now()
        with transaction(self.db) as conn:
            row = self._locked_row(conn, task_id, worker_id)
            retries = max(retries, 0)
            conn.execute(
                update(wf_external_task)
                .where(wf_external_task.c.id == task_id)
                .values(
                    retries=retries,
                    error_message=message[:4000],
                    worker_id=None,
                    lock_expires_at=None,
                    available_at=now + dt.timedelta(seconds=retry_seconds) if retries > 0 else FAR_FUTURE,
                )
            )
            if retries == 0:
                conn.execute(
                    insert(wf_incident).values(
                        id=str(uuid.uuid4()),
                        instance_id=row.instance_id,
                        business_key=row.business_key,
                        activity_id=row.activity_id,
                        external_task_id=task_id,
                        message=message[:4000],
                        created_at=now,
                    )
                )
                log.warning("incident.created", business_key=row.business_key, activity=row.activity_id)

    def set_retries(self, task_id: str, retries: int) -> None:
        """Resolve an incident: make the task fetchable again."""
        now = self.clock.now()
        with transaction(self.db) as conn:
            done = conn.execute(
                update(wf_external_task)
                .where(wf_external_task.c.id == task_id)
                .values(retries=retries, available_at=now, worker_id=None, lock_expires_at=None)
            )
            if done.rowcount == 0:
                raise external_task_unknown(task_id)
            conn.execute(
                update(wf_incident)
                .where(wf_incident.c.external_task_id == task_id, wf_incident.c.resolved_at.is_(None))
                .values(resolved_at=now)
            )

    def cancel(self, business_key: str, reason: str) -> bool:
        """End a running instance where it is (processing stopped), in the caller's transaction: its state is kept
        (the diagram shows where it stopped), its mirrored user tasks, service steps and timers go and its open
        incidents are resolved, so no list, worker or timer sees it again."""
        with transaction(self.db) as conn:
            query = select(wf_instance).where(wf_instance.c.business_key == business_key)
            row = conn.execute(query if self._sqlite else query.with_for_update()).first()
            if row is None or row.status != "running":
                return False
            now = self.clock.now()
            conn.execute(
                update(wf_instance)
                .where(wf_instance.c.id == row.id)
                .values(status=CANCELLED, revision=row.revision + 1, updated_at=now, finished_at=now)
            )
            for table in _MIRRORS:
                conn.execute(delete(table).where(table.c.instance_id == row.id))
            conn.execute(
                update(wf_incident)
                .where(wf_incident.c.instance_id == row.id, wf_incident.c.resolved_at.is_(None))
                .values(resolved_at=now)
            )
        log.info("process.cancelled", business_key=business_key, reason=reason[:200])
        return True

    def pending_external_tasks(self) -> int:
        """External tasks a worker could fetch now (queue depth, for health checks and metrics)."""
        now = self.clock.now()
        t = wf_external_task
        with transaction(self.db) as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t)
                    .where(
                        or_(t.c.retries.is_(None), t.c.retries > 0),
                        t.c.available_at <= now,
                        or_(t.c.worker_id.is_(None), t.c.lock_expires_at <= now),
                    )
                ).scalar_one()
            )

    def incidents(self) -> list[Incident]:
        with transaction(self.db) as conn:
            rows = conn.execute(select(wf_incident).where(wf_incident.c.resolved_at.is_(None))).all()
        return [
            Incident(r.id, r.instance_id, r.business_key, r.activity_id, r.message, r.created_at, r.external_task_id)
            for r in rows
        ]

    # ------------------------------------------------------------------ user tasks

    @staticmethod
    def _user_task(r: Any) -> UserTask:
        return UserTask(
            id=r.id,
            instance_id=r.instance_id,
            business_key=r.business_key,
            activity_id=r.activity_id,
            name=r.name,
            candidate_groups=tuple(g for g in r.candidate_groups.split(",") if g),
            assignee=r.assignee,
            created_at=r.created_at,
            due_at=r.due_at,
            variables=r.variables,
        )

    def user_tasks(
        self,
        *,
        candidate_groups: Sequence[str] | None = None,
        business_key: str | None = None,
        assignee: str | None = None,
        tenant: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UserTask]:
        """One query through ``ix_wf_user_task_tenant_group_due`` for a role's list of one agency: a task with one
        candidate group matches its indexed ``candidate_group``; one with several (none shipped, but a BPMN may)
        matches a whole group of its comma-joined list (LIKE with its wildcards escaped), among that agency's."""
        t = wf_user_task
        query = select(t).order_by(t.c.due_at, t.c.created_at, t.c.id)
        if business_key is not None:
            query = query.where(t.c.business_key == business_key)
        if assignee is not None:
            query = query.where(t.c.assignee == assignee)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        if candidate_groups is not None:
            column = t.c.candidate_groups
            several = [
                clause
                for g in candidate_groups
                for e in (_like_escaped(g),)
                for clause in (
                    column.like(f"{e},%", escape="\\"),
                    column.like(f"%,{e}", escape="\\"),
                    column.like(f"%,{e},%", escape="\\"),
                )
            ]
            query = query.where(
                or_(
                    t.c.candidate_group.in_(list(candidate_groups)),
                    and_(t.c.candidate_group.is_(None), or_(*several, false())),
                )
            )
        if offset:
            query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with transaction(self.db, read_only=True) as conn:
            rows = conn.execute(query).all()
        return [self._user_task(r) for r in rows]

    def user_task(self, task_id: str) -> UserTask | None:
        with transaction(self.db, read_only=True) as conn:
            row = conn.execute(_USER_TASK, {"task_id": task_id}).first()
        return None if row is None else self._user_task(row)

    def claim(self, task_id: str, user: str) -> None:
        with transaction(self.db) as conn:
            done = conn.execute(_CLAIM, {"task_id": task_id, "user": user, "assignee": user})
            if done.rowcount == 0:
                self._raise_missing_or_taken(conn, task_id)

    @staticmethod
    def _raise_missing_or_taken(conn: Connection, task_id: str) -> None:
        row = conn.execute(select(wf_user_task.c.assignee).where(wf_user_task.c.id == task_id)).first()
        if row is None:
            raise user_task_gone(task_id)
        raise user_task_taken(row.assignee, task_id)

    def unclaim(self, task_id: str) -> None:
        with transaction(self.db) as conn:
            done = conn.execute(update(wf_user_task).where(wf_user_task.c.id == task_id).values(assignee=None))
            if done.rowcount == 0:
                self._raise_missing_or_taken(conn, task_id)

    def complete_user_task(self, task_id: str, variables: Mapping[str, JsonValue]) -> None:
        data = _jsonable(variables)
        with transaction(self.db) as conn:
            query = _USER_TASK_INSTANCE if self._sqlite else _USER_TASK_INSTANCE_FOR_UPDATE
            row = conn.execute(query, {"task_id": task_id}).first()  # the task's instance, read once
            if row is None:
                self._raise_missing_or_taken(conn, task_id)

            def command(workflow: Any) -> None:
                task = workflow.get_task_from_id(uuid.UUID(task_id))
                task.data.update(data)
                task.run()

            self._step(conn, row.id, command, row=row)

    # ------------------------------------------------------------------ messages and timers

    def correlate_message(self, name: str, business_key: str, variables: Mapping[str, JsonValue]) -> None:
        data = _jsonable(variables)
        with transaction(self.db) as conn:
            row = conn.execute(
                select(wf_instance.c.id).where(
                    wf_instance.c.business_key == business_key, wf_instance.c.status == "running"
                )
            ).first()
            if row is None:
                raise no_running_process(business_key)

            def command(workflow: Any) -> None:
                waiting = [
                    t
                    for t in workflow.get_tasks(state=TaskState.WAITING)
                    if isinstance(getattr(t.task_spec, "event_definition", None), MessageEventDefinition)
                    and t.task_spec.event_definition.name == name
                ]
                if not waiting:
                    raise not_waiting_for_message(name)
                for task in waiting:
                    task.data.update(data)
                workflow.catch(BpmnEvent(MessageEventDefinition(name), data))

            self._step(conn, row.id, command)

    def fire_due_timers(self, now: dt.datetime) -> int:
        """Fire every timer due at ``now`` (the scheduler and the simulated clock call this)."""
        with transaction(self.db) as conn:
            due = conn.execute(select(wf_timer.c.instance_id).where(wf_timer.c.due_at <= now).distinct()).all()
        fired = 0
        for (instance_id,) in due:
            with transaction(self.db) as conn:
                still = conn.execute(
                    select(wf_timer.c.id).where(and_(wf_timer.c.instance_id == instance_id, wf_timer.c.due_at <= now))
                ).first()
                if still is None:
                    continue
                self._step(conn, instance_id, lambda wf: wf.refresh_timers(), now=now)
                fired += 1
        return fired
