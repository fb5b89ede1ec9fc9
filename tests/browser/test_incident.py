"""Journey 6 — an administrator retries an incident.

The commune's seal key (var/pki/agency/<commune>.p12) is moved aside before reception registers a dossier at the
counter, so sealing the receipt fails; with ``MOTCUA_WORKER_RETRIES=1`` (a server of this test's own) the first
failure is an incident. The key is put back, the administrator presses "retry" on the incidents page, and the
receipt appears on the reception desk's page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import ServerFactory
from tests.browser.kit import (
    ADMIN,
    RECEPTION,
    WORKER_TIMEOUT_S,
    Visitor,
    fill_application,
    reload_until,
    starts,
    write_papers,
)
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS

RECEIPT_ISSUED = "Giấy tiếp nhận đã được phát hành và ký số bởi cơ quan."
RECEIPT_PENDING = "Giấy tiếp nhận đang được phát hành và ký số…"


def test_6_admin_retries_an_incident(
    visit: Callable[..., Visitor], dedicated_server: ServerFactory, tmp_path: Path
) -> None:
    server = dedicated_server("incident", {"MOTCUA_WORKER_RETRIES": "1", "MOTCUA_WORKER_RETRY_SECONDS": "0.2"})
    seal = server.var_dir / "pki" / "agency" / f"{COMMUNE}.p12"
    aside = seal.with_name(seal.name + ".aside")
    seal.rename(aside)
    try:
        reception = visit(RECEPTION, server=server)
        page = reception.page
        expect(page).to_have_url(re.compile(r"/mot-cua$"))
        reception.shot("desk")
        page.get_by_label(starts("Tìm thủ tục theo tên hoặc mã")).fill("dang ky ho kinh doanh")
        page.get_by_role("button", name="Tìm", exact=True).click()
        row = page.get_by_role("row").filter(has_text=HOUSEHOLD_BUSINESS)
        expect(row).to_have_count(1)
        reception.shot("search")
        row.get_by_role("link", name=starts("Tiếp nhận")).click()
        expect(page).to_have_url(re.compile(re.escape(f"/mot-cua/tiep-nhan/{HOUSEHOLD_BUSINESS}") + "$"))
        fill_application(page, write_papers(tmp_path / "scans"), "Lê Văn Cường", online=False)
        reception.shot("application-filled")
        page.get_by_role("button", name="Tiếp nhận hồ sơ và cấp giấy hẹn").click()
        expect(page).to_have_url(re.compile(r"/mot-cua/ho-so/[^/?]+$"), timeout=WORKER_TIMEOUT_S * 1000)
        code = page.url.rsplit("/", 1)[1]
        expect(page.get_by_text(RECEIPT_PENDING)).to_be_visible()
        reception.shot("receipt-pending")

        admin = visit(ADMIN, server=server)
        admin_page = admin.page
        expect(admin_page).to_have_url(re.compile(r"/quan-tri$"))
        admin.shot("overview")
        admin_page.get_by_role("navigation", name="Quản trị").get_by_role("link", name="Sự cố").click()
        expect(admin_page).to_have_url(re.compile(r"/quan-tri/su-co$"))
        incident = reload_until(
            admin_page, lambda: admin_page.get_by_role("row").filter(has_text=code), f"the incident of {code}"
        )
        admin.shot("incident")
    finally:
        aside.rename(seal)  # the operator fixed the cause

    incident.locator("form[action$='/chay-lai']").get_by_role("button").click()
    expect(admin_page).to_have_url(re.compile(r"/quan-tri/su-co\?da_chay_lai="))
    admin.shot("retried")

    reception.goto(f"/mot-cua/ho-so/{code}")
    reload_until(page, lambda: page.get_by_text(RECEIPT_ISSUED), "the receipt after the retry")
    expect(page.get_by_role("link", name=starts("Tải giấy tiếp nhận"))).to_be_visible()
    reception.shot("receipt-issued")

    # the incident is resolved: gone from the list
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while admin_page.get_by_role("row").filter(has_text=code).count() and time.monotonic() < deadline:
        time.sleep(0.5)
        admin_page.goto("/quan-tri/su-co")
    expect(admin_page.get_by_role("row").filter(has_text=code)).to_have_count(0)
    admin.shot("incidents-after")
    reception.assert_quiet()
    admin.assert_quiet()
