"""The PDF forms (``documents.forms``), checked from the outside with poppler (Debian ``poppler-utils``).

Each form is rendered to a file, then: ``pdftotext`` must find the exact Vietnamese strings, ``pdffonts`` must list
only embedded Noto Serif fonts, ``pdfinfo`` must report A4, and the signature box of page 1 (rasterised
by ``pdftoppm -gray``) must be blank. Without poppler the checks are skipped on a developer's machine and
fail under CI (``CI=true``). What needs no file is in tests/unit/test_documents.py.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from documents.forms import (
    COPY,
    ReceivedPaper,
    render_household_business_certificate,
    render_receipt,
)
from documents.layout import (
    PAGE_SIZE,
    SIGNATURE_BOX,
)
from tests.pdftools import tool
from tests.unit.test_documents import FORMS, MOTTO, MOTTO_2, certificate_data, receipt_data

pytestmark = pytest.mark.integration


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
