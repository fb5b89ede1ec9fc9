"""PDF signature fields and the sample PDF the signing tests share; signing and validating with a development
PKI on disk is tests/integration/test_signing.py."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from dossiers.errors import InvalidInput
from signing import create_signature_fields


def sample_pdf(text: str = "Giay chung nhan dang ky ho kinh doanh", pages: int = 1) -> bytes:
    """A small PDF written with pyHanko's own writer (uncompressed content, classic xref table)."""
    writer = PdfFileWriter(stream_xrefs=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
    )
    for number in range(pages):
        content = writer.add_object(
            generic.StreamObject(stream_data=f"BT /F1 12 Tf 72 720 Td ({text} {number + 1}) Tj ET".encode())
        )
        resources = generic.DictionaryObject(
            {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
        )
        writer.insert_page(PageObject(contents=content, media_box=[0, 0, 595, 842], resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_create_signature_fields_refuses_duplicates_and_bad_names() -> None:
    pdf = create_signature_fields(sample_pdf(), ["A", "B"])
    with pytest.raises(InvalidInput):
        create_signature_fields(pdf, ["B"])
    with pytest.raises(InvalidInput):
        create_signature_fields(sample_pdf(), ["C", "C"])
    with pytest.raises(InvalidInput):
        create_signature_fields(sample_pdf(), ["a.b"])
    assert create_signature_fields(pdf, []) == pdf
