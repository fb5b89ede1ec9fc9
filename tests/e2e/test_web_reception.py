"""The desk's pages for what waits on reception (issue 16, points 1 and 2): the queue of online dossiers on
/mot-cua, the check on the dossier's page (accept, ask for papers, refuse — each with its form and errors), and
the counter supplement round trip: a walk-in applicant asked for papers brings them, the desk scans them on the
dossier's page (a named "other paper" included) and the dossier is processed again with its clock resumed."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tests.conftest import COMMUNE, Api, minimal_pdf
from tests.e2e.test_reception_queue import document
from tests.e2e.test_web_desk import assert_labelled, signed_in_as
from tests.pdftools import pdftotext
from tests.web import csrf

RECEPTION = "tiepnhan.xa1"
SPECIALIST = "chuyenvien1.xa1"


def online(api: Api) -> str:
    r = api.submit(as_user="congdan1", agency_code=COMMUNE)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def at_counter(api: Api) -> str:
    r = api.submit(as_user=RECEPTION)
    assert r.status_code == 201, r.text
    api.work()
    return str(r.json()["code"])


def test_the_desk_checks_an_online_dossier_from_its_queue(api: Api) -> None:
    code = online(api)
    desk = signed_in_as(api, RECEPTION)
    index = desk.get("/mot-cua")
    assert "Hồ sơ trực tuyến chờ tiếp nhận (1)" in index.text and f'href="/mot-cua/ho-so/{code}"' in index.text
    tasks = desk.get("/can-bo/nhiem-vu").text  # reception's task list points to the queue
    assert "1 hồ sơ nộp trực tuyến đang chờ tiếp nhận" in tasks
    check = desk.get(f"/mot-cua/ho-so/{code}")
    assert check.status_code == 200 and "Kiểm tra hồ sơ nộp trực tuyến" in check.text
    assert "Tên hộ kinh doanh" in check.text  # the application form's values, next to the papers
    assert_labelled(check.text)
    token = csrf(desk, f"/mot-cua/ho-so/{code}")
    action = f"/mot-cua/ho-so/{code}/kiem-tra"

    nothing = desk.post(action, data={"csrf_token": token})
    assert nothing.status_code == 422 and "Hãy chọn một kết quả kiểm tra." in nothing.text
    no_reason = desk.post(action, data={"csrf_token": token, "decision": "refuse", "comment": " "})
    assert no_reason.status_code == 422 and "lý do từ chối" in no_reason.text
    assert 'id="comment" name="comment"' in no_reason.text and 'aria-invalid="true"' in no_reason.text

    accepted = desk.post(action, data={"csrf_token": token, "decision": "accept"})
    assert accepted.status_code == 303 and accepted.headers["location"] == f"/mot-cua/ho-so/{code}?xong=accept"
    api.work()
    page = desk.get(accepted.headers["location"]).text
    assert "Đã tiếp nhận hồ sơ." in page and "Tải giấy tiếp nhận" in page
    assert "Kiểm tra hồ sơ nộp trực tuyến" not in page
    assert "Hồ sơ trực tuyến chờ tiếp nhận (0)" in desk.get("/mot-cua").text
    twice = desk.post(action, data={"csrf_token": token, "decision": "accept"})
    assert twice.status_code == 409 and "không còn chờ tiếp nhận" in twice.text


def test_a_counter_dossier_sent_back_for_papers_comes_back_through_the_desk(api: Api, tmp_path: Path) -> None:
    code = at_counter(api)
    receipt = pdftotext(document(api, code, "receipt", as_user=RECEPTION), tmp_path)
    # the papers as handed in: the application form is an original (the catalogue says so), not "Bản sao"
    assert re.search(r"Giấy đề nghị đăng ký hộ kinh doanh\s+Bản chính", receipt), receipt
    assert api.decide(SPECIALIST, code, "supplement", "Bản sao hợp đồng thuê địa điểm kinh doanh").status_code == 200
    api.work()
    api.advance(hours=26)  # the applicant comes back the next day: the clock was paused meanwhile
    due_before = dt.datetime.fromisoformat(api.get(f"/api/dossiers/{code}", RECEPTION).json()["due_at"])

    desk = signed_in_as(api, RECEPTION)
    index = desk.get("/mot-cua").text
    assert "Hồ sơ chờ người nộp bổ sung giấy tờ (1)" in index and "Bản sao hợp đồng thuê" in index
    page = desk.get(f"/mot-cua/ho-so/{code}")
    assert "Nhận giấy tờ bổ sung tại quầy" in page.text and "Tải Mẫu 02 để in" in page.text
    assert "Bản sao hợp đồng thuê địa điểm kinh doanh" in page.text
    assert_labelled(page.text)
    lookup = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert lookup["awaiting"] == "Bản sao hợp đồng thuê địa điểm kinh doanh"

    token = csrf(desk, f"/mot-cua/ho-so/{code}")
    action = f"/mot-cua/ho-so/{code}/bo-sung"
    unnamed = desk.post(
        action, data={"csrf_token": token}, files={"paper.other": ("scan.pdf", minimal_pdf("hd"), "application/pdf")}
    )
    assert unnamed.status_code == 422 and "Hãy ghi tên của giấy tờ khác." in unnamed.text
    taken = desk.post(
        action,
        data={"csrf_token": token, "other_name": "Hợp đồng thuê địa điểm"},
        files={"paper.other": ("scan.pdf", minimal_pdf("hd"), "application/pdf")},
    )
    assert taken.status_code == 303 and taken.headers["location"] == f"/mot-cua/ho-so/{code}?xong=bo-sung"
    api.work()
    view = api.get(f"/api/dossiers/{code}", RECEPTION).json()
    assert view["status"] == "in_progress" and view["awaiting"] is None
    assert [d["filename"] for d in view["documents"] if d["kind"] == "supplement"] == ["Hợp đồng thuê địa điểm.pdf"]
    assert dt.datetime.fromisoformat(view["due_at"]) > due_before  # the paused working time is given back
    assert api.task_for(SPECIALIST, code)["name"]  # back on the specialist's list
    after = desk.get(f"/mot-cua/ho-so/{code}").text
    assert "Giấy tờ khác" in after and "Nộp bổ sung giấy tờ" in after
    assert "Nhận giấy tờ bổ sung tại quầy" not in after
