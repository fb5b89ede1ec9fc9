"""The application form drawn from its JSON Schema in Chromium: the marriage registration's two groups as
fieldsets, the ID number and address inputs, and a wrong ID number and an impossible date named beside their
inputs after sending. Nothing is registered: the browser journeys share one server's state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.kit import APPLICANT_ID, RECEPTION, starts
from tests.conftest import minimal_pdf

MARRIAGE = "1.000894"
TYPED = {
    "Họ, chữ đệm, tên bên nam": "Nguyễn Văn An",
    "Ngày, tháng, năm sinh bên nam": "05/01/1990",
    "Số định danh cá nhân bên nam": "0010900123",  # ten digits: refused
    "Nơi cư trú bên nam": "Thôn Đông\nxã Hòa An, tỉnh Demo",
    "Họ, chữ đệm, tên bên nữ": "Lê Thị Hồng Nhung",
    "Ngày, tháng, năm sinh bên nữ": "31/02/1994",  # no such day: refused
    "Số định danh cá nhân bên nữ": "001194054321",
    "Nơi cư trú bên nữ": "Thôn Tây, xã Phú Mỹ, tỉnh Demo",
}


def test_the_schema_form_groups_its_fields_and_names_each_error(visit: Callable[..., Any], tmp_path: Path) -> None:
    reception = visit(RECEPTION)
    page = reception.goto(f"/mot-cua/tiep-nhan/{MARRIAGE}", "marriage-form")
    husband, wife = page.get_by_role("group", name="Bên nam"), page.get_by_role("group", name="Bên nữ")
    expect(husband).to_be_visible()
    expect(wife).to_be_visible()
    id_input = husband.get_by_label(starts("Số định danh cá nhân bên nam"))
    expect(id_input).to_have_attribute("pattern", "[0-9]{12}")
    expect(id_input).to_have_attribute("inputmode", "numeric")
    expect(husband.get_by_label(starts("Nơi cư trú bên nam"))).to_have_js_property("tagName", "TEXTAREA")

    page.get_by_label(starts("Họ và tên")).fill("Nguyễn Văn An")
    page.get_by_label(starts("Số định danh cá nhân / CCCD")).fill(APPLICANT_ID)
    for label, value in TYPED.items():
        page.get_by_label(starts(label)).fill(value)
    scan = tmp_path / "to-khai.pdf"
    scan.write_bytes(minimal_pdf("to khai ket hon"))
    page.get_by_label(starts("Tờ khai đăng ký kết hôn")).set_input_files(scan)
    reception.shot("marriage-filled")
    page.get_by_role("button", name="Tiếp nhận hồ sơ và cấp giấy hẹn").click()

    wrong_id = page.get_by_label(starts("Số định danh cá nhân bên nam"))
    expect(wrong_id).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-husband_id_number-error")).to_have_text(
        "Mục “Số định danh cá nhân bên nam” phải gồm đúng 12 chữ số."
    )
    expect(page.locator("#f-wife_birth_date-error")).to_contain_text("phải là một ngày")
    expect(page.get_by_label(starts("Nơi cư trú bên nam"))).to_have_value("Thôn Đông\nxã Hòa An, tỉnh Demo")
    reception.shot("marriage-errors")

    reception.assert_quiet()


CHANGE = "2.000720"  # change of a household business registration: "what changes" is a table of rows


def test_adding_a_row_gives_one_the_server_reads_back(visit: Callable[..., Any]) -> None:
    """The table starts with its fixed rows; "Thêm dòng" adds a fourth, named like the server's rows, and what is
    typed in it comes back after the server refuses the form for another reason (so the server read it; the rows
    left empty are dropped, so it comes back as the first)."""
    reception = visit(RECEPTION)
    page = reception.goto(f"/mot-cua/tiep-nhan/{CHANGE}", "change-form")
    table = page.get_by_role("group", name=starts("Nội dung đăng ký thay đổi"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    table.get_by_role("button", name="Thêm dòng").click()
    expect(rows).to_have_count(4)
    fourth = rows.nth(3)
    expect(fourth.locator("th")).to_have_text("4")
    fourth.get_by_label("Nội dung, dòng 4").fill("Địa điểm kinh doanh")
    fourth.get_by_label("Đăng ký thay đổi thành, dòng 4").fill("Số 5 đường Trần Phú")
    expect(fourth.get_by_label("Nội dung, dòng 4")).to_have_attribute("name", "f.changes.3.item")
    reception.shot("change-row-added")
    page.get_by_role("button", name="Tiếp nhận hồ sơ và cấp giấy hẹn").click()  # no applicant: refused

    expect(page.locator(".field-error").first).to_be_visible()
    again = page.get_by_role("group", name=starts("Nội dung đăng ký thay đổi"))
    # the server read the fourth row; empty rows are dropped, so it comes back first
    expect(again.get_by_label("Nội dung, dòng 1")).to_have_value("Địa điểm kinh doanh")
    expect(again.get_by_label("Đăng ký thay đổi thành, dòng 1")).to_have_value("Số 5 đường Trần Phú")
    reception.assert_quiet()
