"""Agency structures and demo people read from data (DESIGN §2: agencies are data, versioned by date).

Pure functions over already-parsed JSON (``motcua/data/agencies.json`` is the shipped demo file); the
caller does the reading. Every problem raises :class:`AgencyDataError` (a ``ValueError``) whose message
names the structure version, agency or person at fault.

Document shape::

    {"structures": [{"version", "valid_from", "valid_to" (exclusive, null = in force), "tiers",
                     "agencies": [{"code", "name", "level", "parent_code",
                                   "departments": [{"code", "name"}],
                                   "role_departments": {role: [department code, ...]}}]}],
     "users": [{"username", "full_name", "role", "agency_code", "department_code"}]}

Keys starting with ``_`` are comments; any other unknown key is an error (a misspelt
``role_departments`` would otherwise silently let every department act in every role).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from dossiers.model import (
    OFFICIAL_ROLES,
    Agency,
    AgencyLevel,
    AgencyStructure,
    Department,
    Person,
    Role,
    structure_in_force,
)

__all__ = [
    "TWO_TIER_FROM",
    "AgencyDataError",
    "parse_demo_people",
    "parse_structures",
]

TWO_TIER_FROM = dt.date(2025, 7, 1)
"""First day of the two-tier local government; the demo people belong to the structure in force then."""

# Which levels a structure with that many tiers may hold, and the level each level's parent must have.
_LEVELS_BY_TIERS: Mapping[int, frozenset[AgencyLevel]] = {
    2: frozenset({AgencyLevel.PROVINCE, AgencyLevel.COMMUNE}),
    3: frozenset({AgencyLevel.PROVINCE, AgencyLevel.DISTRICT, AgencyLevel.COMMUNE}),
}
_PARENT_LEVEL: Mapping[int, Mapping[AgencyLevel, AgencyLevel]] = {
    2: {AgencyLevel.COMMUNE: AgencyLevel.PROVINCE},
    3: {AgencyLevel.DISTRICT: AgencyLevel.PROVINCE, AgencyLevel.COMMUNE: AgencyLevel.DISTRICT},
}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

_STRUCTURE_KEYS = frozenset({"version", "valid_from", "valid_to", "tiers", "agencies"})
_AGENCY_KEYS = frozenset({"code", "name", "level", "parent_code", "departments", "role_departments"})
_DEPARTMENT_KEYS = frozenset({"code", "name"})
_PERSON_KEYS = frozenset({"username", "full_name", "role", "agency_code", "department_code"})


class AgencyDataError(ValueError):
    """The agency data is inconsistent; the message says where."""


# --- JSON helpers -------------------------------------------------------------------------------


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AgencyDataError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise AgencyDataError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(k for k in obj if not str(k).startswith("_") and k not in allowed)
    if unknown:
        raise AgencyDataError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AgencyDataError(f"{where}: {key!r} must be a non-empty string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    if obj.get(key) is None:
        return None
    return _str(obj, key, where)


def _date(obj: Mapping[str, Any], key: str, where: str) -> dt.date:
    text = _str(obj, key, where)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise AgencyDataError(f"{where}: {key!r} must be a date YYYY-MM-DD, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AgencyDataError(f"{where}: {key!r} is not a valid date: {text!r}") from None


# --- structures ---------------------------------------------------------------------------------


def _parse_agency(raw: object, version: str, index: int) -> Agency:
    where = f"structure {version!r}, agency #{index + 1}"
    obj = _mapping(raw, where)
    code = _str(obj, "code", where)
    where = f"structure {version!r}, agency {code!r}"
    _check_keys(obj, _AGENCY_KEYS, where)
    level_text = _str(obj, "level", where)
    try:
        level = AgencyLevel(level_text)
    except ValueError:
        known = ", ".join(lv.value for lv in AgencyLevel)
        raise AgencyDataError(f"{where}: unknown level {level_text!r} (known: {known})") from None

    departments: list[Department] = []
    seen: set[str] = set()
    for i, raw_dept in enumerate(_list(obj.get("departments", []), f"{where}: 'departments'")):
        dwhere = f"{where}, department #{i + 1}"
        dept = _mapping(raw_dept, dwhere)
        _check_keys(dept, _DEPARTMENT_KEYS, dwhere)
        dcode = _str(dept, "code", dwhere)
        if dcode in seen:
            raise AgencyDataError(f"{where}: duplicate department code {dcode!r}")
        seen.add(dcode)
        departments.append(Department(code=dcode, name=_str(dept, "name", f"{where}, department {dcode!r}")))

    role_departments: dict[str, tuple[str, ...]] = {}
    raw_roles = _mapping(obj.get("role_departments", {}), f"{where}: 'role_departments'")
    for role_text, raw_codes in raw_roles.items():
        if str(role_text).startswith("_"):
            continue
        try:
            role = Role(role_text)
        except ValueError:
            known = ", ".join(r.value for r in Role if r is not Role.CITIZEN)
            raise AgencyDataError(f"{where}: unknown role {role_text!r} (known: {known})") from None
        if role is Role.CITIZEN:
            raise AgencyDataError(f"{where}: role 'citizen' cannot be mapped to departments")
        rwhere = f"{where}, role {role.value!r}"
        codes = tuple(_list(raw_codes, rwhere))
        if not codes:
            raise AgencyDataError(f"{rwhere}: maps no department (omit the role to let every department act)")
        for dcode in codes:
            if not isinstance(dcode, str) or dcode not in seen:
                raise AgencyDataError(f"{rwhere}: unknown department {dcode!r}")
        if len(set(codes)) != len(codes):
            raise AgencyDataError(f"{rwhere}: a department is listed twice")
        role_departments[role.value] = codes

    return Agency(
        code=code,
        name=_str(obj, "name", where),
        level=level,
        parent_code=_opt_str(obj, "parent_code", where),
        departments=tuple(departments),
        role_departments=MappingProxyType(role_departments),
    )


def _check_hierarchy(version: str, tiers: int, agencies: Sequence[Agency]) -> None:
    by_code = {a.code: a for a in agencies}
    allowed_levels = _LEVELS_BY_TIERS[tiers]
    for agency in agencies:
        where = f"structure {version!r}, agency {agency.code!r}"
        if agency.level not in allowed_levels:
            raise AgencyDataError(f"{where}: level {agency.level.value!r} does not exist in a {tiers}-tier structure")
        if agency.level is AgencyLevel.PROVINCE:
            if agency.parent_code is not None:
                raise AgencyDataError(f"{where}: a province has no parent, got {agency.parent_code!r}")
            continue
        if agency.parent_code is None:
            raise AgencyDataError(f"{where}: a {agency.level.value} needs a parent_code")
        parent = by_code.get(agency.parent_code)
        if parent is None:
            raise AgencyDataError(f"{where}: parent {agency.parent_code!r} is not in the same structure")
        expected = _PARENT_LEVEL[tiers][agency.level]
        if parent.level is not expected:
            raise AgencyDataError(
                f"{where}: in a {tiers}-tier structure a {agency.level.value}'s parent must be a "
                f"{expected.value}, but {parent.code!r} is a {parent.level.value}"
            )


def _parse_structure(raw: object, index: int) -> AgencyStructure:
    where = f"structure #{index + 1}"
    obj = _mapping(raw, where)
    version = _str(obj, "version", where)
    where = f"structure {version!r}"
    _check_keys(obj, _STRUCTURE_KEYS, where)
    valid_from = _date(obj, "valid_from", where)
    valid_to = None if obj.get("valid_to") is None else _date(obj, "valid_to", where)
    if valid_to is not None and valid_to <= valid_from:
        raise AgencyDataError(f"{where}: valid_to {valid_to} must be after valid_from {valid_from}")
    tiers = obj.get("tiers")
    if isinstance(tiers, bool) or not isinstance(tiers, int) or tiers not in _LEVELS_BY_TIERS:
        raise AgencyDataError(f"{where}: 'tiers' must be 2 or 3, got {tiers!r}")

    agencies = [_parse_agency(a, version, i) for i, a in enumerate(_list(obj.get("agencies"), where))]
    if not agencies:
        raise AgencyDataError(f"{where}: has no agencies")
    agency_codes: set[str] = set()
    department_owner: dict[str, str] = {}
    for agency in agencies:
        if agency.code in agency_codes:
            raise AgencyDataError(f"{where}: duplicate agency code {agency.code!r}")
        agency_codes.add(agency.code)
        for dept in agency.departments:
            other = department_owner.setdefault(dept.code, agency.code)
            if other != agency.code:
                raise AgencyDataError(
                    f"{where}, agency {agency.code!r}: duplicate department code {dept.code!r} "
                    f"(also in agency {other!r})"
                )
    _check_hierarchy(version, tiers, agencies)
    return AgencyStructure(
        version=version, valid_from=valid_from, valid_to=valid_to, tiers=tiers, agencies=tuple(agencies)
    )


def parse_structures(data: Mapping[str, Any]) -> tuple[AgencyStructure, ...]:
    """The agency structure versions of ``data["structures"]``, sorted by ``valid_from``.

    Checks: validity ranges follow one another without gap or overlap (only the last may be open),
    known levels and levels allowed by ``tiers``, parents inside the same structure and one level up
    (in a 2-tier structure every commune's parent is a province), ``role_departments`` naming known
    roles and the agency's own departments, and no duplicate version, agency or department codes.
    """
    raw = _list(_mapping(data, "agency data").get("structures"), "agency data: 'structures'")
    structures = [_parse_structure(s, i) for i, s in enumerate(raw)]
    if not structures:
        raise AgencyDataError("agency data: 'structures' is empty")
    versions: set[str] = set()
    for s in structures:
        if s.version in versions:
            raise AgencyDataError(f"duplicate structure version {s.version!r}")
        versions.add(s.version)
    structures.sort(key=lambda s: s.valid_from)
    for prev, nxt in zip(structures, structures[1:], strict=False):
        if prev.valid_to is None or prev.valid_to > nxt.valid_from:
            end = "open-ended" if prev.valid_to is None else f"until {prev.valid_to}"
            raise AgencyDataError(
                f"structure {prev.version!r} ({end}) overlaps structure {nxt.version!r} (from {nxt.valid_from})"
            )
        if prev.valid_to < nxt.valid_from:
            raise AgencyDataError(
                f"gap between structure {prev.version!r} (until {prev.valid_to}) and "
                f"structure {nxt.version!r} (from {nxt.valid_from}): no structure in force in between"
            )
    return tuple(structures)


# --- demo people --------------------------------------------------------------------------------


def _parse_person(raw: object, index: int, structure: AgencyStructure) -> Person:
    where = f"user #{index + 1}"
    obj = _mapping(raw, where)
    username = _str(obj, "username", where)
    where = f"user {username!r}"
    _check_keys(obj, _PERSON_KEYS, where)
    if not _USERNAME.fullmatch(username):
        raise AgencyDataError(f"{where}: a username is 2-64 characters of a-z 0-9 . _ - (ASCII)")
    role_text = _str(obj, "role", where)
    try:
        role = Role(role_text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise AgencyDataError(f"{where}: unknown role {role_text!r} (known: {known})") from None
    agency_code = _opt_str(obj, "agency_code", where)
    department_code = _opt_str(obj, "department_code", where)
    person = Person(
        username=username,
        full_name=_str(obj, "full_name", where),
        role=role,
        agency_code=agency_code,
        department_code=department_code,
    )

    if role is Role.CITIZEN:
        if agency_code is not None or department_code is not None:
            raise AgencyDataError(f"{where}: a citizen belongs to no agency or department")
        return person
    if agency_code is None:
        raise AgencyDataError(f"{where}: role {role.value!r} needs an agency_code")
    agency = structure.agency(agency_code)
    if agency is None:
        raise AgencyDataError(f"{where}: agency {agency_code!r} is not in structure {structure.version!r}")
    if department_code is None:
        if role in OFFICIAL_ROLES:
            raise AgencyDataError(f"{where}: role {role.value!r} needs a department_code")
        return person
    if agency.department(department_code) is None:
        raise AgencyDataError(
            f"{where}: department {department_code!r} is not a department of agency {agency_code!r} "
            f"in structure {structure.version!r}"
        )
    allowed = agency.departments_for_role(role.value)
    if allowed and department_code not in allowed:
        raise AgencyDataError(
            f"{where}: agency {agency_code!r} maps role {role.value!r} to {', '.join(allowed)}, "
            f"not to {department_code!r}, so this person could never act"
        )
    return person


def parse_demo_people(data: Mapping[str, Any], *, on: dt.date = TWO_TIER_FROM) -> tuple[Person, ...]:
    """The people of ``data["users"]``, checked against the structure in force on ``on``.

    Each role is known; officials belong to an agency of that structure and to one of its departments
    (one the agency maps to their role, when it maps any); auditors and admins need an agency and may
    omit the department; citizens have neither. Usernames are ASCII and unique.
    """
    structures = parse_structures(data)
    try:
        structure = structure_in_force(structures, on)
    except LookupError as exc:
        raise AgencyDataError(f"demo people: {exc}") from None
    raw = _list(data.get("users"), "agency data: 'users'")
    people = [_parse_person(p, i, structure) for i, p in enumerate(raw)]
    usernames: set[str] = set()
    for p in people:
        if p.username in usernames:
            raise AgencyDataError(f"duplicate username {p.username!r}")
        usernames.add(p.username)
    return tuple(people)
