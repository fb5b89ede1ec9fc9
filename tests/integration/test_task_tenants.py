"""The embedded engine lists user tasks by agency (tenant) and candidate group through one index, a page at a time
(issue 17, point 1): an agency's list never holds another agency's tasks, pages are disjoint slices in due order,
a task with several candidate groups is still found by each of them, and migration 0011 fills the tenant and
group of the tasks open before it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event

from dossiers.clock import SimulatedClock
from persistence.migrate import alembic_config, upgrade
from persistence.schema import metadata, wf_user_task
from persistence.uow import make_engine
from workflows.embedded.engine import EmbeddedEngine

pytestmark = pytest.mark.integration
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_tenants" targetNamespace="https://motcua.example/bpmn">
  <bpmn:process id="tenant_review" name="Review" isExecutable="true" camunda:historyTimeToLive="P30D">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="shared" />
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="specialist" camunda:dueDate="${due_at}" />
    <bpmn:userTask id="shared" name="Shared" camunda:candidateGroups="leader,clerk_x" camunda:dueDate="${due_at}" />
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="shared" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EmbeddedEngine]:
    (tmp_path / "bpmn").mkdir()
    (tmp_path / "bpmn" / "tenant_review.bpmn").write_text(BPMN, encoding="utf-8")
    db = make_engine(f"sqlite:///{tmp_path}/engine.sqlite3")
    metadata.create_all(db)
    eng = EmbeddedEngine(db, SimulatedClock(START), [tmp_path / "bpmn"])
    eng.deploy()
    yield eng
    db.dispose()


def _start(engine: EmbeddedEngine, key: str, days: int, **variables: Any) -> None:
    engine.start("tenant_review", key, {"due_at": (START + dt.timedelta(days=days)).isoformat(), **variables})


def test_an_agency_s_list_holds_only_its_tasks_in_due_order(engine: EmbeddedEngine) -> None:
    for i, days in enumerate((5, 2, 9, 1, 7, 3)):
        _start(engine, f"A-{i}", days, current_agency="A", agency_code="A")
        _start(engine, f"B-{i}", days - 1, current_agency="B", agency_code="A")  # handed over to agency B
    _start(engine, "OLD-1", 4, agency_code="A")  # started before current_agency was a start variable
    mine = engine.user_tasks(candidate_groups=["specialist"], tenant="A")
    assert [t.business_key for t in mine] == ["A-3", "A-1", "A-5", "OLD-1", "A-0", "A-4", "A-2"]
    assert {t.activity_id for t in mine} == {"review"}
    theirs = engine.user_tasks(candidate_groups=["specialist"], tenant="B")
    assert {t.business_key for t in theirs} == {f"B-{i}" for i in range(6)}
    assert engine.user_tasks(candidate_groups=["specialist"], tenant="C") == []
    assert len(engine.user_tasks(candidate_groups=["specialist"])) == 13  # no tenant: every agency's


def test_pages_are_disjoint_slices_in_due_order(engine: EmbeddedEngine) -> None:
    for i in range(11):
        _start(engine, f"A-{i:02}", (i * 7) % 11, current_agency="A")  # due dates shuffled
    for i in range(4):
        _start(engine, f"A-SAME-{i}", 3, current_agency="A")  # ties on the due date: still a stable order
    whole = engine.user_tasks(candidate_groups=["specialist"], tenant="A")
    assert len(whole) == 15
    assert [t.due_at for t in whole] == sorted(t.due_at for t in whole)  # type: ignore[type-var]
    pages = [engine.user_tasks(candidate_groups=["specialist"], tenant="A", offset=o, limit=4) for o in (0, 4, 8, 12)]
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert [t.id for p in pages for t in p] == [t.id for t in whole]


def test_a_task_with_several_groups_is_found_by_each_whole_group(engine: EmbeddedEngine) -> None:
    _start(engine, "A-1", 1, current_agency="A")
    _start(engine, "B-1", 1, current_agency="B")
    for groups, found in (
        (["leader"], True),
        (["clerk_x"], True),
        (["clerk"], False),
        (["clerkyx"], False),  # LIKE's "_" is a plain character here
        (["lead"], False),
        (["reception", "leader"], True),
        ([], False),
    ):
        keys = [
            t.business_key for t in engine.user_tasks(candidate_groups=groups, tenant="A") if t.activity_id == "shared"
        ]
        assert keys == (["A-1"] if found else []), groups


def test_the_list_reads_the_tenant_group_due_index(engine: EmbeddedEngine) -> None:
    for i in range(3):
        _start(engine, f"A-{i}", i, current_agency="A")
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "wf_user_task" in statement and statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine.db, "before_cursor_execute", capture)
    try:
        engine.user_tasks(candidate_groups=["specialist"], tenant="A", limit=50)
    finally:
        event.remove(engine.db, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    with engine.db.connect() as conn:
        plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "ix_wf_user_task_tenant_group_due" in plan, plan
    assert "SCAN wf_user_task" not in plan, plan


# ---------------------------------------------------------------- migration 0011


def _config(db: sa.Engine, conn: sa.Connection) -> Any:
    cfg = alembic_config(db.url.render_as_string(hide_password=False))
    cfg.attributes["connection"] = conn
    return cfg


def test_the_migration_fills_tenant_and_group_of_open_tasks(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    try:
        with db.connect() as conn:
            command.upgrade(_config(db, conn), "0010")
            conn.commit()
        now = START.isoformat()
        task = sa.table(
            "wf_user_task",
            *(sa.column(c) for c in ("id", "instance_id", "business_key", "activity_id", "name")),
            *(sa.column(c) for c in ("candidate_groups", "variables", "created_at", "due_at")),
        )
        # the old rows only: no procedure or agency behind the dossiers (the migration reads their agency codes)
        plain = sa.create_engine(f"sqlite:///{tmp_path}/old.sqlite3")
        with plain.begin() as conn:
            columns = {c["name"]: c for c in sa.inspect(conn).get_columns("dossier")}
            dossier = sa.table("dossier", *(sa.column(n) for n in columns))
            for code, agency in (("D-1", "A"), ("D-2", "A"), ("D-3", "B")):
                values = {n: _filler(c) for n, c in columns.items() if not c["nullable"] and c.get("default") is None}
                conn.execute(sa.insert(dossier).values(values | {"code": code, "agency_code": agency}))
            for tid, key, groups, variables in (
                ("t1", "D-1", "specialist", {"current_agency": "TAX"}),  # handed over: the acting agency wins
                ("t2", "D-2", "specialist", {}),  # a single-agency dossier: its agency
                ("t3", "D-3", "leader,clerk", {"agency_code": "B"}),  # several groups: none indexed
            ):
                conn.execute(
                    sa.insert(task).values(
                        id=tid,
                        instance_id=f"i-{tid}",
                        business_key=key,
                        activity_id="review",
                        name="Review",
                        candidate_groups=groups,
                        variables=json.dumps(variables),
                        created_at=now,
                        due_at=now,
                    )
                )
        plain.dispose()
        upgrade(db)
        with db.connect() as conn:
            rows = conn.execute(
                sa.select(wf_user_task.c.id, wf_user_task.c.tenant, wf_user_task.c.candidate_group).order_by(
                    wf_user_task.c.id
                )
            ).all()
        assert [tuple(r) for r in rows] == [("t1", "TAX", "specialist"), ("t2", "A", "specialist"), ("t3", "B", None)]
        eng = EmbeddedEngine(db, SimulatedClock(START), [])
        assert [t.id for t in eng.user_tasks(candidate_groups=["specialist"], tenant="A")] == ["t2"]
        assert [t.id for t in eng.user_tasks(candidate_groups=["clerk"], tenant="B")] == ["t3"]
    finally:
        db.dispose()


def _filler(column: dict[str, Any]) -> Any:
    """A value for a required dossier column the test does not care about."""
    kind = str(column["type"]).upper()
    if "INT" in kind:
        return 0
    if "DATE" in kind or "TIME" in kind:
        return START.isoformat()
    if "JSON" in kind:
        return "{}"
    return "x"
