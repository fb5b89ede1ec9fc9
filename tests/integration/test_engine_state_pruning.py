"""Pruning finished instances' engine state (issue 17, point 4) on the embedded engine: only instances finished
before the cut-off, in batches, through ``ix_wf_instance_prune`` (not a scan of every instance); what a finished
instance answers afterwards; the migration dates the instances that finished before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from bench.engine import HERE as BENCH_BPMN
from dossiers.clock import SimulatedClock
from persistence.schema import metadata, wf_instance
from persistence.uow import make_engine
from workers.runtime import Complete, Worker
from workflows.embedded.engine import EmbeddedEngine

pytestmark = pytest.mark.integration
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, clock: SimulatedClock) -> Iterator[EmbeddedEngine]:
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.fresh_database()
        request.addfinalizer(lambda: cluster.drop_database(url.rsplit("/", 1)[1]))
    else:
        url = f"sqlite:///{tmp_path}/engine.sqlite3"
    db = make_engine(url)
    metadata.create_all(db)
    eng = EmbeddedEngine(db, clock, [BENCH_BPMN])
    eng.deploy()
    yield eng
    db.dispose()


def _finish(engine: EmbeddedEngine, key: str) -> None:
    engine.start("bench_five_waits", key, {"decision": "approve"})
    worker = Worker(engine, {"bench.noop": lambda ctx: Complete()}, "w")
    for _ in range(3):
        worker.drain()
        for task in engine.user_tasks(business_key=key):
            engine.complete_user_task(task.id, {"decision": "approve"})
    worker.drain()
    assert engine.instance(key).state == "completed"  # type: ignore[union-attr]


def _row(engine: EmbeddedEngine, key: str) -> Any:
    with engine.db.connect() as conn:
        return conn.execute(select(wf_instance).where(wf_instance.c.business_key == key)).one()


def test_only_instances_finished_before_the_cut_off_are_pruned_in_batches(
    engine: EmbeddedEngine, clock: SimulatedClock
) -> None:
    for i in range(3):
        _finish(engine, f"F-{i}")
        clock.advance(dt.timedelta(hours=1))
    engine.start("bench_five_waits", "R-1", {})  # running: never pruned
    before = engine.activity_states("F-0")
    assert before is not None and before.current == () and before.completed[-1] == "end"
    finished = [_row(engine, f"F-{i}").finished_at for i in range(3)]
    assert finished == sorted(finished) and all(f is not None for f in finished)
    assert _row(engine, "R-1").finished_at is None

    assert engine.prune_finished(finished[0] - dt.timedelta(seconds=1)) == 0
    assert engine.prune_finished(finished[1], batch=1) == 1  # the oldest first, one per batch
    assert _row(engine, "F-0").state == "" and _row(engine, "F-1").state != ""
    assert engine.prune_finished(finished[1], batch=10) == 1
    assert engine.prune_finished(clock.now(), batch=10) == 1
    assert engine.prune_finished(clock.now(), batch=10) == 0
    assert _row(engine, "R-1").pruned_at is None and _row(engine, "R-1").state != ""

    pruned = _row(engine, "F-0")
    assert (
        pruned.state == "" and pruned.pruned_at == clock.now() and pruned.summary == {"completed": [*before.completed]}
    )
    assert engine.activity_states("F-0") == before
    instance = engine.instance("F-0")
    assert instance is not None and instance.state == "completed" and instance.process_key == "bench_five_waits"
    assert instance.variables == {}
    assert engine.definition_xml("bench_five_waits", "F-0") == (BENCH_BPMN / "five_waits.bpmn").read_bytes()
    assert engine.start("bench_five_waits", "F-0", {}) == pruned.id  # still the dossier's one instance


def test_the_pruning_job_reads_only_due_rows_through_its_index(tmp_path: Path, clock: SimulatedClock) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/plan.sqlite3")
    metadata.create_all(db)
    engine = EmbeddedEngine(db, clock, [BENCH_BPMN])
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "wf_instance" in statement:
            sent.append((statement, parameters))

    event.listen(engine.db, "before_cursor_execute", capture)
    try:
        engine.prune_finished(START)
    finally:
        event.remove(engine.db, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    with engine.db.connect() as conn:
        plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    db.dispose()
    assert "ix_wf_instance_prune" in plan and "SCAN wf_instance" not in plan, plan


def test_the_migration_dates_instances_that_finished_before_it(tmp_path: Path) -> None:
    import importlib

    from alembic import command

    from persistence.migrate import alembic_config, upgrade

    ours = importlib.import_module("persistence.migrations.versions.0013_prune_finished_engine_state")
    db: Engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    try:
        cfg = alembic_config(str(db.url))
        with db.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, ours.down_revision)  # the schema just before this migration
            conn.commit()
        at = dt.datetime(2026, 1, 5, 3, 0)
        with db.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO wf_definition (id, process_key, version, sha256, source_name, bpmn_xml, deployed_at) "
                    "VALUES ('p:1', 'p', 1, 'x', 'p.bpmn', '<x/>', :at)"
                ),
                {"at": at},
            )
            for key, status in (("A", "completed"), ("B", "running")):
                conn.execute(
                    text(
                        "INSERT INTO wf_instance (id, definition_id, process_key, business_key, status, state, "
                        "revision, created_at, updated_at) VALUES (:k, 'p:1', 'p', :k, :s, '{}', 1, :at, :at)"
                    ),
                    {"k": key, "s": status, "at": at},
                )
        upgrade(db)
        with db.connect() as conn:
            rows = dict(conn.execute(text("SELECT business_key, finished_at FROM wf_instance")).all())
            indexes = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
    finally:
        db.dispose()
    assert rows["A"] is not None and str(rows["A"]).startswith("2026-01-05 03:00") and rows["B"] is None
    assert "ix_wf_instance_prune" in indexes
