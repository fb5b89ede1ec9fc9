"""deploy/operaton builds a working Operaton: REST with Basic auth, duplicate-filtered deployment of our BPMN,
a start with business key and JSON variables, and the first external task through fetchAndLock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.operaton import ROOT, Jdbc, OperatonServer, OperatonUnavailable, start_operaton, unavailable

pytestmark = pytest.mark.integration

BPMN = ROOT / "workflows" / "bpmn" / "household_business_registration.bpmn"
PROCESS_KEY = "household_business_registration"


@pytest.fixture(scope="module")
def operaton(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatonServer]:
    """Operaton on the suite's PostgreSQL when it runs here, else on in-memory H2 (a build check only)."""
    try:
        cluster = request.getfixturevalue("postgres_cluster")
        jdbc = Jdbc.from_sqlalchemy(cluster.fresh_database("operaton_build"))
    except pytest.skip.Exception:
        jdbc = Jdbc.h2_memory("operaton_build")
    try:
        server = start_operaton(jdbc, tmp_path_factory.mktemp("operaton"))
    except OperatonUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


def _deploy(server: OperatonServer) -> dict:
    with server.client() as http, BPMN.open("rb") as f:
        r = http.post(
            "/deployment/create",
            data={"deployment-name": "motcua", "deploy-changed-only": "true", "enable-duplicate-filtering": "true"},
            files={"data": (BPMN.name, f, "application/octet-stream")},
        )
    assert r.status_code == 200, r.text
    return r.json()


def test_engine_answers_with_auth_and_refuses_without(operaton: OperatonServer) -> None:
    with operaton.client() as http:
        engines = http.get("/engine")
        assert engines.status_code == 200 and {"name": "default"} in engines.json()
        assert http.get("/process-definition/count").status_code == 200
    with operaton.client(auth=False) as anon:
        assert anon.get("/process-definition/count").status_code == 401
        assert anon.get("/external-task").status_code == 401
    with operaton.client() as http:
        # an unknown user, not the admin with a wrong password: Operaton then delays the admin's next logins
        # (login throttling, loginDelayBase) and the following tests would see 401
        http.auth = ("nobody", "wrong-password")
        assert http.get("/process-definition/count").status_code == 401


def test_deploy_twice_start_with_json_and_fetch_the_first_external_task(operaton: OperatonServer) -> None:
    first = _deploy(operaton)
    assert [d["key"] for d in (first["deployedProcessDefinitions"] or {}).values()] == [PROCESS_KEY]
    again = _deploy(operaton)
    assert not again["deployedProcessDefinitions"], "an unchanged BPMN must not make a new version"
    with operaton.client() as http:
        defs = http.get("/process-definition", params={"key": PROCESS_KEY}).json()
        assert [d["version"] for d in defs] == [1]
        assert defs[0]["historyTimeToLive"] is not None

        applicant = {"name": "Nguyễn Văn A", "documents": ["cccd", "giay-de-nghi"], "fee": 100000}
        started = http.post(
            f"/process-definition/key/{PROCESS_KEY}/start",
            json={
                "businessKey": "HKD-TEST-0001",
                "variables": {
                    "applicant": {"type": "Json", "value": json.dumps(applicant, ensure_ascii=False)},
                    "channel": {"type": "String", "value": "counter"},
                },
            },
        )
        assert started.status_code == 200, started.text
        instance = started.json()
        assert instance["businessKey"] == "HKD-TEST-0001" and not instance["ended"]

        tasks = http.post(
            "/external-task/fetchAndLock",
            json={
                "workerId": "build-test",
                "maxTasks": 10,
                "topics": [{"topicName": "dossier.accept", "lockDuration": 60000}],
            },
        )
        assert tasks.status_code == 200, tasks.text
        [task] = [t for t in tasks.json() if t["processInstanceId"] == instance["id"]]
        assert task["businessKey"] == "HKD-TEST-0001"
        assert task["variables"]["applicant"]["type"] == "Json"
        assert json.loads(task["variables"]["applicant"]["value"]) == applicant

        stored = http.get(
            f"/process-instance/{instance['id']}/variables/applicant", params={"deserializeValue": "false"}
        ).json()
        assert stored["type"] == "Json" and json.loads(stored["value"]) == applicant


def test_jar_is_cached_by_source_hash(operaton: OperatonServer) -> None:
    assert operaton.jar.exists() and operaton.jar.parent.name == "operaton"
    assert Path(operaton.jar).stat().st_size > 10_000_000
