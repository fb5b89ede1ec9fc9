"""Errors as problem+json: a detail that shares a name with a standard member does not break the answer."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.problems import install
from dossiers.errors import Conflict


def test_a_detail_named_status_keeps_the_standard_members() -> None:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom() -> None:
        raise Conflict("Hồ sơ đã trả kết quả.", "Already returned.", status="returned", code="X-1", dossier="D1")

    r = TestClient(app).get("/boom")
    assert r.status_code == 409
    body = r.json()
    assert body["status"] == 409 and body["code"] == "motcua.conflict" and body["title"] == "Hồ sơ đã trả kết quả."
    assert body["status_value"] == "returned" and body["code_value"] == "X-1" and body["dossier"] == "D1"
