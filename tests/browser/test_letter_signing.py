"""The head of the agency signs the notice that processing stops (Mẫu 05 of 2025) in Chromium (issue 18, point 6):
the desk stops a dossier through the API, the dossier's pane says the notice waits for the leader, the leader finds
"Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)" above their tasks, reads it and signs it with the key file on their disk
(pkijs + WebCrypto: the key never leaves the page); the server seals it, and the stored notice carries the leader's
signature and then the agency's seal, both valid."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from signing.pki import DEVELOPMENT_PASSPHRASE, DevelopmentPki
from signing.validate import PadesValidator
from tests.browser.kit import LEADER, RECEPTION, WORKER_TIMEOUT_S, Visitor
from tests.integration.server import Api, MotcuaServer, wait_for

REASON = "Hộ kinh doanh đã đăng ký tại xã khác."


@pytest.fixture
def api(web_server: MotcuaServer) -> Iterator[Api]:
    client = Api(web_server)
    try:
        yield client
    finally:
        client.close()


def test_the_leader_signs_the_stop_notice_in_the_browser(
    visit: Callable[..., Visitor], api: Api, web_server: MotcuaServer
) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    wait_for(f"{code} in progress", lambda: api.dossier(code)["status"] == "in_progress", timeout=WORKER_TIMEOUT_S)
    stopped = api.post(
        f"/api/dossiers/{code}/stop", RECEPTION, json={"requested_by_applicant": False, "reason": REASON}
    )
    assert stopped.status_code == 200, stopped.text
    assert [d for d in api.dossier(code)["documents"] if d["kind"] == "stop_notice"] == []

    desk = visit(RECEPTION)
    desk.goto(f"/can-bo/nhiem-vu?muc=da-xu-ly&ho_so={code}", "dossier-pane")
    expect(desk.page.locator(".waiting-letter")).to_have_text(
        "Thông báo dừng giải quyết hồ sơ (Mẫu 05): chờ lãnh đạo ký"
    )
    desk.logout()

    leader = visit(LEADER)
    page = leader.goto("/can-bo/nhiem-vu", "tasks")
    letters = page.get_by_role("region", name="Văn bản chờ bạn ký")
    letter = letters.get_by_role("listitem").filter(has_text=code)
    letter.get_by_role("link", name="Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)")
    expect(page.locator("iframe#preview")).to_have_attribute("src", re.compile(r"/can-bo/ky-so/[^/]+/van-ban$"))
    leader.check_page("sign-letter")
    form = page.locator("form#signing[data-pending]")
    form.locator("input[type=file]").set_input_files(web_server.var_dir / "pki" / "person" / f"{LEADER}.p12")
    form.locator("input[type=password]").fill(DEVELOPMENT_PASSPHRASE)
    expect(form.get_by_role("button", name="Ký số")).to_be_enabled()  # the signing script is ready
    leader.shot("sign-key-chosen")
    # Enter in the passphrase field, as a keyboard user signs (a click once landed while the preview frame above
    # was still laying out the PDF, on a loaded machine, and the form never saw it)
    form.locator("input[type=password]").press("Enter")
    expect(page.locator("#signing-status")).to_have_text(
        "Đã ký: chữ ký đã được gắn vào văn bản.", timeout=WORKER_TIMEOUT_S * 1000
    )
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?tb=da-ky$"))
    expect(page.get_by_role("status").filter(has_text="Đã ký văn bản")).to_be_visible()
    expect(page.get_by_role("region", name="Văn bản chờ bạn ký")).to_have_count(0)
    leader.shot("signed")
    leader.logout()
    leader.assert_quiet()

    [notice] = [d for d in api.dossier(code)["documents"] if d["kind"] == "stop_notice"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", RECEPTION).content
    report = PadesValidator(DevelopmentPki(web_server.var_dir / "pki", DEVELOPMENT_PASSPHRASE).trust_roots()).validate(
        pdf
    )
    assert report.indication == "TOTAL-PASSED", report
    assert [s.field_name for s in report.signatures] == ["leader_signature", "agency_seal"]
