"""What :mod:`documents.pdfa` writes into a PDF, read back with pyHanko's reader (veraPDF's verdict on every family
of documents is in tests/integration/test_pdfa.py)."""

from __future__ import annotations

import io
import re

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.forms import render_receipt
from documents.pdfa import SRGB_PROFILE, xmp_date
from tests.unit.test_documents import receipt_data


@pytest.mark.parametrize(
    ("pdf_date", "xmp"),
    [
        ("D:20000101000000+00'00'", "2000-01-01T00:00:00+00:00"),
        ("D:20260302091500+07'00'", "2026-03-02T09:15:00+07:00"),
        ("D:20260302091500Z", "2026-03-02T09:15:00Z"),
        ("D:20260302091500", "2026-03-02T09:15:00Z"),
    ],
)
def test_pdf_dates_become_xmp_dates(pdf_date: str, xmp: str) -> None:
    assert xmp_date(pdf_date) == xmp


def test_a_malformed_date_is_refused() -> None:
    with pytest.raises(ValueError):
        xmp_date("2026-03-02")


@pytest.fixture(scope="module")
def receipt() -> bytes:
    return render_receipt(receipt_data())


def test_catalog_has_the_srgb_output_intent_and_the_pdfa_metadata(receipt: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(receipt))
    root = reader.root
    (intent,) = list(root["/OutputIntents"])
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.data == SRGB_PROFILE.read_bytes()

    metadata = root.raw_get("/Metadata").get_object()
    assert "/Filter" not in metadata  # readable without decoding
    xmp = metadata.encoded_data.decode("utf-8")
    assert "<pdfaid:part>2</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    info = reader.trailer_view["/Info"].get_object()
    assert f'<rdf:li xml:lang="x-default">{info["/Title"]}</rdf:li>' in xmp
    assert f"<rdf:li>{info['/Author']}</rdf:li>" in xmp
    assert f"<xmp:CreatorTool>{info['/Creator']}</xmp:CreatorTool>" in xmp
    assert f"<xmp:CreateDate>{xmp_date(str(info['/CreationDate']))}</xmp:CreateDate>" in xmp


def test_every_stream_ends_with_an_eol_and_its_length_is_exact(receipt: bytes) -> None:
    starts = [m.end() for m in re.finditer(rb">>\s*stream(?:\r\n|\n)", receipt)]
    assert len(starts) == receipt.count(b"endstream") >= 5
    for start in starts:
        dictionary = receipt[receipt.rindex(b" obj", 0, start) : start]
        length = int(re.findall(rb"/Length (\d+)", dictionary)[-1])
        assert receipt[start + length : start + length + len(b"\nendstream")] == b"\nendstream", dictionary
