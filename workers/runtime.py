"""Fetch-and-lock worker loop over the ``Engine`` port.

A handler receives a :class:`TaskContext` and returns :class:`Complete` or :class:`Failure`; an exception
becomes a failure with retries (never a silent lock expiry). A task can be delivered twice (lock expiry,
crash after a side effect), so handlers deduplicate side effects by an idempotency key; the engine
guarantees the completion itself happens once.

With a ``unit_of_work`` the handler's database changes commit together or not at all. On the embedded
engine, which shares the application database, the engine step that completes the task is part of that same
transaction: nobody ever sees a dossier whose status moved while its process has not. A remote engine
(Operaton) cannot join it, so there the completion follows the commit: a crash in between redelivers the task
after its lock expires and the idempotent handler finds its work already done.

Fetch, complete and fail go to a ``tasks`` source: the engine itself, or for Operaton the Camunda external-task
client (``workflows.operaton.external_tasks``).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from dossiers.errors import Conflict, MotcuaError, NotFound
from dossiers.ports import Engine, ExternalTask

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TaskContext:
    task_id: str
    topic: str
    activity_id: str
    instance_id: str
    business_key: str
    variables: Mapping[str, Any]

    @property
    def idempotency_key(self) -> str:
        """Stable across redeliveries of this task: one side effect per task."""
        return f"{self.business_key}/{self.activity_id}/{self.task_id}"


@dataclass(frozen=True)
class Complete:
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    message: str
    retry_seconds: float = 30.0
    retries: int | None = None  # None: one fewer than before


Outcome = Complete | Failure
Handler = Callable[[TaskContext], Outcome]
UnitOfWork = Callable[[], AbstractContextManager[Any]]


class TaskSource(Protocol):
    """Where a worker gets and reports its tasks (the engine, or the Camunda client for Operaton)."""

    def fetch_and_lock(
        self, worker_id: str, topics: list[str], max_tasks: int, lock_seconds: float, wait_seconds: float = 0.0
    ) -> list[ExternalTask]: ...

    def complete_external_task(self, task_id: str, worker_id: str, variables: Mapping[str, Any]) -> None: ...

    def fail_external_task(
        self, task_id: str, worker_id: str, message: str, retries: int, retry_seconds: float
    ) -> None: ...


class _HandlerFailed(Exception):
    def __init__(self, outcome: Failure) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class Worker:
    def __init__(
        self,
        engine: Engine,
        handlers: Mapping[str, Handler],
        worker_id: str,
        *,
        lock_seconds: float = 60.0,
        default_retries: int = 3,
        max_tasks: int = 10,
        unit_of_work: UnitOfWork | None = None,
        tasks: TaskSource | None = None,
        poll_seconds: float = 0.0,
        retry_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.tasks: TaskSource = tasks or engine
        self.complete_in_unit_of_work = bool(getattr(engine, "shares_database", False))
        self.poll_seconds = poll_seconds  # long polling while idle (engines that support it)
        self.retry_seconds = retry_seconds  # back-off after a handler raised
        self.handlers = dict(handlers)
        self.worker_id = worker_id
        self.lock_seconds = lock_seconds
        self.default_retries = default_retries
        self.max_tasks = max_tasks
        self.unit_of_work: UnitOfWork = unit_of_work or nullcontext

    def run_once(self, wait_seconds: float = 0.0) -> int:
        """Fetch one batch and handle it; returns how many tasks were handled."""
        tasks = self.tasks.fetch_and_lock(
            self.worker_id, list(self.handlers), self.max_tasks, self.lock_seconds, wait_seconds
        )
        for task in tasks:
            self.execute(task)
        return len(tasks)

    def drain(self, max_rounds: int = 1000) -> int:
        """Handle tasks until none is available (tests and the demo drive the system with this)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            if handled == 0:
                break
            total += handled
        return total

    def execute(self, task: ExternalTask) -> None:
        ctx = TaskContext(
            task_id=task.id,
            topic=task.topic,
            activity_id=task.activity_id,
            instance_id=task.instance_id,
            business_key=task.business_key,
            variables=dict(task.variables),
        )
        bound = log.bind(topic=task.topic, business_key=task.business_key, task_id=task.id)
        try:
            with self.unit_of_work():
                outcome = self._run_handler(ctx)
                if isinstance(outcome, Failure):
                    raise _HandlerFailed(outcome)  # roll back whatever the handler changed
                if self.complete_in_unit_of_work:
                    self.tasks.complete_external_task(task.id, self.worker_id, outcome.variables)
            if not self.complete_in_unit_of_work:
                self.tasks.complete_external_task(task.id, self.worker_id, outcome.variables)
            bound.info("task.completed")
            return
        except _HandlerFailed as failed:
            outcome = failed.outcome
        except (NotFound, Conflict) as exc:
            # Another delivery completed it, or our lock was taken over: nothing to do, nothing doubled.
            bound.warning("task.completion_refused", reason=exc.message_en)
            return
        except MotcuaError as exc:
            outcome = Failure(f"the engine refused the completion: {exc.message_en}", self.retry_seconds)
        except Exception as exc:  # noqa: BLE001 - e.g. the database went away during the step
            outcome = Failure(f"{type(exc).__name__}: {exc}", self.retry_seconds)
        retries = outcome.retries
        if retries is None:
            current = task.retries if task.retries is not None else self.default_retries
            retries = current - 1
        bound.warning("task.failed", error=outcome.message.splitlines()[0], retries_left=retries)
        try:
            self.tasks.fail_external_task(task.id, self.worker_id, outcome.message, retries, outcome.retry_seconds)
        except MotcuaError as exc:
            # gone, taken over, or the engine is unreachable: the lock expires and the task comes back
            bound.warning("task.failure_not_recorded", reason=exc.message_en)

    def _run_handler(self, ctx: TaskContext) -> Outcome:
        handler = self.handlers[ctx.topic]
        try:
            return handler(ctx)
        except MotcuaError as exc:
            # Vietnamese first: the administrator reads it on the incidents page
            return Failure(f"{exc.message_vi}\n{type(exc).__name__}: {exc.message_en}", self.retry_seconds)
        except Exception as exc:  # noqa: BLE001 - every handler error must become a reported failure
            return Failure(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}", self.retry_seconds)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                handled = self.run_once(self.poll_seconds)
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the worker thread
                log.exception("worker.loop_error", worker=self.worker_id)
                handled = 0
            if handled == 0:
                stop.wait(idle_seconds)


def start_in_threads(workers: list[Worker], stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for worker in workers:
        thread = threading.Thread(target=worker.run_forever, args=(stop,), name=worker.worker_id, daemon=True)
        thread.start()
        threads.append(thread)
    return threads
