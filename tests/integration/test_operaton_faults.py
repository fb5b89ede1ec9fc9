"""Faults of the production set-up: ``motcua serve`` and separate ``motcua worker`` processes on Operaton, all
on the suite's PostgreSQL, workers speaking through camunda-external-task-client-python3.

- two worker processes on one engine never both complete one task (no doubled step, status or document);
- a worker that dies holding a task: the lock expires, another worker finishes it, one signed result;
- Operaton restarted mid-dossier: the API says the engine is unavailable meanwhile, the workers reconnect and
  the dossier completes with its state intact;
- a step that keeps failing becomes an incident visible through the API, and ``motcua incidents retry``
  runs it again once the cause is fixed.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from motcua.settings import Settings
from tests.conftest import forget_operaton_instances
from tests.integration.flows import EXPECTED_STATUSES, PLAN_CYCLE, PLANS, drive_to_end, snapshot
from tests.integration.operaton import OperatonServer
from tests.integration.postgres import PostgresCluster
from tests.integration.server import (
    ADMIN,
    LEADER,
    RECEPTION,
    SPECIALIST,
    Api,
    MotcuaServer,
    free_port,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.integration

LOCK_SECONDS = 4  # short, so a dead worker's task comes back within the test
COMMUNE = "000.00.31.H99"


@dataclass
class Stack:
    server: MotcuaServer
    api: Api
    operaton: OperatonServer

    def worker(self, name: str, threads: int = 1, **env: str) -> Any:
        return self.server.spawn(name, "worker", "--threads", str(threads), extra_env=env)

    def operaton_log(self, activity: str, code: str) -> list[dict[str, Any]]:
        """Operaton's success log of one service step of one dossier (who completed it, how often)."""
        with self.operaton.client() as http:
            [instance] = http.get("/history/process-instance", params={"processInstanceBusinessKey": code}).json()
            return list(
                http.get(
                    "/history/external-task-log",
                    params={"processInstanceId": instance["id"], "activityIdIn": activity, "successLog": "true"},
                ).json()
            )


@pytest.fixture
def stack(tmp_path: Path, postgres_cluster: PostgresCluster, operaton_server: OperatonServer) -> Iterator[Stack]:
    """``motcua serve`` without in-process workers, on Operaton and on its own PostgreSQL database."""
    forget_operaton_instances(operaton_server)
    (tmp_path / "logs").mkdir()
    server = MotcuaServer(
        var_dir=tmp_path / "var",
        log_dir=tmp_path / "logs",
        port=free_port(),
        extra_env={
            "MOTCUA_ENGINE": "operaton",
            "MOTCUA_OPERATON_URL": operaton_server.url,
            "MOTCUA_OPERATON_USER": operaton_server.user,
            "MOTCUA_OPERATON_PASSWORD": operaton_server.password,
            "MOTCUA_DATABASE_URL": postgres_cluster.fresh_database(),
            "MOTCUA_DEMO_CLOCK": "false",  # several processes: one clock, the real one
            "MOTCUA_WORKERS_IN_PROCESS": "false",
            "MOTCUA_WORKER_LOCK_SECONDS": str(LOCK_SECONDS),
            "MOTCUA_WORKER_POLL_SECONDS": "2",
            "MOTCUA_WORKER_RETRY_SECONDS": "1",
        },
    )
    server.init()
    server.start()
    api = Api(server)
    try:
        yield Stack(server, api, operaton_server)
    finally:
        api.close()
        server.close()
        if operaton_server.proc is None:  # a test stopped it and failed before starting it again
            operaton_server.start()


def _submit(api: Api, count: int) -> list[str]:
    codes = []
    for i in range(count):
        r = api.submit(name=f"Nguyễn Văn {chr(65 + i)}")
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
    return codes


def _documents(api: Api, code: str, kind: str) -> list[dict[str, Any]]:
    return [d for d in api.dossier(code)["documents"] if d["kind"] == kind]


def test_two_worker_processes_never_both_complete_a_task(stack: Stack) -> None:
    api = stack.api
    api.login_all([RECEPTION, SPECIALIST, LEADER, "vanthu.xa1", ADMIN])
    plans = {code: PLAN_CYCLE[i % len(PLAN_CYCLE)] for i, code in enumerate(_submit(api, 8))}
    # one task per fetch, so the two processes take turns instead of one batch taking everything
    workers = [stack.worker(f"worker-{n}", MOTCUA_WORKER_MAX_TASKS="1") for n in "ab"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        snaps = drive_to_end(api, plans, pool, timeout=150)
    for proc in workers:
        assert proc.poll() is None, f"a worker exited with {proc.returncode}"
    completers: Counter[str] = Counter()
    for code, snap in snaps.items():
        plan = plans[code]
        assert list(snap.statuses) == EXPECTED_STATUSES[plan], (code, plan, snap.statuses)
        assert snap.done == PLANS[plan], (code, snap.done)  # each user step once, in order
        assert len(_documents(api, code, "receipt")) == 1, code
        assert len(_documents(api, code, "result")) == (0 if plan == "refuse" else 1), code
        for entry in stack.operaton_log("accept", code) + stack.operaton_log("issue_receipt", code):
            completers[entry["workerId"]] += 1
        assert len(stack.operaton_log("accept", code)) == 1, code  # completed once, by one worker
    assert sum(completers.values()) == 2 * len(plans)
    assert len(completers) == 2, f"both worker processes should have taken tasks: {completers}"
    for proc in workers:
        exit_code, took, killed = stop_process(proc, timeout=30)
        assert exit_code == 0 and not killed, (exit_code, took)


def test_a_worker_killed_holding_a_task_leaves_one_signed_result(stack: Stack) -> None:
    """The worker process dies (SIGKILL) right after it locked the agency seal of a result; after the lock
    expires the second worker seals it (unless the doomed one finished before the kill landed). Either way the
    dossier ends with exactly one sealed result, whose signatures all validate."""
    api = stack.api
    api.login_all([RECEPTION, SPECIALIST, LEADER, "vanthu.xa1", ADMIN])
    [code] = _submit(api, 1)
    doomed = stack.worker("worker-doomed")
    wait_for("review", lambda: [t for t in api.tasks(SPECIALIST) if t["dossier_code"] == code], timeout=30)
    for user, activity in ((SPECIALIST, "review"), (LEADER, "approve")):
        [task] = [t for t in api.tasks(user) if t["dossier_code"] == code and t["activity_id"] == activity]
        assert api.complete(task["id"], user, "approve").status_code == 200
    wait_for("the certificate to sign", lambda: api.get("/api/signatures/pending", LEADER).json(), timeout=30)
    assert api.sign_on_device(code).status_code == 200
    [number] = wait_for(
        "register_number",
        lambda: [t for t in api.tasks("vanthu.xa1") if t["dossier_code"] == code],
        timeout=30,
    )
    assert api.complete(number["id"], "vanthu.xa1", None).status_code == 200
    # the seal task is created by that completion; the doomed worker long-polls and locks it at once
    with stack.operaton.client() as http:
        locked = wait_for(
            "the doomed worker to lock result.seal",
            lambda: http.get("/external-task", params={"topicName": "result.seal", "locked": "true"}).json(),
            timeout=20,
            every=0.005,
        )
        doomed.kill()
        doomed.wait(timeout=10)
        assert locked[0]["workerId"].startswith("worker-")
        rescuer = stack.worker("worker-rescuer")
        wait_for("result_ready", lambda: api.dossier(code)["status"] == "result_ready", timeout=60)
        [log] = stack.operaton_log("seal_result", code)  # one completion of the seal, whoever made it
        if log["workerId"] == locked[0]["workerId"]:
            # the doomed worker sealed and completed in the moment between its lock and the kill (a loaded machine
            # sees the lock late): then the rescuer must have found nothing to do — one result, sealed once
            assert rescuer.poll() is None  # alive, idle
    [ret] = wait_for("return_result", lambda: [t for t in api.tasks(RECEPTION) if t["dossier_code"] == code])
    assert api.complete(ret["id"], RECEPTION, None).status_code == 200
    wait_for("returned", lambda: api.dossier(code)["status"] == "returned", timeout=30)
    [result] = _documents(api, code, "result")
    report = api.get(f"/api/dossiers/{code}/documents/{result['id']}/verification", "thanhtra.tinh")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["indication"] == "TOTAL-PASSED", body
    # the leader's signature and the agency seal, once each
    assert [s["field_name"] for s in body["signatures"]] == ["leader_signature", "agency_seal"], body
    statuses = snapshot(api, code).statuses
    assert statuses.count("result_ready") == 1, statuses
    stop_process(rescuer)


def test_operaton_restarted_mid_dossier(stack: Stack) -> None:
    api = stack.api
    api.login_all([RECEPTION, SPECIALIST, LEADER, "vanthu.xa1", ADMIN])
    worker = stack.worker("worker-1")
    [code] = _submit(api, 1)
    [review] = wait_for("review", lambda: [t for t in api.tasks(SPECIALIST) if t["dossier_code"] == code])
    due_before = api.dossier(code)["due_at"]

    stack.operaton.stop()
    r = api.complete(review["id"], SPECIALIST, "approve")
    assert r.status_code == 503, r.text
    assert "Operaton" in r.json()["detail"], r.json()
    # intake while the engine is down: the dossier is registered (the citizen is not sent away) and its process
    # starts when the engine is back
    late = api.submit(name="Trần Thị Bình")
    assert late.status_code == 201, late.text
    late_code = late.json()["code"]
    assert late.json()["status"] == "received"
    time.sleep(2 * 2 + 1)  # the worker's long polls fail meanwhile; it must keep trying, not exit
    assert worker.poll() is None, "the worker gave up while Operaton was down"

    stack.operaton.start()  # same port, same PostgreSQL database
    [review_again] = [t for t in api.tasks(SPECIALIST) if t["dossier_code"] == code]
    assert review_again["id"] == review["id"]  # the engine kept the instance exactly where it was
    plans = {code: "approve", late_code: "refuse"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        snaps = drive_to_end(api, plans, pool, timeout=90)
    assert list(snaps[code].statuses) == EXPECTED_STATUSES["approve"]
    assert list(snaps[late_code].statuses) == EXPECTED_STATUSES["refuse"]
    assert api.dossier(code)["due_at"] == due_before
    assert len(_documents(api, code, "result")) == 1
    assert len(_documents(api, late_code, "receipt")) == 1
    with stack.operaton.client() as http:
        for business_key in (code, late_code):  # one process instance each, run to its end
            [instance] = http.get(
                "/history/process-instance", params={"processInstanceBusinessKey": business_key}
            ).json()
            assert instance["state"] == "COMPLETED"
    stop_process(worker)


def test_a_failing_step_becomes_an_incident_and_the_retry_command_runs_it_again(stack: Stack) -> None:
    api = stack.api
    api.login_all([RECEPTION, SPECIALIST, ADMIN])
    key = stack.server.var_dir / "pki" / "agency" / f"{COMMUNE}.p12"
    aside = key.with_suffix(".p12.away")
    shutil.move(key, aside)  # the commune's seal key is gone: every receipt fails to be sealed
    worker = stack.worker("worker-1", MOTCUA_WORKER_RETRIES="2")
    [code] = _submit(api, 1)
    incidents = wait_for(
        "an incident for the receipt",
        lambda: [i for i in api.get("/api/incidents", ADMIN).json() if i["dossier_code"] == code],
        timeout=40,
    )
    [incident] = incidents
    assert incident["activity_id"] == "issue_receipt" and incident["retryable"] is True
    assert "agency:" + COMMUNE in incident["message"] or COMMUNE in incident["message"], incident
    with stack.operaton.client() as http:  # tried twice (retries 2 → 1 → 0), then left for an operator
        failures = http.get(
            "/history/external-task-log", params={"activityIdIn": "issue_receipt", "failureLog": "true"}
        ).json()
    assert len(failures) == 2, failures
    assert _documents(api, code, "receipt") == []

    refused = stack.server.cli("incidents", "retry", "no-such-incident")
    assert refused.returncode == 2 and "incident" in refused.stderr.lower(), refused
    shutil.move(aside, key)  # the operator restores the key …
    listed = stack.server.cli("incidents", "list")
    assert listed.returncode == 0 and incident["id"] in listed.stdout and code in listed.stdout, listed
    done = stack.server.cli("incidents", "retry", incident["id"])  # … and retries the step
    assert done.returncode == 0, done.stderr
    wait_for("the receipt", lambda: _documents(api, code, "receipt"), timeout=30)
    wait_for("no open incident", lambda: not api.get("/api/incidents", ADMIN).json(), timeout=10)
    kinds = [e["kind"] for e in api.history(code)]
    assert "incident.retried" in kinds, kinds
    stop_process(worker)


def test_settings_reach_worker_processes() -> None:
    """The variables the fixtures pass to the worker processes are real settings (a typo would be ignored)."""
    names = set(Settings.model_fields)
    for variable in ("worker_lock_seconds", "worker_poll_seconds", "worker_retry_seconds", "worker_retries"):
        assert variable in names
    assert "worker_max_tasks" in names
