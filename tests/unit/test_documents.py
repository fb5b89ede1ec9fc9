"""The PDF forms (``documents.forms``), checked from the outside with poppler (Debian ``poppler-utils``).

Each form is rendered, then: ``pdftotext`` must find the exact Vietnamese strings, ``pdffonts`` must list
only embedded Noto Serif fonts, ``pdfinfo`` must report A4, and the signature box of page 1 (rasterised
by ``pdftoppm -gray``) must be blank. Without poppler the checks are skipped on a developer's machine and
fail under CI (``CI=true``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import subprocess
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from documents.forms import (
    CERTIFIED_COPY,
    COPY,
    FONT_DIR,
    ORIGINAL,
    PAGE_SIZE,
    SIGNATURE_BOX,
    CertificateData,
    ReceiptData,
    ReceivedPaper,
    RefusalData,
    SupplementData,
    amount_in_words,
    format_vnd,
    long_date,
    render_household_business_certificate,
    render_receipt,
    render_refusal,
    render_supplement_request,
    short_date,
    time_of_day,
)
from tests.pdftools import tool

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
        procedure_code="2.000575",
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
# poppler


def poppler(name: str) -> str:
    return tool(name, "poppler-utils")


def run(tool: str, *args: str | Path) -> str:
    done = subprocess.run([poppler(tool), *map(str, args)], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def pdf_text(pdf: Path) -> str:
    text = run("pdftotext", "-enc", "UTF-8", pdf, "-")
    return " ".join(unicodedata.normalize("NFC", text).split())


def pdf_fonts(pdf: Path) -> list[tuple[str, str]]:
    """(name, emb) for each font ``pdffonts`` lists."""
    lines = run("pdffonts", pdf).splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[dashes])]
    header = [lines[dashes - 1][a:b].strip() for a, b in spans]
    rows = []
    for line in lines[dashes + 1 :]:
        if line.strip():
            cells = dict(zip(header, (line[a:b].strip() for a, b in spans), strict=True))
            rows.append((cells["name"], cells["emb"]))
    return rows


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    info = run("pdfinfo", "-f", "1", "-l", "1000", pdf)
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]


def page_count(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", pdf), re.M).group(1))  # type: ignore[union-attr]


def raster_page1(pdf: Path, tmp_path: Path, dpi: int) -> tuple[int, int, int, bytes]:
    """Page 1 as 8-bit grey pixels: (width, height, maxval, pixels), read from pdftoppm's PGM (P5)."""
    out = tmp_path / "page"
    run("pdftoppm", "-r", str(dpi), "-gray", "-f", "1", "-l", "1", "-singlefile", pdf, out)
    data = (tmp_path / "page.pgm").read_bytes()
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        tokens.append(data[pos:end])
        pos = end
    assert tokens[0] == b"P5", tokens[0]
    width, height, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    pixels = data[pos + 1 : pos + 1 + width * height]
    assert len(pixels) == width * height and maxval < 256
    return width, height, maxval, pixels


def region(
    raster: tuple[int, int, int, bytes], dpi: int, x1: float, y1: float, x2: float, y2: float, inset: int = 0
) -> list[int]:
    """The pixels of a rectangle given in PDF points from the bottom-left corner of the page."""
    width, height, _, pixels = raster
    scale = dpi / 72
    page_h = PAGE_SIZE[1]
    left, right = int(x1 * scale) + inset, int(x2 * scale) - inset
    top, bottom = int((page_h - y2) * scale) + inset, int((page_h - y1) * scale) - inset
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    return [pixels[row * width + col] for row in range(top, bottom) for col in range(left, right)]


@pytest.fixture(params=sorted(FORMS))
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    render, sample, _ = FORMS[request.param]
    pdf = tmp_path / f"{request.param}.pdf"
    pdf.write_bytes(render(sample()))
    return request.param, pdf


# --------------------------------------------------------------------------------------------------------------
# The rendered forms


def test_text_has_the_exact_vietnamese_strings(rendered: tuple[str, Path]) -> None:
    name, pdf = rendered
    text = pdf_text(pdf)
    for expected in [MOTTO, MOTTO_2, "ỦY BAN NHÂN DÂN XÃ TÂN LẬP", *FORMS[name][2]]:
        assert expected in text, f"{name}: {expected!r} not in {text!r}"


def test_only_embedded_noto_serif(rendered: tuple[str, Path]) -> None:
    _, pdf = rendered
    fonts = pdf_fonts(pdf)
    assert fonts
    for font, embedded in fonts:
        assert embedded == "yes", fonts
        assert re.fullmatch(r"([A-Z]{6}\+)?NotoSerif-(Regular|Bold)", font), fonts
    assert b"/Helvetica" not in pdf.read_bytes() and b"/Times-" not in pdf.read_bytes()


def test_page_is_a4(rendered: tuple[str, Path]) -> None:
    _, pdf = rendered
    sizes = page_sizes(pdf)
    assert sizes == [(pytest.approx(595.276, abs=0.5), pytest.approx(841.89, abs=0.5))]


def test_signature_box_is_blank_and_framed_by_the_signer(rendered: tuple[str, Path], tmp_path: Path) -> None:
    name, pdf = rendered
    dpi = 50
    raster = raster_page1(pdf, tmp_path, dpi)
    white = raster[2]
    box = SIGNATURE_BOX
    inside = region(raster, dpi, box.x, box.y, box.x + box.width, box.top, inset=1)
    assert inside and all(p == white for p in inside), f"{name}: something is drawn in the signature box"
    # The mapping is right side up: the signer's title is just above the box, the printed name just under it.
    above = region(raster, dpi, box.x, box.top, box.x + box.width, box.top + 40)
    under = region(raster, dpi, box.x, box.y - 30, box.x + box.width, box.y)
    assert min(above) < white // 2, f"{name}: no signer title above the signature box"
    assert min(under) < white // 2, f"{name}: no signer name under the signature box"


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
# Long lists move to an annex; page 1 keeps its layout


def test_long_list_of_papers_goes_to_an_annex(tmp_path: Path) -> None:
    papers = tuple(ReceivedPaper(f"Giấy tờ số {i} của hồ sơ đăng ký", COPY, 1) for i in range(1, 61))
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(render_receipt(receipt_data(papers)))
    assert page_count(pdf) >= 2
    text = pdf_text(pdf)
    assert "Thành phần hồ sơ nộp gồm: 60 loại giấy tờ, chi tiết tại Phụ lục kèm theo." in text
    assert "PHỤ LỤC" in text and "Giấy tờ số 60 của hồ sơ đăng ký" in text
    assert "Ngày hẹn trả kết quả: 17 giờ 00 phút, ngày 05/3/2026" in text
    assert all(size == (pytest.approx(595.276, abs=0.5), pytest.approx(841.89, abs=0.5)) for size in page_sizes(pdf))
    raster = raster_page1(pdf, tmp_path, 50)
    box = SIGNATURE_BOX
    inside = region(raster, 50, box.x, box.y, box.x + box.width, box.top, inset=1)
    assert all(p == raster[2] for p in inside)


def test_only_a_desk_receipt_has_the_applicant_sign(tmp_path: Path) -> None:
    desk, online = tmp_path / "desk.pdf", tmp_path / "online.pdf"
    desk.write_bytes(render_receipt(receipt_data()))
    online.write_bytes(render_receipt(replace(receipt_data(), channel="online")))
    assert "Hình thức nộp hồ sơ: Trực tiếp" in pdf_text(desk) and "NGƯỜI NỘP HỒ SƠ" in pdf_text(desk)
    text = pdf_text(online)
    assert "Hình thức nộp hồ sơ: Trực tuyến" in text and "NGƯỜI TIẾP NHẬN HỒ SƠ" in text
    assert "NGƯỜI NỘP HỒ SƠ" not in text


def test_long_list_of_business_lines_goes_to_an_annex(tmp_path: Path) -> None:
    lines = tuple(f"Ngành kinh doanh thứ {i} theo Hệ thống ngành kinh tế Việt Nam" for i in range(1, 41))
    pdf = tmp_path / "lines.pdf"
    pdf.write_bytes(render_household_business_certificate(certificate_data(lines)))
    assert page_count(pdf) >= 2
    text = pdf_text(pdf)
    assert "Ngành, nghề kinh doanh: chi tiết tại Phụ lục kèm theo." in text
    assert "Ngành kinh doanh thứ 40 theo Hệ thống ngành kinh tế Việt Nam" in text


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
