"""Mẫu 04, 05 and 06 end to end: the apology letter, the control sheet and the tracking register over HTTP.

Each PDF is checked for its Vietnamese text (pdftotext), its embedded fonts (pdffonts) and its agency seal
(our PAdES validator against the development trust roots); the XLSX register is read back with openpyxl.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest

from dossiers.calendar import VN_TZ
from signing.validate import PadesValidator
from tests.conftest import Api
from tests.pdftools import pdftotext, tool

AGENCY = "000.00.31.H99"
OTHER_COMMUNE = "000.00.32.H99"


def _other_desk(api: Api) -> str:
    from dossiers.model import Role
    from motcua.app import DEMO_PASSWORD

    rt = api.runtime
    rt.accounts.add("tiepnhan.xa2", DEMO_PASSWORD, "tiepnhan.xa2", Role.RECEPTION, OTHER_COMMUNE, None, rt.clock.now())
    return "tiepnhan.xa2"


@pytest.fixture
def reg(api: Api) -> Api:
    """The API as built (api/app.py mounts the registers)."""
    return api


def _fonts(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [tool("pdffonts", "poppler-utils"), str(path)], capture_output=True, check=True
    ).stdout.decode()


def _check_pdf(api: Api, pdf: bytes, tmp_path: Path, expected: list[str]) -> str:
    text = pdftotext(pdf, tmp_path)
    flat = " ".join(text.split())
    for phrase in expected:
        assert phrase in flat, (phrase, text)
    fonts = _fonts(pdf, tmp_path)
    assert "NotoSerif" in fonts
    for line in fonts.splitlines()[2:]:
        assert " yes " in line, line  # every font embedded
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert len(report.signatures) == 1
    assert "Ủy ban nhân dân xã Hòa An" in report.signatures[0].signer_subject
    return flat


def _returned_dossier(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    api.advance(hours=5)
    api.resolve(code)
    return code


def test_receipt_has_a_qr_code_of_the_public_lookup(reg: Api, tmp_path: Path) -> None:
    code = reg.submit().json()["code"]
    reg.work()
    view = reg.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [receipt] = [d for d in view["documents"] if d["kind"] == "receipt"]
    pdf = reg.get(f"/api/dossiers/{code}/documents/{receipt['id']}", "tiepnhan.xa1").content
    url = f"http://127.0.0.1:8000/tra-cuu?ma={code}"
    flat = _check_pdf(reg, pdf, tmp_path, ["GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Quét mã QR"])
    assert url in flat.replace(" ", "") or url in flat
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    images = subprocess.run(
        [tool("pdfimages", "poppler-utils"), "-list", str(path)], capture_output=True, check=True
    ).stdout.decode()
    rows = [line.split() for line in images.splitlines()[2:] if line.strip()]
    assert any(r[2] == "image" and r[3] == r[4] for r in rows), images  # one square image: the QR code


def test_control_sheet_lists_every_hand_over_with_its_timeliness(reg: Api, tmp_path: Path) -> None:
    code = _returned_dossier(reg)
    rows = reg.runtime.paperwork.hand_overs(code)
    # reception → specialist → leader → clerk → reception → applicant
    assert [(r.giver, r.receiver) for r in rows] == [
        ("Trung tâm Phục vụ hành chính công (Nguyễn Thị Lan)", "Phòng Kinh tế (Trần Văn Minh)"),
        ("Phòng Kinh tế (Trần Văn Minh)", "Văn phòng HĐND và UBND (Phạm Văn Hùng)"),
        ("Văn phòng HĐND và UBND (Phạm Văn Hùng)", "Văn phòng HĐND và UBND (Hoàng Thị Mai)"),
        ("Văn phòng HĐND và UBND (Hoàng Thị Mai)", "Trung tâm Phục vụ hành chính công"),
        ("Trung tâm Phục vụ hành chính công (Nguyễn Thị Lan)", "Ông/Bà Nguyễn Văn An"),
    ]
    assert rows[0].handed_at == dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)
    assert rows[-1].note == "Trả kết quả cho tổ chức, cá nhân"
    # each hand-over is judged against the giver's own step (no internal procedure for this one: the default split
    # of its 24 working hours, 10 % for the desk, 60 % for the review, 20 % for the leader, 10 % for the clerk)
    assert rows[0].due_at == dt.datetime(2026, 3, 2, 10, 24, tzinfo=VN_TZ)  # 08:00 + 2 h 24 min
    assert rows[1].due_at == dt.datetime(2026, 3, 4, 9, 54, tzinfo=VN_TZ)  # the review, from the claim at 13:00
    dossier_due = reg.runtime.shop.dossier_row(code).due_at
    assert all(r.due_at <= dossier_due for r in rows)
    assert [r.timeliness for r in rows] == ["on_time", "early", "early", "on_time", "on_time"], rows

    r = reg.get(f"/api/dossiers/{code}/control-sheet", "tiepnhan.xa1")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    _check_pdf(
        reg,
        r.content,
        tmp_path,
        ["PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", f"Mã hồ sơ: {code}", "Nguyễn Văn An", "Trước hạn", "Giao:"],
    )
    assert reg.get(f"/api/dossiers/{code}/control-sheet", "thanhtra.tinh").status_code == 200
    assert reg.get(f"/api/dossiers/{code}/control-sheet", _other_desk(reg)).status_code == 403
    kinds = [e["kind"] for e in reg.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert "control_sheet.issued" in kinds


def test_apology_is_sealed_and_names_the_new_date(reg: Api, tmp_path: Path) -> None:
    code = reg.submit().json()["code"]
    reg.work()
    new_due = dt.datetime(2026, 3, 9, 16, 0, tzinfo=VN_TZ)
    paperwork = reg.runtime.paperwork
    doc_id = paperwork.apology(
        code, new_due, "Cần xác minh địa điểm kinh doanh", "chuyenvien1.xa1", f"{code}/apology/1"
    )
    assert paperwork.apology(code, new_due, "x", "chuyenvien1.xa1", f"{code}/apology/1") == doc_id  # idempotent
    pdf = reg.get(f"/api/dossiers/{code}/documents/{doc_id}", "tiepnhan.xa1").content
    _check_pdf(
        reg,
        pdf,
        tmp_path,
        [
            # received in 2026: Mẫu 04 of Circular 03/2025 (the apology and the request to extend the time)
            "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
            "Kính gửi: Ông/Bà Nguyễn Văn An",
            "Cần xác minh địa điểm kinh doanh",
            "đồng ý gia hạn thời gian giải quyết hồ sơ và hẹn trả kết quả vào 16 giờ 00 phút, ngày 09/3/2026",
            "08 giờ 00 phút, ngày 05/3/2026",
            "Sự chậm trễ này đã gây phiền hà cho Ông/Bà",
        ],
    )
    assert f"{code}-mau-04-xin-loi-gia-han.pdf" in str(reg.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json())


def test_tracking_register_as_pdf_and_xlsx(reg: Api, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    done = _returned_dossier(reg)
    open_one = reg.submit().json()["code"]
    reg.work()
    query = {"agency": AGENCY, "from": "2026-03-01", "to": "2026-03-31"}

    r = reg.get("/api/registers/tracking", "tiepnhan.xa1", params=query)
    assert r.status_code == 200, r.text
    flat = _check_pdf(
        reg, r.content, tmp_path, ["SỔ THEO DÕI HỒ SƠ", "Từ ngày 01/3/2026 đến ngày 31/3/2026", done, open_one]
    )
    assert "Đã trả kết quả" in flat and "Trước hạn" in flat and "Tổng số: 2 hồ sơ" in flat
    path = tmp_path / "register.pdf"
    path.write_bytes(r.content)
    info = subprocess.run([tool("pdfinfo", "poppler-utils"), str(path)], capture_output=True, check=True).stdout
    assert b"841.89 x 595.276" in info  # landscape A4

    r = reg.get("/api/registers/tracking", "thanhtra.tinh", params=query | {"format": "xlsx"})
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "SỔ THEO DÕI HỒ SƠ"
    assert list(values[3][:4]) == ["TT", "Mã hồ sơ", "Thủ tục hành chính", "Tên tổ chức, cá nhân"]
    body = {row[1]: row for row in values[4:6]}
    assert set(body) == {done, open_one}
    assert body[done][3] == "Nguyễn Văn An" and body[done][9] == "Trước hạn"
    assert body[done][7] is not None  # returned
    assert body[open_one][9] == "Đang giải quyết" and body[open_one][7] is None

    assert reg.get("/api/registers/tracking", _other_desk(reg), params=query).status_code == 403
    assert reg.get("/api/registers/tracking", "quantri.tinh", params=query | {"format": "xlsx"}).status_code == 200
