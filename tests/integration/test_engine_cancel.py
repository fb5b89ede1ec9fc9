"""Ending a process where it is (``Engine.cancel``, processing stopped: Mẫu 05) on the embedded engine: the instance
is cancelled, its user task, service steps and timer go — no list, worker or timer sees it again —, a second cancel
and a cancel of an unknown key do nothing. The Operaton side: tests/integration/test_operaton_engine.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dossiers.clock import SimulatedClock
from dossiers.errors import Conflict, NotFound
from persistence.schema import wf_external_task, wf_timer, wf_user_task
from workflows import BPMN_DIR
from workflows.embedded.engine import EmbeddedEngine

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.integration.embedded_engine_fixtures"]  # clock, engine

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # the plugin's clock starts here

PROCESS = "household_business_registration"


@pytest.fixture
def bpmn_dirs() -> list[Path]:
    return [BPMN_DIR]  # the shipped processes: a dossier's user task, service steps and timer


def _rows(engine: EmbeddedEngine, table: object, key: str) -> int:
    with engine.db.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.business_key == key)  # type: ignore[attr-defined]
        return int(conn.execute(query).scalar_one())


def _timers(engine: EmbeddedEngine, instance_id: str) -> int:
    with engine.db.connect() as conn:
        query = select(func.count()).select_from(wf_timer).where(wf_timer.c.instance_id == instance_id)
        return int(conn.execute(query).scalar_one())


def _to_review(engine: EmbeddedEngine, clock: SimulatedClock, key: str) -> str:
    now = clock.now()
    variables = {
        "agency_code": "000.00.31.H99",
        "due_at": (now + dt.timedelta(days=3)).isoformat(),
        "warn_at": (now + dt.timedelta(days=2)).isoformat(),
    }
    engine.start(PROCESS, key, variables)
    for topic in ("dossier.accept", "documents.receipt"):
        [task] = engine.fetch_and_lock("w", [topic], 5, 60)
        engine.complete_external_task(task.id, "w", {})
    [review] = engine.user_tasks(business_key=key)
    return review.id


def test_cancel_ends_the_instance_and_its_tasks_timers_and_steps_go(
    engine: EmbeddedEngine, clock: SimulatedClock
) -> None:
    key, other = "HKD-STOP-1", "HKD-STOP-2"
    review_id = _to_review(engine, clock, key)
    _to_review(engine, clock, other)
    instance = engine.instance(key)
    assert instance is not None and instance.state == "running"
    assert _timers(engine, instance.id) >= 1  # the review's warning timer
    engine.claim(review_id, "chuyenvien1.xa1")

    assert engine.cancel(key, "Công dân rút hồ sơ") is True

    ended = engine.instance(key)
    assert ended is not None and ended.state == "cancelled" and ended.variables["agency_code"] == "000.00.31.H99"
    assert engine.user_tasks(business_key=key) == []
    assert key not in {t.business_key for t in engine.user_tasks(candidate_groups=["specialist"])}
    assert engine.user_tasks(assignee="chuyenvien1.xa1") == []
    assert engine.user_task(review_id) is None
    assert _rows(engine, wf_user_task, key) == 0 and _rows(engine, wf_external_task, key) == 0
    assert _timers(engine, instance.id) == 0
    states = engine.activity_states(key)
    assert states is not None and states.current == () and "issue_receipt" in states.completed
    # a timer far in the future fires only for the other, running instance; no worker finds a step of this one
    engine.fire_due_timers(START + dt.timedelta(days=30))
    assert all(t.business_key == other for t in engine.fetch_and_lock("w", ["dossier.warn_due"], 50, 60))
    with pytest.raises((NotFound, Conflict)):
        engine.complete_user_task(review_id, {"decision": "approve"})
    with pytest.raises(NotFound, match="No running process"):
        engine.correlate_message("supplement_received", key, {})
    # the other dossier's process runs on
    assert [t.activity_id for t in engine.user_tasks(business_key=other)] == ["review"]

    assert engine.cancel(key, "again") is False  # ended already: nothing to do
    assert engine.cancel("HKD-NOTHING", "none") is False
    assert engine.start(PROCESS, key, {}) == instance.id  # the key stays taken: a stopped dossier never restarts


def test_a_cancelled_instance_is_pruned_like_a_completed_one(engine: EmbeddedEngine, clock: SimulatedClock) -> None:
    key = "HKD-STOP-3"
    _to_review(engine, clock, key)
    engine.cancel(key, "Cơ quan dừng giải quyết")
    clock.advance(dt.timedelta(days=1))
    assert engine.prune_finished(clock.now()) == 1
    states = engine.activity_states(key)
    assert states is not None and states.current == () and "issue_receipt" in states.completed
