"""Issue 17, point 4: a finished dossier's embedded-engine state is dropped after MOTCUA_ENGINE_STATE_RETENTION_DAYS
(housekeeping), and everything that reads the finished dossier answers as before: the dossier, its diagram with the
visited steps, its history, the public tracking, the verification of its result and the audit chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from motcua.housekeeping import prune_engine_state
from persistence.schema import wf_instance
from services.audit import audit_report
from tests.conftest import Api

ID_NUMBER = "001090012345"  # Api.submit's applicant


def _returned(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    api.resolve(code)
    return code


def _reads(api: Api, code: str) -> dict[str, Any]:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1")
    diagram = api.get(f"/api/dossiers/{code}/diagram", "chuyenvien1.xa1")
    history = api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh")
    tracking = api.client.get("/api/public/tracking", params={"code": code, "id_number": ID_NUMBER})
    for r in (view, diagram, history, tracking):
        assert r.status_code == 200, r.text
    result = next(d for d in view.json()["documents"] if d["kind"] == "result")
    verified = api.get(f"/api/dossiers/{code}/documents/{result['id']}/verification", "thanhtra.tinh")
    assert verified.status_code == 200, verified.text
    return {
        "status": view.json()["status"],
        "documents": [(d["id"], d["sha256"]) for d in view.json()["documents"]],
        "current": diagram.json()["current"],
        "completed": diagram.json()["completed"],
        "history": [(e["kind"], e["at"]) for e in history.json()],
        # the result's download link is made afresh, for a time from now
        "tracking": {k: v for k, v in tracking.json().items() if k != "result"},
        "tracking_result": {
            k: v for k, v in (tracking.json().get("result") or {}).items() if k in ("kind", "filename")
        },
        "verification": verified.json(),
    }


def _state(api: Api, code: str) -> Any:
    with api.runtime.db.connect() as conn:
        return conn.execute(
            select(wf_instance.c.state, wf_instance.c.pruned_at, wf_instance.c.summary).where(
                wf_instance.c.business_key == code
            )
        ).one()


def test_a_finished_dossier_reads_the_same_after_its_engine_state_is_pruned(api: Api) -> None:
    code = _returned(api)
    running = api.submit().json()["code"]  # still at review: never pruned
    api.work()
    before = _reads(api, code)
    assert before["status"] == "returned"
    assert {"review", "approve", "return_result"} <= set(before["completed"]), before["completed"]
    assert len(_state(api, code).state) > 1000

    assert api.runtime.settings.engine_state_retention_days == 30
    api.advance(days=29)
    assert prune_engine_state(api.runtime) == 0  # within the retention: kept
    assert _state(api, code).pruned_at is None
    api.advance(days=2)
    assert prune_engine_state(api.runtime) == 1
    assert prune_engine_state(api.runtime) == 0  # done once
    pruned = _state(api, code)
    assert pruned.state == "" and pruned.pruned_at is not None
    assert "return_result" in pruned.summary["completed"]
    assert _state(api, running).pruned_at is None and _state(api, running).state

    after = _reads(api, code)
    assert after["history"][: len(before["history"])] == before["history"]  # reads since are recorded, nothing lost
    for key in ("status", "documents", "current", "completed", "tracking", "tracking_result"):
        assert after[key] == before[key], key
    assert before["verification"]["indication"] == "TOTAL-PASSED", before["verification"]
    assert after["verification"]["indication"] == "TOTAL-PASSED", after["verification"]
    instance = api.runtime.engine.instance(code)
    assert instance is not None and instance.state == "completed" and instance.process_key
    report = audit_report(api.runtime)  # type: ignore[arg-type]
    assert report.intact, report.lines()

    # the running dossier goes on to the end as usual
    assert api.decide("chuyenvien1.xa1", running, "refuse", "Thiếu giấy tờ").status_code == 200
