"""The procedure catalogue as data: dated rule versions, every schema problem reported with its path, and the
checks of ``motcua procedures validate`` (BPMN keys, portable BPMN, roles → departments, calendar overrides)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dossiers.agencies import parse_structures
from dossiers.catalogue import CatalogueError, TimeUnit, check_entry, parse_entry
from dossiers.errors import InvalidInput
from dossiers.model import AgencyLevel
from motcua.app import load_data
from motcua.catalogue import BUILT_IN, read_catalogue, validate
from workflows import BPMN_DIR

HOUSEHOLD = json.loads((BUILT_IN / "2.000575.json").read_text(encoding="utf-8"))


def entry_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HOUSEHOLD)
    data.update(changes)
    return data


def test_every_built_in_entry_parses_and_has_a_version_in_force_today() -> None:
    rows, problems = read_catalogue([BUILT_IN])
    assert problems == []
    assert len(rows) >= 2
    for _, _, entry in rows:
        assert entry.version_at(dt.date(2026, 3, 2)) is not None, entry.code


def test_the_version_in_force_depends_on_the_day() -> None:
    entry = parse_entry(HOUSEHOLD)
    before = entry.at(dt.date(2025, 6, 30))
    after = entry.at(dt.date(2025, 7, 1))
    assert before.levels == (AgencyLevel.DISTRICT,) and before.rule_version == "2021-04-04"
    assert after.levels == (AgencyLevel.COMMUNE,) and after.rule_version == "2025-07-01"
    assert entry.under("2021-04-04") == before  # a dossier keeps the version it recorded
    with pytest.raises(InvalidInput, match="no rule version in force"):
        entry.at(dt.date(2020, 1, 1))
    papers = {p.key: p for p in after.papers}
    assert papers["giay_de_nghi"].form == "original" and papers["giay_to_phap_ly"].form == "copy"
    assert papers["bien_ban_hop"].mandatory is False


def test_same_day_and_calendar_day_limits() -> None:
    data = entry_data()
    data["versions"] = [dict(HOUSEHOLD["versions"][1], time_limit={"days": 0, "unit": "same_day"})]
    same_day = parse_entry(data).at(dt.date(2026, 1, 5))
    assert same_day.time_limit_days == 0 and same_day.working_days
    data["versions"] = [dict(HOUSEHOLD["versions"][1], time_limit={"days": 15, "unit": "calendar_days"})]
    calendar = parse_entry(data)
    assert calendar.versions[0].time_unit is TimeUnit.CALENDAR_DAYS
    assert calendar.at(dt.date(2026, 1, 5)).working_days is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": ""}, "$.code: must be a non-empty text"),
        ({"online_level": "sometimes"}, "$.online_level: 'sometimes' is not one of full, partial"),
        ({"channels": ["fax"]}, "$.channels[0]: 'fax' is not one of counter, online, postal"),
        ({"colour": "red"}, "$.colour: unknown key"),
        ({"versions": []}, "$.versions: must list at least one rule version"),
    ],
)
def test_entry_problems_name_their_path(change: dict[str, Any], expected: str) -> None:
    entry, problems = check_entry(entry_data(**change))
    assert entry is None
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_of_a_version_is_reported_at_once() -> None:
    version = copy.deepcopy(HOUSEHOLD["versions"][1])
    version.update(
        valid_from="2025-02-30",
        levels=["hamlet"],
        time_limit={"days": -1, "unit": "working_days"},
        fee_vnd="free",
    )
    version["papers"][0]["form"] = "photocopy"
    version["papers"][1]["count"] = 0
    version["papers"].append(dict(version["papers"][0]))  # the same key twice
    _, problems = check_entry(entry_data(versions=[version]))
    text = "\n".join(problems)
    for expected in (
        "$.versions[0].valid_from: invalid date '2025-02-30'",
        "$.versions[0].levels[0]: 'hamlet' is not one of",
        "$.versions[0].time_limit.days: must be a whole number ≥ 0, got -1",
        "$.versions[0].fee_vnd: must be a whole number of đồng",
        "$.versions[0].papers[0].form: 'photocopy' is not one of",
        "$.versions[0].papers[1].count: must be a whole number ≥ 1, got 0",
        "$.versions[0].papers[3].key: duplicate paper key 'giay_de_nghi'",
    ):
        assert expected in text, text


def test_overlapping_versions_are_refused() -> None:
    first, second = copy.deepcopy(HOUSEHOLD["versions"])
    first["valid_to"] = "2025-07-01"  # the day the next one starts
    with pytest.raises(CatalogueError, match="must end .* before version 2025-07-01 starts"):
        parse_entry(entry_data(versions=[first, second]))


# ---------------------------------------------------------------- validate: the catalogue and what it uses


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    catalogue, bpmn = tmp_path / "catalogue", tmp_path / "bpmn"
    shutil.copytree(BUILT_IN, catalogue)
    shutil.copytree(BPMN_DIR, bpmn, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
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
    assert "9.999999.json" in problem and "process_key 'no_such_process' has no BPMN file" in problem


def test_broken_json_and_duplicate_codes(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    (catalogue / "broken.json").write_text('{"code": "1.0",', encoding="utf-8")
    (catalogue / "copy.json").write_text(json.dumps(HOUSEHOLD, ensure_ascii=False), encoding="utf-8")
    problems = _validate(catalogue, bpmn)
    assert any("broken.json: not readable JSON" in p for p in problems), problems
    assert any("2.000575 is also defined in" in p for p in problems), problems


def test_a_bpmn_that_breaks_the_portable_rules_is_reported(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    path = bpmn / "household_business_registration.bpmn"
    xml = path.read_text(encoding="utf-8")
    # a script task: runs on one engine only
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
    assert any("maps no department to the role(s) leader" in p and "2.000575" in p for p in problems), problems


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
        and "several departments" in p
        and "specialist" in p
        and "'departments'" in p
        for p in problems
    ), problems


def test_department_kinds_an_agency_does_not_have_are_reported(dirs: tuple[Path, Path]) -> None:
    catalogue, bpmn = dirs
    _rewrite(catalogue, "2.000815", departments={"specialist": ["XYZ"]})
    problems = _validate(catalogue, bpmn)
    assert any("2.000815" in p and "000.00.31.H99" in p and "XYZ" in p for p in problems), problems


def test_a_role_one_department_handles_needs_no_kind(dirs: tuple[Path, Path]) -> None:
    """Reception, leaders and clerks each map to one department of an agency: nothing to choose."""
    catalogue, bpmn = dirs
    _rewrite(catalogue, "1.001193", departments={"specialist": ["TPHT", "TP"]})
    assert _validate(catalogue, bpmn) == []
