"""The administrator previews a procedure's result template from the catalogue page: the PDF is the template filled
with its sample data (read back with pdftotext); only administrators get it; a procedure whose result is a built-in
layout has no template to preview."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import HOUSEHOLD_BUSINESS, Api
from tests.e2e.test_web_admin import admin_client
from tests.e2e.test_web_audit import desk_client
from tests.pdftools import pdftotext

PREVIEW = f"/quan-tri/thu-tuc/{HOUSEHOLD_BUSINESS}/mau-ket-qua"


def test_the_catalogue_links_the_preview_of_a_template_result(api: Api, tmp_path: Path) -> None:
    client, _ = admin_client(api)
    page = client.get("/quan-tri/thu-tuc")
    assert page.status_code == 200
    assert f'href="{PREVIEW}"' in page.text
    assert "Mẫu dựng sẵn" in page.text  # the civil status papers keep their own layout

    pdf = client.get(PREVIEW)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    text = " ".join(pdftotext(pdf.content, tmp_path).split())
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
        "1. Tên hộ kinh doanh (ghi bằng chữ in hoa): TẠP HÓA BÌNH AN",
        "4. Vốn kinh doanh: 150.000.000 đồng",
        "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH",
    ):
        assert expected in text, (expected, text)


def test_only_administrators_preview_and_a_built_in_layout_has_no_template(api: Api) -> None:
    assert desk_client(api).get(PREVIEW).status_code == 303  # to the login page
    assert desk_client(api, "lanhdao.xa1").get(PREVIEW).status_code == 403
    client, _ = admin_client(api)
    birth = client.get("/quan-tri/thu-tuc/1.001193/mau-ket-qua")
    assert birth.status_code == 404
    assert "không có mẫu văn bản kết quả để xem trước" in birth.text
