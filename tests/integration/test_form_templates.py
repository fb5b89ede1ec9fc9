"""Form templates as data (documents/templates/*.json): validation messages on edited copies, overrides, and the
new forms read back with poppler. The shipped templates are checked in tests/unit/test_form_templates.py."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from documents.forms import ApologyData, ControlSheetData, HandOver, render_apology, render_control_sheet
from documents.registers import TrackingRegisterData, TrackingRow, render_tracking_register, tracking_register_xlsx
from documents.templating import DEFAULT_DIR, TemplateError, Templates, validate_templates
from tests.pdftools import pdftotext, tool

pytestmark = pytest.mark.integration

VN = dt.timezone(dt.timedelta(hours=7))
CODE = "000.00.31.H99-260302-0001"
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def _edit(path: Path, change: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_removed_required_field_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "mau-04.json", lambda d: d["texts"].pop("apology"))
    problems = validate_templates(folder)
    assert problems == [
        f"{folder / 'mau-04.json'}: mau-04: thiếu trường bắt buộc 'texts.apology' / "
        "missing required field 'texts.apology'"
    ]


def test_an_unknown_placeholder_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "mau-01.json", lambda d: d["texts"].update(subtitle="Mã hồ sơ: {ma_ho_so}"))
    [problem] = validate_templates(folder)
    assert problem == (
        f"{folder / 'mau-01.json'}: mau-01: texts.subtitle: "
        "không có dữ liệu {ma_ho_so} cho nội dung này (được dùng: {dossier_code}) / "
        "unknown placeholder {ma_ho_so} (allowed: {dossier_code})"
    )


def test_broken_json_gives_line_and_column(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "mau-02.json").write_text('{\n  "form": "mau-02",\n  "texts": {,}\n}\n', encoding="utf-8")
    [problem] = validate_templates(folder)
    assert problem.startswith(
        f"{folder / 'mau-02.json'}: tệp không đúng cú pháp JSON ở dòng 3, cột 13 / invalid JSON at line 3, column 13"
    )


def test_other_mistakes_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "override"
    folder.mkdir()
    (folder / "mau-03.json").write_text((DEFAULT_DIR / "mau-03.json").read_text(encoding="utf-8"), encoding="utf-8")
    _edit(
        folder / "mau-03.json",
        lambda d: d["texts"].update(closing="<u>Xin cảm ơn</u> {", signer=7, extra="x"),
    )
    (folder / "mau-99.json").write_text("{}", encoding="utf-8")
    problems = "\n".join(validate_templates(folder))
    assert "mau-03: texts.closing: dấu ngoặc nhọn không khớp; viết {{ và }} cho ngoặc nhọn thường" in problems
    assert (
        "mau-03: texts.closing: thẻ định dạng <u> không được dùng (chỉ dùng: <b>, </b>, <i>, </i>, <br/>)" in problems
    )
    assert "mau-03: texts.signer: phải là một chuỗi văn bản / must be a string, not int" in problems
    assert "mau-03: trường 'texts.extra' không có trong mẫu này, hãy xóa / unknown field 'texts.extra'" in problems
    assert "không có mẫu 'mau-99'" in problems
    assert "thiếu tệp mẫu" not in problems  # an override directory need not hold every form
    assert "thiếu tệp mẫu mau-05" in "\n".join(validate_templates(folder, complete=True))
    with pytest.raises(TemplateError) as caught:
        Templates(folder).get("mau-03")
    assert any("texts.signer" in p for p in caught.value.problems)


def test_an_agency_edits_a_text_without_code(tmp_path: Path) -> None:
    folder = tmp_path / "override"
    folder.mkdir()
    shutil.copy(DEFAULT_DIR / "mau-04.json", folder)
    _edit(folder / "mau-04.json", lambda d: d["texts"].update(closing="Trân trọng cảm ơn Ông/Bà & gia đình./."))
    assert validate_templates(folder) == []
    pdf = render_apology(_apology(), Templates(folder))
    text = " ".join(pdftotext(pdf, tmp_path).split())
    assert "Trân trọng cảm ơn Ông/Bà & gia đình./." in text
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text  # the rest from the file as copied


def _apology() -> ApologyData:
    return ApologyData(
        dossier_code=CODE,
        agency_name="Ủy ban nhân dân xã Tân Lập",
        place_name="Tân Lập",
        applicant_name="Nguyễn Thị Hương",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        received_at=T0,
        old_due_at=T0 + dt.timedelta(days=3),
        new_due_at=T0 + dt.timedelta(days=7, hours=8),
        reason="Cần xác minh thực địa <địa điểm kinh doanh>",
        issued_at=T0 + dt.timedelta(days=2),
    )


def _fonts_embedded(pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool("pdffonts", "poppler-utils"), str(path)], capture_output=True, check=True).stdout
    lines = out.decode().splitlines()[2:]
    assert lines and all("NotoSerif" in line and " yes " in line for line in lines), lines


def test_apology_text(tmp_path: Path) -> None:
    pdf = render_apology(_apology())
    text = " ".join(pdftotext(pdf, tmp_path).split())
    for expected in (
        "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        f"Mã hồ sơ: {CODE}",
        "Nguyễn Thị Hương",
        "Cần xác minh thực địa <địa điểm kinh doanh>",
        "08 giờ 00 phút, ngày 05/3/2026",
        "16 giờ 00 phút, ngày 09/3/2026",
        "THỦ TRƯỞNG CƠ QUAN",
    ):
        assert expected in text, (expected, text)
    _fonts_embedded(pdf, tmp_path)


def test_control_sheet_text(tmp_path: Path) -> None:
    rows = tuple(
        HandOver(
            giver="Bộ phận Một cửa",
            receiver="Phòng Kinh tế",
            handed_at=T0 + dt.timedelta(days=i),
            due_at=T0 + dt.timedelta(days=3),
            timeliness=["early", "on_time", "late"][min(i, 2)],
            note="Ghi chú",
        )
        for i in range(4)
    )
    data = ControlSheetData(
        dossier_code=CODE,
        agency_name="Trung tâm Phục vụ hành chính công xã Tân Lập",
        place_name="Tân Lập",
        applicant_name="Nguyễn Thị Hương",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        handling_agency="Phòng Kinh tế",
        received_at=T0,
        due_at=T0 + dt.timedelta(days=3),
        issued_at=T0 + dt.timedelta(days=4),
        rows=rows,
    )
    pdf = render_control_sheet(data)
    text = " ".join(pdftotext(pdf, tmp_path).split())
    for expected in ("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", "Trước hạn", "Đúng hạn", "Quá hạn", "Phòng Kinh tế"):
        assert expected in text, (expected, text)
    _fonts_embedded(pdf, tmp_path)
    many = render_control_sheet(ControlSheetData(**{**data.__dict__, "rows": rows * 8}))
    assert "chi tiết tại Phụ lục kèm theo" in " ".join(pdftotext(many, tmp_path).split())


def test_tracking_register_pdf_and_xlsx(tmp_path: Path) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    rows = tuple(
        TrackingRow(
            dossier_code=f"000.00.31.H99-260302-{i:04d}",
            procedure_name="Đăng ký thành lập hộ kinh doanh",
            applicant_name="Nguyễn Thị Hương",
            received_at=T0,
            due_at=T0 + dt.timedelta(days=3),
            status="Đã trả kết quả" if i % 2 else "Đang giải quyết",
            resolved_at=T0 + dt.timedelta(days=1) if i % 2 else None,
            timeliness="early" if i % 2 else None,
        )
        for i in range(1, 61)
    )
    data = TrackingRegisterData(
        "Ủy ban nhân dân xã Tân Lập", "Tân Lập", dt.date(2026, 3, 1), dt.date(2026, 3, 31), T0, rows
    )
    pdf, box = render_tracking_register(data)
    assert box.page >= 1  # 60 rows flow onto later pages; the seal area follows the table
    text = " ".join(pdftotext(pdf, tmp_path).split())
    assert "SỔ THEO DÕI HỒ SƠ" in text and "000.00.31.H99-260302-0060" in text
    assert "Tổng số: 60 hồ sơ; trước hạn: 30" in text
    _fonts_embedded(pdf, tmp_path)
    sheet = load_workbook(BytesIO(tracking_register_xlsx(data))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[3][9] == "Kết quả giải quyết (trước hạn/đúng hạn/quá hạn)"
    assert [v[1] for v in values[4:64]] == [r.dossier_code for r in rows]
    assert values[4][4] == dt.datetime(2026, 3, 2, 8, 0)  # Vietnam time


def test_whether_the_head_signs_is_the_templates_data(tmp_path: Path) -> None:
    """The head of the agency signs Mẫu 04 of both sets and Mẫu 05 of 2025 (their signer block is the head's); an
    agency's override may turn it off, and a value that is not true or false is named."""
    shipped = Templates()
    for day, kind in ((T0, "apology"), (T0, "stop_notice"), (dt.date(2025, 9, 14), "apology")):
        assert shipped.on(day).form(kind).signed_by_head, (day, kind)
    assert not shipped.on(T0).form("refusal").signed_by_head  # the desk's papers: the agency seals them alone
    folder = _copy(tmp_path)
    _edit(folder / "2025" / "mau-05.json", lambda d: d.update(signed_by_head=False))
    assert validate_templates(folder) == []
    assert not Templates(folder).on(T0).form("stop_notice").signed_by_head
    _edit(folder / "2025" / "mau-04.json", lambda d: d.update(signed_by_head="có"))
    assert validate_templates(folder) == [
        f"{folder / '2025' / 'mau-04.json'}: mau-04: signed_by_head: phải ghi true hoặc false, đang ghi 'có' / "
        "must be true or false, found 'có'"
    ]
