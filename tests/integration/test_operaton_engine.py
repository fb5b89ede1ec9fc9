"""The Operaton adapter (workflows/operaton/) against the real Operaton of deploy/operaton on the suite's
PostgreSQL: the Engine port's rules, as the embedded engine's tests state them, hold over REST too."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dossiers.clock import SimulatedClock
from dossiers.errors import Conflict, NotFound, Unavailable
from motcua.app import Runtime, build_runtime, init_state
from motcua.settings import Settings
from signing.validate import PadesValidator
from tests.conftest import MONDAY_MORNING, Api, forget_operaton_instances
from tests.integration.operaton import OperatonServer
from workflows import BPMN_DIR
from workflows.operaton.engine import OperatonEngine
from workflows.operaton.external_tasks import ClientTasks
from workflows.operaton.wire import format_time, typed

pytestmark = pytest.mark.integration

PROCESS = "household_business_registration"


@pytest.fixture(scope="module")
def operaton(operaton_server: OperatonServer) -> OperatonServer:
    """The session's Operaton (tests/conftest.py): its own database on the suite's PostgreSQL, job executor off."""
    return operaton_server


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(MONDAY_MORNING)


@pytest.fixture
def engine(operaton: OperatonServer, clock: SimulatedClock) -> Iterator[OperatonEngine]:
    eng = OperatonEngine(operaton.url, operaton.user, operaton.password, clock, [BPMN_DIR])
    eng.deploy()
    yield eng
    eng.close()


def _key() -> str:
    return f"HKD-{uuid.uuid4().hex[:10]}"


def _variables(clock: SimulatedClock) -> dict[str, object]:
    now = clock.now()
    return {
        "applicant": {"name": "Nguyễn Văn A", "documents": ["cccd"]},
        "fee": 100000,
        "urgent": False,
        "note": None,
        "due_at": (now + dt.timedelta(days=3)).isoformat(),
        "warn_at": (now + dt.timedelta(days=2)).isoformat(),
    }


def _fetch_for(engine: OperatonEngine, worker: str, topic: str, business_key: str, lock: float = 60) -> object:
    for _ in range(20):  # other tests' tasks on the same topic may come first: hand them back
        tasks = engine.fetch_and_lock(worker, [topic], 50, lock)
        mine = [t for t in tasks if t.business_key == business_key]
        for other in tasks:
            if other.business_key != business_key:
                engine.fail_external_task(other.id, worker, "not this test's", 1, 0)
        if mine:
            return mine[0]
    raise AssertionError(f"no {topic} task for {business_key}")


def test_values_are_typed() -> None:
    assert typed(True) == {"type": "Boolean", "value": True}
    assert typed(7) == {"type": "Long", "value": 7}
    assert typed(1.5) == {"type": "Double", "value": 1.5}
    assert typed(None) == {"type": "Null", "value": None}
    assert typed({"a": ["á"]}) == {"type": "Json", "value": '{"a": ["á"]}'}
    assert format_time(dt.datetime(2026, 3, 2, 8, 0, 0, 5000, tzinfo=dt.UTC)) == "2026-03-02T08:00:00.005+0000"


def test_bad_credentials_and_no_server_are_unavailable(operaton: OperatonServer, clock: SimulatedClock) -> None:
    # an unknown user (a wrong admin password would throttle the admin's next logins)
    bad = OperatonEngine(operaton.url, "nobody", "wrong", clock, [BPMN_DIR])
    with pytest.raises(Unavailable, match="credentials"):
        bad.incidents()
    bad.close()
    gone = OperatonEngine("http://127.0.0.1:9/engine-rest", "u", "p", clock, [BPMN_DIR], timeout=2)
    with pytest.raises(Unavailable):
        gone.incidents()
    gone.close()


def test_deploy_twice_makes_no_new_version(engine: OperatonEngine) -> None:
    assert engine.deploy() == []
    defs = engine.http.get("/process-definition", params={"key": PROCESS}).json()
    assert [d["version"] for d in defs] == [1]


def test_start_is_idempotent_and_variables_come_back_typed(engine: OperatonEngine, clock: SimulatedClock) -> None:
    key = _key()
    first = engine.start(PROCESS, key, _variables(clock))
    assert engine.start(PROCESS, key, _variables(clock)) == first
    inst = engine.instance(key)
    assert inst is not None and inst.id == first and inst.state == "running" and inst.process_key == PROCESS
    assert inst.variables["applicant"] == {"name": "Nguyễn Văn A", "documents": ["cccd"]}
    assert inst.variables["fee"] == 100000 and inst.variables["urgent"] is False and inst.variables["note"] is None
    assert engine.instance("HKD-nothing") is None
    with pytest.raises(NotFound):
        engine.start("no_such_process", _key(), {})


def test_external_tasks_advance_to_the_user_task_and_locks_are_owned(
    engine: OperatonEngine, clock: SimulatedClock
) -> None:
    key = _key()
    engine.start(PROCESS, key, _variables(clock))
    task = _fetch_for(engine, "w1", "dossier.accept", key)
    assert task.variables["applicant"]["documents"] == ["cccd"]  # type: ignore[attr-defined]
    assert task.lock_expires_at is not None and task.lock_expires_at.tzinfo is not None  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        engine.complete_external_task(task.id, "w2", {})  # type: ignore[attr-defined]
    engine.extend_lock(task.id, "w1", 120)  # type: ignore[attr-defined]
    engine.complete_external_task(task.id, "w1", {"accepted": True, "details": {"x": [1, 2]}})  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        engine.complete_external_task(task.id, "w1", {})  # type: ignore[attr-defined]
    receipt = _fetch_for(engine, "w1", "documents.receipt", key)
    assert receipt.variables["details"] == {"x": [1, 2]}  # type: ignore[attr-defined]
    engine.complete_external_task(receipt.id, "w1", {})  # type: ignore[attr-defined]
    [review] = engine.user_tasks(business_key=key)
    assert review.activity_id == "review" and review.candidate_groups == ("specialist",)
    assert review.name and review.assignee is None and review.business_key == key
    assert review.due_at == dt.datetime.fromisoformat(str(_variables(clock)["due_at"]))
    assert review.created_at.tzinfo is not None and review.variables["accepted"] is True
    assert review.id in {t.id for t in engine.user_tasks(candidate_groups=["specialist", "leader"])}
    assert review.id not in {t.id for t in engine.user_tasks(candidate_groups=["leader"])}
    assert engine.user_task(review.id) == review
    assert engine.user_task(str(uuid.uuid4())) is None


def _to_review(engine: OperatonEngine, clock: SimulatedClock) -> tuple[str, str]:
    key = _key()
    engine.start(PROCESS, key, _variables(clock))
    for topic in ("dossier.accept", "documents.receipt"):
        engine.complete_external_task(_fetch_for(engine, "w", topic, key).id, "w", {})  # type: ignore[attr-defined]
    [review] = engine.user_tasks(business_key=key)
    return key, review.id


def test_the_deployed_definition_and_where_an_instance_is(engine: OperatonEngine, clock: SimulatedClock) -> None:
    original = (BPMN_DIR / f"{PROCESS}.bpmn").read_bytes()
    assert engine.definition_xml(PROCESS) == original
    assert engine.definition_xml("no_such_process") is None
    assert engine.activity_states("HKD-nothing") is None
    key, _task_id = _to_review(engine, clock)
    assert engine.definition_xml(PROCESS, key) == original
    states = engine.activity_states(key)
    assert states is not None and states.current == ("review",)
    assert {"received", "accept", "issue_receipt"} <= set(states.completed) and "review" not in states.completed


def test_claim_rules(engine: OperatonEngine, clock: SimulatedClock) -> None:
    key, task_id = _to_review(engine, clock)
    engine.claim(task_id, "an")
    engine.claim(task_id, "an")  # again by the same user: fine
    with pytest.raises(Conflict, match="an"):
        engine.claim(task_id, "binh")
    assert [t.id for t in engine.user_tasks(assignee="an", business_key=key)] == [task_id]
    assert task_id in {t.id for t in engine.user_tasks(candidate_groups=["specialist"])}  # assigned tasks too
    engine.unclaim(task_id)
    engine.claim(task_id, "binh")
    with pytest.raises(NotFound):
        engine.claim(str(uuid.uuid4()), "an")


def test_failure_with_no_retries_left_is_an_incident_and_set_retries_resolves_it(
    engine: OperatonEngine, clock: SimulatedClock
) -> None:
    key = _key()
    engine.start(PROCESS, key, _variables(clock))
    task = _fetch_for(engine, "w", "dossier.accept", key)
    engine.fail_external_task(task.id, "w", "boom: máy in hỏng", 1, 0)  # type: ignore[attr-defined]
    again = _fetch_for(engine, "w", "dossier.accept", key)
    assert again.id == task.id and again.retries == 1  # type: ignore[attr-defined]
    engine.fail_external_task(again.id, "w", "boom: máy in hỏng", 0, 0)  # type: ignore[attr-defined]
    [incident] = [i for i in engine.incidents() if i.business_key == key]
    assert incident.message.startswith("boom") and incident.activity_id == "accept"
    assert all(t.business_key != key for t in engine.fetch_and_lock("w", ["dossier.accept"], 50, 1))
    engine.set_retries(task.id, 2)  # type: ignore[attr-defined]
    assert not [i for i in engine.incidents() if i.business_key == key]
    assert engine.pending_external_tasks() >= 1
    engine.complete_external_task(_fetch_for(engine, "w", "dossier.accept", key).id, "w", {})  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        engine.set_retries(str(uuid.uuid4()), 1)


def test_messages_and_timers(engine: OperatonEngine, clock: SimulatedClock) -> None:
    key, task_id = _to_review(engine, clock)
    with pytest.raises(Conflict):
        engine.correlate_message("supplement_received", key, {"by": "an"})
    with pytest.raises(NotFound):
        engine.correlate_message("supplement_received", "HKD-nothing", {})
    # the boundary timer is due at warn_at (simulated clock + 2 days), months before the real clock's now
    instance = engine.instance(key)
    assert instance is not None
    before, due = clock.now() + dt.timedelta(days=1), clock.now() + dt.timedelta(days=2)
    assert instance.id not in _timer_instances(engine, before)
    assert instance.id in _timer_instances(engine, due + dt.timedelta(seconds=1))
    fired = engine.fire_due_timers(due)
    assert fired >= 1
    warn = _fetch_for(engine, "w", "dossier.warn_due", key)
    engine.complete_external_task(warn.id, "w", {})  # type: ignore[attr-defined]
    assert [t.id for t in engine.user_tasks(business_key=key)] == [task_id]  # non-interrupting


def _timer_instances(engine: OperatonEngine, now: dt.datetime) -> set[str]:
    jobs = engine.http.get("/job", params={"timers": "true", "dueDates": f"lt_{format_time(now)}"}).json()
    return {j.get("processInstanceId") for j in jobs}


def test_a_completed_instance_is_read_from_history(engine: OperatonEngine, clock: SimulatedClock) -> None:
    key = _key()
    engine.start(PROCESS, key, _variables(clock))
    instance = engine.instance(key)
    assert instance is not None
    engine.http.delete(f"/process-instance/{instance.id}")  # ended from outside: still known, not running
    ended = engine.instance(key)
    assert ended is not None and ended.state != "running" and ended.variables["fee"] == 100000
    assert engine.start(PROCESS, key, {}) == instance.id  # still idempotent


# ---------------------------------------------------------------- the whole system on Operaton


@pytest.fixture
def operaton_runtime(operaton: OperatonServer, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        engine="operaton",
        operaton_url=operaton.url,
        operaton_user=operaton.user,
        operaton_password=operaton.password,
        var_dir=tmp_path / "var",
        max_upload_mb=2,
        demo_clock=True,
    )
    forget_operaton_instances(operaton)  # the port tests' instances would otherwise reach the dossier workers
    init_state(settings)
    rt = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    assert isinstance(rt.engine, OperatonEngine)
    assert rt.engine.deploy() == []  # init deployed it already
    assert isinstance(rt.worker.tasks, ClientTasks)  # workers speak through camunda-external-task-client
    try:
        yield rt
    finally:
        rt.close()
        rt.engine.close()


def test_household_business_dossier_end_to_end_on_operaton(operaton_runtime: Runtime) -> None:
    api = Api(operaton_runtime)
    r = api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert api.work() == 2  # dossier.accept, documents.receipt
    assert api.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "result_ready"
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()  # dossier.close
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "returned"
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", "tiepnhan.xa1").content
    report = PadesValidator(operaton_runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    instance = operaton_runtime.engine.instance(code)
    assert instance is not None and instance.state == "completed"
    assert operaton_runtime.engine.incidents() == []
    api.client.close()


# ---------------------------------------------------------------- the workers' client (camunda-external-task-client)


def test_the_workers_client_long_polls_and_keeps_types_and_locks(engine: OperatonEngine, clock: SimulatedClock) -> None:
    import threading
    import time

    client = ClientTasks(engine.base_url, *_credentials(engine))
    key = _key()
    # a fetch that waits: the task is created 1.5 s after the request went out, and comes back at once
    starter = threading.Timer(1.5, lambda: engine.start(PROCESS, key, _variables(clock)))
    began = time.monotonic()
    starter.start()
    tasks: list = []
    # other tests' leftovers on this topic may come first: keep them locked (handed back, they would be fetched
    # again and again) until this test's task arrives; their locks expire after it
    for _ in range(50):
        fetched = client.fetch_and_lock("client-1", ["dossier.accept"], 1, 60, wait_seconds=10)
        tasks = [t for t in fetched if t.business_key == key]
        if tasks:
            break
    waited = time.monotonic() - began
    starter.join()
    [task] = tasks
    assert 1.0 < waited < 9, waited  # held open until the task existed, not the whole 10 s
    assert task.variables["applicant"] == {"name": "Nguyễn Văn A", "documents": ["cccd"]}
    with pytest.raises(Conflict):
        client.complete_external_task(task.id, "client-2", {})  # another worker's lock
    client.complete_external_task(task.id, "client-1", {"checked": {"papers": ["a", "b"]}, "count": 2})
    with pytest.raises(NotFound):
        client.complete_external_task(task.id, "client-1", {})  # completed already
    receipt = _fetch_for(engine, "w", "documents.receipt", key)
    assert receipt.variables["checked"] == {"papers": ["a", "b"]} and receipt.variables["count"] == 2  # type: ignore[attr-defined]
    bad = ClientTasks(engine.base_url, "nobody", "wrong")
    with pytest.raises(Unavailable, match="credentials"):
        bad.fetch_and_lock("x", ["dossier.accept"], 1, 10)
    gone = ClientTasks("http://127.0.0.1:9/engine-rest", "u", "p")
    with pytest.raises(Unavailable):
        gone.fetch_and_lock("x", ["dossier.accept"], 1, 10)


def _credentials(engine: OperatonEngine) -> tuple[str, str]:
    auth = engine.http.auth
    assert isinstance(auth, httpx.BasicAuth)
    user, password = base64.b64decode(auth._auth_header.split()[1]).decode().split(":", 1)
    return user, password


def test_a_task_list_is_filtered_by_tenant_and_paged_by_the_engine(
    engine: OperatonEngine, clock: SimulatedClock
) -> None:
    """``POST /task`` with the candidate groups and the tenant variable, sorted by due date and paged by Operaton:
    one agency's list never holds another's tasks and pages are disjoint slices in due order."""
    mine, theirs = f"A-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"
    made: dict[str, str] = {}
    for days, tenant in ((4, mine), (2, theirs), (1, mine), (3, mine), (2, mine)):
        key = _key()
        due = clock.now() + dt.timedelta(days=days, minutes=len(made))
        engine.start(PROCESS, key, _variables(clock) | {"due_at": due.isoformat(), "current_agency": tenant})
        for topic in ("dossier.accept", "documents.receipt"):
            engine.complete_external_task(_fetch_for(engine, "w", topic, key).id, "w", {})  # type: ignore[attr-defined]
        made[key] = tenant
    listed = engine.user_tasks(candidate_groups=["specialist"], tenant=mine)
    assert {t.business_key for t in listed} == {k for k, t in made.items() if t == mine}
    assert [t.due_at for t in listed] == sorted(t.due_at for t in listed)  # type: ignore[type-var]
    assert all(t.variables["current_agency"] == mine for t in listed)
    assert [t.business_key for t in engine.user_tasks(candidate_groups=["specialist"], tenant=theirs)] == [
        k for k, t in made.items() if t == theirs
    ]
    assert engine.user_tasks(candidate_groups=["leader"], tenant=mine) == []
    pages = [engine.user_tasks(candidate_groups=["specialist"], tenant=mine, offset=o, limit=3) for o in (0, 3)]
    assert [len(p) for p in pages] == [3, 1]
    assert [t.id for p in pages for t in p] == [t.id for t in listed]
