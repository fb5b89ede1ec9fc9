"""The PDF forms (``documents.forms``) in memory: the signature box, a signature field on it, deterministic
rendering, the inputs and their Vietnamese wording, the vendored fonts. Rendered to files and read back with poppler:
tests/integration/test_documents.py.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from documents.forms import (
    CERTIFIED_COPY,
    COPY,
    ORIGINAL,
    CertificateData,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    SupplementData,
    render_household_business_certificate,
    render_receipt,
    render_refusal,
    render_supplement_request,
)
from documents.layout import (
    FONT_DIR,
    PAGE_SIZE,
    SIGNATURE_BOX,
    amount_in_words,
    format_vnd,
    long_date,
    short_date,
    time_of_day,
)

VN = dt.timezone(dt.timedelta(hours=7))
UTC = dt.UTC
CODE = "000.00.31.H99-260302-0001"
AGENCY = "Trung tâm Phục vụ hành chính công xã Tân Lập"
COMMUNE = "Ủy ban nhân dân xã Tân Lập"
APPLICANT = "Nguyễn Thị Hương"
PROCEDURE = "Đăng ký thành lập hộ kinh doanh"
MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
PAPERS = (
    ReceivedPaper("Giấy đề nghị đăng ký hộ kinh doanh", ORIGINAL, 1),
    ReceivedPaper("Bản sao Căn cước của chủ hộ kinh doanh", COPY, 1),
    ReceivedPaper("Hợp đồng thuê địa điểm kinh doanh", CERTIFIED_COPY, 2),
)


def receipt_data(papers: tuple[ReceivedPaper, ...] = PAPERS) -> ReceiptData:
    return ReceiptData(
        dossier_code=CODE,
        agency_name=AGENCY,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        applicant_id_number="001185012345",
        procedure_name=PROCEDURE,
        papers=papers,
        # given in UTC on purpose: the form shows Vietnam time
        received_at=dt.datetime(2026, 3, 2, 2, 15, tzinfo=UTC),
        appointment_at=dt.datetime(2026, 3, 5, 10, 0, tzinfo=UTC),
        officer_name="Trần Văn Bình",
        channel="counter",
        applicant_phone="0912 345 678",
        applicant_address="Thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
        procedure_code="1.001612",
        parent_agency=COMMUNE,
        processing_time="03 ngày làm việc",
        result_delivery=AGENCY,
    )


def supplement_data() -> SupplementData:
    return SupplementData(
        dossier_code=CODE,
        agency_name=AGENCY,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        items=("Hợp đồng thuê địa điểm kinh doanh có chứng thực", "Bổ sung mã ngành kinh doanh cấp 4"),
        reason="Hợp đồng thuê địa điểm nộp kèm là bản chụp, chưa có chứng thực.",
        official_name="Trần Văn Bình",
        issued_at=dt.datetime(2026, 3, 3, 9, 0, tzinfo=VN),
        received_at=dt.datetime(2026, 3, 2, 9, 15, tzinfo=VN),
        official_phone="0210 3 812 345",
        parent_agency=COMMUNE,
    )


def refusal_data() -> RefusalData:
    return RefusalData(
        dossier_code=CODE,
        agency_name=AGENCY,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        reason="Ngành, nghề đăng ký thuộc danh mục ngành, nghề cấm đầu tư kinh doanh.",
        official_name="Trần Văn Bình",
        issued_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=VN),
        received_at=dt.datetime(2026, 3, 2, 9, 15, tzinfo=VN),
        parent_agency=COMMUNE,
    )


def certificate_data(lines: tuple[str, ...] | None = None) -> CertificateData:
    return CertificateData(
        parent_agency=COMMUNE,
        issuing_authority="Phòng Kinh tế",
        place_name="Tân Lập",
        registration_number="31H8000123",
        first_registered_on=dt.date(2026, 3, 5),
        business_name="Hộ kinh doanh Hương Quê",
        business_address="Số 12, thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
        business_lines=lines
        or (
            "Bán lẻ lương thực, thực phẩm trong các cửa hàng chuyên doanh (4721)",
            "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động (5610)",
        ),
        capital_vnd=100_000_000,
        owner_name=APPLICANT,
        owner_id_number="001185012345",
        owner_birth_date=dt.date(1985, 8, 12),
        issued_at=dt.datetime(2026, 3, 5, 8, 0, tzinfo=VN),
        signer_name="Lê Minh Tuấn",
        employees=5,
        owner_gender="Nữ",
        owner_ethnicity="Kinh",
    )


FORMS: dict[str, tuple[Callable[[Any], bytes], Callable[[], Any], list[str]]] = {
    "receipt": (
        render_receipt,
        receipt_data,
        [
            "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
            APPLICANT,
            f"Mã hồ sơ: {CODE}",
            "Ngày hẹn trả kết quả: 17 giờ 00 phút, ngày 05/3/2026",
            "Thời gian nhận hồ sơ: 09 giờ 15 phút, ngày 02/3/2026",
            "Tân Lập, ngày 02 tháng 3 năm 2026",
            "Hợp đồng thuê địa điểm kinh doanh",
            "Bản sao có chứng thực",
            "NGƯỜI TIẾP NHẬN HỒ SƠ",
            "Trần Văn Bình",
            "số định danh cá nhân 001185012345",
            "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG XÃ TÂN LẬP",
        ],
    ),
    "supplement": (
        render_supplement_request,
        supplement_data,
        [
            "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
            APPLICANT,
            "1. Hợp đồng thuê địa điểm kinh doanh có chứng thực",
            "2. Bổ sung mã ngành kinh doanh cấp 4",
            "Lý do: Hợp đồng thuê địa điểm nộp kèm là bản chụp, chưa có chứng thực.",
            "Tân Lập, ngày 03 tháng 3 năm 2026",
            "NGƯỜI HƯỚNG DẪN",
        ],
    ),
    "refusal": (
        render_refusal,
        refusal_data,
        [
            "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
            APPLICANT,
            PROCEDURE,
            "Ngành, nghề đăng ký thuộc danh mục ngành, nghề cấm đầu tư kinh doanh.",
            "NGƯỜI TIẾP NHẬN HỒ SƠ",
        ],
    ),
    "certificate": (
        render_household_business_certificate,
        certificate_data,
        [
            "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
            "NGUYỄN THỊ HƯƠNG",
            "HỘ KINH DOANH HƯƠNG QUÊ",
            "Số: 31H8000123",
            "Đăng ký lần đầu: ngày 05 tháng 3 năm 2026",
            "Vốn kinh doanh: 100.000.000 đồng",
            "Bằng chữ: Một trăm triệu đồng",
            "Sinh ngày: 12/8/1985",
            "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động (5610)",
            "PHÒNG KINH TẾ",
            "TRƯỞNG PHÒNG",
            "Lê Minh Tuấn",
        ],
    ),
}


# --------------------------------------------------------------------------------------------------------------
# The signature box


def test_signature_box_geometry() -> None:
    box = SIGNATURE_BOX
    assert box.page == 0
    assert box.width >= 60 * 72 / 25.4 and box.height >= 30 * 72 / 25.4
    # bottom right of an A4 page, inside the margins
    assert box.x > PAGE_SIZE[0] / 2 and box.x + box.width <= PAGE_SIZE[0] - 15 * 72 / 25.4
    assert box.y >= 20 * 72 / 25.4 and box.top < PAGE_SIZE[1] / 3
    assert box.box == (round(box.x), round(box.y), round(box.x + box.width), round(box.top))


def test_pyhanko_puts_a_signature_field_on_the_box() -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = IncrementalPdfFileWriter(io.BytesIO(render_receipt(receipt_data())))
    append_signature_field(writer, SigFieldSpec("Signature1", on_page=SIGNATURE_BOX.page, box=SIGNATURE_BOX.box))
    out = io.BytesIO()
    writer.write(out)
    field = PdfFileReader(io.BytesIO(out.getvalue())).root["/AcroForm"]["/Fields"][0].get_object()
    assert [int(v) for v in field["/Rect"]] == list(SIGNATURE_BOX.box)


def test_rendering_is_deterministic() -> None:
    for render, sample, _ in FORMS.values():
        assert render(sample()) == render(sample())


# --------------------------------------------------------------------------------------------------------------
# Inputs and wording


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        replace(receipt_data(), received_at=dt.datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        time_of_day(dt.datetime(2026, 3, 2, 9, 0))


def test_required_text_and_lists() -> None:
    with pytest.raises(ValueError, match="applicant_name"):
        replace(receipt_data(), applicant_name="  ")
    with pytest.raises(ValueError, match="papers"):
        replace(receipt_data(), papers=())
    with pytest.raises(ValueError, match="items"):
        replace(supplement_data(), items=[])
    with pytest.raises(ValueError, match="count"):
        ReceivedPaper("Giấy đề nghị", ORIGINAL, 0)


def test_text_is_normalised_to_nfc_and_lists_to_tuples() -> None:
    decomposed = unicodedata.normalize("NFD", APPLICANT)
    data = replace(receipt_data(), applicant_name=decomposed, papers=list(PAPERS))
    assert data.applicant_name == APPLICANT
    assert data.papers == PAPERS
    assert replace(receipt_data(), applicant_email="").applicant_email is None


def test_vietnamese_dates_and_times() -> None:
    assert short_date(dt.date(2026, 3, 5)) == "05/3/2026"
    assert short_date(dt.date(2026, 2, 15)) == "15/02/2026"
    assert short_date(dt.date(2026, 12, 1)) == "01/12/2026"
    assert long_date(dt.date(2026, 1, 9)) == "ngày 09 tháng 01 năm 2026"
    assert long_date(dt.date(2026, 11, 20)) == "ngày 20 tháng 11 năm 2026"
    late_utc = dt.datetime(2026, 3, 4, 20, 30, tzinfo=UTC)  # already 5 March in Vietnam
    assert long_date(late_utc) == "ngày 05 tháng 3 năm 2026"
    assert short_date(late_utc) == "05/3/2026"
    assert time_of_day(late_utc) == "03 giờ 30 phút"


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Không"),
        (5, "Năm"),
        (15, "Mười lăm"),
        (21, "Hai mươi mốt"),
        (105, "Một trăm linh năm"),
        (1_000, "Một nghìn"),
        (1_005, "Một nghìn không trăm linh năm"),
        (50_000_000, "Năm mươi triệu"),
        (100_000_000, "Một trăm triệu"),
        (105_500_000, "Một trăm linh năm triệu năm trăm nghìn"),
        (1_250_000_000, "Một tỷ hai trăm năm mươi triệu"),
        (2_000_000_000_000, "Hai nghìn tỷ"),
    ],
)
def test_amount_in_words(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words


def test_format_vnd() -> None:
    assert format_vnd(100_000_000) == "100.000.000 đồng"
    assert format_vnd(950) == "950 đồng"
    assert format_vnd(1_234_567) == "1.234.567 đồng"


# --------------------------------------------------------------------------------------------------------------
# The vendored fonts


def units_per_em(ttf: Path) -> int:
    data = ttf.read_bytes()
    (tables,) = struct.unpack(">H", data[4:6])
    for i in range(tables):
        tag, _, offset, _ = struct.unpack(">4sIII", data[12 + 16 * i : 28 + 16 * i])
        if tag == b"head":
            return int(struct.unpack(">H", data[offset + 18 : offset + 20])[0])
    raise AssertionError(f"{ttf}: no head table")


@pytest.mark.parametrize("name", ["NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf"])
def test_vendored_font_has_1000_units_per_em(name: str) -> None:
    assert units_per_em(FONT_DIR / name) == 1000


def test_font_licence_is_shipped() -> None:
    licence = (FONT_DIR / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert "Noto" in licence
