"""Journey 1 — a visitor without an account: the public catalogue of procedures, one procedure's page, and the
public lookup, which answers an unknown dossier code with its not-found message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.kit import APPLICANT_ID
from tests.conftest import HOUSEHOLD_BUSINESS


def test_1_catalogue_and_lookup_of_an_unknown_code(visit: Callable[..., Any]) -> None:
    visitor = visit()
    page = visitor.goto("/", "home")
    expect(page.locator("html")).to_have_attribute("lang", "vi")

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Thủ tục").click()
    expect(page).to_have_url(re.compile(r"/thu-tuc$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Danh mục thủ tục hành chính")
    procedure = page.get_by_role("row").filter(has_text=HOUSEHOLD_BUSINESS)
    expect(procedure).to_have_count(1)
    visitor.shot("catalogue")

    procedure.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(re.escape(f"/thu-tuc/{HOUSEHOLD_BUSINESS}") + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("hộ kinh doanh")
    visitor.shot("procedure")

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Tra cứu").click()
    expect(page).to_have_url(re.compile(r"/tra-cuu$"))
    visitor.shot("lookup")
    page.locator("[name=ma]").fill("000.00.31.H99-000000-9999")
    page.locator("[name=so_dinh_danh]").fill(APPLICANT_ID)
    page.locator("form").filter(has=page.locator("[name=ma]")).locator("button").click()
    expect(page.get_by_text("Không tìm thấy hồ sơ với mã và số định danh đã nhập.")).to_be_visible()
    visitor.shot("lookup-not-found")
    visitor.assert_quiet()
