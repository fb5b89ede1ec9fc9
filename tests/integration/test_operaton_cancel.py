"""``Engine.cancel`` on the real Operaton (deploy/operaton, the suite's PostgreSQL): the running instance is deleted
without listeners, its user task leaves every list, its timer job goes, history keeps it as cancelled; a second
cancel and an unknown key do nothing. The embedded side: tests/integration/test_engine_cancel.py."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from dossiers.clock import SimulatedClock
from tests.conftest import MONDAY_MORNING
from tests.integration.operaton import OperatonServer
from workflows import BPMN_DIR
from workflows.operaton.engine import OperatonEngine

pytestmark = pytest.mark.integration

PROCESS = "household_business_registration"


@pytest.fixture
def engine(operaton_server: OperatonServer) -> Iterator[OperatonEngine]:
    eng = OperatonEngine(
        operaton_server.url, operaton_server.user, operaton_server.password, SimulatedClock(MONDAY_MORNING), [BPMN_DIR]
    )
    eng.deploy()
    yield eng
    eng.close()


def _fetch_for(engine: OperatonEngine, topic: str, business_key: str) -> str:
    for _ in range(20):  # other tests' tasks on the same topic may come first: hand them back
        tasks = engine.fetch_and_lock("w", [topic], 50, 60)
        for other in tasks:
            if other.business_key != business_key:
                engine.fail_external_task(other.id, "w", "not this test's", 1, 0)
        mine = [t for t in tasks if t.business_key == business_key]
        if mine:
            return mine[0].id
    raise AssertionError(f"no {topic} task for {business_key}")


def test_cancel_deletes_the_running_instance_and_its_task_and_timer(engine: OperatonEngine) -> None:
    key = f"HKD-STOP-{uuid.uuid4().hex[:10]}"
    now = MONDAY_MORNING
    variables = {
        "agency_code": "000.00.31.H99",
        "due_at": (now + dt.timedelta(days=3)).isoformat(),
        "warn_at": (now + dt.timedelta(days=2)).isoformat(),
    }
    engine.start(PROCESS, key, variables)
    for topic in ("dossier.accept", "documents.receipt"):
        engine.complete_external_task(_fetch_for(engine, topic, key), "w", {})
    [review] = engine.user_tasks(business_key=key)
    instance = engine.instance(key)
    assert instance is not None and instance.state == "running"
    timers = engine.http.get("/job", params={"timers": "true", "processInstanceId": instance.id}).json()
    assert timers  # the review's warning timer

    assert engine.cancel(key, "Công dân rút hồ sơ") is True

    assert engine.user_tasks(business_key=key) == []
    assert review.id not in {t.id for t in engine.user_tasks(candidate_groups=["specialist"])}
    assert engine.user_task(review.id) is None
    assert engine.http.get("/job", params={"processInstanceId": instance.id}).json() == []
    ended = engine.instance(key)
    assert ended is not None and ended.state == "cancelled" and ended.variables["agency_code"] == "000.00.31.H99"
    states = engine.activity_states(key)
    assert states is not None and states.current == () and "issue_receipt" in states.completed
    assert engine.cancel(key, "again") is False
    assert engine.cancel(f"HKD-NOTHING-{uuid.uuid4().hex[:6]}", "none") is False
    assert engine.start(PROCESS, key, {}) == instance.id  # the key stays taken: a stopped dossier never restarts
