"""Agency structures as dated data: the shipped demo file and the validation of bad structures."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dossiers.agencies import AgencyDataError, parse_demo_people, parse_structures
from dossiers.model import (
    OFFICIAL_ROLES,
    Agency,
    AgencyLevel,
    AgencyStructure,
    Person,
    Role,
    can_act_on_task,
    structure_in_force,
)

DATA_FILE = Path(__file__).resolve().parents[2] / "motcua" / "data" / "agencies.json"


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@pytest.fixture(scope="module")
def structures(data: dict[str, Any]) -> tuple[AgencyStructure, ...]:
    return parse_structures(data)


@pytest.fixture(scope="module")
def two_tier(structures: tuple[AgencyStructure, ...]) -> AgencyStructure:
    return structure_in_force(structures, dt.date(2025, 7, 1))


@pytest.fixture(scope="module")
def people(data: dict[str, Any]) -> dict[str, Person]:
    return {p.username: p for p in parse_demo_people(data)}


def _communes(structure: AgencyStructure) -> list[Agency]:
    return [a for a in structure.agencies if a.level is AgencyLevel.COMMUNE]


# --- the shipped file ---------------------------------------------------------------------------


def test_structures_are_sorted_and_switch_on_1_july_2025(structures: tuple[AgencyStructure, ...]) -> None:
    assert [s.version for s in structures] == ["three-tier-2018", "two-tier-2025"]
    before = structure_in_force(structures, dt.date(2025, 6, 30))
    after = structure_in_force(structures, dt.date(2025, 7, 1))
    assert (before.version, before.tiers) == ("three-tier-2018", 3)
    assert (after.version, after.tiers) == ("two-tier-2025", 2)
    assert structure_in_force(structures, dt.date(2018, 1, 1)).version == "three-tier-2018"
    assert structure_in_force(structures, dt.date(2040, 1, 1)).version == "two-tier-2025"
    with pytest.raises(LookupError):
        structure_in_force(structures, dt.date(2017, 12, 31))


def test_three_tier_has_a_district_with_two_communes(structures: tuple[AgencyStructure, ...]) -> None:
    old = structures[0]
    districts = [a for a in old.agencies if a.level is AgencyLevel.DISTRICT]
    assert len(districts) == 1
    district = districts[0]
    assert [c.parent_code for c in _communes(old)] == [district.code, district.code]
    names = {d.name for d in district.departments}
    assert {"Phòng Tài chính - Kế hoạch", "Phòng Tư pháp", "Phòng Kinh tế - Hạ tầng"} <= names
    dept_name = {d.code: d.name for d in district.departments}
    assert [dept_name[c] for c in district.departments_for_role(Role.RECEPTION)] == [
        "Bộ phận Một cửa (thuộc Văn phòng HĐND và UBND huyện)"
    ]


def test_two_tier_has_no_district_and_every_commune_is_under_the_province(two_tier: AgencyStructure) -> None:
    levels = [a.level for a in two_tier.agencies]
    assert AgencyLevel.DISTRICT not in levels
    provinces = [a for a in two_tier.agencies if a.level is AgencyLevel.PROVINCE and a.parent_code is None]
    committees = [a for a in provinces if a.name.startswith("Ủy ban nhân dân tỉnh")]
    assert len(committees) == 1
    # the other province-level agencies are the partners of joint procedures (land registration, tax)
    assert {a.name.split(" ")[0] for a in provinces if a not in committees} <= {"Chi", "Thuế"}
    provinces = committees
    communes = _communes(two_tier)
    assert len(communes) == 3
    assert {c.parent_code for c in communes} == {provinces[0].code}
    province_depts = {d.name for d in provinces[0].departments}
    assert {
        "Sở Tư pháp",
        "Sở Tài chính",
        "Sở Xây dựng",
        "Trung tâm Phục vụ hành chính công tỉnh",
    } <= province_depts


def test_the_province_keeps_its_code_across_the_reform(structures: tuple[AgencyStructure, ...]) -> None:
    def committees(structure: AgencyStructure) -> set[str]:
        return {a.code for a in structure.agencies if a.name.startswith("Ủy ban nhân dân tỉnh")}

    assert committees(structures[0]) == committees(structures[1]) == {"000.00.00.H99"}


def test_first_commune_maps_every_official_role_to_its_own_departments(two_tier: AgencyStructure) -> None:
    commune = _communes(two_tier)[0]
    own = {d.code for d in commune.departments}
    for role in sorted(OFFICIAL_ROLES):
        mapped = commune.departments_for_role(role.value)
        assert mapped, f"{role} maps no department"
        assert set(mapped) <= own
    dept_name = {d.code: d.name for d in commune.departments}
    assert [dept_name[c] for c in commune.departments_for_role("reception")] == ["Trung tâm Phục vụ hành chính công"]
    assert [dept_name[c] for c in commune.departments_for_role("leader")] == ["Văn phòng HĐND và UBND"]
    assert [dept_name[c] for c in commune.departments_for_role("clerk")] == ["Văn phòng HĐND và UBND"]
    assert sorted(dept_name[c] for c in commune.departments_for_role("specialist")) == [
        "Phòng Kinh tế",
        "Phòng Văn hóa - Xã hội",
        "Tư pháp - Hộ tịch",
    ]


def test_wards_have_the_urban_economy_department(two_tier: AgencyStructure) -> None:
    wards = [c for c in _communes(two_tier) if "phường" in c.name]
    assert len(wards) == 1
    dept_name = {d.code: d.name for d in wards[0].departments}
    specialists = {dept_name[c] for c in wards[0].departments_for_role("specialist")}
    assert "Phòng Kinh tế, Hạ tầng và Đô thị" in specialists


def test_codes_have_the_qcvn_102_shape_and_are_documented_as_demo(
    data: dict[str, Any], structures: tuple[AgencyStructure, ...]
) -> None:
    qcvn = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.H\d{2}$")
    codes = {a.code for s in structures for a in s.agencies}
    assert all(qcvn.match(c) for c in codes), codes
    assert "demo" in " ".join(data["_note"]).lower()
    assert unicodedata.is_normalized("NFC", DATA_FILE.read_text(encoding="utf-8"))
    assert all(not any("password" in key for key in user) for user in data["users"])


def test_demo_people_belong_to_the_first_commune_and_the_province(
    people: dict[str, Person], two_tier: AgencyStructure
) -> None:
    commune = _communes(two_tier)[0]
    province = next(a for a in two_tier.agencies if a.level is AgencyLevel.PROVINCE)
    partners = {a.code for a in two_tier.agencies if a.level is AgencyLevel.PROVINCE and a is not province}
    partner_people = {u: p for u, p in people.items() if p.agency_code in partners}
    assert {p.role for p in partner_people.values()} == {Role.SPECIALIST, Role.LEADER}  # land office, tax office
    people = {u: p for u, p in people.items() if u not in partner_people}
    by_role: dict[Role, list[str]] = {}
    for p in people.values():
        by_role.setdefault(p.role, []).append(p.username)
    assert {r: len(names) for r, names in by_role.items()} == {
        Role.RECEPTION: 1,
        Role.SPECIALIST: 3,  # economic (PKT), social (VHXH), justice and civil status (TPHT)
        Role.LEADER: 1,
        Role.CLERK: 1,
        Role.AUDITOR: 1,
        Role.ADMIN: 1,
        Role.CITIZEN: 1,
    }
    for p in people.values():
        assert p.username.isascii()
        if p.role in OFFICIAL_ROLES:
            assert p.agency_code == commune.code
            assert p.department_code in commune.departments_for_role(p.role.value)
        elif p.role is Role.CITIZEN:
            assert (p.agency_code, p.department_code) == (None, None)
        else:
            assert p.agency_code == province.code


@pytest.mark.parametrize(
    ("username", "commune_index", "groups", "expected"),
    [
        ("chuyenvien1.xa1", 0, ("specialist",), True),
        ("chuyenvien2.xa1", 0, ("specialist",), True),
        ("chuyenvien1.xa1", 1, ("specialist",), False),  # another commune's task
        ("chuyenvien1.xa1", 0, ("leader",), False),  # a leader's task
        ("chuyenvien1.xa1", 0, ("reception", "specialist"), True),
        ("tiepnhan.xa1", 0, ("reception",), True),
        ("tiepnhan.xa1", 0, ("specialist",), False),
        ("lanhdao.xa1", 0, ("leader",), True),
        ("lanhdao.xa1", 2, ("leader",), False),
        ("vanthu.xa1", 0, ("clerk",), True),
        ("vanthu.xa1", 0, ("leader",), False),
        ("thanhtra.tinh", 0, ("specialist",), False),
        ("congdan1", 0, ("reception", "specialist", "leader", "clerk"), False),
    ],
)
def test_can_act_on_task_for_demo_people(
    people: dict[str, Person],
    two_tier: AgencyStructure,
    username: str,
    commune_index: int,
    groups: tuple[str, ...],
    expected: bool,
) -> None:
    agency = _communes(two_tier)[commune_index]
    assert can_act_on_task(people[username], agency, groups) is expected


def test_a_specialist_moved_to_an_unmapped_department_cannot_act(
    people: dict[str, Person], two_tier: AgencyStructure
) -> None:
    commune = _communes(two_tier)[0]
    moved = dataclasses.replace(people["chuyenvien1.xa1"], department_code=commune.departments_for_role("leader")[0])
    assert can_act_on_task(moved, commune, ("specialist",)) is False


def test_a_procedure_narrows_a_role_to_its_kind_of_department(
    people: dict[str, Person], two_tier: AgencyStructure
) -> None:
    commune = _communes(two_tier)[0]
    economic, social = people["chuyenvien1.xa1"], people["chuyenvien2.xa1"]  # PKT, VHXH
    assert can_act_on_task(economic, commune, ("specialist",), ("PKT",)) is True
    assert can_act_on_task(social, commune, ("specialist",), ("PKT",)) is False
    assert can_act_on_task(social, commune, ("specialist",), ("PKT", "VHXH")) is True
    # an agency without a department of that kind: the role's departments still act (no task left orphaned)
    assert can_act_on_task(social, commune, ("specialist",), ("TNMT",)) is True
    assert can_act_on_task(people["lanhdao.xa1"], commune, ("specialist",), ("VP",)) is False  # roles first


# --- validation of bad structures ---------------------------------------------------------------

P, D, C1, C2 = "000.00.00.H98", "000.00.15.H98", "000.21.15.H98", "000.00.31.H98"


def _agency(code: str, level: str, parent: str | None, roles: bool = True) -> dict[str, Any]:
    depts = [{"code": f"{code}-MC", "name": "Bộ phận Một cửa"}, {"code": f"{code}-VP", "name": "Văn phòng"}]
    mapping = {"reception": [f"{code}-MC"], "leader": [f"{code}-VP"]} if roles else {}
    return {
        "code": code,
        "name": f"Đơn vị {code}",
        "level": level,
        "parent_code": parent,
        "departments": depts,
        "role_departments": mapping,
    }


def _good() -> dict[str, Any]:
    return {
        "structures": [
            {
                "version": "old",
                "valid_from": "2018-01-01",
                "valid_to": "2025-07-01",
                "tiers": 3,
                "agencies": [
                    _agency(P, "province", None),
                    _agency(D, "district", P),
                    _agency(C1, "commune", D),
                ],
            },
            {
                "version": "new",
                "valid_from": "2025-07-01",
                "valid_to": None,
                "tiers": 2,
                "agencies": [_agency(P, "province", None), _agency(C2, "commune", P)],
            },
        ],
        "users": [
            {
                "username": "tiepnhan.test",
                "full_name": "Nguyễn Văn A",
                "role": "reception",
                "agency_code": C2,
                "department_code": f"{C2}-MC",
            },
            {
                "username": "dan",
                "full_name": "Trần Thị B",
                "role": "citizen",
                "agency_code": None,
                "department_code": None,
            },
        ],
    }


def test_the_small_good_document_parses() -> None:
    doc = _good()
    doc["structures"].reverse()  # input order does not matter
    structures = parse_structures(doc)
    assert [s.version for s in structures] == ["old", "new"]
    assert structures[1].agency(C2) is not None
    assert structures[1].agency(C2).departments_for_role("reception") == (f"{C2}-MC",)  # type: ignore[union-attr]
    assert [p.username for p in parse_demo_people(doc)] == ["tiepnhan.test", "dan"]


def _old(doc: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = doc["structures"][0]
    return s


def _new(doc: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = doc["structures"][1]
    return s


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        path(doc)[key] = value

    return apply


def _new_agency(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: _new(doc)["agencies"][i]


def _old_agency(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: _old(doc)["agencies"][i]


def _append_agency(which: Callable[[dict[str, Any]], dict[str, Any]], agency: dict[str, Any]) -> Callable[..., None]:
    return lambda doc: which(doc)["agencies"].append(agency)


def _add_dept(code: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _new(doc)["agencies"][1]["departments"].append({"code": code, "name": "Phòng trùng"})


STRUCTURE_ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "overlap",
        _set(_old, "valid_to", "2025-07-02"),
        r"structure 'old' \(until 2025-07-02\) overlaps structure 'new'",
    ),
    (
        "two open-ended",
        _set(_old, "valid_to", None),
        r"structure 'old' \(open-ended\) overlaps structure 'new'",
    ),
    ("gap", _set(_old, "valid_to", "2025-06-30"), r"gap between structure 'old' .* and structure 'new'"),
    (
        "empty range",
        _set(_old, "valid_to", "2018-01-01"),
        r"structure 'old': valid_to 2018-01-01 must be after",
    ),
    ("bad tiers", _set(_new, "tiers", 4), r"structure 'new': 'tiers' must be 2 or 3"),
    ("duplicate version", _set(_new, "version", "old"), r"duplicate structure version 'old'"),
    (
        "unknown level",
        _set(_new_agency(1), "level", "hamlet"),
        rf"structure 'new', agency '{C2}': unknown level 'hamlet'",
    ),
    (
        "parent in another structure",
        _set(_new_agency(1), "parent_code", D),
        rf"structure 'new', agency '{C2}': parent '{D}' is not in the same structure",
    ),
    (
        "commune under a commune (2 tiers)",
        _append_agency(_new, _agency("000.00.32.H98", "commune", C2)),
        rf"structure 'new', agency '000.00.32.H98': .*parent must be a province, but '{C2}' is a commune",
    ),
    (
        "district in 2 tiers",
        _append_agency(_new, _agency(D, "district", P)),
        rf"structure 'new', agency '{D}': level 'district' does not exist in a 2-tier structure",
    ),
    (
        "commune under the province (3 tiers)",
        _set(_old_agency(2), "parent_code", P),
        rf"structure 'old', agency '{C1}': .*commune's parent must be a district, but '{P}' is a province",
    ),
    (
        "commune without parent",
        _set(_new_agency(1), "parent_code", None),
        rf"agency '{C2}': a commune needs a parent_code",
    ),
    (
        "role maps unknown department",
        _set(_new_agency(1), "role_departments", {"specialist": ["000.00.31.H98-PKT"]}),
        rf"structure 'new', agency '{C2}', role 'specialist': unknown department '000.00.31.H98-PKT'",
    ),
    (
        "role maps another agency's department",
        _set(_new_agency(1), "role_departments", {"leader": [f"{P}-VP"]}),
        rf"structure 'new', agency '{C2}', role 'leader': unknown department '{P}-VP'",
    ),
    (
        "unknown role",
        _set(_new_agency(1), "role_departments", {"approver": [f"{C2}-VP"]}),
        rf"structure 'new', agency '{C2}': unknown role 'approver'",
    ),
    (
        "citizen role mapped",
        _set(_new_agency(1), "role_departments", {"citizen": [f"{C2}-VP"]}),
        r"'citizen' cannot",
    ),
    (
        "empty role mapping",
        _set(_new_agency(1), "role_departments", {"clerk": []}),
        r"role 'clerk': maps no department",
    ),
    (
        "duplicate agency code",
        _append_agency(_new, _agency(C2, "commune", P)),
        rf"structure 'new': duplicate agency code '{C2}'",
    ),
    (
        "duplicate department in an agency",
        _add_dept(f"{C2}-MC"),
        rf"structure 'new', agency '{C2}': duplicate department code '{C2}-MC'",
    ),
    (
        "duplicate department across agencies",
        _add_dept(f"{P}-MC"),
        rf"structure 'new', agency '{C2}': duplicate department code '{P}-MC' \(also in agency '{P}'\)",
    ),
    (
        "misspelt key",
        lambda doc: _new(doc)["agencies"][1].update(role_department=_new(doc)["agencies"][1].pop("role_departments")),
        rf"structure 'new', agency '{C2}': unknown key\(s\) 'role_department'",
    ),
    (
        "bad date",
        _set(_new, "valid_from", "2025-07-32"),
        r"structure 'new': 'valid_from' is not a valid date",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [e[1:] for e in STRUCTURE_ERRORS], ids=[e[0] for e in STRUCTURE_ERRORS])
def test_bad_structures_are_rejected(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    doc = copy.deepcopy(_good())
    mutate(doc)
    with pytest.raises(ValueError, match=message) as info:
        parse_structures(doc)
    assert isinstance(info.value, AgencyDataError)


def test_comment_keys_are_ignored() -> None:
    doc = _good()
    _new(doc)["_about"] = "a comment"
    _new(doc)["agencies"][1]["role_departments"]["_why"] = "also a comment"
    assert parse_structures(doc)[1].agencies[1].role_departments == {
        "reception": (f"{C2}-MC",),
        "leader": (f"{C2}-VP",),
    }


def _user(i: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["users"][i].update(changes)


PEOPLE_ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown role", _user(0, role="director"), r"user 'tiepnhan.test': unknown role 'director'"),
    (
        "agency only in the old structure",
        _user(0, agency_code=D, department_code=f"{D}-MC"),
        rf"user 'tiepnhan.test': agency '{D}' is not in structure 'new'",
    ),
    (
        "department of another agency",
        _user(0, department_code=f"{P}-MC"),
        rf"user 'tiepnhan.test': department '{P}-MC' is not a department of agency '{C2}'",
    ),
    (
        "department not mapped to the role",
        _user(0, department_code=f"{C2}-VP"),
        rf"user 'tiepnhan.test': agency '{C2}' maps role 'reception' to {C2}-MC, not to '{C2}-VP'",
    ),
    (
        "official without department",
        _user(0, department_code=None),
        r"role 'reception' needs a department_code",
    ),
    ("official without agency", _user(0, agency_code=None), r"role 'reception' needs an agency_code"),
    ("citizen with an agency", _user(1, agency_code=C2), r"user 'dan': a citizen belongs to no agency"),
    ("non-ascii username", _user(1, username="dân"), r"user 'dân': a username is"),
    ("duplicate username", _user(1, username="tiepnhan.test"), r"duplicate username 'tiepnhan.test'"),
]


@pytest.mark.parametrize(("mutate", "message"), [e[1:] for e in PEOPLE_ERRORS], ids=[e[0] for e in PEOPLE_ERRORS])
def test_bad_demo_people_are_rejected(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    doc = copy.deepcopy(_good())
    mutate(doc)
    with pytest.raises(AgencyDataError, match=message):
        parse_demo_people(doc)


def test_demo_people_need_a_structure_in_force_on_the_day() -> None:
    doc = _good()
    with pytest.raises(AgencyDataError, match=r"no agency structure in force on 2017-01-01"):
        parse_demo_people(doc, on=dt.date(2017, 1, 1))
