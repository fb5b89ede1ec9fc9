"""The reception desk's pages (/mot-cua): finding a procedure with or without diacritics, its required papers,
registering a dossier through the page form (no script needed), the signed receipt, wrong files and XSS."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from persistence.schema import dossier
from persistence.uow import transaction
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, Api, minimal_pdf
from tests.web import csrf, log_in

FORM = f"/mot-cua/tiep-nhan/{HOUSEHOLD_BUSINESS}"
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def page_browser(api: Api) -> TestClient:
    """A browser on the app as built (api/app.py mounts the desk's and the citizens' pages)."""
    from api.app import asgi

    return TestClient(asgi(api.runtime), base_url="https://testserver", follow_redirects=False)


def signed_in_as(api: Api, username: str) -> TestClient:
    client = page_browser(api)
    r = log_in(client, username)
    assert r.status_code == 303, r.text
    return client


def application(**changes: str) -> dict[str, str]:
    """The page form as a person fills it in: applicant, then the procedure's form fields (``f.<key>``)."""
    values = {
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": "001090012345",
        "applicant_phone": "0912345678",
        "applicant_email": "an@example.vn",
        "f.business_name": HOUSEHOLD_DETAILS["business_name"],
        "f.business_address": HOUSEHOLD_DETAILS["business_address"],
        "f.business_lines": "Bán lẻ lương thực, thực phẩm\nBán lẻ đồ uống\n",
        "f.capital_vnd": "100.000.000",
        "f.owner_birth_date": "1985-04-12",
        "f.owner_address": HOUSEHOLD_DETAILS["owner_address"],
        "f.employees": "",
    }
    return values | changes


def scans(**changes: tuple[str, bytes, str]) -> dict[str, tuple[str, bytes, str]]:
    files = {
        "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
        "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
        "paper.bien_ban_hop": ("", b"", "application/octet-stream"),  # an optional input left empty
    }
    return files | changes


def dossier_count(api: Api) -> int:
    with transaction(api.runtime.db) as conn:
        return int(conn.execute(select(func.count()).select_from(dossier)).scalar_one())


class Inputs(HTMLParser):
    """Every visible form control's id and aria attributes, and every label's ``for``."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls[str(a.get("id") or a.get("name"))] = a


def inputs_of(html: str) -> Inputs:
    parser = Inputs()
    parser.feed(html)
    return parser


def assert_labelled(html: str) -> Inputs:
    parsed = inputs_of(html)
    assert parsed.controls
    unlabelled = [key for key in parsed.controls if key not in parsed.labels]
    assert not unlabelled, unlabelled
    for key, attrs in parsed.controls.items():  # every aria-describedby points at something on the page
        for ref in (attrs.get("aria-describedby") or "").split():
            assert ref in parsed.ids, (key, ref)
    return parsed


def register(client: TestClient, data: dict[str, str], files: dict[str, Any], **kw: Any) -> Any:
    token = csrf(client, FORM)
    return client.post(FORM, data=data | {"csrf_token": token}, files=files, **kw)


# ---------------------------------------------------------------- finding a procedure


def test_search_finds_procedures_with_or_without_diacritics(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    everything = client.get("/mot-cua")
    assert everything.status_code == 200 and 'lang="vi"' in everything.text
    assert "/mot-cua/tiep-nhan/1.000894" in everything.text  # marriage registration is on the full list
    for query in ("dang ky ho kinh doanh", "Đăng ký hộ kinh doanh", "DANG KY HO KINH DOANH", "001612", "1.001612"):
        r = client.get("/mot-cua", params={"q": query})
        assert r.status_code == 200
        assert f"/mot-cua/tiep-nhan/{HOUSEHOLD_BUSINESS}" in r.text, query
        assert "Đăng ký thành lập hộ kinh doanh" in r.text
        assert "/mot-cua/tiep-nhan/1.000894" not in r.text, query  # Đăng ký kết hôn does not match
    nothing = client.get("/mot-cua", params={"q": "khong co thu tuc nay"})
    assert "Không có thủ tục nào phù hợp." in nothing.text
    assert_labelled(nothing.text)


def test_the_desk_is_for_reception_only(api: Api) -> None:
    assert page_browser(api).get("/mot-cua").headers["location"] == "/dang-nhap?next=/mot-cua"
    assert signed_in_as(api, "chuyenvien1.xa1").get("/mot-cua").status_code == 403
    assert signed_in_as(api, "congdan1").get(FORM).status_code == 403


def test_the_form_shows_the_required_papers_and_labels_every_input(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    r = client.get(FORM)
    assert r.status_code == 200
    for text in ("Giấy đề nghị đăng ký hộ kinh doanh", "Bản chính", "Bản sao", "Không (nếu có)", "03 ngày làm việc"):
        assert text in r.text, text
    parsed = assert_labelled(r.text)
    for control in ("applicant_name", "applicant_id_number", "applicant_phone", "applicant_email", "f-business_lines"):
        assert control in parsed.controls, control
    birth_date = parsed.controls["f-owner_birth_date"]  # text typed day first, whatever the browser's language
    assert birth_date["type"] == "text" and 'placeholder="dd/mm/yyyy"' in r.text and 'inputmode="numeric"' in r.text
    assert parsed.controls["paper-giay_de_nghi"]["type"] == "file"
    assert 'enctype="multipart/form-data"' in r.text and 'name="csrf_token"' in r.text
    assert '<script src="/static/js/upload.js" defer></script>' in r.text and "<script>" not in r.text
    assert signed_in_as(api, "tiepnhan.xa1").get("/mot-cua/tiep-nhan/9.999999").status_code == 404


# ---------------------------------------------------------------- registering


def test_reception_registers_a_dossier_through_the_page_and_gets_the_signed_receipt(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    r = register(client, application(), scans())
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    code = location.rsplit("/", 1)[1]
    assert location == f"/mot-cua/ho-so/{code}" and code.startswith(f"{COMMUNE}-260302-")

    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["channel"] == "counter" and view["applicant"]["name"] == "Nguyễn Văn An"
    assert view["details"]["business_lines"] == ["Bán lẻ lương thực, thực phẩm", "Bán lẻ đồ uống"]
    assert view["details"]["capital_vnd"] == 100000000 and "employees" not in view["details"]
    assert sorted(d["paper_key"] for d in view["documents"]) == ["giay_de_nghi", "giay_to_phap_ly"]
    with transaction(api.runtime.db) as conn:
        email = conn.execute(select(dossier.c.applicant_email).where(dossier.c.code == code)).scalar_one()
    assert email == "an@example.vn"

    waiting = client.get(location)
    assert waiting.status_code == 200
    assert "đang được phát hành" in waiting.text and f'href="{location}"' in waiting.text  # a refresh link
    assert "05/03/2026" in waiting.text  # due: three working days after Monday 08:00
    api.work()  # the in-process workers of `motcua serve` do this on their own
    ready = client.get(location)
    found = re.search(
        rf'href="(/api/dossiers/{re.escape(code)}/documents/[0-9a-f-]+)"[^>]*>Tải giấy tiếp nhận', ready.text
    )
    assert found, ready.text
    pdf = client.get(found.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


def test_the_upload_script_gets_json_with_the_receipt_page(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    r = register(client, application(), scans(), headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["location"] == f"/mot-cua/ho-so/{body['code']}"


def test_missing_and_wrong_values_are_named_next_to_their_inputs(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = dossier_count(api)
    files = scans()
    del files["paper.giay_to_phap_ly"]
    data = application(applicant_id_number="12345", **{"f.capital_vnd": "một trăm", "f.business_name": ""})
    r = register(client, data, files)
    assert r.status_code == 422
    assert dossier_count(api) == before
    parsed = assert_labelled(r.text)
    for control in ("applicant_id_number", "f-capital_vnd", "f-business_name", "paper-giay_to_phap_ly"):
        attrs = parsed.controls[control]
        assert attrs.get("aria-invalid") == "true", control
        assert f"{control}-error" in (attrs.get("aria-describedby") or ""), control
    assert "Số định danh cá nhân/CCCD phải gồm 12 chữ số" in r.text
    assert "Cần tải lên bản quét" in r.text
    assert 'role="alert"' in r.text and 'href="#applicant_id_number"' in r.text
    assert 'value="Nguyễn Văn An"' in r.text  # what was typed stays


def test_a_wrong_file_type_is_refused_with_the_message_in_the_page(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = dossier_count(api)
    exe = scans(**{"paper.giay_de_nghi": ("giay-de-nghi.exe", b"MZ\x90\x00 not a scan", "application/x-msdownload")})
    r = register(client, application(), exe)
    assert r.status_code == 422
    assert "giay-de-nghi.exe" in r.text and "không được chấp nhận (chỉ PDF, JPEG, PNG)" in r.text
    attrs = inputs_of(r.text).controls["paper-giay_de_nghi"]
    assert attrs.get("aria-invalid") == "true" and "paper-giay_de_nghi-error" in (attrs.get("aria-describedby") or "")
    disguised = scans(**{"paper.giay_to_phap_ly": ("cccd.pdf", b"just text, not a PDF", "application/pdf")})
    r = register(client, application(), disguised)
    assert r.status_code == 422 and "Nội dung tệp" in r.text and "cccd.pdf" in r.text
    english = register(client, application(), exe, params={"lang": "en"})
    assert "which is not accepted (PDF, JPEG, PNG only)" in english.text and 'lang="en"' in english.text
    assert dossier_count(api) == before


def test_script_in_every_text_field_renders_inert(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    text_fields = ("applicant_name", "applicant_phone", "applicant_email", "f.business_name", "f.business_address")
    hostile = application(applicant_id_number=XSS, **{name: XSS for name in text_fields} | {"f.business_lines": XSS})
    r = register(client, hostile, scans())
    assert r.status_code == 422
    assert "<script>alert(1)</script>" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "<script>" not in client.get("/mot-cua", params={"q": XSS}).text

    # registered with a hostile name and business name: the receipt page shows them as text
    r = register(client, application(applicant_name=XSS, **{"f.business_name": XSS}), scans())
    assert r.status_code == 303, r.text
    receipt = client.get(r.headers["location"])
    assert "<script>alert(1)</script>" not in receipt.text and "&lt;script&gt;" in receipt.text
    assert "script-src 'self'" in receipt.headers["content-security-policy"]


def test_a_forged_registration_without_the_csrf_token_is_refused(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = dossier_count(api)
    r = client.post(FORM, data=application() | {"csrf_token": "0" * 40}, files=scans())
    assert r.status_code == 403
    assert dossier_count(api) == before


def test_another_communes_officer_cannot_open_the_receipt_page(api: Api) -> None:
    from dossiers.model import Role
    from motcua.app import DEMO_PASSWORD
    from tests.conftest import OTHER_COMMUNE

    code = api.submit().json()["code"]
    api.runtime.accounts.add(
        "tiepnhan.xa2", DEMO_PASSWORD, "Cán bộ xã 2", Role.RECEPTION, OTHER_COMMUNE, None, api.runtime.clock.now()
    )
    r = signed_in_as(api, "tiepnhan.xa2").get(f"/mot-cua/ho-so/{code}")
    assert r.status_code == 403 and "Nguyễn Văn An" not in r.text
