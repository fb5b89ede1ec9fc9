"""The OpenAPI document tells the truth, and a fuzzer keeps it honest (issue 14, point 9).

schemathesis generates requests from ``/openapi.json`` for every operation, anonymously and with a bearer token of
each role, schema-valid (positive) and schema-breaking (negative) ones, a bounded number of examples from a fixed
seed (Hypothesis ``derandomize``), and checks every response: no server error (5xx other than a declared 503),
the status code declared, the content type declared, the headers declared and the body valid against the declared
schema. The figures (operations × roles, requests, failures by kind) go to ``build/openapi-fuzz.json``.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import asgi
from dossiers.clock import SimulatedClock
from motcua.app import DEMO_PASSWORD, Runtime, build_runtime, init_state
from motcua.settings import Settings
from tests.conftest import MONDAY_MORNING

ROLES = {
    "anonymous": None,
    "citizen": "congdan1",
    "reception": "tiepnhan.xa1",
    "specialist": "chuyenvien1.xa1",
    "leader": "lanhdao.xa1",
    "clerk": "vanthu.xa1",
    "auditor": "thanhtra.tinh",
    "admin": "quantri.tinh",
}
# examples per operation and caller: schema-valid, schema-breaking (and as many schema-valid ones again on resources
# that exist); MOTCUA_FUZZ_EXAMPLES=40 runs a deeper search (×8 of this)
_SCALE = max(1, int(os.environ.get("MOTCUA_FUZZ_EXAMPLES", "6")))
EXAMPLES = {GenerationMode.POSITIVE: _SCALE, GenerationMode.NEGATIVE: max(1, _SCALE // 2)}
REPORT = Path("build/openapi-fuzz.json")
_figures: dict[str, Any] = {}


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Like schemathesis's own check, except that a 503 the operation declares (a collaborator unavailable)
    is an answer, not a crash; every other 5xx fails."""
    status = response.status_code
    if status >= 500 and not (status == 503 and "503" in case.operation.definition.raw.get("responses", {})):
        raise AssertionError(f"server error {status}: {response.text[:300]}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, dict[str, str | None]]]:
    """One installation for the whole run (requests change its state, as an attacker's would)."""
    base = Settings(var_dir=tmp_path_factory.mktemp("fuzz") / "var", max_upload_mb=2, demo_clock=True)
    init_state(base)
    runtime: Runtime = build_runtime(base, clock=SimulatedClock(MONDAY_MORNING))
    runtime.engine.deploy()
    app = asgi(runtime)
    from fastapi.testclient import TestClient

    client = TestClient(app)
    tokens: dict[str, str | None] = {}
    for role, username in ROLES.items():
        if username is None:
            tokens[role] = None
            continue
        r = client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        tokens[role] = r.json()["access_token"]
    known = _real_resources(runtime)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema, known, tokens
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(_figures, indent=2, ensure_ascii=False), encoding="utf-8")
    runtime.close()


def _real_resources(runtime: Runtime) -> dict[str, str]:
    """A dossier at the specialist's step with its documents and task: path parameters that exist, so examples
    also reach the code behind the 404s."""
    from tests.conftest import Api

    api = Api(runtime)
    r = api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    api.work()
    document_id = api.get(f"/api/dossiers/{code}", "thanhtra.tinh").json()["documents"][0]["id"]
    task_id = api.task_for("chuyenvien1.xa1", code)["id"]
    return {"code": code, "document_id": document_id, "task_id": task_id}


def _fuzz(
    operation: Any, token: str | None, mode: GenerationMode, seen: list[dict[str, Any]], path: dict[str, str]
) -> int:
    """Run the examples of one operation as one caller; append each failure to ``seen``; return the requests."""
    made = 0

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path or None))
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,  # a fixed seed: the same requests on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal made
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        case.headers = headers
        made += 1
        try:
            response = case.call()
        except Exception as exc:  # noqa: BLE001 - the application raised: a server error, recorded like the others
            seen.append(
                {
                    "operation": operation.label,
                    "mode": mode.value,
                    "kind": "ServerException",
                    "status": 500,
                    "message": f"{type(exc).__name__}: {str(exc)[:200]}",
                    "body": case.as_curl_command(),
                }
            )
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as exc:  # noqa: BLE001 - a FailureGroup (BaseExceptionGroup) or an AssertionError
            for failure in getattr(exc, "exceptions", [exc]):
                seen.append(
                    {
                        "operation": operation.label,
                        "mode": mode.value,
                        "kind": type(failure).__name__,
                        "status": response.status_code,
                        "message": str(failure).splitlines()[0][:200],
                        "body": response.text[:300],
                    }
                )

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break in an operation without input
    return made


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_answers_as_documented(role: str, fuzz_target: tuple[Any, Any, dict[str, str | None]]) -> None:
    schema, known, tokens = fuzz_target
    failures: list[dict[str, Any]] = []
    requests = operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in EXAMPLES:
            requests += _fuzz(operation, tokens[role], mode, failures, {})
        names = {p.name for p in operation.path_parameters}
        if names and names <= set(known):  # again on resources that exist
            path = {name: known[name] for name in names}
            requests += _fuzz(operation, tokens[role], GenerationMode.POSITIVE, failures, path)
    kinds = collections.Counter(f["kind"] for f in failures)
    _figures[role] = {
        "operations": operations,
        "requests": requests,
        "failures": dict(kinds),
        "examples": failures[:200],
    }
    assert operations >= 40 and requests >= operations  # the document lists the API, and every operation ran
    assert not failures, json.dumps(failures[:10], indent=1, ensure_ascii=False)
