"""The procedure designer's pages over HTTP (api/web/designer.py): only administrators get in; a new procedure's
draft is made, its parts saved through the page's forms (a JSON syntax error is refused in Vietnamese with its
line and column, the draft unchanged), the live form preview draws the desk's fields, the result preview is a PDF,
and a published procedure exported to its file imports back as a draft."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from motcua.settings import Settings
from tests.conftest import Api
from tests.e2e.test_web_audit import desk_client
from tests.web import csrf

ADMIN = "quantri.tinh"
CODE = "9.999001"
DESIGN = f"/quan-tri/thu-tuc/{CODE}/thiet-ke"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The designer publishes into the agency's catalogue directory."""
    return Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True, catalogue_dir=tmp_path / "catalogue")


@pytest.fixture
def admin(api: Api) -> Iterator[tuple[TestClient, str]]:
    client = desk_client(api, ADMIN)
    yield client, csrf(client, "/quan-tri/thu-tuc")


def new_draft(client: TestClient, token: str, code: str = CODE, start_from: str = "issued_document") -> Any:
    return client.post(
        "/quan-tri/thu-tuc/moi",
        data={"csrf_token": token, "code": code, "name": "Thủ tục thử nghiệm của tỉnh", "start_from": start_from},
    )


def test_only_administrators_reach_the_designer(api: Api) -> None:
    for other in ("lanhdao.xa1", "chuyenvien1.xa1", "tiepnhan.xa1", "thanhtra.tinh", "congdan1"):
        client = desk_client(api, other)
        assert client.get("/quan-tri/thu-tuc/1.001193/thiet-ke").status_code == 403, other
        assert client.get("/quan-tri/thu-tuc/1.001193/tai-ve").status_code == 403, other
        token = csrf(client, "/thu-tuc")
        refused = client.post("/quan-tri/thu-tuc/moi", data={"csrf_token": token, "code": CODE, "name": "X"})
        assert refused.status_code == 403, other
    assert desk_client(api).get("/quan-tri/thu-tuc/1.001193/thiet-ke").status_code == 303  # to the login page
    assert api.runtime.designer.summaries() is not None
    with pytest.raises(Exception):  # noqa: B017 — nothing was made by the refused requests
        api.runtime.designer.draft(CODE)


def test_the_catalogue_links_each_procedure_to_its_designer_and_its_file(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    page = client.get("/quan-tri/thu-tuc")
    assert page.status_code == 200
    assert 'href="/quan-tri/thu-tuc/1.001193/thiet-ke"' in page.text
    assert 'href="/quan-tri/thu-tuc/1.001193/tai-ve"' in page.text
    assert "Thêm thủ tục mới" in page.text and "Nhập thủ tục từ tệp" in page.text
    designer = client.get("/quan-tri/thu-tuc/1.001193/thiet-ke")
    assert designer.status_code == 200, designer.text
    for heading in ("Danh mục", "Quy trình", "Biểu mẫu", "Mẫu kết quả", "Kiểm tra và công bố"):
        assert heading in designer.text
    assert "Đăng ký khai sinh" in designer.text
    assert "/static/vendor/bpmn-js/bpmn-modeler.production.min.js" in designer.text
    palette = re.search(r'<script type="application/json" id="designer-palette">(.*?)</script>', designer.text, re.S)
    assert palette, "the modeler's choices are on the page"
    choices = json.loads(palette.group(1))
    assert ["specialist", "Chuyên viên"] in choices["roles"]
    assert ["result.prepare", "Lập văn bản kết quả theo mẫu, chuẩn bị chữ ký"] in choices["topics"]
    assert {k["label"] for k in choices["kinds"]} >= {"Lãnh đạo ký số", "Văn thư vào sổ", "Sự kiện kết thúc"}
    assert client.get("/quan-tri/thu-tuc/0.000000/thiet-ke").status_code == 404
    english = client.get("/quan-tri/thu-tuc/1.001193/thiet-ke?lang=en")
    assert english.status_code == 200 and "Procedure designer" in english.text and "Append the step" in english.text
    client.get("/quan-tri?lang=vi")


def test_a_new_draft_is_saved_part_by_part_and_bad_json_is_refused_in_vietnamese(
    api: Api, admin: tuple[TestClient, str]
) -> None:
    client, token = admin
    made = new_draft(client, token)
    assert made.status_code == 303, made.text
    assert made.headers["location"].startswith(DESIGN)
    page = client.get(made.headers["location"])
    assert "Đã tạo bản nháp thủ tục mới." in page.text and "Thủ tục thử nghiệm của tỉnh" in page.text
    listed = client.get("/quan-tri/thu-tuc").text.split('id="designer-drafts"')[1].split("</ul>")[0]
    assert f'href="{DESIGN}"' in listed and "chưa công bố" in listed  # found again from the catalogue
    assert new_draft(client, token).status_code == 409  # a draft with this code exists

    bad = client.post(f"{DESIGN}/bieu-mau", data={"csrf_token": token, "form_json": '{"type": "object",\n "x": }'})
    assert bad.status_code == 422
    assert "Biểu mẫu không phải JSON hợp lệ: dòng 2, cột 7 (thiếu giá trị)." in bad.text
    assert str(escape('"x": }')) in bad.text  # what was typed is given back to correct
    before = api.runtime.designer.draft(CODE).form

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "ho_ten": {"type": "string", "x-label": {"vi": "Họ và tên người đề nghị", "en": "Name"}, "x-order": 10},
            "ngay_sinh": {
                "type": "string",
                "format": "date",
                "x-widget": "date",
                "x-label": {"vi": "Ngày sinh", "en": "Born"},
            },
        },
        "required": ["ho_ten"],
        "additionalProperties": False,
    }
    text = json.dumps(schema, ensure_ascii=False)
    preview = client.post(f"{DESIGN}/xem-truoc-bieu-mau", data={"csrf_token": token, "form_json": text})
    assert preview.status_code == 200, preview.text
    assert 'id="f-ho_ten"' in preview.text and "Họ và tên người đề nghị" in preview.text
    assert 'pattern="' in preview.text.split('id="f-ngay_sinh"')[1][:400]  # the date widget
    broken = client.post(
        f"{DESIGN}/xem-truoc-bieu-mau", data={"csrf_token": token, "form_json": '{"type": "object", "properties": 3}'}
    )
    assert broken.status_code == 422 and "Biểu mẫu chưa hợp lệ" in broken.text
    # each problem in Vietnamese, with its JSON pointer; the English after " / " is not shown
    assert "form#/properties: không đúng quy tắc JSON Schema 2020-12: giá trị 3 không dùng được ở đây" in broken.text
    assert "not a valid JSON Schema" not in broken.text

    saved = client.post(f"{DESIGN}/bieu-mau", data={"csrf_token": token, "form_json": text})
    assert saved.status_code == 303, saved.text
    draft = api.runtime.designer.draft(CODE)
    assert draft.form is not None and draft.form != before and "ngay_sinh" in draft.form["properties"]

    entry = client.post(
        f"{DESIGN}/danh-muc",
        data={
            "csrf_token": token,
            "name": "Thủ tục thử nghiệm của tỉnh (sửa)",
            "field": "Hành chính tư pháp",
            "levels": "commune",
            "days": "5",
            "unit": "working_days",
            "fee_vnd": "20.000",
            "legal_source": "Quyết định thử nghiệm số 1/2026",
            "channels": ["counter", "online"],
            "paper.0.name": "Đơn đề nghị theo mẫu",
            "paper.0.form": "original",
            "paper.0.count": "1",
            "paper.0.mandatory": "1",
            "paper.1.name": "Giấy tờ bỏ đi",
            "paper.1.remove": "1",
        },
    )
    assert entry.status_code == 303, entry.text
    saved_entry = api.runtime.designer.draft(CODE).entry
    version = saved_entry["versions"][-1]
    assert saved_entry["name"] == "Thủ tục thử nghiệm của tỉnh (sửa)" and saved_entry["channels"] == [
        "counter",
        "online",
    ]
    assert version["time_limit"] == {"days": 5, "unit": "working_days"} and version["fee_vnd"] == 20000
    assert [p["name"] for p in version["papers"]] == ["Đơn đề nghị theo mẫu"]
    no_level = client.post(f"{DESIGN}/danh-muc", data={"csrf_token": token, "name": "X", "channels": "counter"})
    assert no_level.status_code == 422 and "Hãy chọn ít nhất một cấp thực hiện." in no_level.text

    empty = client.post(f"{DESIGN}/quy-trinh", data={"csrf_token": token, "bpmn_xml": " "})
    assert empty.status_code == 422 and "Quy trình trống, chưa lưu." in empty.text
    forged = client.post(f"{DESIGN}/bieu-mau", data={"csrf_token": "0" * 64, "form_json": text})
    assert forged.status_code == 403

    pdf = client.post(
        f"{DESIGN}/xem-truoc-ket-qua",
        data={"csrf_token": token, "template_json": json.dumps(draft.result_template, ensure_ascii=False)},
    )
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "frame-ancestors 'self'" in pdf.headers["content-security-policy"]
    bad_template = client.post(f"{DESIGN}/xem-truoc-ket-qua", data={"csrf_token": token, "template_json": "[1]"})
    assert bad_template.status_code == 422 and "phải là một đối tượng JSON" in bad_template.text
    assert "must be a JSON object" not in bad_template.text  # the problems list shows the Vietnamese part

    discarded = client.post(f"{DESIGN}/huy", data={"csrf_token": token})
    assert discarded.status_code == 303
    assert client.get(DESIGN).status_code == 404


def test_a_draft_is_checked_published_exported_and_imported_back(api: Api, admin: tuple[TestClient, str]) -> None:
    client, token = admin
    assert new_draft(client, token).status_code == 303
    problems = client.get(f"{DESIGN}?kiem_tra=1")
    assert problems.status_code == 200 and 'id="check-result"' in problems.text
    assert "Phát hiện" in problems.text  # the skeleton has no legal basis yet
    refused = client.post(f"{DESIGN}/cong-bo", data={"csrf_token": token, "valid_from": ""})
    assert refused.status_code == 422 and "legal_source" in refused.text  # the check's problems, listed
    bad_day = client.post(f"{DESIGN}/cong-bo", data={"csrf_token": token, "valid_from": "31/02/2026"})
    assert bad_day.status_code == 422 and "Ngày &#39;31/02/2026&#39; không hợp lệ" in bad_day.text

    entry = {
        "csrf_token": token,
        "name": "Thủ tục thử nghiệm của tỉnh",
        "field": "Hành chính tư pháp",
        "levels": "commune",
        "days": "3",
        "unit": "working_days",
        "fee_vnd": "0",
        "legal_source": "Quyết định thử nghiệm số 1/2026/QĐ-UBND",
        "channels": "counter",
        "specialist_departments": "TPHT",
        "paper.0.name": "Đơn đề nghị",
        "paper.0.form": "original",
        "paper.0.count": "1",
        "paper.0.mandatory": "1",
    }
    assert client.post(f"{DESIGN}/danh-muc", data=entry).status_code == 303
    checked = client.get(f"{DESIGN}?kiem_tra=1")
    assert "Không có lỗi: thủ tục sẵn sàng công bố." in checked.text, checked.text.split('id="check-result"')[1][:2000]
    day = api.runtime.clock.now().date()
    published = client.post(f"{DESIGN}/cong-bo", data={"csrf_token": token, "valid_from": f"{day:%d/%m/%Y}"})
    assert published.status_code == 303, published.text
    page = client.get(published.headers["location"])
    assert "Đã công bố thủ tục" in page.text and "Lịch sử công bố" in page.text
    assert f"<td>{day:%d/%m/%Y}</td>" in page.text  # the publication, dated
    assert api.runtime.shop.procedure(CODE).name == "Thủ tục thử nghiệm của tỉnh"
    assert f'href="/quan-tri/thu-tuc/{CODE}/thiet-ke"' in client.get("/quan-tri/thu-tuc").text

    exported = client.get(f"/quan-tri/thu-tuc/{CODE}/tai-ve")
    assert exported.status_code == 200, exported.text
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith("attachment") and "Th%E1%BB%A7%20t%E1%BB%A5c%209.999001" in disposition
    bundle = json.loads(exported.content)
    assert bundle["entry"]["code"] == CODE and "<bpmn:definitions" in json.dumps(bundle)

    imported = client.post(
        "/quan-tri/thu-tuc/nhap",
        data={"csrf_token": token},
        files={"bundle": ("Thủ tục 9.999001.json", exported.content, "application/json")},
    )
    assert imported.status_code == 303, imported.text
    assert imported.headers["location"].startswith(DESIGN)
    draft = api.runtime.designer.draft(CODE)
    assert draft.origin == "import" and draft.entry["name"] == "Thủ tục thử nghiệm của tỉnh"
    assert "Đã nhập thủ tục từ tệp thành bản nháp" in client.get(imported.headers["location"]).text

    foreign = client.post(
        "/quan-tri/thu-tuc/nhap",
        data={"csrf_token": token},
        files={"bundle": ("khac.json", b'{"format": "other/1"}', "application/json")},
    )
    assert foreign.status_code == 422 and 'role="alert"' in foreign.text
    garbage = client.post(
        "/quan-tri/thu-tuc/nhap", data={"csrf_token": token}, files={"bundle": ("x.json", b"\xff\xfe", "text/plain")}
    )
    assert garbage.status_code == 422 and "Tệp không phải tệp thủ tục" in garbage.text
    missing = client.post("/quan-tri/thu-tuc/nhap", data={"csrf_token": token})
    assert missing.status_code == 422 and "Hãy chọn tệp thủ tục." in missing.text


def _levels_offered(html: str) -> list[str]:
    fieldset = html.split("<legend>Cấp thực hiện</legend>")[1].split("</fieldset>")[0]
    return re.findall(r'name="levels" value="([a-z]+)"', fieldset)


def test_the_entry_offers_only_the_levels_that_exist_on_the_versions_first_day(
    api: Api, admin: tuple[TestClient, str]
) -> None:
    """Since 1 July 2025 local government has two tiers: a version starting then has no district level to choose;
    one starting before it (an imported version of the old rules) keeps it."""
    client, token = admin
    assert new_draft(client, token).status_code == 303
    page = client.get(DESIGN).text
    assert _levels_offered(page) == ["province", "commune"] and "Cấp huyện" not in page
    form = {"csrf_token": token, "name": "Thủ tục thử nghiệm", "levels": ["district"], "days": "5"}
    form |= {"unit": "working_days", "channels": "counter"}
    refused = client.post(f"{DESIGN}/danh-muc", data=form)
    assert refused.status_code == 422
    assert "Cấp huyện không có trong chính quyền địa phương vào ngày hiệu lực của phiên bản" in refused.text
    assert api.runtime.designer.draft(CODE).entry["versions"][-1]["levels"] == ["commune"]  # unchanged

    designer = api.runtime.designer
    entry = designer.draft(CODE).entry
    entry["versions"][-1]["valid_from"] = "2025-06-01"
    designer.save(CODE, ADMIN, entry=entry)
    assert _levels_offered(client.get(DESIGN).text) == ["province", "district", "commune"]
    assert client.post(f"{DESIGN}/danh-muc", data=form).status_code == 303
    assert designer.draft(CODE).entry["versions"][-1]["levels"] == ["district"]


def test_a_refused_save_comes_back_marked_unsaved(admin: tuple[TestClient, str]) -> None:
    """designer.js warns before the page is left while that text is not saved (data-unsaved marks it)."""
    client, token = admin
    assert new_draft(client, token).status_code == 303
    assert "data-unsaved" not in client.get(DESIGN).text
    bad = client.post(f"{DESIGN}/mau-ket-qua", data={"csrf_token": token, "template_json": "{"})
    assert bad.status_code == 422
    assert re.search(r'<form [^>]*id="template-form" data-unsaved>', bad.text), bad.text
    assert 'id="form-form">' in bad.text
