"""One household-business dossier through the HTTP API on the simulated clock: statuses, due dates, tasks,
audit history and downloads on each path (the forms themselves are checked in test_household_business)."""

from __future__ import annotations

import datetime as dt
import hashlib

from dossiers.calendar import VN_TZ
from tests.conftest import COMMUNE, ENGINES, Api, minimal_pdf

# The procedures' end-to-end tests run on both engines (Operaton on the suite's PostgreSQL).
pytestmark = [ENGINES]


def _kinds(api: Api, code: str) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "chuyenvien1.xa1").json()]


def _status(api: Api, code: str) -> str:
    return str(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"])


def test_approve_path_end_to_end(api: Api) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    dossier = r.json()
    code = dossier["code"]
    assert code == f"{COMMUNE}-260302-0001"
    # received Monday 08:00, 3 working days → Thursday 08:00 (Vietnam time)
    assert dt.datetime.fromisoformat(dossier["due_at"]).astimezone(VN_TZ) == dt.datetime(2026, 3, 5, 8, 0, tzinfo=VN_TZ)
    assert dossier["status"] == "received"

    assert api.work() == 2  # dossier.accept, documents.receipt
    assert _status(api, code) == "in_progress"
    # the uploads were filed under the dossier: <agency>/dossiers/<code>/upload/<sha256>
    with api.runtime.db.connect() as conn:
        from sqlalchemy import select

        from persistence.schema import document

        keys = {r.kind: r.storage_key for r in conn.execute(select(document).where(document.c.dossier_code == code))}
    assert keys["upload"].startswith(f"{COMMUNE}/dossiers/{code}/upload/")
    assert keys["receipt"].startswith(f"{COMMUNE}/dossiers/{code}/receipt/")

    task = api.task_for("chuyenvien1.xa1", code)
    assert task["name"] == "Thẩm định hồ sơ đăng ký hộ kinh doanh"
    assert task["decisions"] == {"decision": ["approve", "refuse", "supplement"]}
    assert dt.datetime.fromisoformat(task["due_at"]) == dt.datetime.fromisoformat(dossier["due_at"])
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    r = api.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ")
    assert r.status_code == 200, r.text

    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)  # prepared, signed on the leader's device, numbered by the clerk, sealed
    assert _status(api, code) == "result_ready"
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()  # dossier.close
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "returned"
    assert view["status_label"] == "Đã trả kết quả"
    assert view["finished_at"] is not None

    kinds = _kinds(api, code)
    assert kinds[:3] == ["dossier.received", "document.stored", "document.stored"]
    assert kinds.count("task.completed") == 5  # review, approve, sign_result, register_number, return_result
    assert kinds.count("task.claimed") >= 1
    statuses = [
        e["details"]["status"]
        for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()
        if e["kind"] == "dossier.status_changed"
    ]
    assert statuses == ["in_progress", "result_ready", "returned"]
    assert api.runtime.engine.instance(code).state == "completed"  # type: ignore[union-attr]

    # the uploaded document comes back byte for byte, with its hash
    doc = view["documents"][0]
    r = api.get(f"/api/dossiers/{code}/documents/{doc['id']}", "chuyenvien1.xa1")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == doc["sha256"] == r.headers["x-content-sha256"]


def test_supplement_path_pauses_the_clock_and_comes_back(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    original_due = dt.datetime.fromisoformat(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["due_at"])
    assert api.decide("chuyenvien1.xa1", code, "supplement", "Thiếu bản sao CCCD").status_code == 200
    api.work()
    assert _status(api, code) == "supplement_requested"
    assert api.get("/api/tasks", "chuyenvien1.xa1").json() == []

    # the citizen comes back one full working day later (Tuesday 08:00)
    api.advance(days=1)
    files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", minimal_pdf("bo sung"), "application/pdf")}
    r = api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files)
    assert r.status_code == 200, r.text
    api.work()  # dossier.resume
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "in_progress"
    assert view["paused_seconds"] == 8 * 3600  # one working day of pause
    assert dt.datetime.fromisoformat(view["due_at"]).astimezone(VN_TZ) == original_due.astimezone(VN_TZ) + dt.timedelta(
        days=1
    )
    assert len([d for d in view["documents"] if d["kind"] == "supplement"]) == 1

    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()
    assert _status(api, code) == "returned"
    kinds = _kinds(api, code)
    assert "dossier.supplemented" in kinds


def test_refuse_path_ends_the_dossier(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "refuse", "Ngành nghề kinh doanh bị cấm").status_code == 200
    api.work()
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "refused"
    assert view["decision"] == "refuse"
    assert api.runtime.engine.instance(code).state == "completed"  # type: ignore[union-attr]
    assert api.get("/api/tasks", "lanhdao.xa1").json() == []


def test_near_due_timer_fires_on_the_simulated_clock(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    assert "deadline.near" not in _kinds(api, code)
    api.advance(days=1)  # Tuesday 08:00: two working days left
    assert "deadline.near" not in _kinds(api, code)
    # due Thursday 08:00 after 24 working hours; the warning comes when a quarter (6 h) is left:
    # Wednesday 10:00 (Monday 08:00–17:00 gives 7 h, Tuesday 8 h, Wednesday 07:00–10:00 the last 3 h)
    api.advance(days=1, hours=1, minutes=59)  # Wednesday 09:59
    assert "deadline.near" not in _kinds(api, code)
    api.advance(minutes=1)  # Wednesday 10:00
    assert _kinds(api, code).count("deadline.near") == 1
    api.advance(hours=5)
    assert _kinds(api, code).count("deadline.near") == 1  # fires once
    # the review task is still there: the warning timer does not interrupt it
    assert api.task_for("chuyenvien1.xa1", code)["activity_id"] == "review"


def test_leader_can_return_the_dossier_for_review(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    api.decide("chuyenvien1.xa1", code, "approve")
    assert api.decide("lanhdao.xa1", code, "return", "Cần làm rõ").status_code == 200
    assert api.task_for("chuyenvien1.xa1", code)["activity_id"] == "review"


def test_citizen_tracks_a_dossier_by_code_and_id_number(api: Api) -> None:
    code = api.submit().json()["code"]
    r = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"})
    assert r.status_code == 200
    assert r.json()["status_label"] == "Đã tiếp nhận"
    wrong = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090099999"})
    assert wrong.status_code == 404
    assert wrong.headers["content-type"].startswith("application/problem+json")
