"""The Decree 30/2020 signature fields on one PDF (issue 4, point 2; DESIGN §7): number, date, leader and seal
created in one incremental update before any signature, names and boxes checked. Signing them in the decree's
order with a development PKI on disk is tests/integration/test_decree30_order.py.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.forms import (
    CertificateData,
    render_household_business_certificate,
)
from documents.layout import SIGNATURE_BOX
from dossiers.calendar import VN_TZ
from dossiers.errors import InvalidInput
from signing.appearance import seal_box
from signing.fields import (
    DATE_FIELD,
    LEADER_FIELD,
    NUMBER_FIELD,
    SEAL_FIELD,
    FieldNames,
    fill_number_and_date,
    prepare_fields,
)

COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"

LEADER_BOX = SIGNATURE_BOX.box
NUMBER_BOX = (100, 722, 260, 740)  # under the agency name, where "Số: …" goes
DATE_BOX = (300, 600, 540, 618)
NUMBER = "15/GCN-UBND"
DATE_TEXT = "Demo 1, ngày 02 tháng 3 năm 2026"


@pytest.fixture(scope="module")
def form() -> bytes:
    return render_household_business_certificate(
        CertificateData(
            parent_agency=COMMUNE_NAME,
            issuing_authority="Phòng Kinh tế",
            place_name="Demo 1",
            registration_number="31H99-000123",
            first_registered_on=dt.date(2026, 3, 2),
            business_name="Tạp hóa Bình An",
            business_address="Thôn Đông, xã Demo 1",
            business_lines=("Bán lẻ lương thực, thực phẩm",),
            capital_vnd=100_000_000,
            owner_name="Nguyễn Văn An",
            owner_id_number="001090012345",
            owner_birth_date=dt.date(1985, 4, 12),
            issued_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ),
            signer_name="Phạm Văn Hùng",
        )
    )


def prepared(form: bytes) -> bytes:
    return prepare_fields(
        form, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=seal_box(LEADER_BOX)
    )


def revisions(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf), strict=False).xrefs.total_revisions)


def field_values(pdf: bytes) -> dict[str, object]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out: dict[str, object] = {}
    for ref in reader.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        value = field.get("/V")
        out[str(field["/T"])] = str(value) if isinstance(value, generic.TextStringObject) else value
    return out


def test_fields_are_created_in_one_update_before_any_signature(form: bytes) -> None:
    pdf = prepared(form)
    assert pdf.startswith(form), "an incremental update keeps the original bytes"
    assert revisions(pdf) == revisions(form) + 1
    values = field_values(pdf)
    assert set(values) == {LEADER_FIELD, SEAL_FIELD, NUMBER_FIELD, DATE_FIELD}
    assert all(value is None for value in values.values())
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    annots = [a.get_object() for a in reader.root["/Pages"]["/Kids"][0].get_object()["/Annots"]]
    names = [str(a["/T"]) for a in annots]
    assert names.index(SEAL_FIELD) > names.index(LEADER_FIELD), "the seal is drawn over the leader's signature"
    rects = {str(a["/T"]): [float(v) for v in a["/Rect"]] for a in annots}
    assert rects[LEADER_FIELD] == list(LEADER_BOX)
    assert rects[NUMBER_FIELD] == list(NUMBER_BOX)
    assert [str(a["/FT"]) for a in annots if str(a["/T"]) in (NUMBER_FIELD, DATE_FIELD)] == ["/Tx", "/Tx"]


def test_the_number_label_is_not_doubled(form: bytes) -> None:
    filled = fill_number_and_date(prepared(form), f"Số: {NUMBER}", DATE_TEXT)
    assert field_values(filled)[NUMBER_FIELD] == f"Số: {NUMBER}"


def test_existing_names_and_bad_boxes_are_refused(form: bytes) -> None:
    pdf = prepared(form)
    with pytest.raises(InvalidInput, match="already has a field"):
        prepare_fields(pdf, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX)
    with pytest.raises(InvalidInput, match="invalid box"):
        prepare_fields(form, leader_box=(10, 10, 10, 50), number_box=NUMBER_BOX, date_box=DATE_BOX)
    with pytest.raises(InvalidInput, match="repeat"):
        prepare_fields(
            form,
            leader_box=LEADER_BOX,
            number_box=NUMBER_BOX,
            date_box=DATE_BOX,
            names=FieldNames(leader="x", seal="x"),
        )
    with pytest.raises(InvalidInput, match="out of range"):
        prepare_fields(form, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, page=3)
    with pytest.raises(InvalidInput):
        prepare_fields(b"not a pdf", leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX)
