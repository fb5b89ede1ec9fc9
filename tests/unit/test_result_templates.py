"""Result templates as data (documents.result_templates): a bad template is refused naming the line and the field;
the shipped household business certificate template is valid; numbers, dates and signer blocks come out in the
Decree 30 form."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from documents.result_templates import (
    ResultTemplateError,
    check_template_text,
    fill,
    parse_template,
    value_lines,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "motcua" / "data" / "results" / "1.001612.json"


def minimal() -> dict[str, Any]:
    return {
        "name": "Giấy xác nhận",
        "header": {"parent_agency": "{agency_name}", "agency": "{department_name}"},
        "title": "GIẤY XÁC NHẬN",
        "paragraphs": [{"text": "Ông/Bà {applicant_name} có {subject}."}],
        "signers": [
            {
                "authority": "TM.",
                "body": "ỦY BAN NHÂN DÂN",
                "position": "CHỦ TỊCH",
                "name": "{signer_name}",
                "signs": "leader",
            }
        ],
        "register": {"series": "GXN"},
        "document": {"filename": "giay-xac-nhan", "sign_reason": "Phê duyệt cấp Giấy xác nhận"},
        "sample": {"subject": "nội dung"},
    }


def text_of(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def problems_of(data: dict[str, Any], form_fields: list[str] | None = None) -> list[tuple[int | None, str, str]]:
    template, problems = check_template_text(text_of(data), "t.json", form_fields)
    assert template is None
    return [(p.line, p.pointer, str(p)) for p in problems]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_the_shipped_household_business_template_is_valid() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    template, problems = check_template_text(text, SHIPPED.name)
    assert problems == []
    assert template is not None and template.series == "GCN-HKD"
    # the catalogue's form fields of 1.001612 are what its placeholders read
    fields = ["business_name", "business_address", "business_lines", "capital_vnd", "owner_birth_date"]
    fields += ["owner_address", "employees"]
    assert check_template_text(text, SHIPPED.name, fields)[1] == []


def test_a_minimal_template_is_valid() -> None:
    template = parse_template(text_of(minimal()))
    assert template.name == "Giấy xác nhận"
    assert template.sealed  # the seal is drawn over the leader's signature unless the template says otherwise


def test_an_unknown_placeholder_is_refused_with_its_line_and_field() -> None:
    data = minimal()
    data["paragraphs"].append({"text": "Địa chỉ: {adress}"})
    text = text_of(data)
    [(line, pointer, message)] = problems_of(data)
    assert pointer == "/paragraphs/1/text"
    assert line == line_of(text, "{adress}")
    assert message.startswith(f"dòng {line}, trường /paragraphs/1/text: {{adress}} không phải là dữ liệu của hồ sơ")
    assert message.split(" / ")[-1].startswith(f"line {line}, /paragraphs/1/text: unknown placeholder {{adress}}")


def test_a_missing_field_names_the_line_of_its_parent() -> None:
    data = minimal()
    del data["document"]["sign_reason"]
    [(line, pointer, message)] = problems_of(data)
    assert pointer == "/document/sign_reason"
    assert line == line_of(text_of(data), '"document"')
    assert message == (
        f"dòng {line}, trường /document/sign_reason: thiếu trường bắt buộc / "
        f"line {line}, /document/sign_reason: missing required field"
    )


def test_every_problem_is_reported_at_once() -> None:
    data = minimal()
    data["title"] = ""
    data["paragraphs"][0]["level"] = 3
    data["paragraphs"][0]["colour"] = "red"
    data["document"]["filename"] = "Giấy xác nhận.pdf"
    pointers = [pointer for _, pointer, _ in problems_of(data)]
    assert pointers == ["/title", "/paragraphs/0/colour", "/paragraphs/0/level", "/document/filename"]


def test_invalid_json_names_its_line() -> None:
    text = text_of(minimal()).replace('"title": "GIẤY XÁC NHẬN",', '"title": "GIẤY XÁC NHẬN"')
    template, [problem] = check_template_text(text, "t.json")
    assert template is None
    assert problem.line == line_of(text, '"paragraphs"')
    assert str(problem).startswith(f"dòng {problem.line}, trường /: JSON không hợp lệ ở cột")
    assert "invalid JSON" in problem.english()


def test_a_format_outside_the_list_and_broken_braces_are_refused() -> None:
    data = minimal()
    data["paragraphs"] = [{"text": "Vốn: {subject:.2f}"}, {"text": "Ngoặc {subject"}]
    problems = problems_of(data)
    assert [p for _, p, _ in problems] == ["/paragraphs/0/text", "/paragraphs/1/text"]
    assert "unknown format '.2f'" in problems[0][2]
    assert "broken braces" in problems[1][2]


def test_a_placeholder_must_be_a_field_of_the_procedures_form_when_it_is_known() -> None:
    [(_, pointer, message)] = problems_of(minimal(), form_fields=["other"])
    assert pointer == "/paragraphs/0/text"
    assert "{subject} is not a field of the procedure's form" in message
    assert check_template_text(text_of(minimal()), "t.json", ["subject"])[1] == []


def test_a_table_reads_a_repeating_field_of_the_sample() -> None:
    data = minimal()
    data["sample"]["members"] = [{"full_name": "Lê Văn B", "relation": "Con"}]
    data["paragraphs"].append(
        {
            "text": "Thành viên:",
            "table": {
                "rows": "members",
                "columns": [
                    {"header": "STT", "value": "{row_number}", "width_mm": 12},
                    {"header": "Họ tên", "value": "{full_name}"},
                ],
            },
        }
    )
    assert check_template_text(text_of(data), "t.json")[1] == []
    data["paragraphs"][-1]["table"]["columns"][1]["value"] = "{age}"
    data["paragraphs"][-1]["table"]["rows"] = "subject"  # not a list in the sample
    pointers = {pointer: message for _, pointer, message in problems_of(data)}
    assert "sample 'subject' must be a list" in pointers["/paragraphs/1/table/rows"]
    assert "unknown placeholder {age}" in pointers["/paragraphs/1/table/columns/1/value"]


@pytest.mark.parametrize(
    ("change", "pointer", "expected"),
    [
        ({"authority": "T.M."}, "/signers/0/authority", "must be one of"),
        ({"authority": "Q.", "body": None}, None, None),  # Q. CHỦ TỊCH: the position alone
        ({"authority": "Q."}, "/signers/0/body", "takes the position alone"),
        ({"authority": "KT.", "body": None}, "/signers/0/body", "missing required field"),
        ({"side": "left"}, "/signers/0/signs", "must be on the right"),
        ({"signs": "clerk"}, "/signers/0/signs", 'must be "leader"'),
    ],
)
def test_signer_blocks_follow_decree_30(change: dict[str, Any], pointer: str | None, expected: str | None) -> None:
    data = minimal()
    block = data["signers"][0]
    for key, value in change.items():
        if value is None:
            block.pop(key)
        else:
            block[key] = value
    if pointer is None:
        assert check_template_text(text_of(data), "t.json")[1] == []
        return
    found = {p: m for _, p, m in problems_of(data)}
    assert expected is not None and expected in found[pointer], found


def test_exactly_one_block_signs() -> None:
    data = minimal()
    data["signers"].append({"position": "NGƯỜI ĐỀ NGHỊ", "name": "{applicant_name}", "side": "left"})
    assert check_template_text(text_of(data), "t.json")[1] == []
    del data["signers"][0]["signs"]
    [(_, pointer, message)] = problems_of(data)
    assert pointer == "/signers" and 'exactly one block must have "signs": "leader"' in message


def test_refusal_is_bilingual_and_lists_every_problem() -> None:
    data = minimal()
    data["title"] = "{nope}"
    with pytest.raises(ResultTemplateError) as caught:
        parse_template(text_of(data), "t.json")
    assert "Mẫu văn bản kết quả t.json không hợp lệ" in caught.value.message_vi
    assert f"dòng {line_of(text_of(data), '{nope}')}, trường /title" in caught.value.message_vi
    assert caught.value.details["problems"] == [str(p) for p in caught.value.problems]


def test_value_lines_point_at_keys_and_items() -> None:
    text = '{\n  "a": [\n    1,\n    {"b": "x\\n"}\n  ],\n  "c/d": null\n}'
    lines = value_lines(text)
    assert lines["/a"] == 2 and lines["/a/0"] == 3 and lines["/a/1"] == 4 and lines["/a/1/b"] == 4
    assert lines["/c~1d"] == 6


def test_numbers_dates_and_signer_titles() -> None:
    data = minimal()
    data["signers"] = [
        {
            "authority": "KT.",
            "body": "CHỦ TỊCH",
            "position": "PHÓ CHỦ TỊCH",
            "name": "{signer_name}",
            "signs": "leader",
        },
        {"position": "NGƯỜI ĐỀ NGHỊ", "note": "(Ký, ghi rõ họ tên)", "name": "{applicant_name}", "side": "left"},
    ]
    template = parse_template(text_of(data))
    assert template.number(3, 2026) == "03/GXN"
    assert template.date_text("Hòa An", dt.date(2026, 3, 5)) == "Hòa An, ngày 05 tháng 3 năm 2026"
    leader, applicant = template.signers({"signer_name": "Phạm Văn Hùng", "applicant_name": "Lê Thị C"})
    assert leader.title == "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH" and leader.name == "Phạm Văn Hùng"
    assert applicant.title == "NGƯỜI ĐỀ NGHỊ" and applicant.note == "(Ký, ghi rõ họ tên)"
    assert applicant.center_x < leader.center_x  # the signing leader on the right


def test_values_are_escaped_and_formatted() -> None:
    values = {"name": "A <b>&</b>", "capital": 150000000, "born": "1985-04-12"}
    assert fill("<b>{name:upper}</b>", values) == "<b>A &lt;B&gt;&amp;&lt;/B&gt;</b>"
    assert fill("{capital:money} ({capital:words} đồng)", values) == "150.000.000 đồng (Một trăm năm mươi triệu đồng)"
    assert fill("{born:date}, {born:long_date}", values) == "12/4/1985, ngày 12 tháng 4 năm 1985"
    assert fill("{missing}", values) == ""
    with pytest.raises(ValueError, match="born"):
        fill("{born:money}", values)


CATALOGUE_ENTRY = ROOT / "motcua" / "data" / "procedures" / "1.001612.json"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"template": "1.001612.json"}, None),
        ({"renderer": "birth_certificate"}, None),
        (
            {"template": "a.json", "renderer": "birth_certificate"},
            '$.result: phải ghi một trong hai: {"template": "<tệp>.json"} hoặc {"renderer": "<tên>"} / must be',
        ),
        ({}, "$.result: phải ghi một trong hai"),
        ({"template": "../etc/passwd"}, '$.result.template: phải là tên tệp mẫu kết quả có đuôi .json, đang ghi "../'),
        (
            {"renderer": "no such"},
            '$.result.renderer: phải là tên một bộ tạo văn bản kết quả có sẵn, đang ghi "no such"',
        ),
        ({"template": "a.json", "seal": True}, "$.result.seal: mục này không có trong mẫu danh mục"),
    ],
)
def test_the_catalogue_entry_names_its_result(result: dict[str, Any], expected: str | None) -> None:
    from dossiers.catalogue import ResultSpec, check_entry

    data = json.loads(CATALOGUE_ENTRY.read_text(encoding="utf-8")) | {"result": result}
    entry, problems = check_entry(data)
    if expected is None:
        assert problems == [] and entry is not None
        assert entry.result == ResultSpec(result.get("template"), result.get("renderer"))
    else:
        assert entry is None and any(p.startswith(expected) for p in problems), problems
