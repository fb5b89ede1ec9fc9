"""``motcua procedures validate`` on an edited copy of the catalogue's application forms (forms/<code>.json): a
schema that is not valid JSON Schema 2020-12, a malformed hint or a missing file is refused naming the entry, the
form's file and the JSON pointer; the catalogue as read (and stored) carries its form inline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dossiers.agencies import parse_structures
from motcua.app import load_data
from services.catalogue import BUILT_IN, read_catalogue, validate
from workflows import BPMN_DIR

pytestmark = pytest.mark.integration


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    shutil.copytree(BUILT_IN, tmp_path / "procedures")
    shutil.copytree(BUILT_IN.parent / "forms", tmp_path / "forms")
    return tmp_path / "procedures"


def _validate(catalogue: Path) -> list[str]:
    structures = parse_structures(load_data("agencies.json"))
    return [str(p) for p in validate([catalogue], [BPMN_DIR], structures)]


def _edit_form(catalogue: Path, name: str, edit: dict[str, object]) -> None:
    path = catalogue.parent / "forms" / name
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["capital_vnd"].update(edit)
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")


def test_the_catalogue_as_read_carries_each_form_inline(catalogue: Path) -> None:
    rows, problems = read_catalogue([catalogue])
    assert problems == []
    household = next((data, entry) for _, data, entry in rows if entry.code == "1.001612")
    data, entry = household
    assert data["form"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"  # what the database stores
    assert entry.form is not None and entry.form.source == "forms/1.001612.json"
    assert "capital_vnd" in {f.key for f in entry.form_fields}


def test_an_invalid_schema_is_refused_naming_the_entry_file_and_pointer(catalogue: Path) -> None:
    _edit_form(catalogue, "1.001612.json", {"minimum": "zero"})
    problems = _validate(catalogue)
    assert any(
        "1.001612.json: $.form: forms/1.001612.json#/properties/capital_vnd/minimum: không đúng quy tắc JSON Schema "
        '2020-12: giá trị "zero" không dùng được ở đây' in p
        for p in problems
    ), problems


def test_a_malformed_hint_is_refused_naming_the_pointer(catalogue: Path) -> None:
    _edit_form(catalogue, "1.001612.json", {"x-widget": "date", "x-label": {"vi": "Vốn"}})
    problems = _validate(catalogue)
    assert any(
        'forms/1.001612.json#/properties/capital_vnd/x-widget: kiểu ô nhập "date" không dùng được cho trường loại '
        "integer / 'date' does not fit a field of kind integer" in p
        for p in problems
    ), problems
    assert any(
        'forms/1.001612.json#/properties/capital_vnd/x-label: phải ghi {"vi": "…", "en": "…"} với hai nội dung' in p
        for p in problems
    ), problems


def test_a_missing_form_file_or_the_old_form_fields_are_refused(catalogue: Path) -> None:
    marriage = json.loads((catalogue / "1.000894.json").read_text(encoding="utf-8"))
    (catalogue / "1.000894.json").write_text(json.dumps(marriage | {"form": "forms/9.999999.json"}), encoding="utf-8")
    copy = json.loads((catalogue / "2.000815.json").read_text(encoding="utf-8"))
    copy["form_fields"] = [{"key": "x", "name": "X"}]
    (catalogue / "2.000815.json").write_text(json.dumps(copy, ensure_ascii=False), encoding="utf-8")
    problems = _validate(catalogue)
    assert any("1.000894.json: $.form: forms/9.999999.json: không có tệp " in p for p in problems), problems
    assert any(
        '2.000815.json: $.form_fields: không dùng nữa, thay bằng tệp biểu mẫu: "form": "forms/<mã thủ tục>.json"' in p
        for p in problems
    ), problems


def test_an_agency_entry_uses_its_own_form_or_a_shipped_one(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    entry = json.loads((BUILT_IN / "1.001612.json").read_text(encoding="utf-8"))
    (own / "9.000001.json").write_text(json.dumps(entry | {"code": "9.000001"}), encoding="utf-8")
    (own / "9.000002.json").write_text(
        json.dumps(entry | {"code": "9.000002", "form": "forms/9.000002.json"}), encoding="utf-8"
    )
    (tmp_path / "forms").mkdir()
    schema = json.loads((BUILT_IN.parent / "forms" / "2.000815.json").read_text(encoding="utf-8"))
    (tmp_path / "forms" / "9.000002.json").write_text(json.dumps(schema), encoding="utf-8")
    rows, problems = read_catalogue([own])
    assert problems == []
    forms = {entry.code: [f.key for f in entry.form_fields] for _, _, entry in rows}
    assert "capital_vnd" in forms["9.000001"]  # the shipped form of 1.001612
    assert forms["9.000002"] == ["document_title"]  # its own


# ---------------------------------------------------------------- repeating rows on the pages

ROWS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["members"],
    "properties": {
        "members": {
            "type": "array",
            "minItems": 1,
            "x-label": {"vi": "Thành viên hộ gia đình", "en": "Household members"},
            "x-widget": "rows",
            "x-rows": 2,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["full_name"],
                "properties": {
                    "full_name": {"type": "string", "minLength": 1, "x-label": {"vi": "Họ tên", "en": "Name"}},
                    "born": {"type": "string", "format": "date", "x-label": {"vi": "Ngày sinh", "en": "Born"}},
                    "share": {"type": "integer", "maximum": 100, "x-label": {"vi": "Tỷ lệ góp", "en": "Share"}},
                },
            },
        }
    },
}


def _rows_procedure() -> object:
    from dossiers.form_schema import parse
    from dossiers.model import Procedure

    form, problems = parse(ROWS_SCHEMA, "forms/rows.json")
    assert form is not None, problems
    return Procedure("9.999999", "Thử", "generic", 1, True, (), (), form_fields=form.fields, form=form)


def _render(proc: object, values: dict[str, str], errors: dict[str, tuple[str, str]]) -> str:
    from api.web.desk import form_helpers
    from api.web.render import environment

    template = environment.from_string(
        '{% import "_form_field.html" as ff with context %}'
        "{% for g in p.form.groups %}<legend>{{ g.name }}</legend>{% for f in g.fields %}"
        "{{ ff.form_field(f) }}{% endfor %}{% endfor %}"
    )
    return template.render(p=proc, values=values, errors=errors, t=lambda vi, en=None: vi, **form_helpers())


def test_rows_render_as_a_table_of_empty_rows_and_are_read_back() -> None:
    from api.web.desk import Application, read_details

    proc = _rows_procedure()
    html = _render(proc, {}, {})
    assert html.count('<tr><th scope="row">') == 2  # x-rows: two empty rows
    assert 'name="f.members.1.share"' in html and 'aria-label="Tỷ lệ góp, dòng 2"' in html
    assert "<legend>Thành viên hộ gia đình" in html

    typed = {
        "f.members.0.full_name": "Nguyễn Văn An",
        "f.members.0.born": "05/01/1990",
        "f.members.0.share": "60",
        "f.members.1.full_name": "",
        "f.members.2.full_name": "Trần Thị Hoa",
        "f.members.2.share": "40",
    }
    app = Application()
    read_details(proc, typed, app)  # type: ignore[arg-type]
    assert app.errors == {}
    assert app.details == {
        "members": [
            {"full_name": "Nguyễn Văn An", "born": "1990-01-05", "share": 60},
            {"full_name": "Trần Thị Hoa", "share": 40},
        ]
    }
    # after an error the rows typed stay (the blank one dropped, so the row named is the row shown), one more empty
    app = Application()
    read_details(proc, typed | {"f.members.2.share": "140"}, app)  # type: ignore[arg-type]
    assert app.errors["f-members"][0] == "Mục “Thành viên hộ gia đình”, dòng 2, cột “Tỷ lệ góp” không được lớn hơn 100."
    again = _render(proc, app.values, app.errors)
    assert again.count('<tr><th scope="row">') == 3
    assert 'name="f.members.1.full_name" aria-label="Họ tên, dòng 2" value="Trần Thị Hoa"' in again
    assert 'id="f-members-error"' in again
