"""Application forms from their JSON Schema (motcua/data/forms): a bad form posted to the API is answered with one
Vietnamese error per field in problem+json ``errors``; the reception desk's and the citizens' pages show the
schema's groups as fieldsets and each field with its widget, and the errors beside the fields."""

from __future__ import annotations

import json
import re
from typing import Any

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, Api, minimal_pdf
from tests.e2e.test_civil_status import MARRIAGE_DETAILS
from tests.e2e.test_web_desk import assert_labelled, dossier_count, signed_in_as
from tests.web import csrf

MARRIAGE = "1.000894"
BIRTH = "1.001193"
MARRIAGE_FILES = {"paper.to_khai": ("to-khai.pdf", minimal_pdf("to khai ket hon"), "application/pdf")}


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body["errors"]}


def legends(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r"<legend>(.*?)</legend>", html, re.S)]


def control(html: str, control_id: str) -> str:
    found = re.search(rf'<(input|textarea|select)\b[^>]*\bid="{re.escape(control_id)}"[^>]*>', html)
    assert found, control_id
    return found.group(0)


# ---------------------------------------------------------------- the JSON API


def test_a_bad_form_gets_one_vietnamese_error_per_field(api: Api) -> None:
    before = dossier_count(api)
    details = {k: v for k, v in HOUSEHOLD_DETAILS.items() if k != "business_name"}
    details |= {"capital_vnd": "nhiều", "owner_birth_date": "1985-02-30"}
    r = api.submit(details=json.dumps(details, ensure_ascii=False))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert field_errors(body) == {
        "details.business_name": "Cần nhập mục “Tên hộ kinh doanh”.",
        "details.capital_vnd": "Mục “Vốn kinh doanh (đồng)” phải là số nguyên từ 0 đến 1.000.000.000.000.000.",
        "details.owner_birth_date": "Mục “Ngày sinh chủ hộ kinh doanh” phải là một ngày từ 01/01/1800 đến 31/12/2199.",
    }
    assert body["title"].startswith("Tờ khai có 3 mục chưa hợp lệ:") and "Tên hộ kinh doanh" in body["title"]
    assert body["missing"] == ["business_name"]
    assert dossier_count(api) == before


def test_the_schema_refuses_a_bad_id_number_a_bad_choice_and_a_wrong_type(api: Api) -> None:
    details = MARRIAGE_DETAILS | {"husband_id_number": "12345", "wife_name": ["Lê Thị Hồng Nhung"]}
    r = api.submit(procedure=MARRIAGE, details=json.dumps(details, ensure_ascii=False), files=MARRIAGE_FILES)
    assert r.status_code == 422, r.text
    assert field_errors(r.json()) == {
        "details.husband_id_number": "Mục “Số định danh cá nhân bên nam” phải gồm đúng 12 chữ số.",
        "details.wife_name": "Mục “Họ, chữ đệm, tên bên nữ” phải là văn bản.",
    }
    good = api.submit(
        procedure=MARRIAGE, details=json.dumps(MARRIAGE_DETAILS, ensure_ascii=False), files=MARRIAGE_FILES
    )
    assert good.status_code == 201, good.text


def test_the_procedure_json_carries_the_form_schema(api: Api) -> None:
    body = api.get(f"/api/procedures/{HOUSEHOLD_BUSINESS}", "tiepnhan.xa1").json()
    schema = body["form_schema"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["capital_vnd"]["x-widget"] == "money"
    fields = {f["key"]: f for f in body["form_fields"]}
    assert fields["owner_address"] | {"name_en": ""} == {
        "key": "owner_address",
        "name": "Nơi cư trú của chủ hộ kinh doanh",
        "name_en": "",
        "required": True,
        "kind": "text",
        "widget": "address",
        "group": "owner",
    }


# ---------------------------------------------------------------- the pages


def test_the_desk_form_shows_the_groups_and_widgets(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    household = client.get(f"/mot-cua/tiep-nhan/{HOUSEHOLD_BUSINESS}").text
    assert_labelled(household)
    assert legends(household) == ["Người nộp hồ sơ", "Hộ kinh doanh", "Chủ hộ kinh doanh", "Bản quét giấy tờ"]
    assert control(household, "f-business_address").startswith("<textarea")  # an address
    assert 'inputmode="numeric"' in control(household, "f-capital_vnd")
    assert "Số tiền bằng đồng" in household  # the money hint
    assert 'pattern="' in control(household, "f-owner_birth_date")  # dd/mm/yyyy

    marriage = client.get(f"/mot-cua/tiep-nhan/{MARRIAGE}").text
    assert_labelled(marriage)
    assert [x for x in legends(marriage) if x.startswith("Bên")] == ["Bên nam", "Bên nữ"]
    id_input = control(marriage, "f-husband_id_number")
    assert 'pattern="[0-9]{12}"' in id_input and 'maxlength="12"' in id_input

    birth = client.get(f"/mot-cua/tiep-nhan/{BIRTH}").text
    assert_labelled(birth)
    assert control(birth, "f-child_gender").startswith("<select")
    assert '<option value="Nữ">Nữ</option>' in birth
    assert {"Người được khai sinh", "Người mẹ", "Người cha"} <= set(legends(birth))


def test_the_desk_shows_each_wrong_field_beside_its_input(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = dossier_count(api)
    path = f"/mot-cua/tiep-nhan/{MARRIAGE}"
    data = {
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": "001090012345",
        "csrf_token": csrf(client, path),
        **{f"f.{k}": v for k, v in MARRIAGE_DETAILS.items()},
        "f.husband_id_number": "0010900123",
        "f.wife_birth_date": "31/02/1994",
        "f.wife_residence": "Thôn Tây\nxã Phú Mỹ",  # an address typed on two lines is one line
    }
    r = client.post(path, data=data, files=MARRIAGE_FILES)
    assert r.status_code == 422
    assert dossier_count(api) == before
    for control_id, message in {
        "f-husband_id_number": "Mục “Số định danh cá nhân bên nam” phải gồm đúng 12 chữ số.",
        "f-wife_birth_date": "Mục “Ngày, tháng, năm sinh bên nữ” phải là một ngày",
    }.items():
        tag = control(r.text, control_id)
        assert 'aria-invalid="true"' in tag and f"{control_id}-error" in tag
        error = re.search(rf'<p class="field-error" id="{control_id}-error">([^<]*)</p>', r.text)
        assert error and error.group(1).startswith(message), control_id
    assert "f-wife_residence-error" not in r.text
    # the summary at the top lists them in the form's order
    assert r.text.index('href="#f-husband_id_number"') < r.text.index('href="#f-wife_birth_date"')


def test_the_citizens_page_shows_the_same_groups(api: Api) -> None:
    page = signed_in_as(api, "congdan1").get("/cong-dan/nop-ho-so", params={"thu_tuc": HOUSEHOLD_BUSINESS}).text
    assert_labelled(page)
    assert {"Hộ kinh doanh", "Chủ hộ kinh doanh"} <= set(legends(page))
    assert control(page, "f-owner_address").startswith("<textarea")


def test_the_official_reads_the_form_in_its_order_with_years_as_years(api: Api) -> None:
    rt = api.runtime  # the commune's civil status officer (department Tư pháp - Hộ tịch)
    rt.accounts.add(
        "hotich.xa1", DEMO_PASSWORD, "Đinh Thị Thu", Role.SPECIALIST, COMMUNE, f"{COMMUNE}-TPHT", rt.clock.now()
    )
    details = {
        "mother_name": "Trần Thị Hoa",
        "mother_birth_year": 1992,
        "child_name": "Nguyễn Minh Khôi",
        "child_birth_date": "2026-02-15",
        "child_gender": "Nam",
        "birth_place": "Trạm y tế xã Hòa An, tỉnh Demo",
    }
    files = {
        "paper.to_khai": ("to-khai.pdf", minimal_pdf("to khai khai sinh"), "application/pdf"),
        "paper.giay_chung_sinh": ("giay-chung-sinh.pdf", minimal_pdf("giay chung sinh"), "application/pdf"),
    }
    r = api.submit(procedure=BIRTH, details=json.dumps(details, ensure_ascii=False), files=files)
    assert r.status_code == 201, r.text
    api.work()
    task = api.task_for("hotich.xa1", r.json()["code"])
    html = signed_in_as(api, "hotich.xa1").get(f"/can-bo/nhiem-vu/{task['id']}").text
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Năm sinh của người mẹ 1992" in text and "1.992" not in text
    assert text.index("Họ, chữ đệm, tên người được khai sinh") < text.index("Họ, chữ đệm, tên người mẹ")
