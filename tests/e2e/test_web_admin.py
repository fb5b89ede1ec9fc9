"""Administration pages: users and roles (add with role, agency and department; deactivate), the structure in
force with its role → department mapping, the holiday override calendar (checked with validate_overrides, the
running calendar rebuilt), the catalogue and its check, incidents and their retry; every form refuses a
forged CSRF token and every text field renders inert."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import insert, select

from persistence.schema import procedure
from persistence.uow import transaction
from tests.conftest import COMMUNE, Api
from tests.e2e.test_web_audit import desk_client
from tests.web import csrf, log_in

ADMIN = "quantri.tinh"
XSS = '<script>alert("x")</script>'
PKT = f"{COMMUNE}-PKT"


def admin_client(api: Api) -> tuple[TestClient, str]:
    client = desk_client(api, ADMIN)
    return client, csrf(client, "/quan-tri")


def events(api: Api, kind: str) -> list[Any]:
    return [e.event for e in api.runtime.audit.all() if e.event.kind == kind]


def test_the_overview_links_every_part_and_only_admins_get_in(api: Api) -> None:
    client, _ = admin_client(api)
    page = client.get("/quan-tri")
    assert page.status_code == 200
    for href in ("/quan-tri/nguoi-dung", "/quan-tri/co-cau", "/quan-tri/lich", "/quan-tri/thu-tuc", "/quan-tri/su-co"):
        assert f'href="{href}"' in page.text, href
    assert 'aria-current="page"' in page.text
    for path, english in (("/quan-tri/su-co", "Open incidents"), ("/quan-tri/lich", "Holiday override calendar")):
        assert english in client.get(path + "?lang=en").text, path
    client.get("/quan-tri?lang=vi")
    for other in ("thanhtra.tinh", "lanhdao.xa1", "congdan1"):
        assert desk_client(api, other).get("/quan-tri/nguoi-dung").status_code == 403, other
    assert desk_client(api).get("/quan-tri").status_code == 303  # to the login page


def test_users_are_listed_and_added_with_role_agency_and_department(api: Api) -> None:
    client, token = admin_client(api)
    page = client.get("/quan-tri/nguoi-dung")
    assert page.status_code == 200
    assert '<th scope="row">tiepnhan.xa1</th>' in page.text and "Nguyễn Thị Lan" in page.text
    assert '<label for="u-username">' in page.text and 'id="u-username"' in page.text and "<caption" in page.text

    new = {
        "csrf_token": token,
        "username": "chuyenvien3.xa1",
        "full_name": "Phan Văn Ba",
        "password": "mat-khau-moi-1",
        "role": "specialist",
        "agency_code": COMMUNE,
        "department_code": PKT,
    }
    saved = client.post("/quan-tri/nguoi-dung", data=new)
    assert saved.status_code == 303 and saved.headers["location"] == "/quan-tri/nguoi-dung?da_luu=chuyenvien3.xa1"
    assert "Phan Văn Ba" in client.get(saved.headers["location"]).text
    person = api.runtime.accounts.get("chuyenvien3.xa1")
    assert person is not None and person.role.value == "specialist" and person.department_code == PKT
    assert log_in(desk_client(api), "chuyenvien3.xa1", "mat-khau-moi-1").status_code == 303
    [event] = events(api, "admin.user_saved")
    assert event.actor == ADMIN and event.details["username"] == "chuyenvien3.xa1"

    refusals = [
        ({"username": "chuyenvien3.xa1"}, 409, "đã tồn tại"),
        ({"username": "x", "full_name": "A"}, 422, "Tên đăng nhập gồm"),
        ({"username": "moi.1", "password": "ngan"}, 422, "ít nhất 8 ký tự"),
        ({"username": "moi.2", "department_code": f"{COMMUNE}-TTPVHCC"}, 422, "giao vai trò này"),
        ({"username": "moi.3", "department_code": "000.00.32.H99-PKT"}, 422, "không thuộc"),
        ({"username": "moi.4", "agency_code": "000.99.99.H99"}, 404, "000.99.99.H99"),
        ({"username": "moi.5", "department_code": ""}, 422, "cần có phòng, ban"),
        ({"username": "moi.6", "role": "citizen"}, 422, "Công dân không thuộc"),
        ({"username": "moi.7", "role": "boss"}, 422, "Vai trò không hợp lệ"),
    ]
    for change, status, message in refusals:
        r = client.post("/quan-tri/nguoi-dung", data=new | change)
        assert r.status_code == status and message in r.text and 'role="alert"' in r.text, (change, r.status_code)
    assert len(events(api, "admin.user_saved")) == 1
    auditor = client.post(
        "/quan-tri/nguoi-dung",
        data=new | {"username": "thanhtra2", "role": "auditor", "agency_code": "000.00.00.H99", "department_code": ""},
    )
    assert auditor.status_code == 303  # auditors and admins may omit the department


def test_a_deactivated_user_can_no_longer_log_in_or_use_a_session(api: Api) -> None:
    client, token = admin_client(api)
    official = desk_client(api, "chuyenvien2.xa1")
    assert official.get("/api/me").status_code == 200
    off = client.post("/quan-tri/nguoi-dung/chuyenvien2.xa1/khoa", data={"csrf_token": token})
    assert off.status_code == 303
    assert official.get("/api/me").status_code == 401  # the session ended at once
    assert log_in(desk_client(api), "chuyenvien2.xa1").status_code == 401
    assert "Đã khóa" in client.get("/quan-tri/nguoi-dung").text
    on = client.post("/quan-tri/nguoi-dung/chuyenvien2.xa1/mo-khoa", data={"csrf_token": token})
    assert on.status_code == 303 and log_in(desk_client(api), "chuyenvien2.xa1").status_code == 303
    assert [e.details["username"] for e in events(api, "admin.user_deactivated")] == ["chuyenvien2.xa1"]
    assert len(events(api, "admin.user_reactivated")) == 1
    me = client.post(f"/quan-tri/nguoi-dung/{ADMIN}/khoa", data={"csrf_token": token})
    assert me.status_code == 422 and "Không thể tự khóa" in me.text
    assert client.post("/quan-tri/nguoi-dung/ai.do/khoa", data={"csrf_token": token}).status_code == 404


def test_the_structure_in_force_shows_departments_and_the_roles_mapped_to_them(api: Api) -> None:
    client, _ = admin_client(api)
    page = client.get("/quan-tri/co-cau")
    assert page.status_code == 200
    text = page.text
    assert "two-tier-2025" in text and "Ủy ban nhân dân xã Hòa An" in text and "three-tier" not in text
    row = re.search(rf"<td>{re.escape(PKT)}</td><th scope=\"row\">([^<]+)</th><td>([^<]+)</td>", text)
    assert row is not None and "Chuyên viên" in row.group(2), text
    assert '<form method="post"' not in text.split("<main", 1)[1].replace('action="/dang-xuat"', "")  # read-only


def test_calendar_overrides_are_listed_added_checked_and_removed(api: Api) -> None:
    client, token = admin_client(api)
    page = client.get("/quan-tri/lich?nam=2026")
    assert page.status_code == 200 and "16/02/2026" in page.text and "Tết Nguyên đán" in page.text
    wednesday = dt.date(2026, 3, 11)
    assert api.runtime.shop.calendar.is_working_day(wednesday)
    reason = "Nghỉ bù theo Quyết định số 99/QĐ-UBND " + XSS
    add = client.post(
        "/quan-tri/lich",
        data={"csrf_token": token, "year": "2026", "day": "2026-03-11", "kind": "holiday", "reason": reason},
    )
    assert add.status_code == 303 and add.headers["location"] == "/quan-tri/lich?nam=2026&da_luu=2026-03-11"
    assert not api.runtime.shop.calendar.is_working_day(wednesday)  # the running calendar was rebuilt
    listed = client.get(add.headers["location"]).text
    assert "11/03/2026" in listed and XSS not in listed and "&lt;script&gt;" in listed
    [event] = events(api, "admin.calendar_override_added")
    assert event.actor == ADMIN and event.details["day"] == "2026-03-11"

    refusals = [
        ({"day": "2026-02-30"}, "không hợp lệ; hãy nhập theo dạng ngày/tháng/năm"),
        ({"day": "2026-03-11"}, "Ngày 11/03/2026 đã có trong lịch điều chỉnh"),
        ({"day": "11/03/2026"}, "Ngày 11/03/2026 đã có trong lịch điều chỉnh"),  # typed day first: the same day
        ({"day": "12/03/2026", "reason": "   "}, "Hãy nhập lý do và căn cứ"),
        ({"day": XSS}, "không hợp lệ; hãy nhập theo dạng ngày/tháng/năm"),
        ({"day": "30/02/2026"}, "không hợp lệ; hãy nhập theo dạng ngày/tháng/năm"),
        ({"day": "2026-03-12", "kind": XSS}, "ngày nghỉ hoặc ngày làm việc"),
    ]
    for change, message in refusals:
        data = {"csrf_token": token, "year": "2026", "day": "", "kind": "holiday", "reason": "Lý do"} | change
        r = client.post("/quan-tri/lich", data=data)
        assert r.status_code == 422 and message in r.text and 'role="alert"' in r.text, (change, r.text[-1500:])
        assert XSS not in r.text
    assert len(events(api, "admin.calendar_override_added")) == 1

    removed = client.post("/quan-tri/lich/2026-03-11/xoa", data={"csrf_token": token})
    assert removed.status_code == 303
    assert api.runtime.shop.calendar.is_working_day(wednesday)
    assert "11/03/2026" not in client.get("/quan-tri/lich?nam=2026").text.split("Ngày nghỉ theo luật")[0]
    assert len(events(api, "admin.calendar_override_removed")) == 1
    assert client.post("/quan-tri/lich/2026-03-11/xoa", data={"csrf_token": token}).status_code == 404


def test_the_catalogue_is_listed_and_checked(api: Api, tmp_path: Path) -> None:
    client, _ = admin_client(api)
    page = client.get("/quan-tri/thu-tuc")
    assert page.status_code == 200 and "1.001612" in page.text and "Đăng ký thành lập hộ kinh doanh" in page.text
    # the process by its name and the time limit in words, not the code's identifiers
    assert "Giải quyết thủ tục có văn bản kết quả (chung)" in page.text and "03 ngày làm việc" in page.text
    assert "<td>issued_document" not in page.text and "working_days" not in page.text
    assert 'id="check-result"' not in page.text and ">Kiểm tra</button>" in page.text
    checked = client.get("/quan-tri/thu-tuc?kiem_tra=1")
    assert checked.status_code == 200 and "không phát hiện lỗi" in checked.text
    # an agency's own entry that is broken: the check names the file and the problem
    (tmp_path / "9.999999.json").write_text(json.dumps({"code": "9.999999", "name": XSS}), encoding="utf-8")
    api.runtime.settings = api.runtime.settings.model_copy(update={"catalogue_dir": str(tmp_path)})
    broken = client.get("/quan-tri/thu-tuc?kiem_tra=1")
    assert broken.status_code == 200 and "9.999999.json" in broken.text and 'role="alert"' in broken.text
    assert XSS not in broken.text
    # Vietnamese, with the JSON path that locates each problem; the English after " / " stays off the page
    assert "9.999999.json: $.field: thiếu mục bắt buộc này</li>" in broken.text
    assert "$.versions: phải có ít nhất một phiên bản quy định</li>" in broken.text
    assert "missing" not in broken.text and "must list" not in broken.text


def _row(html: str, code: str) -> str:
    return next(r for r in html.split("<tr>") if r.lstrip().startswith(f"<td>{code}</td>"))


def test_a_withdrawn_procedure_shows_since_when_and_its_replacement_and_is_not_designed(api: Api) -> None:
    """A procedure that left the catalogue (``motcua init`` wrote ``withdrawn_on``, ``replaced_by``): its row stays,
    since its dossiers point at it, and says so instead of "no version in force today"."""
    with transaction(api.runtime.db) as conn:
        data = dict(conn.execute(select(procedure.c.data).where(procedure.c.code == "1.001612")).scalar_one())
        data.pop("replaces", None)
        data |= {"code": "2.000575", "withdrawn_on": "2026-01-05", "replaced_by": "1.001612"}
        conn.execute(
            insert(procedure).values(
                code="2.000575", name=data["name"], process_key=data["process_key"], time_limit_days=3,
                working_days=True, data=data,
            )
        )  # fmt: skip
    client, _ = admin_client(api)
    page = client.get("/quan-tri/thu-tuc")
    assert page.status_code == 200
    withdrawn = _row(page.text, "2.000575")
    assert re.search(
        r"Đã bãi bỏ từ 05/01/2026, thay bằng thủ tục <a href=\"/thu-tuc/1.001612\">1.001612</a>", withdrawn
    )
    assert "Không có phiên bản có hiệu lực hôm nay" not in withdrawn
    assert "/thiet-ke" not in withdrawn and "/tai-ve" not in withdrawn and "Thiết kế" not in withdrawn
    offered = _row(page.text, "1.001612")
    assert 'href="/quan-tri/thu-tuc/1.001612/thiet-ke"' in offered and "Đã bãi bỏ" not in offered


def test_an_incident_is_shown_with_its_message_and_retried_from_the_page(api: Api) -> None:
    key = api.runtime.settings.pki_dir / "agency" / f"{COMMUNE}.p12"
    aside = key.with_suffix(".p12.away")
    shutil.move(key, aside)  # the commune's seal key is gone: the receipt cannot be sealed
    api.runtime.worker.default_retries = 1
    try:
        r = api.submit()
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        api.work()
    finally:
        shutil.move(aside, key)  # the operator restores the key
    [incident] = api.runtime.engine.incidents()
    assert incident.business_key == code
    client, token = admin_client(api)
    page = client.get("/quan-tri/su-co")
    assert page.status_code == 200 and code in page.text
    # the step by the name officials read, and what went wrong in words (the technical text stays folded away)
    assert incident.activity_id not in page.text.replace(str(escape(incident.message)), "")
    assert "Giấy tiếp nhận hồ sơ" in page.text and "Không ký số được" in page.text
    assert "1 sự cố đang mở" in client.get("/quan-tri").text
    assert "was not found in the development PKI" in incident.message
    assert "was not found in the development PKI" in page.text  # the error message is shown
    action = f"/quan-tri/su-co/{incident.id}/chay-lai"
    assert f'action="{action}"' in page.text

    forged = client.post(action, data={"csrf_token": "f" * 40, "retries": "1"})
    assert forged.status_code == 403 and len(api.runtime.engine.incidents()) == 1
    bad = client.post(action, data={"csrf_token": token, "retries": "99"})
    assert bad.status_code == 422 and "từ 1 đến 10" in bad.text
    retried = client.post(action, data={"csrf_token": token, "retries": "2"})
    assert retried.status_code == 303 and retried.headers["location"] == f"/quan-tri/su-co?da_chay_lai={incident.id}"
    [event] = events(api, "incident.retried")
    assert event.actor == ADMIN and event.dossier_code == code and event.details["retries"] == 2
    api.work()  # the step runs again with the key back in place
    assert api.runtime.engine.incidents() == []
    assert "Không có sự cố nào." in client.get(retried.headers["location"]).text
    again = client.post(action, data={"csrf_token": token})
    assert again.status_code == 404 and "Không có sự cố đang mở" in again.text


def test_every_admin_form_refuses_a_forged_csrf_token(api: Api) -> None:
    client, _ = admin_client(api)
    forms = {
        "/quan-tri/nguoi-dung": {"username": "gia.mao", "full_name": "X", "password": "12345678", "role": "admin"},
        "/quan-tri/nguoi-dung/chuyenvien1.xa1/khoa": {},
        "/quan-tri/lich": {"day": "2026-12-30", "kind": "holiday", "reason": "giả mạo"},
        "/quan-tri/lich/2026-02-16/xoa": {},
        "/quan-tri/su-co/x/chay-lai": {"retries": "1"},
    }
    before = (len(api.runtime.audit.all()), api.runtime.accounts.get("gia.mao"))
    for path, data in forms.items():
        for token in ("0" * 40, None):
            body = data | ({"csrf_token": token} if token else {})
            r = client.post(path, data=body)
            assert r.status_code == 403 and "CSRF" in r.text, (path, token, r.status_code)
    assert (len(api.runtime.audit.all()), api.runtime.accounts.get("gia.mao")) == before
    assert "16/02/2026" in client.get("/quan-tri/lich?nam=2026").text
    assert "Đã khóa" not in client.get("/quan-tri/nguoi-dung").text


def test_text_fields_of_the_user_form_render_inert(api: Api) -> None:
    client, token = admin_client(api)
    form = {"csrf_token": token, "password": "mat-khau-moi-1", "role": "auditor", "department_code": ""}
    saved = client.post(
        "/quan-tri/nguoi-dung", data=form | {"username": "xss.1", "full_name": XSS, "agency_code": "000.00.00.H99"}
    )
    assert saved.status_code == 303
    listed = client.get("/quan-tri/nguoi-dung").text
    assert XSS not in listed and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listed
    for change in ({"username": XSS}, {"agency_code": XSS}, {"department_code": XSS}, {"role": XSS}):
        data = form | {"username": "xss.2", "full_name": XSS, "agency_code": "000.00.00.H99"} | change
        r = client.post("/quan-tri/nguoi-dung", data=data)
        assert r.status_code in (404, 422) and XSS not in r.text and "&lt;script&gt;" in r.text, change
