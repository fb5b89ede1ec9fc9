"""The receipt of a dossier received in 2026 is Mẫu 01 of Circular 03/2025/TT-VPCP, issued on the embedded engine:
the applicant's address and e-mail, how the result is returned, and the dossier's entry in the agency's tracking
register (one more for each dossier, the same when the receipt is issued again). The forms themselves:
tests/integration/test_forms_2025.py."""

from __future__ import annotations

import re
from pathlib import Path

from services.shop import set_applicant_email
from tests.conftest import Api
from tests.pdftools import pdftotext

ENTRY = re.compile(r"Số thứ tự trong Sổ theo dõi hồ sơ: (\d+), quyển số 2026")


def _receipt_text(api: Api, code: str, tmp_path: Path) -> str:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [receipt] = [d for d in view["documents"] if d["kind"] == "receipt"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{receipt['id']}", "tiepnhan.xa1").content
    return " ".join(pdftotext(pdf, tmp_path).split())


def test_receipt_2025_fills_every_field(api: Api, tmp_path: Path) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    first = str(r.json()["code"])
    set_applicant_email(api.runtime.shop, first, "an.nguyen@example.vn")
    second = str(api.submit().json()["code"])
    api.work()

    text = _receipt_text(api, first, tmp_path)
    for expected in (
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        f"Mã hồ sơ: {first}",
        "Nguyễn Văn An",
        "Địa chỉ: Thôn Đông, xã Hòa An, tỉnh Demo",  # from the application form
        "Thư điện tử: an.nguyen@example.vn",
        "Hình thức nhận kết quả: Nhận trực tiếp tại Bộ phận Một cửa",  # the dossier's return channel
    ):
        assert expected in text, expected
    found = ENTRY.search(text)
    assert found is not None, text
    later = ENTRY.search(_receipt_text(api, second, tmp_path))
    assert later is not None
    entries = sorted((int(found.group(1)), int(later.group(1))))
    assert entries[1] == entries[0] + 1  # one entry each, gap-free (in the order the receipts were issued)

    # a receipt issued again for the same dossier keeps its entry
    paperwork = api.runtime.paperwork
    assert paperwork.tracking_entry("000.00.31.H99", 2026, first) == int(found.group(1))


def test_notice_that_processing_stops_is_issued_and_sealed(api: Api, tmp_path: Path) -> None:
    code = str(api.submit().json()["code"])
    api.work()
    api.advance(hours=2)
    paperwork = api.runtime.paperwork
    asked = api.runtime.clock.now()
    doc_id = paperwork.stop_notice(code, "Ông/Bà đề nghị rút hồ sơ", "tiepnhan.xa1", f"{code}/stop", requested_at=asked)
    assert paperwork.stop_notice(code, "x", "tiepnhan.xa1", f"{code}/stop") == doc_id  # idempotent
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [doc] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    assert doc["id"] == doc_id
    pdf = api.get(f"/api/dossiers/{code}/documents/{doc_id}", "tiepnhan.xa1").content
    text = " ".join(pdftotext(pdf, tmp_path).split())
    for expected in (
        "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {code}",
        "Kính gửi: Ông/Bà Nguyễn Văn An",
        "Địa chỉ: Thôn Đông, xã Hòa An, tỉnh Demo",
        "Ngày 02/3/2026, Ông/Bà đề nghị dừng giải quyết hồ sơ",
        "Lý do: Ông/Bà đề nghị rút hồ sơ",
        "trả lại theo hình thức: Nhận trực tiếp tại Bộ phận Một cửa",
        "THỦ TRƯỞNG CƠ QUAN",
    ):
        assert expected in text, expected
    officer = api.runtime.shop.accounts.get("tiepnhan.xa1")
    assert officer is not None and officer.full_name in text  # the officer who acted signs


def test_control_sheet_names_the_coordinating_agency(api: Api, tmp_path: Path) -> None:
    from tests.e2e.test_joint_procedures import LAND, LAND_OFFICE, _submit

    code = _submit(api, LAND)
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    api.work()  # handed to the land registration office
    office = api.runtime.shop.agency(LAND_OFFICE).name
    data = api.runtime.paperwork.control_sheet_data(code, "tiepnhan.xa1")
    assert data.coordinating_agencies == (office,)
    r = api.get(f"/api/dossiers/{code}/control-sheet", "tiepnhan.xa1")
    assert r.status_code == 200, r.text
    text = " ".join(pdftotext(r.content, tmp_path).split())
    assert f"Cơ quan phối hợp giải quyết: {office}" in text
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
