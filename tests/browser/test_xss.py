"""Journey 7 — markup typed into text fields stays text in the real browser.

The citizen types ``<img src=x onerror=alert(1)>`` as the applicant's name, the specialist types it as the comment
of their decision. Every page that shows them — the citizen's dossier, the task list, the task pages of the
specialist and of the leader (the earlier step's comment), the auditor's trail — shows the characters literally,
no ``<img>`` element is made of them and no dialog fires (``page.on("dialog")`` on every page).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.kit import (
    AUDITOR,
    CITIZEN,
    LEADER,
    RECEPTION,
    SPECIALIST,
    WORKER_TIMEOUT_S,
    XSS,
    Visitor,
    decide,
    fill_application,
    reload_until,
    task_row,
    write_papers,
)

CODE_IN_URL = re.compile(r"/cong-dan/ho-so/([^/?#]+)")


def inert(page: Page, *, shown: bool = True) -> None:
    """The text is on the page as text (``shown``), and the browser made no element of it."""
    if shown:
        expect(page.get_by_text(XSS).first).to_be_visible()
    assert page.locator("img[src='x']").count() == 0, page.url
    assert page.evaluate("() => document.body.innerHTML.includes('<img src=\"x\"')") is False, page.url


def open_task(official: Visitor, code: str, step: str) -> Page:
    page = official.page
    official.goto("/can-bo/nhiem-vu")
    row = reload_until(page, lambda: task_row(page, code), f"{official.who}'s task for {code}")
    inert(page)  # the applicant's name in the list
    official.shot(f"{step}-task-list")
    row.get_by_role("link", name=code, exact=True).click()
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu/[^/?]+"))
    return page


def test_7_markup_in_text_fields_is_inert(visit: Callable[..., Visitor], tmp_path: Path) -> None:
    citizen = visit(CITIZEN)
    page = citizen.goto("/cong-dan/nop-ho-so?thu_tuc=1.001612")
    fill_application(page, write_papers(tmp_path / "scans"), XSS, online=True)
    expect(page.get_by_label(re.compile("^Họ và tên"))).to_have_value(XSS)
    citizen.shot("application-filled")
    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(page).to_have_url(CODE_IN_URL, timeout=WORKER_TIMEOUT_S * 1000)
    match = CODE_IN_URL.search(page.url)
    assert match is not None
    code = match.group(1)
    inert(page, shown=False)  # the citizen's page does not repeat the applicant's name
    citizen.shot("dossier")

    reception = visit(RECEPTION)  # the online dossier waits in the reception queue, the name shown as text
    page = reception.goto("/mot-cua")
    inert(page)
    page = reception.goto(f"/mot-cua/ho-so/{code}")
    inert(page)
    reception.shot("check")
    page.get_by_role("radio", name=re.compile("Tiếp nhận hồ sơ")).check()
    page.get_by_role("button", name="Ghi nhận kết quả kiểm tra").click()
    expect(page.get_by_role("status").filter(has_text="Đã tiếp nhận hồ sơ.")).to_be_visible()

    specialist = visit(SPECIALIST)
    page = open_task(specialist, code, "review")
    inert(page)
    specialist.shot("task")
    decide(page, "approve", XSS)
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?tb=da-xu-ly"))

    leader = visit(LEADER)
    page = open_task(leader, code, "approve")
    inert(page)
    # the applicant's name, and the specialist's comment (in the comments and in the history)
    assert page.get_by_text(XSS).count() >= 2, page.get_by_text(XSS).all_inner_texts()
    leader.shot("task-with-comment")

    auditor = visit(AUDITOR)
    page = auditor.goto(f"/thanh-tra/ho-so/{code}")
    inert(page)
    auditor.shot("trail")

    for visitor in (citizen, reception, specialist, leader, auditor):
        visitor.assert_quiet()  # above all: no dialog
