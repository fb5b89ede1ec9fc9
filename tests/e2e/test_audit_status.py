"""The audit log's state for auditors (DESIGN §10): ``GET /api/audit/status`` and ``POST /api/audit/checkpoints``,
and the desk page ``/thanh-tra/nhat-ky`` with the chain's status and a button that makes a checkpoint now."""

from __future__ import annotations

import re

from sqlalchemy import update

from persistence.schema import audit_log
from persistence.uow import transaction
from tests.conftest import Api
from tests.web import csrf, logged_in

AUDITOR = "thanhtra.tinh"
ADMIN = "quantri.tinh"
CHAIN_PAGE = "/thanh-tra/nhat-ky"
MAKE = "/thanh-tra/nhat-ky/diem-kiem-tra"


def test_the_status_api_reports_the_chain_and_its_checkpoints(api: Api) -> None:
    assert api.client.get("/api/audit/status").status_code == 401
    assert api.get("/api/audit/status", "chuyenvien1.xa1").status_code == 403
    assert api.post("/api/audit/checkpoints", "lanhdao.xa1").status_code == 403
    status = api.get("/api/audit/status", AUDITOR).json()
    assert status["intact"] is True and status["problems"] == [] and status["latest_checkpoint"] is None
    assert status["entries"] == api.runtime.audit.head()[0] > 0  # the logins so far

    made = api.post("/api/audit/checkpoints", ADMIN)
    assert made.status_code == 201, made.text
    checkpoint = made.json()["checkpoint"]
    assert checkpoint["seq"] == api.runtime.audit.head()[0] and checkpoint["trigger"] == "demand"
    assert checkpoint["timestamped"] is False and len(checkpoint["head_hash"]) == 64

    status = api.get("/api/audit/status", AUDITOR).json()
    latest = status["latest_checkpoint"]
    assert status["intact"] and status["checkpoints"] == 1
    assert latest["seq"] == checkpoint["seq"] and latest["valid"] and latest["signer"]
    assert status["summary"].startswith("audit chain intact: ")

    with transaction(api.runtime.db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="forger"))
    broken = api.get("/api/audit/status", AUDITOR).json()
    assert broken["intact"] is False and broken["first_broken"] == 2
    assert broken["problems"][0] == {"seq": 2, "kind": "changed", "message": broken["problems"][0]["message"]}
    assert broken["problems"][0]["message"].startswith("entry 2 was changed")


def test_the_desk_shows_the_chain_status_and_makes_a_checkpoint_on_demand(api: Api) -> None:
    client = logged_in(api, AUDITOR)
    desk = client.get("/thanh-tra")
    assert f'href="{CHAIN_PAGE}"' in desk.text
    page = client.get(CHAIN_PAGE)
    assert page.status_code == 200
    text = page.text
    assert "NGUYÊN VẸN" in text and "Số mục trong nhật ký" in text and "chưa có" in text
    assert re.search(r'<form method="post" action="/thanh-tra/nhat-ky/diem-kiem-tra"', text)
    assert "Tạo điểm kiểm tra (checkpoint) ngay" in text and 'name="csrf_token"' in text

    assert client.post(MAKE, data={"csrf_token": "0" * 40}).status_code == 403  # no valid CSRF token
    assert api.runtime.checkpoints.all() == []
    made = client.post(MAKE, data={"csrf_token": csrf(client, CHAIN_PAGE)})
    assert made.status_code == 303 and made.headers["location"] == f"{CHAIN_PAGE}?tb=da-tao"
    [checkpoint] = api.runtime.checkpoints.all()
    assert checkpoint.trigger == "demand"
    after = client.get(made.headers["location"]).text
    assert "Đã tạo điểm kiểm tra của nhật ký." in after
    assert f"tại mục {checkpoint.seq}" in after and "không có dấu thời gian" in after and "Hợp lệ" in after

    english = client.get(f"{CHAIN_PAGE}?lang=en").text
    assert "INTACT" in english and "Make a checkpoint now" in english and f"at entry {checkpoint.seq}" in english

    with transaction(api.runtime.db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(details={"sửa": True}))
    broken = client.get(f"{CHAIN_PAGE}?lang=vi").text
    assert "NHẬT KÝ ĐÃ BỊ CAN THIỆP" in broken and "Mục 1 đã bị sửa đổi." in broken
    assert "entry 1 was changed" in broken


def test_only_auditors_and_admins_see_the_chain_page(api: Api) -> None:
    assert logged_in(api, ADMIN).get(CHAIN_PAGE).status_code == 200
    leader = logged_in(api, "lanhdao.xa1")
    assert leader.get(CHAIN_PAGE).status_code == 403
    token = csrf(leader, "/thanh-tra")
    assert leader.post(MAKE, data={"csrf_token": token}).status_code == 403
    assert api.runtime.checkpoints.all() == []
