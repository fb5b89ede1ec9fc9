"""Journey 9 — Vietnamese everywhere (issue 16 point 7): the main pages of every role, read as a person reads them
(``inner_text`` of the body: what is rendered, not URLs or attributes), show no internal name of the code — no
document kind, step id, decision, channel, status or audit event kind, no ``None``/``null``/``undefined``, no
English error phrase and no login name where a person's name belongs.

A server of the test's own: one dossier of the citizen's goes the whole way (with a supplement request), one waits
on the specialist's review step, and one fails to get its receipt sealed (the commune's seal key is moved aside
for a moment), so the administrator's incidents page has an incident to explain.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ServerFactory
from tests.browser.kit import (
    ADMIN,
    AUDITOR,
    CITIZEN,
    CLERK,
    LEADER,
    RECEPTION,
    SPECIALIST,
    TIMEOUT_MS,
    WORKER_TIMEOUT_S,
    Visitor,
    household_business_data,
    watch,
)
from tests.conftest import COMMUNE, minimal_pdf
from tests.integration.flows import drive_to_end
from tests.integration.server import Api, MotcuaServer

# whole words of the code that must never be page text
INTERNAL_WORDS = (
    "result_draft", "supplement_request", "receipt", "accept", "review", "approve", "refuse", "supplement",
    "counter", "online", "postal", "received", "in_progress", "supplement_requested", "result_ready", "returned",
    "refused", "submitted", "upload", "scan_copy", "issue_receipt", "register_number", "sign_result",
    "return_result", "None", "null", "undefined", "Traceback", "NaN",
    "reception", "specialist", "leader", "clerk", "auditor", "admin", "citizen",
)  # fmt: skip
INTERNAL_PHRASES = ("Not Found", "Forbidden", "Internal Server Error", "Method Not Allowed", "Bad Request")
EVENT_KIND = re.compile(
    r"(?<![\w.])(dossier|document|task|signature|payment|exchange|incident|late|notification|evidence|user|admin|"
    r"statistics|step|deadline|certificate|engine|clock|control_sheet|tracking_register)\.[a-z_]+"
)
LOGIN_NAMES = (CITIZEN, RECEPTION, SPECIALIST, LEADER, CLERK, AUDITOR, ADMIN)
# where login names are what the page is about (the administrator's list of accounts, the login form)
LOGIN_NAMES_ALLOWED = ("/quan-tri/nguoi-dung", "/quan-tri/chung-thu-so", "/dang-nhap")


def internal_names(text: str, path: str) -> list[str]:
    """Every internal name found in the page text ``text`` (whole words only)."""
    found = [w for w in INTERNAL_WORDS if re.search(rf"(?<![\w.-]){re.escape(w)}(?![\w-])", text)]
    found += [p for p in INTERNAL_PHRASES if p in text]
    found += [m.group(0) for m in EVENT_KIND.finditer(text)]
    if not path.startswith(LOGIN_NAMES_ALLOWED):
        found += [n for n in LOGIN_NAMES if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", text)]
    return found


def test_the_word_check_sees_what_it_should() -> None:
    """The check itself: it finds internal names as words, and not inside Vietnamese words or file names."""
    assert internal_names("Bước accept — received", "/x") == ["accept", "received"]
    assert internal_names("Sự kiện dossier.received bởi tiepnhan.xa1", "/x") == ["dossier.received", RECEPTION]
    assert internal_names("Tải Mẫu 01 (000.00.32.H01-mau-01-giay-tiep-nhan.pdf), null", "/x") == ["null"]
    assert internal_names("Nguyễn Thị Lan (Cán bộ tiếp nhận)", "/x") == []
    assert internal_names("Tài khoản tiepnhan.xa1", "/quan-tri/nguoi-dung") == []


def _wait(what: str, ready: Callable[[], bool], timeout: float = WORKER_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.3)


def _citizens_dossier(api: Api) -> str:
    files = {
        "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
        "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
    }
    r = api.post("/api/dossiers", CITIZEN, data=household_business_data() | {"channel": "online"}, files=files)
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    if r.json()["status"] == "submitted":  # online dossiers wait for reception's check
        accepted = api.post(f"/api/dossiers/{code}/reception", RECEPTION, json={"decision": "accept"})
        assert accepted.status_code == 200, accepted.text
    return code


def _documents(api: Api, code: str) -> list[dict[str, object]]:
    return list(api.dossier(code)["documents"])


@pytest.fixture
def office_day(dedicated_server: ServerFactory) -> Iterator[tuple[MotcuaServer, dict[str, str]]]:
    server = dedicated_server("vietnamese", {"MOTCUA_WORKER_RETRIES": "1", "MOTCUA_WORKER_RETRY_SECONDS": "0.2"})
    api = Api(server)
    try:
        done = _citizens_dossier(api)
        with ThreadPoolExecutor(max_workers=2) as pool:
            drive_to_end(api, {done: "supplement"}, pool, timeout=120.0)
        waiting = api.submit().json()["code"]
        _wait("the review task", lambda: any(t["dossier_code"] == waiting for t in api.tasks(SPECIALIST)))
        task = next(t for t in api.tasks(SPECIALIST) if t["dossier_code"] == waiting)
        assert api.post(f"/api/tasks/{task['id']}/claim", SPECIALIST).status_code == 200

        seal = server.var_dir / "pki" / "agency" / f"{COMMUNE}.p12"
        aside = seal.with_name(seal.name + ".aside")
        seal.rename(aside)
        try:
            failed = api.submit(name="Lê Văn Cường").json()["code"]
            incidents = lambda: api.get("/api/incidents", ADMIN)  # noqa: E731
            _wait("the incident", lambda: failed in incidents().text)
        finally:
            aside.rename(seal)
        yield server, {"done": done, "waiting": waiting, "task": str(task["id"]), "failed": failed}
    finally:
        api.close()


def test_9_no_internal_name_on_any_page(
    visit: Callable[..., Visitor], office_day: tuple[MotcuaServer, dict[str, str]]
) -> None:
    server, codes = office_day
    api = Api(server)
    try:
        result = next(d for d in _documents(api, codes["done"]) if d["kind"] == "result")
    finally:
        api.close()
    pages = {
        None: ["/", "/thu-tuc", "/tra-cuu", "/dang-nhap", "/khong-co-trang-nay"],
        CITIZEN: ["/cong-dan", f"/cong-dan/ho-so/{codes['done']}", "/quan-tri"],
        RECEPTION: ["/mot-cua", f"/mot-cua/ho-so/{codes['done']}", f"/mot-cua/ho-so/{codes['failed']}"],
        SPECIALIST: ["/can-bo/nhiem-vu", f"/can-bo/nhiem-vu/{codes['task']}"],
        LEADER: ["/can-bo/nhiem-vu", "/thanh-tra/thong-ke?from=01/01/2026&to=31/12/2026"],
        AUDITOR: [
            "/thanh-tra",
            f"/thanh-tra/ho-so/{codes['done']}",
            f"/thanh-tra/ho-so/{codes['done']}/tai-lieu/{result['id']}",
            f"/thanh-tra/ho-so/{codes['waiting']}",
            "/thanh-tra/nhat-ky",
        ],
        ADMIN: ["/quan-tri", "/quan-tri/su-co", "/quan-tri/lich", "/quan-tri/nguoi-dung", "/quan-tri/co-cau"],
    }
    found: list[str] = []
    for username, paths in pages.items():
        person = visit(username, server=server)
        for path in paths:
            page = person.page
            response = page.goto(path)
            assert response is not None and response.status < 500, f"{path}: {response and response.status}"
            person.shot(path.strip("/").replace("/", "-")[:60] or "home")
            person.check_page(path)  # one of the site's pages (the 403/404 pages too), never a JSON problem
            text = page.inner_text("body")
            found += [f"{path} ({username or 'public'}): {name}" for name in internal_names(text, path)]
        person.assert_quiet()
    assert not found, "internal names on the pages:\n" + "\n".join(found)

    # what these pages say instead: the step, the person, the system, the incident, in words
    auditor = visit(AUDITOR, server=server)
    trail = auditor.goto(f"/thanh-tra/ho-so/{codes['done']}").inner_text("body")
    for words in ("Tiếp nhận hồ sơ", "Hoàn thành bước xử lý", "Thẩm định hồ sơ đăng ký hộ kinh doanh", "Hệ thống",
                  "Trần Văn Minh (Chuyên viên)", "Phạm Văn Hùng (Lãnh đạo)", "Yêu cầu bổ sung hồ sơ"):  # fmt: skip
        assert words in trail, words
    assert "Con dấu điện tử của" in trail and "Tài khoản không còn trong hệ thống" not in trail  # seal and signer
    admin = visit(ADMIN, server=server)
    incidents = admin.goto("/quan-tri/su-co").inner_text("body")
    assert codes["failed"] in incidents and "Không ký số được" in incidents
    assert "Lập Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)" in incidents  # the step by its name


def test_9_dates_are_typed_and_shown_day_first(browser: Any, web_server: MotcuaServer, shots: Any) -> None:
    """A date input is text read dd/mm/yyyy whatever the browser's language: here an English one (en-US), whose
    own date inputs would show mm/dd/yyyy."""
    context = browser.new_context(base_url=web_server.base_url, locale="en-US", timezone_id="Asia/Ho_Chi_Minh")
    try:
        context.set_default_timeout(TIMEOUT_MS)
        person = watch(Visitor(context, context.new_page(), shots, "leader-en-us"))
        person.login(LEADER)
        page = person.goto("/thanh-tra/thong-ke", "statistics")
        start = page.get_by_label("Từ ngày")
        assert start.get_attribute("type") == "text" and start.get_attribute("placeholder") == "dd/mm/yyyy"
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", start.input_value()), start.input_value()
        start.fill("01/03/2026")
        page.get_by_label("Đến ngày").fill("31/03/2026")
        page.get_by_role("button", name="Xem", exact=True).click()
        expect(page).to_have_url(re.compile(r"from=01%2F03%2F2026"))
        expect(page.get_by_label("Từ ngày")).to_have_value("01/03/2026")
        expect(page.get_by_label("Đến ngày")).to_have_value("31/03/2026")
        person.shot("statistics-march")
        assert page.locator("[role=alert]").count() == 0
        assert page.locator("input[type=date], input[type=datetime-local]").count() == 0
        person.assert_quiet()
    finally:
        context.close()
