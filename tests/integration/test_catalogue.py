"""The checks of ``motcua procedures validate`` on edited copies of the shipped catalogue and BPMN files: BPMN keys,
portable BPMN, roles → departments, calendar overrides. The catalogue as data (dated rule versions, schema problems
reported with their path) is tested in tests/unit/test_catalogue.py."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dossiers.agencies import parse_structures
from motcua.app import load_data
from services.catalogue import BUILT_IN, validate
from tests.unit.test_catalogue import HOUSEHOLD, entry_data
from workflows import BPMN_DIR

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- validate: the catalogue and what it uses


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    catalogue, bpmn = tmp_path / "catalogue", tmp_path / "bpmn"
    shutil.copytree(BUILT_IN, catalogue)
    shutil.copytree(BPMN_DIR, bpmn)
    if (BUILT_IN.parent / "forms").is_dir():  # the entries' application forms ("form": "forms/<file>")
        shutil.copytree(BUILT_IN.parent / "forms", tmp_path / "forms")
    return catalogue, bpmn


def _validate(catalogue: Path, bpmn: Path, **kw: Any) -> list[str]:
    structures = parse_structures(load_data("agencies.json"))
    return [str(p) for p in validate([catalogue], [bpmn], structures, **kw)]


def test_the_shipped_catalogue_is_valid(dirs: tuple[Path, Path]) -> None:
    assert _validate(*dirs, calendar_overrides=load_data("calendar_overrides.json")) == []


def test_an_unknown_process_key_is_reported_with_its_file(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    data = entry_data(code="9.999999", process_key="no_such_process")
    (catalogue / "9.999999.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    [problem] = _validate(catalogue, bpmn)
    assert "9.999999.json: thủ tục 9.999999: chưa có tệp BPMN nào cho quy trình process_key 'no_such_process'" in (
        problem
    )
    assert "process_key 'no_such_process' has no BPMN file" in problem  # the English, after " / "


def test_broken_json_and_duplicate_codes(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    (catalogue / "broken.json").write_text('{"code": "1.0",', encoding="utf-8")
    (catalogue / "copy.json").write_text(json.dumps(HOUSEHOLD, ensure_ascii=False), encoding="utf-8")
    problems = _validate(catalogue, bpmn)
    assert any("broken.json: tệp không đúng cú pháp JSON ở dòng 1, cột 16 / not readable JSON" in p for p in problems)
    assert any("thủ tục 1.001612 đã được khai báo trong tệp" in p for p in problems), problems


def test_a_bpmn_that_breaks_the_portable_rules_is_reported(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    path = bpmn / "household_business_registration.bpmn"
    xml = path.read_text(encoding="utf-8")
    # a script task: runs on one engine only
    start = xml.index('<bpmn:serviceTask id="close"')
    end = xml.index(">", start)
    if xml[end - 1] != "/":  # the element has children (incoming, outgoing): its closing tag changes too
        closing = xml.index("</bpmn:serviceTask>", end)
        xml = xml[:closing] + "</bpmn:scriptTask>" + xml[closing + len("</bpmn:serviceTask>") :]
    broken = xml.replace('<bpmn:serviceTask id="close"', '<bpmn:scriptTask id="close"', 1).replace(
        'camunda:topic="dossier.close"', 'scriptFormat="python"', 1
    )
    path.write_text(broken, encoding="utf-8")
    problems = _validate(catalogue, bpmn)
    assert any("household_business_registration.bpmn" in p and "close" in p for p in problems), problems


def test_a_role_no_department_handles_is_reported(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    data = load_data("agencies.json")
    for structure in data["structures"]:
        for agency in structure["agencies"]:
            agency.get("role_departments", {}).pop("leader", None)
    structures = parse_structures(data)
    problems = [str(p) for p in validate([catalogue], [bpmn], structures)]
    assert any(
        "thủ tục 1.001612 (phiên bản" in p and "chưa giao phòng ban nào cho vai trò leader" in p for p in problems
    ), problems


def test_an_invalid_holiday_override_is_reported(dirs: tuple[Path, Path]) -> None:
    overrides = load_data("calendar_overrides.json")
    overrides["2026"]["holidays"]["2026-02-30"] = "Ngày không tồn tại"
    problems = _validate(*dirs, calendar_overrides=overrides)
    assert any("calendar_overrides.json" in p and "2026-02-30" in p for p in problems), problems


def _rewrite(catalogue: Path, code: str, **changes: Any) -> None:
    path = catalogue / f"{code}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_role_several_departments_share_must_name_its_kind_of_department(dirs: tuple[Path, Path]) -> None:
    """A commune maps three departments to specialists: a procedure that does not say which kind decides its
    steps would let any of them decide (the economic department certifying copies)."""
    catalogue, bpmn = dirs
    _rewrite(catalogue, "1.001193", departments=None)
    problems = _validate(catalogue, bpmn)
    assert problems, "a procedure without departments passed validation"
    assert all("1.001193" in p for p in problems), problems
    assert any(
        "1.001193.json" in p
        and "000.00.31.H99" in p
        and "giao nhiều phòng ban" in p
        and "cho vai trò specialist" in p
        and "'departments'" in p
        for p in problems
    ), problems


def test_department_kinds_an_agency_does_not_have_are_reported(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    _rewrite(catalogue, "2.000815", departments={"specialist": ["XYZ"]})
    problems = _validate(catalogue, bpmn)
    assert any(
        "2.000815" in p and "cơ quan 000.00.31.H99" in p and "không có phòng ban nào thuộc loại XYZ" in p
        for p in problems
    ), problems


def test_a_role_one_department_handles_needs_no_kind(dirs: tuple[Path, Path]) -> None:
    """Reception, leaders and clerks each map to one department of an agency: nothing to choose."""
    catalogue, bpmn = dirs
    _rewrite(catalogue, "1.001193", departments={"specialist": ["TPHT", "TP"]})
    assert _validate(catalogue, bpmn) == []


# ---------------------------------------------------------------- fees the province sets (fees.json)


def _fee_row(procedure: str, agencies: list[str], amount: int = 100000) -> dict[str, Any]:
    return {
        "procedure": procedure,
        "agencies": agencies,
        "amount_vnd": amount,
        "valid_from": "2025-07-01",
        "source": "Nghị quyết số 01/2025/NQ-HĐND (thử)",
    }


def test_the_shipped_fee_table_is_valid(dirs: tuple[Path, Path]) -> None:
    assert _validate(*dirs, fee_tables=[("motcua/data/fees.json", load_data("fees.json"))]) == []


def test_a_fee_row_the_catalogue_cannot_use_is_refused(dirs: tuple[Path, Path]) -> None:
    rows = [
        _fee_row("9.999999", ["*"]),  # no such procedure
        _fee_row("2.000815", ["*"]),  # the certified copy's fee is national (Thông tư 226/2016/TT-BTC)
        _fee_row("1.001612", ["000.99.99.H99"]),  # no such agency
        _fee_row("1.001612", ["*"]) | {"amount_vnd": "một trăm nghìn"},
    ]
    problems = "\n".join(_validate(*dirs, fee_tables=[("fees.json", {"fees": rows})]))
    assert "fees.json (9.999999, 2025-07-01): thủ tục 9.999999 không có trong danh mục thủ tục / " in problems
    assert "fees.json (2.000815, 2025-07-01): lệ phí của thủ tục 2.000815 do trung ương quy định" in problems
    assert "fees.json (1.001612, 2025-07-01): không có cơ quan mang mã 000.99.99.H99 / " in problems
    assert 'fees.json: $.fees[3].amount_vnd: phải là số đồng, số nguyên từ 0 trở lên, đang ghi "một trăm nghìn"' in (
        problems
    )
    assert "must be a whole number of đồng ≥ 0, got 'một trăm nghìn'" in problems  # the English, after " / "


def _province_fee_codes() -> set[str]:
    """The shipped procedures whose rule version in force today leaves the fee to the province (read from the
    files, as an administrator would): each must be warned about while the demo province has no resolution."""
    today = dt.date.today().isoformat()
    codes = set()
    for path in BUILT_IN.glob("*.json"):
        entry = json.loads(path.read_text(encoding="utf-8"))
        for version in entry["versions"]:
            in_force = version["valid_from"] <= today <= version.get("valid_to", "9999-12-31")
            if in_force and version.get("fee_set_by") == "province":
                codes.add(entry["code"])
    assert {"1.001612", "1.009994", "1.013978"} <= codes  # the first three, whose fee a resolution sets
    return codes


def test_procedures_validate_warns_about_unconfigured_province_fees(tmp_path: Path) -> None:
    """The demo province has no resolution: every commune offering such a procedure is warned about, the
    command still succeeds; the province's own fees.json (next to its catalogue entries) silences one of them."""
    from typer.testing import CliRunner

    from motcua.cli import app as cli

    own = tmp_path / "catalogue"
    own.mkdir()
    env = {"MOTCUA_VAR_DIR": str(tmp_path / "var"), "MOTCUA_CATALOGUE_DIR": str(own)}
    before = CliRunner().invoke(cli, ["procedures", "validate"], env=env)
    assert before.exit_code == 0, before.output
    warned = [line for line in before.output.splitlines() if ": cảnh báo: cơ quan " in line]
    assert {line.split(":")[0] for line in warned} == {f"thủ tục {code}" for code in _province_fee_codes()}
    communes = {
        a.code
        for s in parse_structures(load_data("agencies.json"))
        if s.valid_to is None
        for a in s.agencies
        if a.level.value == "commune"
    }
    assert {line.split("cơ quan ")[1].split(" ")[0] for line in warned} == communes
    assert "Danh mục hợp lệ." in before.output

    (own / "fees.json").write_text(json.dumps({"fees": [_fee_row("1.001612", ["*"])]}), encoding="utf-8")
    after = CliRunner().invoke(cli, ["procedures", "validate"], env=env)
    assert after.exit_code == 0, after.output
    assert "thủ tục 1.001612: cảnh báo" not in after.output
    assert "thủ tục 1.009994: cảnh báo" in after.output

    (own / "fees.json").write_text('{"fees": [', encoding="utf-8")
    broken = CliRunner().invoke(cli, ["procedures", "validate"], env=env)
    assert broken.exit_code == 1
    assert f"{own / 'fees.json'}: tệp không đúng cú pháp JSON ở dòng 1, cột 11 / not readable JSON" in broken.output
