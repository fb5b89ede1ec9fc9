"""Application forms as JSON Schema 2020-12 (``dossiers.form_schema``): the shipped forms parse with the keys the
receipts and results read, a bad schema or hint is refused naming the file and the JSON pointer, and each kind of
validation error becomes a Vietnamese message naming the field's label."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from dossiers.errors import InvalidInput
from dossiers.form_schema import MAX_ROWS, SCHEMA_URI, field_errors, parse
from dossiers.model import FormSchema, Procedure
from dossiers.problems import english, vietnamese
from dossiers.text_rules import LIST_ITEMS_MAX, check_form
from services.catalogue import BUILT_IN

FORMS = BUILT_IN.parent / "forms"

SCHEMA: dict[str, Any] = {
    "$schema": SCHEMA_URI,
    "type": "object",
    "x-groups": {"owner": {"vi": "Chủ hộ", "en": "Owner"}, "work": {"vi": "Công việc", "en": "Work"}},
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 20,
            "x-label": {"vi": "Họ và tên", "en": "Name"},
            "x-group": "owner",
            "x-order": 2,
        },
        "id_number": {
            "type": "string",
            "pattern": "^[0-9]{12}$",
            "x-label": {"vi": "Số định danh cá nhân", "en": "ID number"},
            "x-widget": "id-number",
            "x-group": "owner",
            "x-order": 1,
        },
        "code": {
            "type": "string",
            "minLength": 3,
            "pattern": "^[A-Z]+$",
            "x-label": {"vi": "Mã cơ sở", "en": "Code"},
            "x-hint": {"vi": "chữ in hoa", "en": "capital letters"},
        },
        "born": {"type": "string", "format": "date", "x-label": {"vi": "Ngày sinh", "en": "Born"}, "x-widget": "date"},
        "capital": {
            "type": "integer",
            "minimum": 1000,
            "maximum": 10**9,
            "x-label": {"vi": "Vốn", "en": "Capital"},
            "x-widget": "money",
        },
        "workers": {"type": "integer", "exclusiveMinimum": 0, "x-label": {"vi": "Số lao động", "en": "Workers"}},
        "sex": {"type": "string", "enum": ["Nam", "Nữ"], "x-label": {"vi": "Giới tính", "en": "Sex"}},
        "lines": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 2,
            "maxItems": 3,
            "x-label": {"vi": "Ngành nghề", "en": "Lines"},
            "x-group": "work",
        },
        "members": {
            "type": "array",
            "x-label": {"vi": "Thành viên", "en": "Members"},
            "x-widget": "rows",
            "x-rows": 4,
            "x-group": "work",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["full_name"],
                "properties": {
                    "full_name": {"type": "string", "minLength": 1, "x-label": {"vi": "Họ tên", "en": "Name"}},
                    "share": {"type": "integer", "maximum": 100, "x-label": {"vi": "Tỷ lệ góp", "en": "Share"}},
                },
            },
        },
    },
    "required": ["name", "id_number"],
    "additionalProperties": False,
}
GOOD = {"name": "An", "id_number": "001090012345"}


def form(schema: Any = None) -> FormSchema:
    parsed, problems = parse(copy.deepcopy(schema or SCHEMA), "forms/test.json")
    assert problems == [] and parsed is not None
    return parsed


def problems_of(change: dict[str, Any], at: str = "") -> list[str]:
    """The problems of SCHEMA with ``change`` merged into the node at ``at`` (``properties/name``)."""
    schema = copy.deepcopy(SCHEMA)
    node = schema
    for part in filter(None, at.split("/")):
        node = node[part]
    for key, value in change.items():
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    parsed, problems = parse(schema, "forms/test.json")
    assert parsed is None
    return problems


# ---------------------------------------------------------------- the shipped forms


def built_in_forms() -> list[str]:
    return sorted(p.name for p in FORMS.glob("*.json"))


@pytest.mark.parametrize("name", built_in_forms())
def test_every_shipped_form_is_a_valid_schema_with_labelled_fields(name: str) -> None:
    parsed, problems = parse(json.loads((FORMS / name).read_text(encoding="utf-8")), f"forms/{name}")
    assert problems == []
    assert parsed is not None and parsed.fields
    assert all(f.name and f.name_en for f in parsed.fields)
    assert [f for g in parsed.groups for f in g.fields] == list(parsed.fields)


def test_every_catalogue_entry_names_its_form_and_the_forms_keep_the_details_keys() -> None:
    entries = [json.loads(p.read_text(encoding="utf-8")) for p in BUILT_IN.glob("*.json")]
    assert all(e.get("form") == f"forms/{e['code']}.json" for e in entries if "form" in e)  # named by its code
    assert {f"forms/{n}" for n in built_in_forms()} <= {e.get("form") for e in entries}
    household = form(json.loads((FORMS / "1.001612.json").read_text(encoding="utf-8")))
    # the keys the receipt, the certificate and the statistics read (services.paperwork, documents.forms)
    assert [f.key for f in household.fields] == [
        "business_name",
        "business_address",
        "business_lines",
        "capital_vnd",
        "employees",
        "owner_birth_date",
        "owner_address",
    ]  # in the order shown: the business's group, then the owner's
    kinds = {f.key: (f.kind, f.widget, f.group) for f in household.fields}
    assert kinds["capital_vnd"] == ("integer", "money", "business")
    assert kinds["owner_birth_date"] == ("date", "date", "owner")
    assert kinds["business_lines"] == ("list", "textarea", "business")
    assert [(g.name, g.name_en) for g in household.groups] == [
        ("Hộ kinh doanh", "The household business"),
        ("Chủ hộ kinh doanh", "The owner"),
    ]


def test_fields_follow_x_order_and_groups_their_first_field() -> None:
    parsed = form()
    assert [f.key for f in parsed.fields][:3] == ["id_number", "name", "code"]  # x-order inside the group
    assert [g.key for g in parsed.groups] == ["owner", "", "work"]
    assert parsed.groups[1].name == "Tờ khai"  # fields without a group
    members = next(f for f in parsed.fields if f.key == "members")
    assert (members.kind, members.rows, [c.key for c in members.columns]) == ("rows", 4, ["full_name", "share"])
    assert MAX_ROWS == LIST_ITEMS_MAX


# ---------------------------------------------------------------- schema and hint problems


@pytest.mark.parametrize(
    ("at", "change", "expected"),
    [
        (
            "",
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            'forms/test.json#/$schema: phải ghi "https://json-schema.org/draft/2020-12/schema"',
        ),
        (
            "properties/name",
            {"minLength": -1},
            "forms/test.json#/properties/name/minLength: không đúng quy tắc JSON Schema 2020-12: giá trị -1",
        ),
        (
            "properties/name",
            {"type": "strin"},
            'forms/test.json#/properties/name/type: không đúng quy tắc JSON Schema 2020-12: giá trị "strin"',
        ),
        ("", {"required": "name"}, "forms/test.json#/required: không đúng quy tắc JSON Schema 2020-12"),
        (
            "properties/name",
            {"x-label": None},
            'forms/test.json#/properties/name/x-label: thiếu nhãn tiếng Việt và tiếng Anh, hãy ghi {"vi": "…", "en"',
        ),
        (
            "properties/name",
            {"x-label": {"vi": "Tên"}},
            'forms/test.json#/properties/name/x-label: phải ghi {"vi": "…", "en": "…"} với hai nội dung',
        ),
        ("properties/name", {"x-label": {"vi": "", "en": "Name"}}, '#/properties/name/x-label: phải ghi {"vi"'),
        (
            "properties/name",
            {"x-lable": {"vi": "a", "en": "b"}},
            "#/properties/name/x-lable: chỉ dẫn hiển thị không có trong danh sách dùng được (x-group, x-hint,",
        ),
        (
            "properties/name",
            {"x-widget": "slider"},
            '#/properties/name/x-widget: kiểu ô nhập "slider" không có; chọn một trong: date, id-number, money,',
        ),
        (
            "properties/name",
            {"x-widget": "money"},
            '#/properties/name/x-widget: kiểu ô nhập "money" không dùng được cho trường loại text',
        ),
        (
            "properties/name",
            {"x-group": "nowhere"},
            '#/properties/name/x-group: nhóm "nowhere" chưa được khai báo trong /x-groups (đã khai báo: owner, work)',
        ),
        ("properties/name", {"x-order": "1"}, '#/properties/name/x-order: phải là một số nguyên, đang ghi "1"'),
        (
            "properties/members",
            {"x-rows": 99},
            "#/properties/members/x-rows: phải là một số nguyên từ 1 đến 30, đang ghi 99",
        ),
        (
            "properties/name",
            {"type": "boolean"},
            "#/properties/name/type: kiểu dữ liệu phải là một kiểu trang tờ khai hiển thị được",
        ),
        (
            "properties/lines",
            {"items": {"type": "integer"}},
            '#/properties/lines/items: danh sách chỉ chứa văn bản ({"type": "string"}) hoặc các dòng',
        ),
        (
            "",
            {"additionalProperties": None},
            "forms/test.json#/additionalProperties: phải ghi false: tờ khai chỉ có các trường đã nêu",
        ),
        ("", {"type": "array"}, 'forms/test.json#/type: tờ khai phải là một đối tượng, hãy ghi "type": "object"'),
        (
            "",
            {"required": ["name", "nobody"]},
            'forms/test.json#/required/1: trường bắt buộc "nobody" không có trong properties',
        ),
        ("", {"x-groups": {"owner": "Chủ hộ"}}, 'forms/test.json#/x-groups/owner: phải ghi {"vi": "…", "en": "…"}'),
        (
            "",
            {"properties": {"Ten": {"type": "string", "x-label": {"vi": "T", "en": "N"}}}},
            "#/properties/Ten: tên trường chỉ gồm chữ thường không dấu a-z, chữ số 0-9 và dấu _",
        ),
    ],
)
def test_a_bad_schema_or_hint_is_refused_naming_the_file_and_pointer(
    at: str, change: dict[str, Any], expected: str
) -> None:
    """Each problem names the file and the JSON pointer, says what is wrong in Vietnamese, then in English."""
    problems = problems_of(change, at)
    assert any(expected in vietnamese(p) and vietnamese(p) != p for p in problems), problems


def test_the_english_follows_the_vietnamese() -> None:
    (problem,) = problems_of({"x-order": "1"}, "properties/name")
    assert vietnamese(problem) == 'forms/test.json#/properties/name/x-order: phải là một số nguyên, đang ghi "1"'
    assert english(problem) == "must be a whole number, got '1'"


def test_every_problem_is_reported_at_once() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["name"]["x-widget"] = "slider"
    schema["properties"]["capital"]["x-label"] = {"vi": "Vốn"}
    schema["properties"]["members"]["items"]["properties"]["share"].pop("x-label")
    _, problems = parse(schema, "forms/test.json")
    assert [p.split(":")[0] for p in problems] == [
        "forms/test.json#/properties/name/x-widget",
        "forms/test.json#/properties/capital/x-label",
        "forms/test.json#/properties/members/items/properties/share/x-label",
    ]


# ---------------------------------------------------------------- errors per field, in Vietnamese


@pytest.mark.parametrize(
    ("details", "where", "kind", "message"),
    [
        ({"id_number": "001090012345"}, "name", "required", "Cần nhập mục “Họ và tên”."),
        (GOOD | {"name": 42}, "name", "type", "Mục “Họ và tên” phải là văn bản."),
        (GOOD | {"capital": "nhiều"}, "capital", "type", "Mục “Vốn” phải là số nguyên."),
        (GOOD | {"name": ""}, "name", "minLength", "Cần nhập mục “Họ và tên”."),
        (GOOD | {"code": "AB"}, "code", "minLength", "Mục “Mã cơ sở” phải có ít nhất 3 ký tự."),
        (GOOD | {"name": "x" * 21}, "name", "maxLength", "Mục “Họ và tên” không được dài quá 20 ký tự."),
        (GOOD | {"id_number": "12345"}, "id_number", "pattern", "Mục “Số định danh cá nhân” phải gồm đúng 12 chữ số."),
        (GOOD | {"code": "abc"}, "code", "pattern", "Mục “Mã cơ sở” không đúng định dạng (chữ in hoa)."),
        (
            GOOD | {"born": "1990-02-30"},
            "born",
            "format",
            "Mục “Ngày sinh” phải là một ngày có thật, theo dạng ngày/tháng/năm.",
        ),
        (GOOD | {"capital": 10}, "capital", "minimum", "Mục “Vốn” không được nhỏ hơn 1000."),
        (GOOD | {"capital": 10**10}, "capital", "maximum", "Mục “Vốn” không được lớn hơn 1.000.000.000."),
        (GOOD | {"workers": 0}, "workers", "exclusiveMinimum", "Mục “Số lao động” phải lớn hơn 0."),
        (GOOD | {"sex": "nam"}, "sex", "enum", "Mục “Giới tính” phải là một trong các giá trị: Nam, Nữ."),
        (GOOD | {"lines": ["a"]}, "lines", "minItems", "Mục “Ngành nghề” cần ít nhất 2 dòng."),
        (GOOD | {"lines": ["a"] * 4}, "lines", "maxItems", "Mục “Ngành nghề” có quá nhiều dòng (tối đa 3)."),
        (GOOD | {"lines": ["a", 5]}, "lines/1", "type", "Mục “Ngành nghề”, dòng 2 phải là văn bản."),
        (
            GOOD | {"members": [{"full_name": "An"}, {"share": 5}]},
            "members/1/full_name",
            "required",
            "Cần nhập mục “Thành viên”, dòng 2, cột “Họ tên”.",
        ),
        (
            GOOD | {"members": [{"full_name": "An", "share": 101}]},
            "members/0/share",
            "maximum",
            "Mục “Thành viên”, dòng 1, cột “Tỷ lệ góp” không được lớn hơn 100.",
        ),
        (GOOD | {"extra": 1}, "extra", "additionalProperties", "Tờ khai có mục không thuộc thủ tục này: extra."),
    ],
)
def test_each_error_kind_is_a_vietnamese_message_naming_the_field(
    details: dict[str, Any], where: str, kind: str, message: str
) -> None:
    [error] = field_errors(form(), details)
    assert (error.where, error.kind, error.message_vi) == (where, kind, message)
    assert error.message_en and error.as_json()["field"] == f"details.{where}"


def test_a_good_form_has_no_errors_and_every_wrong_field_is_named_once() -> None:
    assert field_errors(form(), GOOD | {"born": "1990-02-28", "members": [{"full_name": "An", "share": 5}]}) == []
    errors = field_errors(form(), {"name": "", "capital": "x", "code": "ab"})
    assert [e.where for e in errors] == ["id_number", "name", "code", "capital"]  # in the order of the fields


# ---------------------------------------------------------------- the bounds, then the schema


def procedure(schema: Any = None) -> Procedure:
    parsed = form(schema)
    return Procedure("9.999999", "Thử", "generic", 1, True, (), (), form_fields=parsed.fields, form=parsed)


def test_the_bounds_apply_before_the_schema() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_form(procedure(), GOOD | {"capital": 10**400})
    assert caught.value.message_vi.startswith("Mục “Vốn” phải là số nguyên từ 0 đến")  # text_rules, not the schema
    assert caught.value.details["errors"][0]["kind"] == "bounds"
    with pytest.raises(InvalidInput) as caught:
        check_form(procedure(), GOOD | {"capital": 10})
    assert caught.value.message_vi == "Mục “Vốn” không được nhỏ hơn 1000."


def test_check_form_names_every_wrong_field_with_its_vietnamese_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_form(procedure(), {"id_number": "123", "born": "30/02/1990", "sex": "khác"})
    error = caught.value
    assert error.message_vi.startswith("Tờ khai có 4 mục chưa hợp lệ:")
    assert {e["key"]: e["message"] for e in error.details["errors"]} == {
        "id_number": "Mục “Số định danh cá nhân” phải gồm đúng 12 chữ số.",
        "name": "Cần nhập mục “Họ và tên”.",
        "born": "Mục “Ngày sinh” phải là một ngày từ 01/01/1800 đến 31/12/2199.",
        "sex": "Mục “Giới tính” phải là một trong các giá trị: Nam, Nữ.",
    }
    assert error.details["missing"] == ["name"]
    assert error.details["field"] == "details.id_number"


def test_rows_are_bounded_and_blank_rows_dropped() -> None:
    proc = procedure()
    kept = check_form(proc, GOOD | {"members": [{"full_name": " An ", "share": "5"}, {"full_name": ""}, {}]})
    assert kept["members"] == [{"full_name": "An", "share": 5}]
    with pytest.raises(InvalidInput) as caught:
        check_form(proc, GOOD | {"members": [{"full_name": "An"}] * (LIST_ITEMS_MAX + 1)})
    assert caught.value.details["limit"] == LIST_ITEMS_MAX
    with pytest.raises(InvalidInput) as caught:
        check_form(proc, GOOD | {"members": [{"full_name": "An", "age": 3}]})
    assert "cột không thuộc bảng: age" in caught.value.message_vi
