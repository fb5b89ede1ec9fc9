"""The papers an office prints, as pages: the control sheet of a dossier (/can-bo/ho-so/{code}/phieu-kiem-soat) and
the tracking register of a period (/can-bo/so-theo-doi), each named by the number of the form set in force (2018:
Mẫu 05 and 06; from 15/9/2025, Circular 03/2025/TT-VPCP: Mẫu 06 and 07) — the dossier's received day, the period's end.

The tables shown are read back from the HTML and compared with the service's data (services.paperwork); the
period lives in the URL (opened again, by another person, the same table); a day that is not a day is answered
with the page and a Vietnamese message (422, not 500); other agencies' officials are refused with a page; the
sealed PDF and the XLSX are downloaded with the session and read back.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.web.labels import Labels, local_time
from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from signing.validate import PadesValidator
from tests.conftest import Api
from tests.pdftools import pdftotext
from tests.web import logged_in

AGENCY = "000.00.31.H99"
OTHER_COMMUNE = "000.00.32.H99"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
MARCH = "from=01%2F03%2F2026&to=31%2F03%2F2026"
TIMELINESS = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
ENGLISH = ("Control sheet", "Tracking register", "Download", "Print", "early", "on_time", "None", "Traceback")


class Tables(HTMLParser):
    """The rows of every ``<table>`` of a page (cells' text, whitespace collapsed), the links' hrefs by their text,
    and the values of the inputs by id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self._cell: list[str] | None = None
        self._href: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "a":
            self._href, self._text = a.get("href"), []
        elif tag == "input" and a.get("id"):
            self.inputs[str(a["id"])] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "a" and self._href is not None:
            self.links[" ".join("".join(self._text).split())] = self._href
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._href is not None:
            self._text.append(data)


def visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[-1]).split())


def body_rows(html: str, caption_start: str) -> list[list[str]]:
    """The body rows of the table whose caption starts with ``caption_start`` (the header row dropped)."""
    match = re.search(r"<table[^>]*>\s*<caption[^>]*>" + re.escape(caption_start), html)
    assert match, f"no table {caption_start!r}"
    end = html.index("</table>", match.start())
    rows = Tables(html[match.start() : end + len("</table>")]).tables[0]
    return [r for r in rows if r][1:]


def page_of(client: TestClient, url: str, status: int = 200, *, ours: bool = True) -> str:
    """The page at ``url`` as a browser asks for it; ours (the registers' pages and their errors) has no English."""
    r = client.get(url, headers=HTML)
    assert r.status_code == status, (url, r.status_code, r.text[-2000:])
    assert r.headers["content-type"].startswith("text/html")
    text = visible(r.text)
    for english in ENGLISH if ours else ():
        assert english not in text, (english, url)
    return str(r.text)


def returned_dossier(api: Api) -> str:
    """A dossier taken to the end at the counter: received, reviewed, approved, signed, numbered, returned."""
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    api.advance(hours=5)
    api.resolve(code)
    return code


def other_desk(api: Api) -> str:
    rt = api.runtime
    rt.accounts.add("tiepnhan.xa2", DEMO_PASSWORD, "tiepnhan.xa2", Role.RECEPTION, OTHER_COMMUNE, None, rt.clock.now())
    return "tiepnhan.xa2"


def check_seal(api: Api, pdf: bytes) -> None:
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert "Ủy ban nhân dân xã Hòa An" in report.signatures[0].signer_subject


# ---------------------------------------------------------------------- the control sheet


def test_control_sheet_page_shows_the_services_hand_overs_and_the_sealed_pdf(api: Api, tmp_path: Path) -> None:
    code = returned_dossier(api)
    data = api.runtime.paperwork.control_sheet_data(code)
    assert len(data.rows) == 5
    url = f"/can-bo/ho-so/{code}/phieu-kiem-soat"
    desk = logged_in(api, "tiepnhan.xa1")
    html = page_of(desk, url)
    text = visible(html)

    # the header facts
    for fact in (code, "Nguyễn Văn An", "Đăng ký thành lập hộ kinh doanh", local_time(data.received_at)):
        assert fact in text, fact
    # received in March 2026: the 2025 set's number (Mẫu 05 there is the stop notice)
    assert data.received_at.year == 2026
    assert "Phiếu kiểm soát quá trình giải quyết hồ sơ (Mẫu 06)" in text and "Mẫu 05" not in text
    assert f"Hẹn trả kết quả {local_time(data.due_at)}" in text

    # one row per hand-over, as the service judges it: against the giver's step due date ("Hạn của bước")
    assert "Hạn của bước" in text
    shown = body_rows(html, "Các lần giao, nhận hồ sơ")
    expected = [
        [
            str(i),
            r.giver,
            r.receiver,
            local_time(r.handed_at),
            local_time(r.due_at),
            TIMELINESS[r.timeliness],
            local_time(r.taken_at or r.handed_at),
            r.note or "",
        ]
        for i, r in enumerate(data.rows, start=1)
    ]
    assert shown == expected
    assert {row[5] for row in shown} >= {"Trước hạn", "Đúng hạn"}
    assert any(r.due_at < data.due_at for r in data.rows)  # a step's due date, not the dossier's

    # print (a button the script wires) and the sealed PDF with the session
    assert re.search(r'<button type="button" data-print hidden>In</button>', html)
    assert '<script src="/static/js/print.js" defer></script>' in html
    assert desk.get("/static/js/print.js").status_code == 200
    pdf_url = Tables(html).links["Tải PDF có đóng dấu"]
    assert pdf_url == url + ".pdf"
    r = desk.get(pdf_url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "attachment" in r.headers["content-disposition"]
    assert (
        f'filename="Mau 06 - Phieu kiem soat qua trinh giai quyet ho so - {code}.pdf"'
        in r.headers["content-disposition"]
    )
    flat = " ".join(pdftotext(r.content, tmp_path).split())
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in flat and code in flat
    check_seal(api, r.content)
    r = api.get(f"/api/dossiers/{code}/control-sheet", "tiepnhan.xa1")  # the API's file: the same number
    assert r.status_code == 200 and f'filename="{code}-mau-06-phieu-kiem-soat.pdf"' in r.headers["content-disposition"]
    kinds = [(e.event.kind, e.event.actor) for e in api.runtime.audit.for_dossier(code)]
    assert ("control_sheet.issued", "tiepnhan.xa1") in kinds
    assert kinds.count(("dossier.read", "tiepnhan.xa1")) >= 1  # the page's read of the applicant's data

    # the same sheet for the dossier's officials and the auditor
    for who in ("chuyenvien1.xa1", "lanhdao.xa1", "vanthu.xa1", "thanhtra.tinh"):
        assert body_rows(page_of(logged_in(api, who), url), "Các lần giao, nhận hồ sơ") == expected, who


def test_control_sheet_page_is_linked_from_the_desk_the_task_and_the_trail(api: Api) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    sheet = f"/can-bo/ho-so/{code}/phieu-kiem-soat"

    desk_links = Tables(page_of(logged_in(api, "tiepnhan.xa1"), f"/mot-cua/ho-so/{code}", ours=False)).links
    assert desk_links["Xem, in phiếu kiểm soát quá trình giải quyết (Mẫu 06)"] == sheet  # received in 2026

    task = api.task_for("chuyenvien1.xa1", code)
    task_links = Tables(page_of(logged_in(api, "chuyenvien1.xa1"), f"/can-bo/nhiem-vu/{task['id']}", ours=False)).links
    assert task_links["Phiếu kiểm soát quá trình giải quyết (Mẫu 06)"] == sheet

    trail_links = Tables(page_of(logged_in(api, "thanhtra.tinh"), f"/thanh-tra/ho-so/{code}", ours=False)).links
    assert trail_links["Phiếu kiểm soát quá trình giải quyết (Mẫu 06)"] == sheet

    # a dossier still being handled: the hand-overs so far (none before the specialist takes it), as the service's
    assert "Chưa có lần giao, nhận hồ sơ nào." in visible(page_of(logged_in(api, "chuyenvien1.xa1"), sheet))
    api.advance(hours=1)
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    html = page_of(logged_in(api, "chuyenvien1.xa1"), sheet)
    rows = api.runtime.paperwork.hand_overs(code)
    assert len(rows) == 1
    assert [row[1:3] for row in body_rows(html, "Các lần giao, nhận hồ sơ")] == [[r.giver, r.receiver] for r in rows]


def test_control_sheet_page_refuses_other_agencies_with_a_page(api: Api) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    stranger = logged_in(api, other_desk(api))
    text = visible(page_of(stranger, f"/can-bo/ho-so/{code}/phieu-kiem-soat", 403))
    assert "cơ quan khác" in text and "Nguyễn Văn An" not in text
    assert stranger.get(f"/can-bo/ho-so/{code}/phieu-kiem-soat.pdf", headers=HTML).status_code == 403
    page_of(logged_in(api, "congdan1"), f"/can-bo/ho-so/{code}/phieu-kiem-soat", 403)
    assert "Không tìm thấy hồ sơ" in visible(
        page_of(logged_in(api, "tiepnhan.xa1"), "/can-bo/ho-so/000.00.31.H99-260302-9999/phieu-kiem-soat", 404)
    )
    # not signed in: to the login page, and back here afterwards
    r = TestClient(api.client.app, base_url="https://testserver", follow_redirects=False).get(
        f"/can-bo/ho-so/{code}/phieu-kiem-soat", headers=HTML
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/dang-nhap?next=")


def test_the_control_sheets_number_follows_the_day_the_dossier_was_received(api: Api) -> None:
    """Mẫu 05 for a dossier received up to 14/9/2025 (Vietnam time), Mẫu 06 from 15/9/2025, in both languages."""
    vi, en = Labels(api.runtime, "vi"), Labels(api.runtime, "en")
    last_2018, first_2025 = "2025-09-14T16:59:59+00:00", "2025-09-14T17:00:00+00:00"  # 23:59:59 and 00:00 in Vietnam
    assert [vi.form_no("control_sheet", last_2018), vi.form_no("control_sheet", first_2025)] == ["Mẫu 05", "Mẫu 06"]
    assert en.form_no("control_sheet", dt.datetime(2019, 3, 1, tzinfo=dt.UTC)) == "form 05"
    assert [vi.form_no("tracking_register", d) for d in (dt.date(2025, 9, 14), dt.date(2025, 9, 15))] == [
        "Mẫu 06",
        "Mẫu 07",
    ]
    assert vi.form_no("apology", dt.date(2025, 9, 14)) == vi.form_no("apology", dt.date(2025, 9, 15)) == "Mẫu 04"
    assert vi.form_no("control_sheet") == "Mẫu 06"  # no day: today's set (March 2026)
    # the name of the apology shown on pages is true of both sets' Mẫu 04
    assert vi.document("apology") == "Văn bản xin lỗi vì giải quyết quá hạn (Mẫu 04)"


# ---------------------------------------------------------------------- the tracking register


def register_rows(html: str) -> list[list[str]]:
    return body_rows(html, "Sổ theo dõi hồ sơ của")


def expected_register(api: Api, first: dt.date, last: dt.date) -> list[list[str]]:
    data = api.runtime.paperwork.tracking_register_data(AGENCY, first, last)

    def day(value: dt.datetime | None) -> str:
        return local_time(value, "%d/%m/%Y") if value else "—"

    def result(r: Any) -> str:
        if r.timeliness:
            return TIMELINESS[r.timeliness]
        return "Đang giải quyết, quá hạn" if r.overdue else "Đang giải quyết"

    return [
        [
            str(i),
            r.dossier_code,
            r.procedure_name,
            r.applicant_name,
            day(r.received_at),
            day(r.due_at),
            r.status,
            day(r.resolved_at),
            day(r.returned_at),
            result(r),
        ]
        for i, r in enumerate(data.rows, start=1)
    ]


def test_tracking_register_page_shows_the_period_in_the_url(api: Api, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    done = returned_dossier(api)
    open_one = str(api.submit(applicant_name="Lê Thị Mai").json()["code"])
    api.work()
    expected = expected_register(api, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert {row[1] for row in expected} == {done, open_one}

    desk = logged_in(api, "tiepnhan.xa1")
    url = f"/can-bo/so-theo-doi?{MARCH}"
    html = page_of(desk, url)
    assert register_rows(html) == expected
    by_code = {row[1]: row for row in expected}
    assert by_code[done][6] == "Đã trả kết quả" and by_code[done][9] == "Trước hạn" and by_code[done][8] != "—"
    assert by_code[open_one][3] == "Lê Thị Mai" and by_code[open_one][9] == "Đang giải quyết"
    text = visible(html)
    assert "Từ ngày 01/03/2026 đến ngày 31/03/2026" in text and "Ủy ban nhân dân xã Hòa An" in text
    assert "Sổ theo dõi hồ sơ (Mẫu 07)" in text and "Mẫu 06" not in text  # the 2025 set, in force on 31/03/2026
    totals = dict(row for row in Tables(html).tables[0] if len(row) == 2)
    assert totals["Tổng số hồ sơ"] == "2" and totals["Giải quyết trước hạn"] == "1"
    assert totals["Đang giải quyết"] == "1 (trong đó quá hạn: 0)"
    page = Tables(html)
    assert (page.inputs["r-from"], page.inputs["r-to"]) == ("01/03/2026", "31/03/2026")
    # each code opens its control sheet
    assert page.links[done] == f"/can-bo/ho-so/{done}/phieu-kiem-soat"

    # the bookmarked URL, opened again by the agency's leader: the same table
    assert register_rows(page_of(logged_in(api, "lanhdao.xa1"), url)) == expected
    # the period filters: February holds none of them, 02/03 alone both, the default (this month) both
    assert "Không có hồ sơ nào tiếp nhận trong kỳ." in visible(
        page_of(desk, "/can-bo/so-theo-doi?from=01%2F02%2F2026&to=28%2F02%2F2026")
    )
    assert register_rows(page_of(desk, "/can-bo/so-theo-doi?from=02032026&to=2026-03-02")) == expected
    assert register_rows(page_of(desk, "/can-bo/so-theo-doi")) == expected

    # print, PDF (sealed, landscape) and XLSX of the same period
    assert '<button type="button" data-print hidden>In</button>' in html
    assert "@page { size: A4 landscape" in html
    pdf_url, xlsx_url = page.links["Tải PDF có đóng dấu"], page.links["Tải Excel (XLSX)"]
    assert pdf_url == f"/can-bo/so-theo-doi.pdf?{MARCH}" and xlsx_url == f"/can-bo/so-theo-doi.xlsx?{MARCH}"
    r = desk.get(pdf_url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert 'filename="Mau 07 - So theo doi ho so - ' in r.headers["content-disposition"]
    flat = " ".join(pdftotext(r.content, tmp_path).split())
    assert "SỔ THEO DÕI HỒ SƠ" in flat and "Từ ngày 01/3/2026 đến ngày 31/3/2026" in flat
    assert done in flat and open_one in flat
    check_seal(api, r.content)
    r = desk.get(xlsx_url)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    assert {row[1] for row in sheet.iter_rows(min_row=5, values_only=True) if row[1]} == {done, open_one}

    # every read and export recorded
    entries = [e.event for e in api.runtime.audit.all() if e.event.kind.startswith("tracking_register.")]
    assert [(e.kind, e.actor, e.details.get("format")) for e in entries[-2:]] == [
        ("tracking_register.exported", "tiepnhan.xa1", "pdf"),
        ("tracking_register.exported", "tiepnhan.xa1", "xlsx"),
    ]
    reads = [e for e in entries if e.kind == "tracking_register.read"]
    assert reads and reads[0].actor == "tiepnhan.xa1" and reads[0].details["period_from"] == "2026-03-01"


def test_tracking_registers_number_is_that_of_the_set_in_force_at_the_periods_end(api: Api) -> None:
    """A period ending before 15/9/2025 is the 2018 set's Mẫu 06, on the page and in the file name; one ending on
    15/9/2025 the 2025 set's Mẫu 07; a page without a valid period names today's set."""
    desk = logged_in(api, "tiepnhan.xa1")
    august = "from=01%2F08%2F2025&to=31%2F08%2F2025"
    text = visible(page_of(desk, f"/can-bo/so-theo-doi?{august}"))
    assert "Sổ theo dõi hồ sơ (Mẫu 06)" in text and "Mẫu 07" not in text
    r = desk.get(f"/can-bo/so-theo-doi.xlsx?{august}")
    assert r.status_code == 200
    assert (
        'filename="Mau 06 - So theo doi ho so - 000.00.31.H99 - 01.08.2025-31.08.2025.xlsx"'
        in r.headers["content-disposition"]
    )
    text = visible(page_of(desk, "/can-bo/so-theo-doi?from=01%2F09%2F2025&to=15%2F09%2F2025"))
    assert "Sổ theo dõi hồ sơ (Mẫu 07)" in text and "Mẫu 06" not in text
    text = visible(page_of(desk, "/can-bo/so-theo-doi?from=31%2F08%2F2025&to=01%2F08%2F2025", 422))
    assert "Sổ theo dõi hồ sơ (Mẫu 07)" in text  # no period to go by: the set in force today (March 2026)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=31%2F02%2F2026&to=31%2F03%2F2026", "Ngày “31/02/2026” (từ ngày) không hợp lệ"),
        ("from=01%2F03%2F2026&to=hom-nay", "Ngày “hom-nay” (đến ngày) không hợp lệ"),
        ("from=31%2F03%2F2026&to=01%2F03%2F2026", "Ngày bắt đầu sau ngày kết thúc."),
        ("from=01%2F01%2F2024&to=31%2F03%2F2026", "Kỳ theo dõi dài quá 366 ngày"),
    ],
)
def test_tracking_register_page_answers_a_bad_period_in_vietnamese(api: Api, query: str, message: str) -> None:
    from api import registers
    from api.web import registers_pages

    assert registers_pages.MAX_PERIOD_DAYS == registers.MAX_PERIOD_DAYS == 366
    desk = logged_in(api, "tiepnhan.xa1")
    html = page_of(desk, f"/can-bo/so-theo-doi?{query}", 422)
    assert message in visible(html)
    assert 'role="alert"' in html and 'aria-invalid="true"' in html
    assert "Tải PDF có đóng dấu" not in html
    assert desk.get(f"/can-bo/so-theo-doi.pdf?{query}", headers=HTML).status_code == 422


def test_tracking_register_page_for_auditors_and_not_for_other_agencies(api: Api) -> None:
    done = returned_dossier(api)
    expected = expected_register(api, dt.date(2026, 3, 1), dt.date(2026, 3, 31))

    auditor = logged_in(api, "thanhtra.tinh")
    url = f"/can-bo/so-theo-doi?agency={AGENCY}&{MARCH}"
    html = page_of(auditor, url)
    assert register_rows(html) == expected and expected[0][1] == done
    assert f'<option value="{AGENCY}" selected>' in html  # the agency chosen is kept in the form
    assert Tables(html).links["Tải PDF có đóng dấu"] == f"/can-bo/so-theo-doi.pdf?{MARCH}&agency={AGENCY}"
    assert 'href="/can-bo/so-theo-doi"' in page_of(auditor, "/thanh-tra", ours=False)

    stranger = logged_in(api, other_desk(api))
    assert "cơ quan mình" in visible(page_of(stranger, url, 403))
    assert stranger.get(f"/can-bo/so-theo-doi.xlsx?agency={AGENCY}&{MARCH}", headers=HTML).status_code == 403
    own = page_of(stranger, f"/can-bo/so-theo-doi?{MARCH}")  # their own register: none of ours
    assert done not in own and "Không có hồ sơ nào tiếp nhận trong kỳ." in visible(own)
    page_of(logged_in(api, "chuyenvien1.xa1"), url, 403)  # a specialist keeps no register
    page_of(auditor, f"/can-bo/so-theo-doi?agency=000.99.99.H99&{MARCH}", 404)


def test_tracking_register_is_linked_from_the_desk_and_the_officials_navigation(api: Api) -> None:
    desk_links = Tables(page_of(logged_in(api, "tiepnhan.xa1"), "/mot-cua", ours=False)).links
    # a link to every period's register: no form number, which depends on the period
    assert desk_links["Sổ theo dõi hồ sơ: xem, in, tải về"] == "/can-bo/so-theo-doi"
    leader = logged_in(api, "lanhdao.xa1")
    assert Tables(page_of(leader, "/can-bo/nhiem-vu", ours=False)).links["Sổ theo dõi hồ sơ"] == "/can-bo/so-theo-doi"
    assert 'href="/can-bo/so-theo-doi"' in page_of(leader, "/thanh-tra", ours=False)
    assert 'href="/can-bo/so-theo-doi"' not in page_of(
        logged_in(api, "chuyenvien1.xa1"), "/can-bo/nhiem-vu", ours=False
    )
