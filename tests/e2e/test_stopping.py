"""Stopping a dossier's processing (Mẫu 05 of Circular 03/2025) through ``POST /api/dossiers/{code}/stop`` on the
embedded engine: at the applicant's request (``withdrawn``) and by the agency (``stopped``) — the notice with the
reason, the status, the process gone from the task lists, the audit entry, the applicant's message, the public
lookup — and the refusals (a finished dossier, another agency's official, a citizen, no reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persistence.schema import notification
from persistence.uow import transaction
from services.stopping import APPLICANT_REASON
from tests.conftest import Api
from tests.pdftools import pdftotext
from tests.web import csrf, logged_in

SPECIALIST = "chuyenvien1.xa1"


def _stop(api: Api, code: str, as_user: str, **body: Any) -> Any:
    return api.post(f"/api/dossiers/{code}/stop", as_user, json=body)


def _notice_text(api: Api, code: str, tmp_path: Path) -> str:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1").content
    return " ".join(pdftotext(pdf, tmp_path).split())


def _stopped_entries(api: Api, code: str) -> list[dict[str, Any]]:
    history = api.get(f"/api/dossiers/{code}/history", "tiepnhan.xa1").json()
    return [e for e in history if e["kind"] == "dossier.stopped"]


def _messages(api: Api, code: str) -> list[str]:
    with transaction(api.runtime.db, read_only=True) as conn:
        rows = conn.execute(notification.select().where(notification.c.dossier_code == code)).all()
    return [f"{r.subject} {r.body}" for r in rows]


def test_stopped_at_the_applicants_request(api: Api, tmp_path: Path) -> None:
    code = api.received()
    assert code in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    api.advance(hours=3)

    r = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True, requested_at="2026-03-02")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["finished_at"]

    text = _notice_text(api, code, tmp_path)
    for expected in (
        "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {code}",
        "Ngày 02/3/2026, Ông/Bà đề nghị dừng giải quyết hồ sơ",
        f"Lý do: {APPLICANT_REASON}",
    ):
        assert expected in text, expected
    # the process ended: no task list shows the dossier, no worker has a step of it
    assert code not in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    assert api.runtime.engine.user_tasks(business_key=code) == []
    instance = api.runtime.engine.instance(code)
    assert instance is not None and instance.state == "cancelled"
    api.advance(days=10)  # the review's warning timer would have fired by now
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "withdrawn"

    [entry] = _stopped_entries(api, code)
    assert entry["actor"] == "tiepnhan.xa1"
    assert entry["details"]["by_applicant"] is True and entry["details"]["requested_at"] == "2026-03-02"
    assert entry["details"]["previous"] == "in_progress" and entry["details"]["document_id"]
    assert any("dừng giải quyết theo đề nghị của Ông/Bà" in m for m in _messages(api, code))

    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["status_label"] == "Rút hồ sơ" and tracked["current_step"] is None

    again = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason="Lần nữa")
    assert again.status_code == 409 and "Không thể dừng giải quyết" in again.json()["title"]
    assert len(_stopped_entries(api, code)) == 1


def test_stopped_by_the_agency_with_its_reason(api: Api, tmp_path: Path) -> None:
    code = api.received()
    reason = "Đất đang có tranh chấp, Tòa án nhân dân đã thụ lý vụ việc."

    missing = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason="  ")
    assert missing.status_code == 422 and "lý do dừng giải quyết" in missing.json()["title"]
    r = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason=reason)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stopped"

    text = _notice_text(api, code, tmp_path)
    assert f"Lý do: {reason}" in text and "đề nghị dừng giải quyết" not in text
    leader = api.runtime.shop.accounts.get("lanhdao.xa1")
    assert leader is not None and leader.full_name in text  # the official who acted signs
    assert code not in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    [entry] = _stopped_entries(api, code)
    assert entry["details"]["by_applicant"] is False and entry["details"]["reason"] == reason
    assert any(reason in m and "theo quyết định của cơ quan" in m for m in _messages(api, code))
    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["status_label"] == "Dừng giải quyết"


def test_who_may_stop_what(api: Api) -> None:
    code = api.received()
    by_agency = {"requested_by_applicant": False, "reason": "Hồ sơ giả mạo giấy tờ."}

    other_agency = _stop(api, code, "lanhdao.vpdk", **by_agency)
    assert other_agency.status_code == 403 and "cơ quan khác" in other_agency.json()["title"]
    citizen = _stop(api, code, "congdan1", requested_by_applicant=True)
    assert citizen.status_code == 403 and "Chỉ cán bộ" in citizen.json()["title"]
    specialist = _stop(api, code, SPECIALIST, **by_agency)
    assert specialist.status_code == 403
    future = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True, requested_at="2026-03-09")
    assert future.status_code == 422 and "không được sau ngày hôm nay" in future.json()["title"]
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] in ("received", "in_progress")
    assert _stopped_entries(api, code) == []

    api.resolve(code)  # handed over: finished
    finished = _stop(api, code, "tiepnhan.xa1", **by_agency)
    assert finished.status_code == 409 and "Đã trả kết quả" in finished.json()["title"]
    assert finished.headers["content-type"].startswith("application/problem+json")
    assert _stopped_entries(api, code) == []


def test_the_desk_stops_a_dossier_after_confirming(api: Api) -> None:
    code = api.received()
    client = logged_in(api, "tiepnhan.xa1")
    path = f"/mot-cua/ho-so/{code}"
    shown = client.get(path)
    assert shown.status_code == 200 and f'action="{path}/dung-giai-quyet"' in shown.text
    assert "Dừng giải quyết hồ sơ" in shown.text

    token = csrf(client, path)
    no_reason = client.post(f"{path}/dung-giai-quyet", data={"csrf_token": token, "stop_by": "agency"})
    assert no_reason.status_code == 422 and 'href="#stop_reason"' in no_reason.text

    form = {"csrf_token": token, "stop_by": "applicant", "stop_requested_at": "02/03/2026", "stop_reason": ""}
    asked = client.post(f"{path}/dung-giai-quyet", data=form)
    assert asked.status_code == 200 and "Xác nhận dừng giải quyết" in asked.text
    assert "theo đề nghị rút hồ sơ của công dân" in asked.text and "không thể hoàn tác" in asked.text
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] != "withdrawn"  # nothing happened yet

    done = client.post(f"{path}/dung-giai-quyet", data=form | {"confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{path}?xong=dung"
    after = client.get(done.headers["location"])
    assert "Mẫu 05" in after.text and "Rút hồ sơ" in after.text
    assert f'action="{path}/dung-giai-quyet"' not in after.text  # finished: no stop form any more
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    listed = f'href="/api/dossiers/{code}/documents/{notice["id"]}">Thông báo dừng giải quyết hồ sơ (Mẫu 05)</a>'
    assert listed in after.text  # the notice among the dossier's papers, to print
    [entry] = _stopped_entries(api, code)
    assert entry["details"]["requested_at"] == "2026-03-02"


def test_the_applicant_reads_the_stop_on_their_page_and_in_the_public_lookup(api: Api, tmp_path: Path) -> None:
    from tests.e2e.test_web_citizens import submit_online
    from tests.e2e.test_web_desk import page_browser, signed_in_as

    citizen = signed_in_as(api, "congdan1")
    code = submit_online(citizen)
    assert api.receive(code).status_code == 200
    reason = "Hộ kinh doanh đã đăng ký tại xã khác."
    r = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=False, reason=reason)
    assert r.status_code == 200, r.text

    mine = citizen.get(f"/cong-dan/ho-so/{code}")
    assert mine.status_code == 200
    for shown in ("Dừng giải quyết", "Cơ quan dừng giải quyết hồ sơ", reason):
        assert shown in mine.text, shown
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    assert f'{notice["id"]}" download>Thông báo dừng giải quyết hồ sơ (Mẫu 05)</a>' in mine.text
    assert "stopped" not in mine.text and "stop_notice" not in mine.text  # no internal names on the page
    looked_up = page_browser(api).post("/tra-cuu", data={"ma": code, "so_dinh_danh": "001090012345"})
    assert looked_up.status_code == 200 and "Dừng giải quyết" in looked_up.text
    # the public lookup hands out the notice itself, as it does a result or a refusal: the same bytes
    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["result"]["kind"] == "stop_notice", tracked
    assert "Tải thông báo dừng giải quyết hồ sơ" in looked_up.text
    public = api.client.get(tracked["result"]["download_url"])
    stored = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1")
    assert public.status_code == 200 and public.content == stored.content
    # the control sheet ends with the dossier handed back to the applicant: processing stopped
    sheet = api.get(f"/api/dossiers/{code}/control-sheet", "tiepnhan.xa1")
    assert sheet.status_code == 200
    sheet_text = pdftotext(sheet.content, tmp_path)
    assert "Nhận: Ông/Bà Nguyễn Văn" in sheet_text and "Dừng giải" in sheet_text, sheet_text  # the note wraps
