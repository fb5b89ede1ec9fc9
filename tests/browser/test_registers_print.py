"""The papers an office prints, in a browser: reception opens a dossier's control sheet from the dossier page and the
tracking register from the desk, chooses the period, prints (on paper the navigation and the form are gone, the table
stays) and downloads the sealed PDF; on a 375 px phone the register reads row by row. Both carry the number of the
form set in force (2018: Mẫu 05 and 06; from 15/9/2025: Mẫu 06 and 07)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from dossiers.calendar import VN_TZ
from signing.pki import DEVELOPMENT_PASSPHRASE, DevelopmentPki
from signing.validate import PadesValidator
from tests.browser.kit import RECEPTION, SPECIALIST, Visitor, scroll_width, unlabelled_inputs
from tests.integration.server import Api, MotcuaServer, wait_for

APPLICANT = "Phan Thị Sổ Sách"
SET_2025 = dt.date(2025, 9, 15)  # Circular 03/2025/TT-VPCP: the control sheet Mẫu 05 → 06, the register Mẫu 06 → 07
PHONE = (375, 740)


@pytest.fixture
def dossier(web_server: MotcuaServer) -> Iterator[tuple[str, dt.date]]:
    """A dossier received at the counter and taken up by the specialist: one hand-over on its control sheet."""
    api = Api(web_server)
    try:
        r = api.submit(name=APPLICANT)
        assert r.status_code == 201, r.text
        code = str(r.json()["code"])
        task = wait_for(
            "the specialist's task", lambda: [t for t in api.tasks(SPECIALIST) if t["dossier_code"] == code], 30.0
        )[0]
        claimed = api.post(f"/api/tasks/{task['id']}/claim", SPECIALIST)
        assert claimed.status_code == 200, claimed.text
        received = dt.datetime.fromisoformat(api.dossier(code)["received_at"]).astimezone(VN_TZ).date()
        yield code, received
    finally:
        api.close()


def printed(visitor: Visitor, step: str, *also_hidden: Locator) -> None:
    """What the paper shows: the site's navigation, the buttons and the period form are hidden, the table is not."""
    page = visitor.page
    page.emulate_media(media="print")
    try:
        for locator in also_hidden:
            expect(locator).to_be_hidden()
        expect(page.get_by_role("navigation", name="Điều hướng chính")).to_be_hidden()
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_hidden()
        expect(page.get_by_role("button", name="In", exact=True)).to_be_hidden()
        expect(page.get_by_role("link", name="Tải PDF có đóng dấu")).to_be_hidden()
        expect(page.get_by_role("table").last).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        visitor.shot(step)
    finally:
        page.emulate_media(media="screen")
    expect(page.get_by_role("navigation", name="Điều hướng chính")).to_be_visible()


def print_button_prints(page: Page) -> None:
    """The "In" button opens the browser's print dialog (``window.print``, replaced here to count the calls)."""
    button = page.get_by_role("button", name="In", exact=True)
    expect(button).to_be_visible()
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    button.click()
    assert page.evaluate("() => window.__printed") == 1


def sealed_pdf(page: Page, web_server: MotcuaServer, tmp_path: Path, name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name="Tải PDF có đóng dấu").click()
    download = info.value
    assert re.match(rf"^M(ẫ|a)u {name} - .+\.pdf$", download.suggested_filename), download.suggested_filename
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    roots = DevelopmentPki(web_server.var_dir / "pki", DEVELOPMENT_PASSPHRASE).trust_roots()
    report = PadesValidator(roots).validate(pdf)
    assert report.indication == "TOTAL-PASSED", (report.indication, report.sub_indication)
    return pdf


def test_reception_prints_the_control_sheet_and_the_register(
    visit: Callable[..., Visitor], dossier: tuple[str, dt.date], web_server: MotcuaServer, tmp_path: Path
) -> None:
    code, received = dossier
    sheet_no, register_no = ("06", "07") if received >= SET_2025 else ("05", "06")
    reception = visit(RECEPTION)
    page = reception.page

    # the control sheet, from the dossier's page at the desk, named by the set in force on the day received
    reception.goto(f"/mot-cua/ho-so/{code}", "dossier")
    page.get_by_role("link", name=f"Xem, in phiếu kiểm soát quá trình giải quyết (Mẫu {sheet_no})").click()
    expect(page).to_have_url(re.compile(re.escape(f"/can-bo/ho-so/{code}/phieu-kiem-soat") + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Phiếu kiểm soát quá trình giải quyết hồ sơ (Mẫu {sheet_no})"
    )
    sheet = page.get_by_role("table", name=re.compile("^Các lần giao, nhận hồ sơ"))
    expect(sheet.get_by_role("columnheader", name="Hạn của bước")).to_be_visible()
    rows = sheet.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Phòng Kinh tế (Trần Văn Minh)")  # the specialist who took it
    expect(rows.first).to_contain_text(re.compile("Trước hạn|Đúng hạn|Quá hạn"))
    expect(page.get_by_text(APPLICANT)).to_be_visible()
    reception.shot("control-sheet")
    print_button_prints(page)
    printed(reception, "control-sheet-printed")
    sealed_pdf(page, web_server, tmp_path, sheet_no)

    # the register, from the desk: the period typed as dd/mm/yyyy, kept in the URL
    reception.goto("/mot-cua")
    page.get_by_role("link", name=re.compile("^Sổ theo dõi hồ sơ")).click()
    expect(page).to_have_url(re.compile(r"/can-bo/so-theo-doi$"))
    day = received.strftime("%d/%m/%Y")
    page.get_by_label("Từ ngày").fill(day)
    page.get_by_label("Đến ngày").fill(day)
    page.get_by_role("button", name="Xem sổ").click()
    expect(page).to_have_url(re.compile(r"\?from=" + re.escape(day.replace("/", "%2F")) + "&to="))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sổ theo dõi hồ sơ (Mẫu {register_no})")
    register = page.get_by_role("table", name=re.compile("^Sổ theo dõi hồ sơ của"))
    row = register.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(APPLICANT)
    expect(row).to_contain_text("Đang giải quyết")
    expect(page.get_by_role("table", name="Số hồ sơ trong kỳ theo kết quả giải quyết")).to_contain_text("Tổng số hồ sơ")
    assert unlabelled_inputs(page) == []
    reception.shot("register")
    print_button_prints(page)
    printed(reception, "register-printed", page.get_by_label("Từ ngày"), page.get_by_role("button", name="Xem sổ"))
    expect(page.get_by_label("Từ ngày")).to_be_visible()
    sealed_pdf(page, web_server, tmp_path, register_no)
    with page.expect_download() as info:
        page.get_by_role("link", name="Tải Excel (XLSX)").click()
    assert info.value.suggested_filename.endswith(".xlsx")

    # the bookmark, opened on a phone: the same row, read as a card, nothing wider than the screen
    bookmark = page.url
    phone = visit(RECEPTION, viewport=PHONE)
    phone.goto(bookmark, "register-phone")
    phone_row = phone.page.get_by_role("row").filter(has=phone.page.get_by_role("link", name=code, exact=True))
    expect(phone_row).to_contain_text(APPLICANT)
    expect(phone.page.locator("table.register thead")).to_be_hidden()  # each row a card, its cells labelled
    assert scroll_width(phone.page) <= PHONE[0]
    phone.goto(f"/can-bo/ho-so/{code}/phieu-kiem-soat", "control-sheet-phone")
    assert scroll_width(phone.page) <= PHONE[0]
    reception.assert_quiet()
    phone.assert_quiet()
