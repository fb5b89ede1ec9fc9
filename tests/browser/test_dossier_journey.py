"""Journeys 2–5 — one dossier from the citizen's online submission to the auditor's verification of its result.

2. the citizen submits online with the scans of the papers and finds it in "my dossiers"; reception finds it in
   its queue, checks it and accepts it; the citizen reads the receipt and the processing history;
3. the specialist claims and approves it; the leader approves and signs it in the browser with their PKCS#12 key
   file (pkijs + WebCrypto, the key never leaves the page); the clerk registers the number; reception returns it;
4. the citizen downloads the signed result (a PDF whose signatures validate against the server's development
   root) and rates the service;
5. the auditor uploads that PDF on the verification page and reads TOTAL-PASSED, then the dossier's trail.

The tests run in this order and hand the dossier on (``Journey``). Run alone, a test makes what it needs through
the HTTP API instead (tests/integration/flows.py), so each one still tests its own pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from signing.pki import DEVELOPMENT_PASSPHRASE, DevelopmentPki
from signing.validate import PadesValidator
from tests.browser.kit import (
    AUDITOR,
    CITIZEN,
    CLERK,
    LEADER,
    RECEPTION,
    SPECIALIST,
    WORKER_TIMEOUT_S,
    Visitor,
    decide,
    fill_application,
    household_business_data,
    reload_until,
    starts,
    task_row,
    write_papers,
)
from tests.conftest import minimal_pdf
from tests.integration.flows import drive_to_end
from tests.integration.server import Api, MotcuaServer, wait_for

APPLICANT = "Trần Thị Bình"
CODE_IN_URL = re.compile(r"/cong-dan/ho-so/([^/?#]+)")


@dataclass
class Journey:
    code: str | None = None  # the dossier the citizen submitted (journey 2)
    returned: bool = False  # the officials took it to the end (journey 3)
    result_pdf: Path | None = None  # the signed result the citizen downloaded (journey 4)


@pytest.fixture(scope="module")
def journey() -> Journey:
    return Journey()


@pytest.fixture(scope="module")
def api(web_server: MotcuaServer) -> Iterator[Api]:
    client = Api(web_server)
    try:
        yield client
    finally:
        client.close()


def submitted(journey: Journey, api: Api) -> str:
    """The journey's dossier, or one the citizen submits online through the API."""
    if journey.code is None:
        files = {
            "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
            "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
        }
        r = api.post("/api/dossiers", CITIZEN, data=household_business_data() | {"channel": "online"}, files=files)
        assert r.status_code == 201, r.text
        journey.code = str(r.json()["code"])
        accepted = api.post(f"/api/dossiers/{journey.code}/reception", RECEPTION, json={"decision": "accept"})
        assert accepted.status_code == 200, accepted.text
    return journey.code


def returned(journey: Journey, api: Api) -> str:
    """The journey's dossier once returned, driven to the end through the API when journey 3 did not."""
    code = submitted(journey, api)
    if not journey.returned:
        with ThreadPoolExecutor(max_workers=2) as pool:
            drive_to_end(api, {code: "approve"}, pool, timeout=90.0)
        journey.returned = True
    return code


def status_of(api: Api, code: str) -> str:
    return str(api.dossier(code, RECEPTION)["status"])


# ---------------------------------------------------------------------- 2. the citizen submits online


def test_2_citizen_submits_online(visit: Callable[..., Visitor], journey: Journey, tmp_path: Path) -> None:
    citizen = visit(CITIZEN)
    page = citizen.page
    expect(page).to_have_url(re.compile(r"/cong-dan$"))
    citizen.shot("my-dossiers-before")

    page.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    expect(page).to_have_url(re.compile(r"/cong-dan/nop-ho-so$"))
    citizen.shot("choose-procedure")

    citizen.goto("/cong-dan/nop-ho-so?thu_tuc=1.001612", "application-form")
    fill_application(page, write_papers(tmp_path / "scans"), APPLICANT, online=True)
    citizen.shot("application-filled")
    page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()

    expect(page).to_have_url(CODE_IN_URL, timeout=WORKER_TIMEOUT_S * 1000)
    match = CODE_IN_URL.search(page.url)
    assert match is not None
    code = match.group(1)
    expect(page.get_by_role("heading", level=1)).to_contain_text(code)
    expect(page.get_by_text("Bộ phận Một cửa sẽ kiểm tra và tiếp nhận")).to_be_visible()
    citizen.shot("submitted")

    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Hồ sơ của tôi").click()
    expect(page).to_have_url(re.compile(r"/cong-dan$"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Đăng ký thành lập hộ kinh doanh")
    expect(row).to_contain_text("Chờ tiếp nhận")
    citizen.shot("my-dossiers-after")
    citizen.logout()
    citizen.assert_quiet()

    # reception finds it in the queue, checks the papers and accepts it: the receipt names the officer
    reception = visit(RECEPTION)
    desk = reception.page
    reception.goto("/mot-cua", "reception-queue")
    queue = desk.get_by_role("region", name=re.compile("Hồ sơ trực tuyến chờ tiếp nhận"))
    queue.get_by_role("link", name=re.compile(re.escape(code))).click()
    expect(desk.get_by_role("heading", name="Kiểm tra hồ sơ nộp trực tuyến")).to_be_visible()
    reception.shot("reception-check")
    desk.get_by_role("radio", name=re.compile("Tiếp nhận hồ sơ")).check()
    desk.get_by_role("button", name="Ghi nhận kết quả kiểm tra").click()
    expect(desk.get_by_role("status").filter(has_text="Đã tiếp nhận hồ sơ.")).to_be_visible()
    reload_until(desk, lambda: desk.get_by_role("link", name=starts("Tải giấy tiếp nhận")), "the receipt")
    reception.shot("reception-accepted")
    reception.logout()
    reception.assert_quiet()

    citizen = visit(CITIZEN)
    citizen.goto(f"/cong-dan/ho-so/{code}", "accepted")
    page = citizen.page
    reload_until(page, lambda: page.get_by_text(starts("Giấy tiếp nhận hồ sơ và hẹn trả kết quả")), "the receipt")
    expect(page.get_by_text("Bộ phận Một cửa tiếp nhận hồ sơ")).to_be_visible()  # the processing history
    citizen.shot("receipt-issued")
    citizen.logout()
    citizen.assert_quiet()
    journey.code = code


# ---------------------------------------------------------------------- 3. the officials handle it


def open_task(official: Visitor, code: str, step: str, *, claim: bool = True) -> Page:
    """From the task list: wait for the dossier's task (workers may still be moving it), claim it, open it."""
    page = official.page
    official.goto("/can-bo/nhiem-vu")
    row = reload_until(page, lambda: task_row(page, code), f"{official.who}'s task for {code}")
    official.shot(f"{step}-task-list")
    if claim:
        row.get_by_role("button", name="Nhận").click()
        expect(page.get_by_role("status").filter(has_text="Đã nhận xử lý nhiệm vụ.")).to_be_visible()
        official.shot(f"{step}-claimed")
        row = task_row(page, code)
    row.get_by_role("link", name=code, exact=True).click()
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu/[^/?]+"))
    expect(page.get_by_text(code).first).to_be_visible()
    official.shot(f"{step}-task")
    return page


def complete_step(official: Visitor, step: str, decision: str | None, comment: str | None) -> None:
    page = official.page
    decide(page, decision, comment)
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?tb=da-xu-ly"))
    expect(page.get_by_role("status").filter(has_text="Đã hoàn thành bước xử lý")).to_be_visible()
    official.shot(f"{step}-done")


def test_3_officials_approve_sign_number_and_return(
    visit: Callable[..., Visitor], journey: Journey, api: Api, web_server: MotcuaServer
) -> None:
    code = submitted(journey, api)

    specialist = visit(SPECIALIST)
    open_task(specialist, code, "review")
    complete_step(specialist, "review", "approve", "Hồ sơ đầy đủ, hợp lệ; đề nghị cấp giấy chứng nhận.")
    specialist.logout()
    specialist.assert_quiet()

    leader = visit(LEADER)
    page = open_task(leader, code, "approve")
    # the draft result is in the preview frame beside the decision before the leader approves
    expect(page.get_by_role("heading", name="Dự thảo kết quả")).to_be_visible()
    expect(page.locator("iframe#preview")).to_have_attribute("src", re.compile(r"/du-thao$"))
    leader.shot("approve-draft")
    complete_step(leader, "approve", "approve", "Đồng ý cấp.")
    # the signing step: the workers prepare the document, then the leader signs it with the key file on their disk
    page = open_task(leader, code, "sign", claim=False)
    form = reload_until(page, lambda: page.locator("form#signing[data-pending]"), "the prepared signature")
    expect(form).not_to_have_attribute("data-pending", "")
    form.locator("input[type=file]").set_input_files(web_server.var_dir / "pki" / "person" / f"{LEADER}.p12")
    form.locator("input[type=password]").fill(DEVELOPMENT_PASSPHRASE)
    leader.shot("sign-key-chosen")
    form.locator("button[type=submit]").click()
    expect(page.locator("#signing-status")).to_have_text(
        "Đã ký: chữ ký đã được gắn vào văn bản.", timeout=WORKER_TIMEOUT_S * 1000
    )
    leader.shot("signed")
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu(\?|$)"))  # the page moves on to the list
    leader.shot("after-signing")
    leader.logout()
    leader.assert_quiet()
    applied = [e for e in api.history(code) if e["kind"] == "signature.applied"]
    assert applied, "the leader's signature is not recorded"

    # the clerk reads the signed result and the number the register will give, numbers it, and reads the number
    clerk = visit(CLERK)
    page = open_task(clerk, code, "register-number")
    expect(page.locator("#next-number")).to_contain_text("/GCN-HKD")
    decide(page, None, None)
    expect(page).to_have_url(re.compile(r"/can-bo/nhiem-vu\?ho_so=[^&]+&tb=da-xu-ly"))
    given = reload_until(page, lambda: page.locator("#given-number"), "the register number given")
    expect(given).to_contain_text("/GCN-HKD")
    clerk.shot("register-number-given")
    clerk.logout()
    clerk.assert_quiet()

    reception = visit(RECEPTION)
    open_task(reception, code, "return-result")
    complete_step(reception, "return-result", None, "Đã trả kết quả cho công dân.")
    reception.logout()
    reception.assert_quiet()

    wait_for(f"{code} returned", lambda: status_of(api, code) == "returned", timeout=WORKER_TIMEOUT_S)
    journey.returned = True


# ---------------------------------------------------------------------- 4. the citizen downloads the result


def test_4_citizen_downloads_the_signed_result(
    visit: Callable[..., Visitor], journey: Journey, api: Api, web_server: MotcuaServer, tmp_path: Path
) -> None:
    code = returned(journey, api)
    citizen = visit(CITIZEN)
    page = citizen.page
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))
    expect(row).to_contain_text("Đã trả kết quả")
    citizen.shot("my-dossiers")
    row.get_by_role("link", name=code, exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"/cong-dan/ho-so/{code}") + "$"))
    citizen.shot("dossier")

    result = page.get_by_role("link", name=starts("Kết quả giải quyết"))
    expect(result).to_have_count(1)
    with page.expect_download() as download_info:
        result.click()
    download = download_info.value
    assert download.suggested_filename.lower().endswith(".pdf"), download.suggested_filename
    pdf_path = tmp_path / "ket-qua-da-ky.pdf"
    download.save_as(pdf_path)
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    roots = DevelopmentPki(web_server.var_dir / "pki", DEVELOPMENT_PASSPHRASE).trust_roots()
    report = PadesValidator(roots).validate(pdf)
    assert report.indication == "TOTAL-PASSED", (report.indication, report.sub_indication)
    assert len(report.signatures) >= 2, "the leader's signature and the agency's seal"

    # the satisfaction rating, once the result is out
    page.get_by_label(re.compile(r"Rất hài lòng$")).check()
    citizen.shot("rating")
    page.locator("form").filter(has=page.locator("[name=level]")).locator("button").click()
    expect(page).to_have_url(re.compile(r"da_danh_gia=1"))
    citizen.shot("rated")
    citizen.assert_quiet()
    journey.result_pdf = pdf_path


# ---------------------------------------------------------------------- 5. the auditor verifies it


def result_pdf(journey: Journey, api: Api, tmp_path: Path) -> Path:
    if journey.result_pdf is None:
        code = returned(journey, api)
        docs = [d for d in api.dossier(code, RECEPTION)["documents"] if d["kind"] == "result"]
        assert docs, f"{code} has no result"
        r = api.get(f"/api/dossiers/{code}/documents/{docs[-1]['id']}", AUDITOR)
        assert r.status_code == 200, r.text
        journey.result_pdf = tmp_path / "ket-qua.pdf"
        journey.result_pdf.write_bytes(r.content)
    return journey.result_pdf


def test_5_auditor_verifies_the_result_and_reads_the_trail(
    visit: Callable[..., Visitor], journey: Journey, api: Api, tmp_path: Path
) -> None:
    pdf = result_pdf(journey, api, tmp_path)
    code = journey.code
    assert code is not None
    auditor = visit(AUDITOR)
    page = auditor.page
    expect(page).to_have_url(re.compile(r"/thanh-tra$"))
    auditor.shot("desk")

    page.get_by_label(starts("Tệp PDF đã ký")).set_input_files(pdf)
    auditor.shot("pdf-chosen")
    page.get_by_role("button", name="Kiểm tra", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kết quả kiểm tra chữ ký số")
    expect(page.locator("#overall")).to_contain_text("ĐẠT")  # in words; the ETSI indication is its tooltip
    expect(page.locator("#overall")).to_have_attribute("title", "TOTAL-PASSED")
    auditor.shot("report")

    auditor.goto("/thanh-tra")
    page.get_by_label(starts("Mã hồ sơ")).fill(code)
    page.get_by_role("button", name="Xem", exact=True).click()
    expect(page.get_by_text(code).first).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(f"/thanh-tra/ho-so/{code}")))
    # every PDF of the dossier is verified: the result in words, the ETSI indication as the cell's tooltip
    expect(page.locator("td[title='ETSI EN 319 102-1: TOTAL-PASSED']").first).to_be_visible()
    expect(page.get_by_text("ĐẠT", exact=True).first).to_be_visible()
    auditor.shot("trail")
    auditor.assert_quiet()
