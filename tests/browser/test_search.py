"""An official finds a dossier: types the applicant's name without diacritics in "Tìm hồ sơ", opens the dossier and
then its task; on a wide screen the list and the opened dossier or task stand side by side, on a narrow one the
pane follows the list. The URL holds the whole view: opened again, it shows the same."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.kit import RECEPTION, SPECIALIST, Visitor, reload_until, scroll_width, unlabelled_inputs
from tests.integration.server import Api, MotcuaServer

APPLICANT = "Đặng Quốc Tìm Kiếm"
TYPED = "dang quoc tim kiem"
WIDE = (1400, 900)
NARROW = (800, 900)
PHONE = (375, 740)


@pytest.fixture
def dossier(web_server: MotcuaServer) -> Iterator[str]:
    api = Api(web_server)
    try:
        r = api.submit(name=APPLICANT)
        assert r.status_code == 201, r.text
        yield str(r.json()["code"])
    finally:
        api.close()


def search(official: Visitor, code: str) -> Page:
    """From the task list: the "Tìm hồ sơ" section, the name typed without diacritics, the dossier's row."""
    page = official.page
    official.goto("/can-bo/nhiem-vu", "tasks")
    page.get_by_role("link", name="Tìm hồ sơ", exact=True).click()
    page.get_by_label(re.compile("^Mã hồ sơ, họ tên người nộp")).fill(TYPED)
    page.get_by_role("button", name="Tìm", exact=True).click()
    expect(page).to_have_url(re.compile(r"muc=tim-kiem.*q=dang\+quoc\+tim\+kiem"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))
    expect(row).to_contain_text(APPLICANT)
    official.shot("found")
    return page


def side_by_side(list_: Locator, pane: Locator) -> None:
    """The pane stands to the right of the list, at the same height."""
    left, right = list_.bounding_box(), pane.bounding_box()
    assert left is not None and right is not None
    assert right["x"] >= left["x"] + left["width"] - 1, (left, right)
    assert right["y"] < left["y"] + left["height"] and left["y"] < right["y"] + right["height"], (left, right)


def test_an_official_searches_and_opens_a_dossier_beside_the_list(
    visit: Callable[..., Visitor], dossier: str, web_server: MotcuaServer
) -> None:
    official = visit(SPECIALIST, viewport=WIDE)
    page = search(official, dossier)
    page.get_by_role("link", name=dossier, exact=True).click()
    pane = page.get_by_role("complementary")
    expect(pane.get_by_role("heading", name=f"Hồ sơ {dossier}")).to_be_visible()
    expect(pane).to_contain_text(APPLICANT)
    official.shot("dossier-beside")
    side_by_side(page.locator("table.found"), pane)
    assert unlabelled_inputs(page) == []
    bookmark = page.url

    # the dossier's step waiting for this specialist, opened from the pane: the decision form beside the list
    step = reload_until(page, lambda: pane.get_by_role("link", name=re.compile("^Thẩm định")), "the review step")
    step.click()
    expect(pane.get_by_role("button", name="Hoàn thành bước")).to_be_visible()
    expect(pane.get_by_role("link", name=re.compile("^Mở trang xử lý đầy đủ"))).to_be_visible()
    official.shot("task-beside")
    side_by_side(page.locator("table.found"), pane)

    # the bookmarked URL, opened again: the same search, the same dossier beside it
    official.goto(bookmark.split("#")[0], "bookmark")
    expect(page.get_by_label(re.compile("^Mã hồ sơ, họ tên người nộp"))).to_have_value(TYPED)
    expect(page.get_by_role("complementary").get_by_role("heading", name=f"Hồ sơ {dossier}")).to_be_visible()

    # a narrow screen: the pane follows the list
    narrow = visit(SPECIALIST, viewport=NARROW)
    narrow.goto(bookmark.split("#")[0], "narrow")
    table = narrow.page.locator("table.found").bounding_box()
    below = narrow.page.get_by_role("complementary").bounding_box()
    assert table is not None and below is not None
    assert below["y"] >= table["y"] + table["height"], (table, below)
    # a phone: nothing scrolls sideways, every input has its label
    phone = visit(SPECIALIST, viewport=PHONE)
    phone.goto(bookmark.split("#")[0], "phone")
    assert scroll_width(phone.page) <= PHONE[0] and unlabelled_inputs(phone.page) == []
    for visitor in (official, narrow, phone):
        visitor.assert_quiet()


def test_reception_finds_a_dossier_at_the_desk(visit: Callable[..., Visitor], dossier: str) -> None:
    reception = visit(RECEPTION)
    page = reception.page
    reception.goto("/mot-cua", "desk")
    page.get_by_label(re.compile("^Mã hồ sơ, họ tên người nộp")).fill(dossier.lower().replace("-", " - "))
    page.get_by_role("button", name="Tìm hồ sơ", exact=True).click()
    expect(page).to_have_url(re.compile(r"/mot-cua/tim-kiem\?q="))
    reception.shot("found")
    assert unlabelled_inputs(page) == []
    page.get_by_role("link", name=dossier, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/mot-cua/ho-so/{re.escape(dossier)}$"))
    expect(page.get_by_text(APPLICANT).first).to_be_visible()
    reception.shot("dossier")
    reception.assert_quiet()
