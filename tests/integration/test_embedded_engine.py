"""Embedded engine on a real SQLite database: locks, retries, incidents, exactly-once completion,
atomic engine steps and restore by a fresh engine (what a restarted server does)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.engine import HERE as BENCH_BPMN
from bench.engine import run as run_bench
from dossiers.clock import SimulatedClock
from dossiers.errors import Conflict, NotFound
from persistence.schema import metadata, wf_external_task, wf_incident, wf_instance, wf_user_task
from persistence.uow import make_engine
from workers.runtime import Complete, Failure, TaskContext, Worker
from workflows.embedded.engine import EmbeddedEngine, ProcessError

pytest_plugins = ["tests.integration.embedded_engine_fixtures"]  # clock, engine
pytestmark = pytest.mark.integration


def _count(engine: EmbeddedEngine, table: object) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_redeploying_an_unchanged_file_adds_no_version(engine: EmbeddedEngine) -> None:
    assert engine.deploy() == []


def test_start_is_idempotent_by_business_key(engine: EmbeddedEngine) -> None:
    first = engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    again = engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    assert first == again
    assert _count(engine, wf_instance) == 1
    assert _count(engine, wf_external_task) == 1


def test_an_expired_lock_passes_the_task_to_another_worker_and_it_completes_once(
    engine: EmbeddedEngine, clock: SimulatedClock
) -> None:
    engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    [task_a] = engine.fetch_and_lock("worker-a", ["bench.noop"], 5, lock_seconds=30)
    assert engine.fetch_and_lock("worker-b", ["bench.noop"], 5, lock_seconds=30) == []  # still locked
    clock.advance(dt.timedelta(seconds=31))
    [task_b] = engine.fetch_and_lock("worker-b", ["bench.noop"], 5, lock_seconds=30)
    assert task_b.id == task_a.id
    with pytest.raises(Conflict, match="locked by another worker"):
        engine.complete_external_task(task_a.id, "worker-a", {"by": "a"})
    engine.complete_external_task(task_b.id, "worker-b", {"by": "b"})
    with pytest.raises(NotFound, match="no longer waiting"):
        engine.complete_external_task(task_b.id, "worker-b", {"by": "b-again"})
    [user_task] = engine.user_tasks()
    assert user_task.activity_id == "step2"
    assert user_task.variables["by"] == "b"


def test_retries_run_out_into_an_incident_and_set_retries_resolves_it(
    engine: EmbeddedEngine, clock: SimulatedClock
) -> None:
    engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    calls = Counter[str]()

    def broken(ctx: TaskContext) -> Complete:
        calls[ctx.task_id] += 1
        raise RuntimeError("registry service unreachable")

    worker = Worker(engine, {"bench.noop": broken}, "w", default_retries=3)
    for _ in range(3):
        assert worker.run_once() == 1
        assert worker.run_once() == 0  # waits for the retry timeout
        clock.advance(dt.timedelta(seconds=31))
    assert sum(calls.values()) == 3
    [incident] = engine.incidents()
    assert incident.business_key == "K-1"
    assert "registry service unreachable" in incident.message
    assert worker.run_once() == 0  # no retries left: not fetchable

    [task_id] = calls
    engine.set_retries(task_id, 1)
    assert engine.incidents() == []
    healthy = Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w2")
    assert healthy.run_once() == 1
    assert [t.activity_id for t in engine.user_tasks()] == ["step2"]


def test_a_failure_outcome_is_reported_with_its_message(engine: EmbeddedEngine) -> None:
    engine.start("bench_five_waits", "K-1", {"decision": "approve"})
    worker = Worker(engine, {"bench.noop": lambda ctx: Failure("bad input", retries=0)}, "w")
    worker.run_once()
    [incident] = engine.incidents()
    assert incident.message == "bad input"


def test_two_workers_racing_complete_every_task_exactly_once(tmp_path: Path) -> None:
    from dossiers.clock import SystemClock

    db = make_engine(f"sqlite:///{tmp_path}/race.sqlite3")
    metadata.create_all(db)
    eng = EmbeddedEngine(db, SystemClock(), [BENCH_BPMN])
    eng.deploy()
    for i in range(40):
        eng.start("bench_five_waits", f"R-{i}", {"decision": "approve"})
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def noop(ctx: TaskContext) -> Complete:
        with lock:
            handled[ctx.task_id] += 1
        return Complete({"handled_by": threading.current_thread().name})

    workers = [Worker(eng, {"bench.noop": noop}, f"w{i}", max_tasks=3) for i in range(2)]
    threads = [threading.Thread(target=w.drain, name=w.worker_id) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(handled) == 40
    assert set(handled.values()) == {1}
    tasks = eng.user_tasks()
    assert len(tasks) == 40
    assert {t.activity_id for t in tasks} == {"step2"}
    db.dispose()


def test_a_failing_engine_step_changes_nothing(engine: EmbeddedEngine) -> None:
    engine.start("bench_five_waits", "K-1", {})  # no 'decision': the gateway after step3 has a default
    Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w").run_once()
    [user_task] = engine.user_tasks()
    with engine.db.connect() as conn:
        before = conn.execute(select(wf_instance.c.revision, wf_instance.c.state)).one()

    # a user task completion whose data breaks a later expression fails as a whole
    def poison(workflow: object) -> None:
        raise ProcessError("boom", "boom")

    with pytest.raises(ProcessError), engine.db.begin() as conn:
        engine._step(conn, user_task.instance_id, poison)
    with engine.db.connect() as conn:
        after = conn.execute(select(wf_instance.c.revision, wf_instance.c.state)).one()
        assert conn.execute(select(func.count()).select_from(wf_user_task)).scalar_one() == 1
    assert after == before


def test_a_fresh_engine_on_the_same_database_continues_every_instance(tmp_path: Path, clock: SimulatedClock) -> None:
    url = f"sqlite:///{tmp_path}/restart.sqlite3"
    db1 = make_engine(url)
    metadata.create_all(db1)
    first = EmbeddedEngine(db1, clock, [BENCH_BPMN])
    first.deploy()
    for i in range(5):
        first.start("bench_five_waits", f"P-{i}", {"decision": "approve"})
    Worker(first, {"bench.noop": lambda ctx: Complete()}, "w").run_once()
    db1.dispose()  # the "server" goes away; nothing of it stays in memory

    db2 = make_engine(url)
    second = EmbeddedEngine(db2, clock, [BENCH_BPMN])  # empty spec cache: restores from the DB
    worker = Worker(second, {"bench.noop": lambda ctx: Complete()}, "w2")
    for _ in range(10):
        worker.drain()
        for task in second.user_tasks():
            second.complete_user_task(task.id, {})
    assert {second.instance(f"P-{i}").state for i in range(5)} == {"completed"}  # type: ignore[union-attr]
    assert _count(second, wf_external_task) == 0
    assert _count(second, wf_incident) == 0
    db2.dispose()


def test_claim_rules(engine: EmbeddedEngine) -> None:
    engine.start("bench_five_waits", "K-1", {})
    Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w").run_once()
    [task] = engine.user_tasks(candidate_groups=["specialist"])
    assert engine.user_tasks(candidate_groups=["leader"]) == []
    engine.claim(task.id, "an")
    engine.claim(task.id, "an")  # claiming again is fine
    with pytest.raises(Conflict, match="already claimed by an"):
        engine.claim(task.id, "binh")
    engine.unclaim(task.id)
    engine.claim(task.id, "binh")
    engine.complete_user_task(task.id, {})
    with pytest.raises(NotFound):
        engine.complete_user_task(task.id, {})


def test_the_deployed_definition_and_where_an_instance_is(engine: EmbeddedEngine, tmp_path: Path) -> None:
    original = (BENCH_BPMN / "five_waits.bpmn").read_bytes()
    assert engine.definition_xml("bench_five_waits") == original
    assert engine.definition_xml("no_such_process") is None
    assert engine.activity_states("K-1") is None
    engine.start("bench_five_waits", "K-1", {})
    states = engine.activity_states("K-1")
    assert states is not None and states.current == ("step1",) and states.completed == ("start",)
    Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w").run_once()
    states = engine.activity_states("K-1")
    assert states is not None and states.current == ("step2",) and states.completed == ("start", "step1")

    # a new version of the file: the running instance keeps the version it started on, a new one gets the latest
    changed = tmp_path / "five_waits.bpmn"
    changed.write_bytes(original.replace(b'name="Step 2"', b'name="Step 2 (v2)"'))
    engine.bpmn_dirs = [tmp_path]
    assert engine.deploy() == ["bench_five_waits:2"]
    assert engine.definition_xml("bench_five_waits", "K-1") == original
    assert b"Step 2 (v2)" in (engine.definition_xml("bench_five_waits") or b"")
    assert b"Step 2 (v2)" in (engine.definition_xml("bench_five_waits", "K-unknown") or b"")


def test_benchmark_script_completes_its_instances() -> None:
    result = run_bench(10)
    assert result["instances"] == 10
    assert result["engine_steps"] == 60


def test_a_role_list_matches_whole_candidate_groups_in_sql(engine: EmbeddedEngine) -> None:
    """The candidate groups filter runs in SQL (a role's list reads only its tasks) and matches whole groups of a
    comma-joined list: 'specialist' is not 'specialist_x', 'lead' is not 'leader'."""
    engine.start("bench_five_waits", "G-1", {})
    Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w").run_once()
    [task] = engine.user_tasks(candidate_groups=["specialist"])
    with engine.db.begin() as conn:
        # what the engine keeps for a task of several groups: the list, no sole group
        conn.execute(wf_user_task.update().values(candidate_groups="clerk,specialist_x,leader", candidate_group=None))
    for groups, found in (
        (["leader"], True),
        (["clerk"], True),
        (["specialist_x"], True),
        (["specialist"], False),
        (["lead"], False),
        (["specialistyx"], False),
        (["reception", "clerk"], True),
        ([], False),
    ):
        assert ({t.id for t in engine.user_tasks(candidate_groups=groups)} == {task.id}) is found, groups
