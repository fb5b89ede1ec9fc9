"""``motcua engine migrate --to operaton`` (workflows/migration.py, docs/engine-migration.md): dossiers in flight on
the embedded engine are recreated on the real Operaton at the step where each one waits, with their variables,
business key and assignee; the embedded engine stops serving them; a second run and ``--dry-run`` change
nothing; then every migrated dossier is driven to its end on Operaton through the HTTP API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dossiers.clock import SimulatedClock
from dossiers.model import Role
from motcua.app import DEMO_PASSWORD, Runtime, build_runtime
from motcua.cli import app as cli
from motcua.settings import Settings
from persistence.schema import audit_log, dossier, wf_instance
from tests.conftest import COMMUNE, Api, forget_operaton_instances, minimal_pdf
from tests.integration.operaton import OperatonServer
from workflows.operaton.wire import parse_time

pytestmark = pytest.mark.integration

PROCESS = "household_business_registration"
PKT = f"{COMMUNE}-PKT"  # the economic department: household business is its procedure


@pytest.fixture
def operaton(operaton_server: OperatonServer) -> OperatonServer:
    forget_operaton_instances(operaton_server)  # dossier codes restart at 0001 in every test
    return operaton_server


def _cli_env(settings: Settings, server: OperatonServer) -> dict[str, str]:
    """What an operator's shell holds: the embedded state's var dir; Operaton is given as options."""
    return {
        "MOTCUA_VAR_DIR": str(settings.var_dir),
        "MOTCUA_ENGINE": "embedded",
        "MOTCUA_DEMO_CLOCK": "true",
        "MOTCUA_OPERATON_URL": "",
        "MOTCUA_OPERATON_USER": "",
        "MOTCUA_OPERATON_PASSWORD": "",
    }


def _migrate(settings: Settings, server: OperatonServer, *extra: str) -> Any:
    args = [
        "engine",
        "migrate",
        "--to",
        "operaton",
        "--operaton-url",
        server.url,
        "--operaton-user",
        server.user,
        "--operaton-password",
        server.password,
        *extra,
    ]
    return CliRunner().invoke(cli, args, env=_cli_env(settings, server))


def _rows(out: str, code: str) -> str:
    [line] = [line for line in out.splitlines() if line.startswith(code)]
    return line


def _snapshot(runtime: Runtime, server: OperatonServer) -> tuple[Any, ...]:
    """Both sides' state: the embedded instances, the Operaton instances, tasks and jobs, the audit log length (the
    reads' entries still queued are appended first: they belong to what happened before the snapshot)."""
    runtime.audit.flush_reads()
    with runtime.db.connect() as conn:
        instances = sorted((r.business_key, r.status, r.revision) for r in conn.execute(select(wf_instance)).all())
        audit = conn.execute(select(audit_log.c.seq)).all()
    with server.client() as http:
        running = sorted((r["businessKey"], r["id"]) for r in http.get("/process-instance").json())
        tasks = sorted((t["taskDefinitionKey"], t.get("assignee") or "") for t in http.get("/task").json())
        jobs = sorted(j["id"] for j in http.get("/job").json())
        definitions = sorted(d["id"] for d in http.get("/process-definition").json())
    return instances, len(audit), running, tasks, jobs, definitions


def _status(api: Api, code: str) -> str:
    return str(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"])


def _documents(api: Api, code: str, kind: str) -> list[dict[str, Any]]:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    return [d for d in view["documents"] if d["kind"] == kind]


@pytest.fixture
def in_flight(api: Api) -> dict[str, str]:
    """Dossiers waiting at every kind of step on the embedded engine."""
    codes: dict[str, str] = {}
    for name in ("review", "claimed", "supplement", "leader"):
        r = api.submit()
        assert r.status_code == 201, r.text
        codes[name] = r.json()["code"]
    assert api.work() == 8  # accept and receipt of each
    task = api.task_for("chuyenvien1.xa1", codes["claimed"])
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    assert api.decide("chuyenvien1.xa1", codes["supplement"], "supplement", "Thiếu bản sao CCCD").status_code == 200
    assert api.decide("chuyenvien1.xa1", codes["leader"], "approve", "Hồ sơ hợp lệ").status_code == 200
    api.work()  # dossier.request_supplement
    assert _status(api, codes["supplement"]) == "supplement_requested"
    # received but not yet worked: its first external task waits, locked by a worker that then died
    r = api.submit()
    assert r.status_code == 201, r.text
    codes["pending"] = r.json()["code"]
    [locked] = api.runtime.engine.fetch_and_lock("crashed-worker", ["dossier.accept"], 5, 300)
    assert locked.business_key == codes["pending"]
    return codes


@pytest.fixture
def on_operaton(settings: Settings, runtime: Runtime, operaton: OperatonServer) -> Iterator[Api]:
    """The same state (database, documents, keys) served on Operaton after the switch MOTCUA_ENGINE=operaton."""
    switched = settings.model_copy(
        update={
            "engine": "operaton",
            "operaton_url": operaton.url,
            "operaton_user": operaton.user,
            "operaton_password": operaton.password,
        }
    )
    rt = build_runtime(switched, clock=SimulatedClock(runtime.clock.now()))
    try:
        yield Api(rt)
    finally:
        rt.close()


def test_in_flight_dossiers_move_to_operaton_at_their_step_and_finish_there(
    api: Api, in_flight: dict[str, str], settings: Settings, operaton: OperatonServer, request: pytest.FixtureRequest
) -> None:
    codes = in_flight
    embedded = api.runtime.engine
    before_variables = {name: embedded.instance(code).variables for name, code in codes.items()}  # type: ignore[union-attr]

    # --dry-run: says what it would do, touches neither side
    before = _snapshot(api.runtime, operaton)
    dry = _migrate(settings, operaton, "--dry-run")
    assert dry.exit_code == 0, dry.output
    for code in codes.values():
        assert "would migrate" in _rows(dry.output, code)
    assert "supplement_received" in _rows(dry.output, codes["supplement"])
    assert "review (assignee chuyenvien1.xa1)" in _rows(dry.output, codes["claimed"])
    assert "was locked by crashed-worker" in _rows(dry.output, codes["pending"])
    assert _snapshot(api.runtime, operaton) == before

    # the migration
    run = _migrate(settings, operaton)
    assert run.exit_code == 0, run.output
    for code in codes.values():
        assert " migrated" in _rows(run.output, code), run.output
    assert "5 instance(s): 5 migrated" in run.output

    # the embedded engine no longer serves them: no tasks, nothing to fetch, no messages
    assert not [t for t in embedded.user_tasks() if t.business_key in codes.values()]
    assert embedded.fetch_and_lock("w", ["dossier.accept", "dossier.resume"], 10, 60) == []
    assert embedded.pending_external_tasks() == 0
    with api.runtime.db.connect() as conn:
        statuses = {r.business_key: r.status for r in conn.execute(select(wf_instance)).all()}
        pointers = {r.code: r.process_instance_id for r in conn.execute(select(dossier)).all()}
        migrated_events = conn.execute(select(audit_log).where(audit_log.c.kind == "engine.migrated")).all()
    assert {statuses[c] for c in codes.values()} == {"migrated"}
    assert len(migrated_events) == 5

    with operaton.client() as http:
        running = {r["businessKey"]: r for r in http.get("/process-instance").json()}
        assert set(running) == set(codes.values())
        for name, code in codes.items():
            instance_id = running[code]["id"]
            assert pointers[code] == instance_id  # the dossier points at its Operaton instance
            variables = http.get(f"/process-instance/{instance_id}/variables").json()
            for key in ("due_at", "warn_at", "dossier_code", "agency_code"):
                assert variables[key]["value"] == before_variables[name][key], (name, key)
        tasks = {t["processInstanceId"]: t for t in http.get("/task").json()}
        review = tasks[running[codes["review"]]["id"]]
        claimed = tasks[running[codes["claimed"]]["id"]]
        leader = tasks[running[codes["leader"]]["id"]]
        assert (review["taskDefinitionKey"], review["assignee"]) == ("review", None)
        assert (claimed["taskDefinitionKey"], claimed["assignee"]) == ("review", "chuyenvien1.xa1")
        assert leader["taskDefinitionKey"] == "approve"
        assert parse_time(review["due"]) == dt.datetime.fromisoformat(before_variables["review"]["due_at"])
        # the near-due boundary timer of the review step: created by Operaton itself, due at warn_at
        for name in ("review", "claimed"):
            [job] = http.get("/job", params={"timers": "true", "processInstanceId": running[codes[name]]["id"]}).json()
            assert parse_time(job["dueDate"]) == dt.datetime.fromisoformat(before_variables[name]["warn_at"])
        assert (
            http.get("/job", params={"timers": "true", "processInstanceId": running[codes["leader"]]["id"]}).json()
            == []
        )
        [subscription] = http.get(
            "/event-subscription", params={"processInstanceId": running[codes["supplement"]]["id"]}
        ).json()
        assert (subscription["eventType"], subscription["eventName"]) == ("message", "supplement_received")
        pending = http.get("/external-task", params={"processInstanceId": running[codes["pending"]]["id"]}).json()
        assert [(t["activityId"], t["workerId"]) for t in pending] == [("accept", None)]  # fresh, unlocked

    # a second run: every dossier skipped, nothing changes
    after = _snapshot(api.runtime, operaton)
    again = _migrate(settings, operaton)
    assert again.exit_code == 0, again.output
    for code in codes.values():
        assert "skipped" in _rows(again.output, code)
    assert "5 instance(s): 5 skipped" in again.output
    assert _snapshot(api.runtime, operaton) == after

    # from here on the agency runs on Operaton: drive every dossier to its end
    op: Api = request.getfixturevalue("on_operaton")
    assert op.runtime.engine.__class__.__name__ == "OperatonEngine"
    # the claimed task is still the specialist's: a colleague of the same department cannot complete it
    claimed = op.task_for("chuyenvien1.xa1", codes["claimed"])
    assert claimed["assignee"] == "chuyenvien1.xa1"
    rt = op.runtime
    rt.accounts.add("chuyenvien3.xa1", DEMO_PASSWORD, "Đỗ Văn Cường", Role.SPECIALIST, COMMUNE, PKT, rt.clock.now())
    r = op.post(f"/api/tasks/{claimed['id']}/complete", "chuyenvien3.xa1", json={"decision": "refuse"})
    assert r.status_code == 409, r.text
    assert op.decide("chuyenvien1.xa1", codes["claimed"], "refuse", "Ngành nghề bị cấm").status_code == 200

    # the boundary timer fires once warn_at passes (Wednesday 10:00): the deadline warnings come from Operaton
    op.advance(days=2, hours=3)
    with op.runtime.db.connect() as conn:
        warned = {r.dossier_code for r in conn.execute(select(audit_log).where(audit_log.c.kind == "deadline.near"))}
    assert codes["review"] in warned

    assert op.decide("chuyenvien1.xa1", codes["review"], "approve").status_code == 200
    assert op.decide("lanhdao.xa1", codes["review"], "approve").status_code == 200
    op.issue_result(codes["review"])

    assert op.decide("lanhdao.xa1", codes["leader"], "approve").status_code == 200
    op.issue_result(codes["leader"])

    files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", minimal_pdf("bo sung"), "application/pdf")}
    r = op.post(f"/api/dossiers/{codes['supplement']}/supplement", "tiepnhan.xa1", files=files)
    assert r.status_code == 200, r.text
    op.work()  # dossier.resume
    assert op.decide("chuyenvien1.xa1", codes["supplement"], "approve").status_code == 200
    assert op.decide("lanhdao.xa1", codes["supplement"], "approve").status_code == 200
    op.issue_result(codes["supplement"])

    op.work()  # the pending dossier: accept, receipt (its lock did not travel)
    assert len(_documents(op, codes["pending"], "receipt")) == 1
    assert op.decide("chuyenvien1.xa1", codes["pending"], "refuse", "Thiếu điều kiện").status_code == 200

    for name in ("review", "leader", "supplement"):
        assert op.decide("tiepnhan.xa1", codes[name], None).status_code == 200
    op.work()
    for name in ("review", "leader", "supplement"):
        assert _status(op, codes[name]) == "returned", name
        assert len(_documents(op, codes[name], "result")) == 1, name
    for name in ("claimed", "pending"):
        assert _status(op, codes[name]) == "refused", name
        assert _documents(op, codes[name], "result") == []
    with operaton.client() as http:
        assert http.get("/process-instance").json() == []
        assert op.runtime.engine.incidents() == []


def test_a_failed_dossier_stays_on_the_embedded_engine_and_a_rerun_finishes_the_job(
    api: Api, settings: Settings, operaton: OperatonServer
) -> None:
    # one dossier whose near-due warning was already sent on the embedded engine, one that will fail
    warned = api.submit().json()["code"]
    api.work()
    api.advance(days=2, hours=3)  # past warn_at (Wednesday 10:00): the embedded timer fired
    broken = api.submit().json()["code"]
    api.work()
    engine = api.runtime.engine
    with api.runtime.db.begin() as conn:
        conn.execute(wf_instance.update().where(wf_instance.c.business_key == broken).values(process_key="gone"))

    run = _migrate(settings, operaton)
    assert run.exit_code == 1, run.output
    assert "1 migrated, 1 failed" in run.output
    assert "timer near_due already fired on the embedded engine: disarmed" in _rows(run.output, warned)
    assert "failed" in _rows(run.output, broken)
    # the failed dossier is untouched: still served by the embedded engine, nothing of it on Operaton
    assert [t.activity_id for t in engine.user_tasks(business_key=broken)] == ["review"]
    with operaton.client() as http:
        assert [r["businessKey"] for r in http.get("/process-instance").json()] == [warned]
        [instance] = http.get("/process-instance").json()
        [job] = http.get("/job", params={"timers": "true", "processInstanceId": instance["id"]}).json()
        assert parse_time(job["dueDate"]).year == 9999  # type: ignore[union-attr]  # not a second warning

    # an interruption after Operaton started an instance but before the embedded side committed
    with api.runtime.db.begin() as conn:
        conn.execute(wf_instance.update().where(wf_instance.c.business_key == warned).values(status="running"))
        conn.execute(wf_instance.update().where(wf_instance.c.business_key == broken).values(process_key=PROCESS))
    again = _migrate(settings, operaton)
    assert again.exit_code == 0, again.output
    assert "skipped: already on Operaton; embedded instance marked migrated" in _rows(again.output, warned)
    assert " migrated" in _rows(again.output, broken)
    with api.runtime.db.connect() as conn:
        assert {r.status for r in conn.execute(select(wf_instance)).all()} == {"migrated"}
    assert engine.user_tasks() == []
    with operaton.client() as http:
        assert sorted(r["businessKey"] for r in http.get("/process-instance").json()) == sorted([warned, broken])
