"""The issue's acceptance test for the procedure designer: the administrator (quantri.tinh) authors a small
procedure FROM SCRATCH in Chromium — a new code, a blank process built step by step with "Thêm bước tiếp theo" in
the bpmn-js modeler (accept → receipt → review → leader approves → result → leader signs → clerk numbers → seal →
result ready → return → close → end), its catalogue entry, a two-field form seen in the live preview, the result
template previewed as a PDF —, checks and publishes it; then a dossier of the new procedure is registered,
reviewed, signed by the leader in the browser with the key file on their disk, numbered, sealed and returned, and
the signed result's text (pdftotext) carries what was typed into the form.

The server is one of the test's own (MOTCUA_CATALOGUE_DIR in a temporary directory): what is published stays out
of the shared server the other journeys use."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from signing.pki import DEVELOPMENT_PASSPHRASE
from tests.browser.conftest import ServerFactory
from tests.browser.kit import (
    ADMIN,
    CLERK,
    LEADER,
    RECEPTION,
    WORKER_TIMEOUT_S,
    Visitor,
    decide,
    reload_until,
    task_row,
    unlabelled_inputs,
)
from tests.browser.test_vietnamese_pages import internal_names
from tests.conftest import COMMUNE, minimal_pdf
from tests.integration.server import Api, MotcuaServer, wait_for
from tests.pdftools import pdftotext

CODE = "9.999001"
JUSTICE_OFFICER = "tuphap.xa1"  # the commune's specialist in the department the entry names (Tư pháp - Hộ tịch)
NAME = "Xác nhận thông tin thử nghiệm của xã"
STEPS = (  # the kinds of step appended one after the other, as the select names them
    "Ghi nhận hồ sơ",
    "Lập giấy tiếp nhận (Mẫu 01)",
    "Thẩm định (chuyên viên)",
    "Lãnh đạo phê duyệt",  # the desk asks the one who approves right before a signature to hold a certificate
    "Lập văn bản kết quả",
    "Lãnh đạo ký số",
    "Văn thư vào sổ",
    "Đóng dấu cơ quan",
    "Chuyển kết quả",
    "Trả kết quả",
    "Kết thúc hồ sơ",
    "Sự kiện kết thúc",
)
FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": NAME,
    "x-label": {"vi": "Tờ khai", "en": "Application form"},
    "type": "object",
    "properties": {
        "ho_ten": {
            "x-label": {"vi": "Họ, chữ đệm và tên người yêu cầu", "en": "Applicant's full name"},
            "x-order": 10,
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
        },
        "noi_dung": {
            "x-label": {"vi": "Nội dung đề nghị xác nhận", "en": "What is to be confirmed"},
            "x-order": 20,
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
        },
    },
    "required": ["ho_ten", "noi_dung"],
    "additionalProperties": False,
}
DETAILS = {"ho_ten": "Phạm Thị Hồng Nhung", "noi_dung": "Đang cư trú tại thôn Đông từ năm 2019"}


@pytest.fixture
def server(dedicated_server: ServerFactory, tmp_path: Path) -> MotcuaServer:
    return dedicated_server("designer", {"MOTCUA_CATALOGUE_DIR": str(tmp_path / "catalogue")})


@pytest.fixture
def api(server: MotcuaServer) -> Iterator[Api]:
    client = Api(server)
    try:
        yield client
    finally:
        client.close()


def append_steps(page: Page) -> None:
    """Build the linear process: each kind appended after the step the modeler selected last."""
    status = page.locator("#modeler-status")
    for label in STEPS:
        page.get_by_label("Loại bước").select_option(label=label)
        page.get_by_role("button", name="Thêm bước tiếp theo").click()
        expect(status).to_have_text(f"Đã thêm bước: {label}")


def select_element(page: Page, element_id: str) -> None:
    """Select a step on the canvas by its id (a click on the drawn shape, where the modeler put it)."""
    page.locator(f"#modeler .djs-element.djs-shape[data-element-id={element_id}]").click()


def test_an_administrator_authors_publishes_and_runs_a_procedure_from_scratch(
    visit: Callable[..., Visitor], server: MotcuaServer, api: Api, tmp_path: Path
) -> None:
    admin = visit(ADMIN, server=server, viewport=(1400, 1000))
    page = admin.goto("/quan-tri/thu-tuc", "catalogue")

    # a new procedure, blank process
    page.get_by_text("Thêm thủ tục mới").click()
    page.get_by_label("Mã thủ tục").fill(CODE)
    page.get_by_label("Tên thủ tục").fill(NAME)
    page.get_by_label("Bắt đầu từ").select_option("")
    admin.shot("new-procedure")
    page.get_by_role("button", name="Tạo bản nháp và mở trang thiết kế").click()
    expect(page).to_have_url(re.compile(rf"/quan-tri/thu-tuc/{re.escape(CODE)}/thiet-ke"))
    expect(page.locator("#designer-saved")).to_have_text("Đã tạo bản nháp thủ tục mới.")
    admin.shot("designer-new")

    # 1. the catalogue entry
    entry = page.locator("form.designer-entry")
    entry.get_by_label("Lĩnh vực").fill("Chứng thực, xác nhận")
    entry.get_by_label("Số ngày").fill("3")
    entry.get_by_label("Lệ phí (đồng)").fill("0")
    entry.get_by_label("Căn cứ pháp lý").fill(
        "Quyết định số 01/2026/QĐ-UBND của Ủy ban nhân dân tỉnh Demo (thử nghiệm)"
    )
    entry.get_by_label("Tư pháp - Hộ tịch", exact=True).check()
    entry.get_by_label("Tên giấy tờ, dòng 1").fill("Đơn đề nghị xác nhận")
    admin.shot("entry-filled")
    entry.get_by_role("button", name="Lưu danh mục").click()
    expect(page.locator("#designer-saved")).to_have_text("Đã lưu thông tin danh mục của bản nháp.")

    # 2. the process, built in the modeler without knowing BPMN
    expect(page.locator("#modeler-status")).to_have_text("Chọn một bước để sửa.")
    expect(page.locator("#modeler .djs-container")).to_be_visible()
    append_steps(page)
    # the last review step's panel: a user task of the specialists, a standard step of the desk
    select_element(page, "review")
    expect(page.get_by_label("Vai trò thực hiện")).to_have_value("specialist")
    expect(page.get_by_label("Bước chuẩn của bộ phận một cửa")).to_have_value("review")
    page.get_by_label("Tên bước").fill("Chuyên viên tư pháp thẩm định hồ sơ")
    page.get_by_label("Tên bước").press("Tab")
    select_element(page, "seal_result")
    expect(page.get_by_label("Tác vụ tự động")).to_have_value("result.seal")
    admin.shot("process-built")
    assert unlabelled_inputs(page) == [], "every input of the designer has a label"
    assert internal_names(page.inner_text("main"), "/quan-tri/thu-tuc") == []
    page.get_by_role("button", name="Lưu quy trình").click()
    expect(page.locator("#designer-saved")).to_have_text("Đã lưu quy trình.")
    saved = page.locator("#bpmn-xml").input_value()
    for fragment in (
        'camunda:candidateGroups="leader"',
        'camunda:topic="result.prepare"',
        'camunda:dueDate="${due_at}"',
        "Chuyên viên tư pháp thẩm định hồ sơ",
        "<bpmndi:BPMNShape",
    ):
        assert fragment in saved, fragment
    expect(page.locator("#modeler .djs-element[data-element-id=register_number]")).to_have_count(1)
    admin.shot("process-saved")

    # 3. the form, with its live preview
    form_text = page.get_by_label("Biểu mẫu (JSON Schema)")
    form_text.fill(json.dumps(FORM, ensure_ascii=False, indent=2))
    preview = page.locator("#form-preview")
    expect(preview.get_by_label(re.compile("^Nội dung đề nghị xác nhận"))).to_be_visible()
    admin.shot("form-preview")
    form_text.press("End")
    form_text.type("x")  # broken JSON: the preview names the problem
    expect(preview.locator("#form-problems")).to_contain_text("không phải JSON hợp lệ")
    form_text.fill(json.dumps(FORM, ensure_ascii=False, indent=2))
    expect(preview.get_by_label(re.compile("^Nội dung đề nghị xác nhận"))).to_be_visible()
    page.get_by_role("button", name="Lưu biểu mẫu").click()
    expect(page.locator("#designer-saved")).to_have_text("Đã lưu biểu mẫu.")

    # 4. the result template: the form's second field in a paragraph, previewed as a PDF
    template_box = page.get_by_label("Mẫu văn bản kết quả (JSON)")
    template = json.loads(template_box.input_value())
    template["paragraphs"].insert(1, {"text": "Nội dung xác nhận: {noi_dung}."})
    template["sample"] = {"ho_ten": "Nguyễn Văn An", "noi_dung": "Nội dung mẫu để xem trước"}
    template_box.fill(json.dumps(template, ensure_ascii=False, indent=2))
    with page.expect_response(re.compile(r"/xem-truoc-ket-qua$")) as previewed:
        page.get_by_role("button", name="Xem trước PDF").click()
    response = previewed.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    # the frame holds Chromium's PDF viewer: the same preview asked again, as the page's own session, to read it
    again = page.request.post(
        response.url,
        form={
            "csrf_token": page.locator("meta[name=csrf-token]").get_attribute("content") or "",
            "template_json": template_box.input_value(),
        },
    )
    assert again.body().startswith(b"%PDF"), again.body()[:200]
    assert "Nội dung mẫu để xem trước" in " ".join(pdftotext(again.body(), tmp_path).split())
    admin.shot("result-preview")
    page.get_by_role("button", name="Lưu mẫu kết quả").click()
    expect(page.locator("#designer-saved")).to_have_text("Đã lưu mẫu kết quả.")

    # 5. check, publish
    page.get_by_role("button", name="Kiểm tra", exact=True).click()
    expect(page.locator("#check-result")).to_have_text("Không có lỗi: thủ tục sẵn sàng công bố.")
    admin.shot("checked")
    page.get_by_role("button", name="Công bố", exact=True).click()
    expect(page.locator("#designer-saved")).to_contain_text("Đã công bố thủ tục")
    expect(page.locator("#cong-bo table tbody tr")).to_have_count(1)
    admin.shot("published")
    assert internal_names(page.inner_text("main"), "/quan-tri/thu-tuc") == []
    admin.goto("/quan-tri/thu-tuc", "catalogue-after")
    expect(page.get_by_role("row").filter(has_text=CODE)).to_contain_text(NAME)
    admin.assert_quiet()

    run_a_dossier(visit, server, api, tmp_path)


def run_a_dossier(visit: Callable[..., Visitor], server: MotcuaServer, api: Api, tmp_path: Path) -> None:
    """A dossier of the new procedure, from the desk to its signed, numbered and sealed result."""
    files = {"paper.to_khai": ("don.pdf", minimal_pdf("don de nghi"), "application/pdf")}
    data = {
        "procedure_code": CODE,
        "applicant_name": DETAILS["ho_ten"],
        "applicant_id_number": "001190012345",
        "agency_code": COMMUNE,
        "details": json.dumps(DETAILS, ensure_ascii=False),
    }
    r = api.post("/api/dossiers", RECEPTION, data=data, files=files)
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])

    def complete(user: str, activity: str) -> None:
        task = wait_for(
            f"{code}: {activity}",
            lambda: next(
                (t for t in api.tasks(user) if t["dossier_code"] == code and t["activity_id"] == activity), None
            ),
            timeout=WORKER_TIMEOUT_S,
        )
        done = api.complete(task["id"], user, None)
        assert done.status_code == 200, done.text

    specialist = visit(JUSTICE_OFFICER, server=server)
    page = specialist.page
    specialist.goto("/can-bo/nhiem-vu")
    row = reload_until(page, lambda: task_row(page, code), "the review task")
    row.get_by_role("button", name="Nhận").click()
    expect(page.get_by_role("status").filter(has_text="Đã nhận xử lý nhiệm vụ.")).to_be_visible()
    task_row(page, code).get_by_role("link", name=code, exact=True).click()
    expect(page.get_by_text("Chuyên viên tư pháp thẩm định hồ sơ").first).to_be_visible()
    specialist.shot("review-task")
    decide(page, None, "Hồ sơ hợp lệ.")
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?tb=da-xu-ly"))
    specialist.shot("review-done")

    complete(LEADER, "approve")
    # the leader signs in the browser with the key file on their disk
    leader = visit(LEADER, server=server)
    page = leader.page
    leader.goto("/can-bo/nhiem-vu")
    row = reload_until(page, lambda: task_row(page, code), "the signing task")
    row.get_by_role("link", name=code, exact=True).click()
    form = reload_until(page, lambda: page.locator("form#signing[data-pending]"), "the prepared signature")
    form.locator("input[type=file]").set_input_files(server.var_dir / "pki" / "person" / f"{LEADER}.p12")
    form.locator("input[type=password]").fill(DEVELOPMENT_PASSPHRASE)
    form.locator("button[type=submit]").click()
    expect(page.locator("#signing-status")).to_have_text(
        "Đã ký: chữ ký đã được gắn vào văn bản.", timeout=WORKER_TIMEOUT_S * 1000
    )
    leader.shot("signed")

    complete(CLERK, "register_number")
    complete(RECEPTION, "return_result")
    wait_for(f"{code} returned", lambda: api.dossier(code)["status"] == "returned", timeout=WORKER_TIMEOUT_S)
    [result] = [d for d in api.dossier(code)["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", RECEPTION).content
    text = " ".join(pdftotext(pdf, tmp_path).split())
    assert "PHẠM THỊ HỒNG NHUNG" in text, text
    assert DETAILS["noi_dung"] in text, text
    assert NAME.upper() in text, text
    specialist.assert_quiet()
    leader.assert_quiet()


def test_unsaved_edits_in_another_section_are_not_lost_without_a_warning(
    visit: Callable[..., Visitor], server: MotcuaServer
) -> None:
    """Each save posts one section and reloads the page: an edit in another section is announced first (confirm,
    "Phần … có thay đổi chưa lưu"), leaving the page warns (beforeunload), and a page after a save starts clean."""
    admin = visit(ADMIN, server=server, viewport=(1400, 1000))
    page = admin.context.new_page()  # a page of the test's own: it answers the dialogs itself
    dialogs: list[tuple[str, str]] = []
    errors: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog: Any) -> None:
        dialogs.append((dialog.type, dialog.message))
        dialog.accept() if answer["accept"] else dialog.dismiss()

    def seen(count: int) -> None:
        """Wait for the ``count``-th dialog (the page's events are delivered while Playwright waits)."""
        for _ in range(100):
            if len(dialogs) >= count:
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"expected {count} dialogs, saw {dialogs}")

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/quan-tri/thu-tuc")
    page.get_by_text("Thêm thủ tục mới").click()
    page.get_by_label("Mã thủ tục").fill("9.999002")
    page.get_by_label("Tên thủ tục").fill("Thủ tục thử thay đổi chưa lưu")
    page.get_by_label("Bắt đầu từ").select_option("")
    page.get_by_role("button", name="Tạo bản nháp và mở trang thiết kế").click()
    saved = page.locator("#designer-saved")
    expect(saved).to_have_text("Đã tạo bản nháp thủ tục mới.")
    expect(page.locator("#modeler-status")).to_have_text("Chọn một bước để sửa.")
    form_text = page.get_by_label("Biểu mẫu (JSON Schema)")
    saved_form = form_text.input_value()

    # the entry and the form edited; saving the entry asks about the form, and "no" stays on the page
    field = page.locator("form.designer-entry").get_by_label("Lĩnh vực")
    field.fill("Chứng thực")
    form_text.fill(saved_form.replace("Tờ khai", "Tờ khai đã sửa"))
    page.get_by_role("button", name="Lưu danh mục").click()
    seen(1)
    expect(page.locator("form#form-form[data-dirty]")).to_have_count(1)
    assert dialogs == [
        (
            "confirm",
            "Phần “Biểu mẫu” có thay đổi chưa lưu; tiếp tục thì các thay đổi đó sẽ mất khi trang tải lại. "
            "Vẫn tiếp tục?",
        )
    ], dialogs
    expect(saved).to_have_text("Đã tạo bản nháp thủ tục mới.")
    assert field.input_value() == "Chứng thực" and "Tờ khai đã sửa" in form_text.input_value()

    # a step appended in the modeler: leaving the page warns, and "stay" keeps every edit
    page.get_by_label("Loại bước").select_option(label="Ghi nhận hồ sơ")
    page.get_by_role("button", name="Thêm bước tiếp theo").click()
    expect(page.locator("#modeler-status")).to_have_text("Đã thêm bước: Ghi nhận hồ sơ")
    page.get_by_role("link", name="Người dùng").click(no_wait_after=True)
    seen(2)
    assert [kind for kind, _ in dialogs] == ["confirm", "beforeunload"], dialogs
    assert page.url.endswith("/thiet-ke?da_luu=moi#danh-muc") and field.input_value() == "Chứng thực"

    # "yes": the entry is saved, the two other sections named once, no second warning as the page unloads
    answer["accept"] = True
    page.get_by_role("button", name="Lưu danh mục").click()
    expect(saved).to_have_text("Đã lưu thông tin danh mục của bản nháp.")
    assert len(dialogs) == 3 and dialogs[2][0] == "confirm", dialogs
    assert dialogs[2][1].startswith("Phần “Biểu mẫu”, “Quy trình” có thay đổi chưa lưu"), dialogs[2]
    assert page.locator("form.designer-entry").get_by_label("Lĩnh vực").input_value() == "Chứng thực"
    assert form_text.input_value() == saved_form  # the form's edit was given up, as the question said

    # after a save the page is clean: saving a section alone asks nothing
    form_text.fill(saved_form.replace("Tờ khai", "Tờ khai đã sửa"))
    page.get_by_role("button", name="Lưu biểu mẫu").click()
    expect(saved).to_have_text("Đã lưu biểu mẫu.")
    assert len(dialogs) == 3, dialogs
    # a save the server refuses comes back with the text typed, still unsaved
    form_text.fill("{ không phải JSON")
    page.get_by_role("button", name="Lưu biểu mẫu").click()
    expect(page.get_by_role("alert").first).to_contain_text("Biểu mẫu không phải JSON hợp lệ")
    expect(page.locator("form#form-form[data-dirty]")).to_have_count(1)
    answer["accept"] = False
    page.get_by_role("button", name="Kiểm tra", exact=True).click()
    seen(4)
    assert len(dialogs) == 4 and dialogs[3][1].startswith("Phần “Biểu mẫu” có thay đổi chưa lưu"), dialogs
    assert errors == [], errors
    admin.assert_quiet()
