"""Lean generated documents (issue 17, points 4 and 5): the QR code drawn as a path, the stamps' font subset once
per glyph set, the forms' fonts without hinting — each checked on the PDF itself (poppler renders it, fontTools
reads the embedded font programs)."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from fontTools import subset as ft_subset
from fontTools import ttLib
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfgen.canvas import Canvas

from documents.forms import ReceiptData, ReceivedPaper, render_receipt
from documents.layout import PDF_FONT_FILES, QR_QUIET_MODULES, QrCode, qr_modules
from dossiers.calendar import VN_TZ
from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator, create_signature_fields
from signing.appearance import FONT_FILE, _reduced_font, development_seal_png, seal_style
from tests.pdftools import tool

pytestmark = pytest.mark.integration

URL = "http://127.0.0.1:8000/tra-cuu?ma=000.00.31.H99-260302-0001"
AGENCIES = {"000.00.31.H99": "Ủy ban nhân dân xã Hòa An", "000.00.32.H99": "Ủy ban nhân dân xã Bình Yên"}
SEAL_BOX = (100, 100, 200, 200)


def _render(pdf: bytes, tmp_path: Path, name: str, dpi: int) -> Image.Image:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [tool("pdftoppm", "poppler-utils"), "-r", str(dpi), "-singlefile", "-gray", str(path), str(tmp_path / name)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with Image.open(tmp_path / f"{name}.pgm") as img:
        return img.convert("L")


def test_qr_code_is_one_vector_path_that_reads_back_as_its_modules(tmp_path: Path) -> None:
    size, x, y = 90.0, 100.0, 500.0
    out = io.BytesIO()
    c = Canvas(out, pagesize=(400, 700), invariant=True)
    QrCode(URL, size).drawOn(c, x, y)
    c.save()
    pdf = out.getvalue()
    listing = subprocess.run(
        [tool("pdfimages", "poppler-utils"), "-list", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert len(listing.splitlines()) == 2, listing  # the header only: no image

    dpi = 288  # 4 pixels a point
    page = _render(pdf, tmp_path, "qr", dpi)
    modules = qr_modules(URL)
    unit = size / (len(modules) + 2 * QR_QUIET_MODULES)
    scale = dpi / 72
    for r, row in enumerate(modules):
        for col, dark in enumerate(row):
            cx = x + (col + QR_QUIET_MODULES + 0.5) * unit
            cy = y + size - (r + QR_QUIET_MODULES + 0.5) * unit  # rows from the top
            value = page.getpixel((round(cx * scale), round((700 - cy) * scale)))
            assert (value < 64) if dark else (value > 192), (r, col, value)
    quiet = page.getpixel((round((x + unit) * scale), round((700 - y - unit) * scale)))
    assert quiet > 192, "the quiet zone is light"
    assert len(modules) >= 21 and any(any(row) for row in modules)


def _receipt() -> bytes:
    received = dt.datetime(2026, 3, 2, 8, 30, tzinfo=VN_TZ)
    return render_receipt(
        ReceiptData(
            dossier_code="000.00.31.H99-260302-0001",
            agency_name="Bộ phận Một cửa",
            parent_agency="Ủy ban nhân dân xã Hòa An",
            place_name="Hòa An",
            applicant_name="Nguyễn Văn An",
            applicant_id_number="001090012345",
            procedure_name="Đăng ký thành lập hộ kinh doanh",
            papers=(ReceivedPaper("Giấy đề nghị đăng ký hộ kinh doanh"),),
            received_at=received,
            appointment_at=received + dt.timedelta(days=3),
            officer_name="Hoàng Thị Mai",
            lookup_url=URL,
        )
    )


def _font_programs(pdf: bytes, since: int = 0) -> list[bytes]:
    """The embedded TrueType programs (``/FontFile2``) of ``pdf`` named after byte ``since``, decoded."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    numbers = sorted({int(n) for n in re.findall(rb"/FontFile2 (\d+) 0 R", pdf[since:])})
    programs = []
    for number in numbers:
        stream = reader.get_object(generic.Reference(number, 0, reader))
        assert isinstance(stream, generic.StreamObject)
        programs.append(stream.data)
    return programs


def test_receipt_fonts_carry_no_hinting_and_the_receipt_is_tens_of_kilobytes() -> None:
    pdf = _receipt()
    programs = _font_programs(pdf)
    assert len(programs) == 2  # regular and bold, one subset each
    for program in programs:
        font = ttLib.TTFont(io.BytesIO(program))
        assert "fpgm" not in font and "prep" not in font
        assert "cvt " not in font
        glyphs = [font["glyf"][name] for name in font.getGlyphOrder()]
        assert not [g for g in glyphs if hasattr(g, "program") and g.program.getBytecode()], "no glyph instructions"
    assert len(pdf) < 40_000, len(pdf)  # unsigned: text, two font subsets and the QR path
    for path in PDF_FONT_FILES.values():  # the vendored files keep every glyph and its metrics
        unhinted, hinted = ttLib.TTFont(path), ttLib.TTFont(path.with_name(path.name.replace("-Unhinted", "")))
        assert unhinted.getGlyphOrder() == hinted.getGlyphOrder()
        assert unhinted["hmtx"].metrics == hinted["hmtx"].metrics
        assert unhinted["head"].unitsPerEm == 1000


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure(list(AGENCIES.items()), [], dt.datetime.now(dt.UTC))
    return pki


def test_seal_font_is_subset_once_per_glyph_set_and_each_document_gets_its_glyphs(
    pki: DevelopmentPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = create_signature_fields(_receipt(), ["agency_seal"], boxes={"agency_seal": (0, SEAL_BOX)})
    styles = {code: seal_style(development_seal_png(name), name) for code, name in AGENCIES.items()}
    signer = PadesSigner(pki, styles=lambda r: styles[r.signer.removeprefix("agency:")])
    subsets = 0
    original = ft_subset.Subsetter.subset

    def counted(self: ft_subset.Subsetter, font: ttLib.TTFont) -> None:
        nonlocal subsets
        subsets += 1
        original(self, font)

    monkeypatch.setattr(ft_subset.Subsetter, "subset", counted)
    signed = {
        (code, n): signer.sign(form, SignatureRequest(f"agency:{code}", "agency_seal", "Đóng dấu"))
        for code in AGENCIES
        for n in range(4)
    }
    # 8 stamps, two agencies: a subset for each glyph set — the name's letters and the time's digits, which
    # change only when the signing time's digits do — not one per stamp
    assert subsets <= 4, subsets
    validator = PadesValidator(pki.trust_roots())
    reduced = ttLib.TTFont(io.BytesIO(_reduced_font(FONT_FILE)))
    cmap, order = reduced.getBestCmap(), reduced.getGlyphOrder()
    for (code, _), pdf in signed.items():
        assert validator.validate(pdf).passed
        [program] = _font_programs(pdf, len(form))  # the one font the seal's incremental update embeds
        font = ttLib.TTFont(io.BytesIO(program))
        for char in set(AGENCIES[code].replace(" ", "")):
            name = font.getGlyphOrder()[order.index(cmap[ord(char)])]  # glyph ids are kept (retain_gids)
            assert font["glyf"][name].numberOfContours != 0, f"{char!r} has its outline in {code}'s stamp"
        text = subprocess.run(
            [tool("pdftotext", "poppler-utils"), "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        assert AGENCIES[code] in " ".join(text.split())
