"""Browser journeys of an office day with no dead ends (issue 16, point 11), in a real Chromium:

* a counter dossier sent back for papers comes back: the desk finds it among the dossiers waiting for papers,
  prints the supplement request (Mẫu 02), scans what the applicant brings — a named "other paper" among them —
  and the dossier is back on the specialist's list;
* an online dossier refused at reception: the citizen reads the outcome and its reason on a 375 px phone;
* a decision taken with the keyboard only (Tab, arrows, Space, typing, Enter).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.kit import (
    CITIZEN,
    RECEPTION,
    SPECIALIST,
    Visitor,
    household_business_data,
    reload_until,
    scroll_width,
    task_row,
)
from tests.conftest import minimal_pdf
from tests.integration.server import Api, MotcuaServer, wait_for

PHONE = (375, 740)


@pytest.fixture(scope="module")
def api(web_server: MotcuaServer) -> Iterator[Api]:
    client = Api(web_server)
    try:
        yield client
    finally:
        client.close()


def counter_dossier(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    wait_for(f"{code} on the specialist's list", lambda: any(t["dossier_code"] == code for t in api.tasks(SPECIALIST)))
    return code


def specialist_task(api: Api, code: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def present() -> bool:
        found[:] = [t for t in api.tasks(SPECIALIST) if t["dossier_code"] == code]
        return bool(found)

    wait_for(f"{code} on the specialist's list", present)
    return found[0]


def test_a_counter_supplement_round_trip_at_the_desk(
    visit: Callable[..., Visitor], api: Api, web_server: MotcuaServer, tmp_path: Path
) -> None:
    code = counter_dossier(api)
    task = specialist_task(api, code)
    api.post(f"/api/tasks/{task['id']}/claim", SPECIALIST)
    asked = api.post(
        f"/api/tasks/{task['id']}/complete",
        SPECIALIST,
        json={"decision": "supplement", "comment": "Bổ sung hợp đồng thuê địa điểm kinh doanh"},
    )
    assert asked.status_code == 200, asked.text
    wait_for(f"{code} waits for papers", lambda: api.dossier(code)["status"] == "supplement_requested")

    reception = visit(RECEPTION)
    page = reception.goto("/mot-cua", "desk")
    waiting = page.get_by_text(re.compile(r"Hồ sơ chờ người nộp bổ sung giấy tờ \(\d+\)"))
    waiting.click()  # the <details> opens
    page.get_by_role("link", name=code, exact=True).click()
    expect(page.get_by_role("heading", name="Nhận giấy tờ bổ sung tại quầy")).to_be_visible()
    expect(page.get_by_text("Bổ sung hợp đồng thuê địa điểm kinh doanh").first).to_be_visible()
    form02 = page.get_by_role("link", name=re.compile("Tải Mẫu 02"))
    with page.expect_download() as download:
        form02.click()
    assert download.value.suggested_filename.endswith(".pdf")
    reception.shot("supplement-asked")

    scan = tmp_path / "hop-dong-thue.pdf"
    scan.write_bytes(minimal_pdf("hop dong thue"))
    page.get_by_label("Giấy tờ khác: tên giấy tờ").fill("Hợp đồng thuê địa điểm")
    page.get_by_label("Giấy tờ khác: bản quét").set_input_files(scan)
    page.get_by_role("button", name="Ghi nhận giấy tờ bổ sung").click()
    expect(page.get_by_role("status").filter(has_text="Đã nhận giấy tờ bổ sung")).to_be_visible()
    reception.shot("supplement-taken")
    reload_until(page, lambda: page.get_by_text("Nộp bổ sung giấy tờ"), "the supplement in the history")
    filed = page.get_by_role("listitem").filter(has_text="Hợp đồng thuê địa điểm.pdf")
    expect(filed).to_contain_text("Giấy tờ bổ sung: Giấy tờ khác")
    reception.logout()
    reception.assert_quiet()

    wait_for(f"{code} back in progress", lambda: api.dossier(code)["status"] == "in_progress")
    specialist_task(api, code)  # on the specialist's list again


def test_a_citizen_reads_a_refusal_at_reception_on_a_phone(
    visit: Callable[..., Visitor], api: Api, web_server: MotcuaServer
) -> None:
    files = {
        "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
        "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
    }
    r = api.post("/api/dossiers", CITIZEN, data=household_business_data() | {"channel": "online"}, files=files)
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])

    reception = visit(RECEPTION)
    page = reception.goto(f"/mot-cua/ho-so/{code}", "check")
    page.get_by_role("radio", name=re.compile("Từ chối tiếp nhận")).check()
    page.get_by_label("Giấy tờ cần bổ sung hoặc lý do từ chối").fill("Địa điểm kinh doanh nằm ngoài địa bàn xã.")
    page.get_by_role("button", name="Ghi nhận kết quả kiểm tra").click()
    expect(page.get_by_role("status").filter(has_text="Đã từ chối tiếp nhận")).to_be_visible()
    reception.logout()

    citizen = visit(CITIZEN, viewport=PHONE)
    page = citizen.goto(f"/cong-dan/ho-so/{code}", "refused-on-phone")
    expect(page.get_by_text("Bộ phận Một cửa từ chối tiếp nhận hồ sơ")).to_be_visible()
    expect(page.get_by_text("Địa điểm kinh doanh nằm ngoài địa bàn xã.")).to_be_visible()
    expect(page.get_by_text(re.compile("Phiếu từ chối"))).to_be_visible()
    assert scroll_width(page) <= PHONE[0], "the dossier page scrolls sideways on a phone"
    for path in ("/cong-dan", "/cong-dan/nop-ho-so?thu_tuc=1.001612", "/tra-cuu"):
        citizen.goto(path, "phone" + path.replace("/", "-"))
        assert scroll_width(citizen.page) <= PHONE[0], f"{path} scrolls sideways at {PHONE[0]} px"
    citizen.logout()
    citizen.assert_quiet()


def test_a_decision_with_the_keyboard_only(visit: Callable[..., Visitor], api: Api) -> None:
    code = counter_dossier(api)
    specialist = visit(SPECIALIST)
    page = specialist.goto("/can-bo/nhiem-vu")
    row = reload_until(page, lambda: task_row(page, code), "the task")
    row.get_by_role("link", name=code, exact=True).focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu/[^/?]+$"))
    # from the first decision: Tab until a decision radio has the focus, choose "approve", write, send
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.name") == "decision":
            break
    else:
        raise AssertionError("no decision can be reached with the Tab key")
    for _ in range(4):
        if page.evaluate("() => document.activeElement.value") == "approve":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.evaluate("() => document.activeElement.value") == "approve"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "comment"
    page.keyboard.type("Hồ sơ hợp lệ.")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?tb=da-xu-ly"))
    specialist.shot("keyboard-decision-done")
    specialist.logout()
    specialist.assert_quiet()
    wait_for(f"{code} with the leader", lambda: api.dossier(code)["status"] == "in_progress")
    history = api.history(code)
    assert any(e["kind"] == "task.completed" and e["details"].get("decision") == "approve" for e in history)
