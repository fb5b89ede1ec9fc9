"""Journey 8 — accessibility basics on the pages of every role (issue 8 point 7).

* every visible input, select and textarea has a label (``<label for>``, a wrapping label, ``aria-label`` or
  ``aria-labelledby`` with text), evaluated in the page;
* ``<html lang="vi">``;
* the keyboard focus is visible: Tab moves it, and the focused element draws an outline (or a shadow);
* the pages a citizen uses do not scroll sideways on a 375 px wide phone (375×740):
  ``document.scrollingElement.scrollWidth <= 375``.

Problems of all pages are gathered and reported together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.kit import (
    ADMIN,
    AUDITOR,
    CITIZEN,
    RECEPTION,
    SPECIALIST,
    Visitor,
    focus_stops,
    household_business_data,
    reload_until,
    scroll_width,
    task_row,
    unlabelled_inputs,
)
from tests.conftest import HOUSEHOLD_BUSINESS, minimal_pdf
from tests.integration.server import Api, MotcuaServer

PHONE = (375, 740)
PUBLIC_PAGES = ["/", "/thu-tuc", f"/thu-tuc/{HOUSEHOLD_BUSINESS}", "/tra-cuu", "/dang-nhap"]
CITIZEN_PAGES = ["/cong-dan", "/cong-dan/nop-ho-so", f"/cong-dan/nop-ho-so?thu_tuc={HOUSEHOLD_BUSINESS}"]
OFFICIAL_PAGES = {
    RECEPTION: ["/mot-cua", f"/mot-cua/tiep-nhan/{HOUSEHOLD_BUSINESS}", "/can-bo/nhiem-vu"],
    SPECIALIST: ["/can-bo/nhiem-vu"],
    AUDITOR: ["/thanh-tra", "/thanh-tra/thong-ke", "/thanh-tra/nhat-ky"],
    ADMIN: ["/quan-tri", "/quan-tri/nguoi-dung", "/quan-tri/su-co", "/quan-tri/lien-thong"],
}


@pytest.fixture
def citizens_dossier(web_server: MotcuaServer) -> Iterator[str]:
    """A dossier of the citizen's (submitted online through the API), for its page and its task page."""
    api = Api(web_server)
    try:
        files = {
            "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
            "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
        }
        r = api.post("/api/dossiers", CITIZEN, data=household_business_data() | {"channel": "online"}, files=files)
        assert r.status_code == 201, r.text
        code = str(r.json()["code"])
        accepted = api.post(f"/api/dossiers/{code}/reception", RECEPTION, json={"decision": "accept"})
        assert accepted.status_code == 200, accepted.text
        yield code
    finally:
        api.close()


class Findings:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, visitor: Visitor, path: str, *, phone: bool = False) -> None:
        page = visitor.goto(path, ("phone" if phone else "page") + (path if path != "/" else "-home"))
        lang = page.locator("html").get_attribute("lang")
        if lang != "vi":
            self.problems.append(f"{path}: <html lang={lang!r}>")
        for html in unlabelled_inputs(page):
            self.problems.append(f"{path} ({visitor.who}): no label for {html}")
        if phone and scroll_width(page) > PHONE[0]:
            self.problems.append(f"{path}: scrolls sideways at {PHONE[0]} px (scrollWidth {scroll_width(page)})")


def test_8_labels_language_focus_and_phone_width(visit: Callable[..., Visitor], citizens_dossier: str) -> None:
    found = Findings()

    public = visit(viewport=PHONE)
    for path in PUBLIC_PAGES:
        found.check(public, path, phone=True)

    # keyboard: the first stops of the login page (skip link, header links, the fields, the button)
    page = public.goto("/dang-nhap")
    stops: list[dict[str, Any]] = focus_stops(page, 6)
    public.shot("focus-after-6-tabs")
    assert all(stops), f"Tab left the page or reached nothing: {stops}"
    assert stops[0]["text"].startswith("Bỏ qua"), f"the first stop is the skip link: {stops[0]}"
    hidden = [s for s in stops if not s["visible"]]
    if hidden:
        found.problems.append(f"/dang-nhap: focus not visible on {hidden}")
    page.get_by_label("Tên đăng nhập").focus()
    expect(page.get_by_label("Tên đăng nhập")).to_be_focused()

    citizen = visit(CITIZEN, viewport=PHONE)
    for path in [*CITIZEN_PAGES, f"/cong-dan/ho-so/{citizens_dossier}"]:
        found.check(citizen, path, phone=True)
    page = citizen.goto(f"/cong-dan/nop-ho-so?thu_tuc={HOUSEHOLD_BUSINESS}")
    hidden = [s for s in focus_stops(page, 12) if s and not s["visible"]]
    if hidden:
        found.problems.append(f"/cong-dan/nop-ho-so: focus not visible on {hidden}")
    citizen.shot("phone-form-focus")

    for username, paths in OFFICIAL_PAGES.items():
        official = visit(username)
        for path in paths:
            found.check(official, path)
        if username == SPECIALIST:
            tasks = official.page
            row = reload_until(tasks, lambda p=tasks: task_row(p, citizens_dossier), "the citizen's dossier's task")
            link = row.get_by_role("link", name=citizens_dossier, exact=True).get_attribute("href")
            assert link is not None
            found.check(official, link)
        official.assert_quiet()

    public.assert_quiet()
    citizen.assert_quiet()
    assert not found.problems, "accessibility problems:\n" + "\n".join(found.problems)
