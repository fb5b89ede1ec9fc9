"""The forms of Circular 03/2025/TT-VPCP (the 2025 template set), rendered and read back with poppler: every field
filled with the dossier's data — the applicant's address and e-mail, how the result is returned, the register book
and entry, the coordinating agencies, the officer who signs — and the 2018 forms unchanged for older dossiers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from documents.forms import (
    ApologyData,
    ControlSheetData,
    HandOver,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    StopNoticeData,
    SupplementData,
    render_apology,
    render_control_sheet,
    render_receipt,
    render_refusal,
    render_stop_notice,
    render_supplement_request,
)
from documents.registers import TrackingRegisterData, TrackingRow, render_tracking_register, tracking_register_xlsx
from documents.templating import Templates
from tests.pdftools import pdftotext

pytestmark = pytest.mark.integration

VN = dt.timezone(dt.timedelta(hours=7))
CODE = "000.00.31.H99-260302-0001"
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
DESK = "Trung tâm Phục vụ hành chính công xã Tân Lập"
COMMUNE = "Ủy ban nhân dân xã Tân Lập"
APPLICANT = "Nguyễn Thị Hương"
ADDRESS = "Thôn Đông, xã Tân Lập, tỉnh Phú Thọ"
EMAIL = "huong.nguyen@example.vn"
PROCEDURE = "Đăng ký thành lập hộ kinh doanh"
NEW = Templates().on(T0.date())


def _text(pdf: bytes, tmp_path: Path) -> str:
    return " ".join(pdftotext(pdf, tmp_path).split())


def _receipt(received_at: dt.datetime) -> ReceiptData:
    return ReceiptData(
        dossier_code=CODE,
        agency_name=DESK,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        applicant_id_number="001185012345",
        procedure_name=PROCEDURE,
        papers=(ReceivedPaper("Giấy đề nghị đăng ký hộ kinh doanh"),),
        received_at=received_at,
        appointment_at=received_at + dt.timedelta(days=3),
        officer_name="Trần Văn Bình",
        applicant_phone="0912 345 678",
        applicant_address=ADDRESS,
        applicant_email=EMAIL,
        procedure_code="1.001612",
        parent_agency=COMMUNE,
        processing_time="03 ngày làm việc",
        return_channel="postal",
        register_book="2026",
        register_number=7,
    )


def test_receipt_2025(tmp_path: Path) -> None:
    text = _text(render_receipt(_receipt(T0), NEW), tmp_path)
    for expected in (
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        f"Mã hồ sơ: {CODE}",
        f"Địa chỉ: {ADDRESS}",
        f"Thư điện tử: {EMAIL}",
        "Hình thức nhận kết quả: Qua dịch vụ bưu chính công ích",
        "Số thứ tự trong Sổ theo dõi hồ sơ: 07, quyển số 2026",
        "Trần Văn Bình",
    ):
        assert expected in text, expected


def test_a_dossier_received_before_15_september_2025_keeps_the_2018_receipt(tmp_path: Path) -> None:
    before = dt.datetime(2025, 9, 12, 9, 0, tzinfo=VN)
    data = _receipt(before)
    text = _text(render_receipt(data, Templates().on(data.received_at)), tmp_path)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert "Email: huong.nguyen@example.vn" in text  # the 2018 wording
    assert "Sổ theo dõi hồ sơ" not in text and "Hình thức nhận kết quả" not in text


def test_supplement_request_and_refusal_2025(tmp_path: Path) -> None:
    common = dict(
        dossier_code=CODE,
        agency_name=DESK,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        official_name="Trần Văn Bình",
        issued_at=T0 + dt.timedelta(hours=2),
        received_at=T0,
        parent_agency=COMMUNE,
        applicant_address=ADDRESS,
        applicant_email=EMAIL,
    )
    supplement = SupplementData(items=("Hợp đồng thuê địa điểm có chứng thực",), reason="Bản chụp", **common)  # type: ignore[arg-type]
    refusal = RefusalData(reason="Ngành nghề cấm kinh doanh.", **common)  # type: ignore[arg-type]
    for pdf, title in (
        (render_supplement_request(supplement, NEW), "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ"),
        (render_refusal(refusal, NEW), "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ"),
    ):
        text = _text(pdf, tmp_path)
        for expected in (title, f"Địa chỉ: {ADDRESS}", f"Thư điện tử: {EMAIL}", "Trần Văn Bình", APPLICANT):
            assert expected in text, (title, expected)


def test_apology_and_request_to_extend_2025(tmp_path: Path) -> None:
    data = ApologyData(
        dossier_code=CODE,
        agency_name=COMMUNE,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        received_at=T0,
        old_due_at=T0 + dt.timedelta(days=3),
        new_due_at=T0 + dt.timedelta(days=7, hours=8),
        reason="Cần xác minh thực địa",
        issued_at=T0 + dt.timedelta(days=2),
        official_name="Lê Minh Tuấn",
        applicant_address=ADDRESS,
        applicant_email=EMAIL,
    )
    text = _text(render_apology(data, NEW), tmp_path)
    for expected in (
        "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
        f"Kính gửi: Ông/Bà {APPLICANT}",
        f"Địa chỉ: {ADDRESS}",
        f"Thư điện tử: {EMAIL}",
        "Ngày 02/3/2026, Ủy ban nhân dân xã Tân Lập tiếp nhận giải quyết hồ sơ mã số",
        "Thời gian hẹn trả kết quả giải quyết hồ sơ: 08 giờ 00 phút, ngày 05/3/2026",
        "với lý do: Cần xác minh thực địa",
        "đề nghị Ông/Bà đồng ý gia hạn thời gian giải quyết hồ sơ và hẹn trả kết quả vào 16 giờ 00 phút, "
        "ngày 09/3/2026",
        "THỦ TRƯỞNG CƠ QUAN",
        "Lê Minh Tuấn",
    ):
        assert expected in text, expected
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in _text(render_apology(data), tmp_path)  # 2018


@pytest.mark.parametrize("requested", [True, False])
def test_notice_that_processing_stops(tmp_path: Path, requested: bool) -> None:
    data = StopNoticeData(
        dossier_code=CODE,
        agency_name=COMMUNE,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        received_at=T0,
        reason="Ông/Bà đề nghị rút hồ sơ" if requested else "Người nộp không bổ sung hồ sơ trong thời hạn",
        issued_at=T0 + dt.timedelta(days=1),
        official_name="Lê Minh Tuấn",
        requested_at=T0 + dt.timedelta(hours=3) if requested else None,
        return_channel="counter",
        applicant_address=ADDRESS,
        applicant_email=EMAIL,
    )
    text = _text(render_stop_notice(data, NEW), tmp_path)
    for expected in (
        "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {CODE}",
        f"Kính gửi: Ông/Bà {APPLICANT}",
        f"Địa chỉ: {ADDRESS}",
        f"Thư điện tử: {EMAIL}",
        f"Lý do: {data.reason}",
        "được trả lại theo hình thức: Nhận trực tiếp tại Bộ phận Một cửa",
        "Lê Minh Tuấn",
    ):
        assert expected in text, expected
    grounds = "Ngày 02/3/2026, Ông/Bà đề nghị dừng giải quyết hồ sơ" if requested else "thông báo dừng giải quyết"
    assert grounds in text
    assert ("đề nghị dừng giải quyết" in text) is requested


def test_control_sheet_2025_names_the_coordinating_agencies_and_the_officer(tmp_path: Path) -> None:
    row = HandOver(
        giver="Bộ phận Một cửa",
        receiver="Phòng Kinh tế",
        handed_at=T0 + dt.timedelta(hours=1),
        due_at=T0 + dt.timedelta(hours=4),
        timeliness="early",
    )
    data = ControlSheetData(
        dossier_code=CODE,
        agency_name=DESK,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        handling_agency="Phòng Kinh tế, Ủy ban nhân dân xã Tân Lập",
        received_at=T0,
        due_at=T0 + dt.timedelta(days=3),
        issued_at=T0 + dt.timedelta(days=1),
        rows=(row,),
        parent_agency=COMMUNE,
        coordinating_agencies=("Chi cục Thuế khu vực I", "Văn phòng đăng ký đất đai tỉnh Phú Thọ"),
        signer_name="Trần Văn Bình",
    )
    text = _text(render_control_sheet(data, NEW), tmp_path)
    for expected in (
        "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
        "Cơ quan phối hợp giải quyết: Chi cục Thuế khu vực I; Văn phòng đăng ký đất đai tỉnh Phú Thọ",
        "Trước hạn",
        "Trần Văn Bình",
    ):
        assert expected in text, expected
    alone = _text(
        render_control_sheet(ControlSheetData(**{**data.__dict__, "coordinating_agencies": ()}), NEW), tmp_path
    )
    assert "Cơ quan phối hợp giải quyết: không có" in alone
    assert "Cơ quan phối hợp" not in _text(render_control_sheet(data), tmp_path)  # the 2018 form has no such line


def test_tracking_register_2025_names_its_book(tmp_path: Path) -> None:
    data = TrackingRegisterData(
        agency_name=COMMUNE,
        place_name="Tân Lập",
        period_from=dt.date(2026, 3, 1),
        period_to=dt.date(2026, 3, 31),
        issued_at=T0 + dt.timedelta(days=30),
        rows=(
            TrackingRow(
                CODE, PROCEDURE, APPLICANT, T0, T0 + dt.timedelta(days=3), "Đã trả kết quả", timeliness="early"
            ),
        ),
        register_book="2026",
    )
    pdf, _ = render_tracking_register(data, NEW)
    text = _text(pdf, tmp_path)
    assert "SỔ THEO DÕI HỒ SƠ" in text and "Quyển số: 2026" in text and CODE in text
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(tracking_register_xlsx(data, NEW))).active
    assert sheet is not None
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[2][:2] == ["Từ ngày 01/3/2026 đến ngày 31/3/2026", "Quyển số: 2026"]
    assert values[3][1] == "Mã hồ sơ" and values[4][1] == CODE


def test_an_agency_overrides_a_2025_form_and_keeps_the_2018_one(tmp_path: Path) -> None:
    import json
    import shutil

    from documents.templating import DEFAULT_DIR, validate_templates

    own = tmp_path / "own"
    (own / "2025").mkdir(parents=True)
    shutil.copy(DEFAULT_DIR / "2025" / "mau-01.json", own / "2025")
    data = json.loads((own / "2025" / "mau-01.json").read_text(encoding="utf-8"))
    data["labels"]["returns"]["postal"] = "Qua bưu điện xã Tân Lập"
    (own / "2025" / "mau-01.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert validate_templates(own) == []
    templates = Templates(own)
    text = _text(render_receipt(_receipt(T0), templates.on(T0)), tmp_path)
    assert "Hình thức nhận kết quả: Qua bưu điện xã Tân Lập" in text
    before = _receipt(dt.datetime(2025, 9, 12, 9, 0, tzinfo=VN))
    assert "Qua bưu điện" not in _text(render_receipt(before, templates.on(before.received_at)), tmp_path)

    del data["texts"]["register_entry"]
    (own / "2025" / "mau-01.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert validate_templates(own) == [
        f"{own / '2025' / 'mau-01.json'}: mau-01: thiếu trường bắt buộc 'texts.register_entry' / "
        "missing required field 'texts.register_entry'"
    ]
    (own / "2025" / "mau-08.json").write_text("{}", encoding="utf-8")
    assert any("không có mẫu 'mau-08'" in p for p in validate_templates(own))
