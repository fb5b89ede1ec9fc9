"""Domain records: agencies and their structure versions, procedures, dossiers, statuses, roles.

Frozen dataclasses only; the database adapter maps them to rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Roles name BPMN candidate groups; an agency maps each role to its own departments."""

    RECEPTION = "reception"
    SPECIALIST = "specialist"
    LEADER = "leader"
    CLERK = "clerk"
    AUDITOR = "auditor"
    ADMIN = "admin"
    CITIZEN = "citizen"


OFFICIAL_ROLES = frozenset({Role.RECEPTION, Role.SPECIALIST, Role.LEADER, Role.CLERK})


class AgencyLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"  # only in structures before 1 July 2025
    COMMUNE = "commune"


class DossierStatus(StrEnum):
    SUBMITTED = "submitted"  # filed online, waiting for reception to check it (no time limit runs yet)
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # processing stopped at the applicant's request (Mẫu 05 of 2025)
    STOPPED = "stopped"  # processing stopped by the agency, with its reason (Mẫu 05 of 2025)


STATUS_LABELS_VI: Mapping[DossierStatus, str] = {
    DossierStatus.SUBMITTED: "Chờ tiếp nhận",
    DossierStatus.RECEIVED: "Đã tiếp nhận",
    DossierStatus.IN_PROGRESS: "Đang giải quyết",
    DossierStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    DossierStatus.RESULT_READY: "Có kết quả",
    DossierStatus.RETURNED: "Đã trả kết quả",
    DossierStatus.REFUSED: "Từ chối",
    DossierStatus.WITHDRAWN: "Rút hồ sơ",
    DossierStatus.STOPPED: "Dừng giải quyết",
}

FINAL_STATUSES = frozenset(
    {DossierStatus.RETURNED, DossierStatus.REFUSED, DossierStatus.WITHDRAWN, DossierStatus.STOPPED}
)
# processing stopped (Mẫu 05 of 2025): at the applicant's request or by the agency — finished without a result
STOPPED_STATUSES = frozenset({DossierStatus.WITHDRAWN, DossierStatus.STOPPED})


@dataclass(frozen=True)
class Department:
    code: str
    name: str


@dataclass(frozen=True)
class Agency:
    """An agency with a one-stop desk: a province, a commune/ward, or (before 2025) a district."""

    code: str  # unit code per QCVN 102:2016, first part of every dossier code
    name: str
    level: AgencyLevel
    parent_code: str | None
    departments: tuple[Department, ...] = ()
    # role -> department codes whose people act in that role for this agency
    role_departments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)

    def departments_for_role(self, role: str) -> tuple[str, ...]:
        return self.role_departments.get(role, ())

    def departments_handling(self, role: str, kinds: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The role's departments narrowed to the ``kinds`` a procedure names for the role's steps (see
        :func:`department_kind`); all the role's departments when the agency has none of those kinds, so that
        no task is left without anyone to handle it (``procedures validate`` reports that case)."""
        allowed = self.departments_for_role(role)
        narrowed = tuple(d for d in allowed if department_kind(d) in kinds)
        return narrowed or allowed


def department_kind(department_code: str) -> str:
    """The kind of a department: the mnemonic ending its code (``000.00.31.H99-TPHT`` → ``TPHT``)."""
    return department_code.rsplit("-", 1)[-1]


@dataclass(frozen=True)
class AgencyStructure:
    """One dated version of local government: which agencies exist between two dates."""

    version: str
    valid_from: dt.date
    valid_to: dt.date | None  # exclusive; None = still in force
    tiers: int
    agencies: tuple[Agency, ...]

    def in_force_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def agency(self, code: str) -> Agency | None:
        return next((a for a in self.agencies if a.code == code), None)


def structure_in_force(structures: tuple[AgencyStructure, ...], day: dt.date) -> AgencyStructure:
    """The structure a dossier received on ``day`` is handled under."""
    for s in structures:
        if s.in_force_on(day):
            return s
    raise LookupError(f"no agency structure in force on {day.isoformat()}")


@dataclass(frozen=True)
class RequiredPaper:
    key: str
    name: str
    mandatory: bool = True
    form: str = "original_or_copy"  # original | copy | certified_copy | original_or_copy
    count: int = 1
    note: str = ""


@dataclass(frozen=True)
class FormField:
    """A value the applicant declares on the application form (e.g. the household business name): a view of one
    property of the procedure's form schema (:mod:`dossiers.form_schema`) for the pages and the bounds."""

    key: str
    name: str
    required: bool = True
    kind: str = "text"  # text | integer | date | list (texts) | rows (objects: ``columns``)
    name_en: str = ""
    widget: str = ""  # the schema's x-widget: date | id-number | money | address | rows | textarea | "" (plain)
    group: str = ""  # the key of the group (fieldset) it is shown in
    hint: tuple[str, str] = ("", "")  # Vietnamese, English: shown beside the input and with a pattern's error
    choices: tuple[str, ...] = ()  # the schema's enum: a select
    max_length: int = 0  # the schema's maxLength (0: the bounds' own)
    columns: tuple[FormField, ...] = ()  # the cells of a row (kind rows)
    rows: int = 0  # empty rows offered on the page (kind rows, list with the rows widget)


@dataclass(frozen=True)
class FormGroup:
    """A group of the form's fields, shown as one fieldset under its legend."""

    key: str
    name: str
    name_en: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True, eq=False)
class FormSchema:
    """The application form: its JSON Schema (draft 2020-12, checked by :mod:`dossiers.form_schema`) and the
    fields and groups read from its presentation hints (``x-label``, ``x-order``, ``x-group``, ``x-widget``)."""

    source: str  # the file it came from, e.g. forms/1.001612.json
    schema: Mapping[str, object]
    fields: tuple[FormField, ...]
    groups: tuple[FormGroup, ...]


@dataclass(frozen=True)
class Procedure:
    """A catalogue entry (thủ tục hành chính)."""

    code: str
    name: str
    process_key: str
    time_limit_days: int
    working_days: bool
    levels: tuple[AgencyLevel, ...]
    papers: tuple[RequiredPaper, ...]
    legal_source: str = ""
    fee_vnd: int = 0
    fee_set_by: str = "national"  # national | province (the amount is a per-agency value: dossiers.fees)
    rule_version: str = ""
    form_fields: tuple[FormField, ...] = ()
    # the form's schema (the fields above are its view); before ``field`` below, which shadows dataclasses.field
    form: FormSchema | None = field(default=None, compare=False, repr=False)
    field: str = ""  # lĩnh vực
    online_level: str = "partial"  # full | partial (dịch vụ công trực tuyến toàn trình / một phần)
    channels: tuple[str, ...] = ("counter",)  # counter | online | postal
    # which departments handle a role's steps, by the mnemonic ending their code (``<agency>-TPHT``)
    departments: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # the internal procedure's working hours per BPMN step (dossiers.step_times; a default split without them)
    step_times: tuple[tuple[str, float], ...] = ()

    def department_kinds(self, role: str) -> tuple[str, ...]:
        return next((kinds for r, kinds in self.departments if r == role), ())


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    role: Role
    agency_code: str | None
    department_code: str | None


def can_act_on_task(
    person: Person, agency: Agency, candidate_groups: tuple[str, ...], department_kinds: tuple[str, ...] = ()
) -> bool:
    """An official may see/claim a task when their role is a candidate group and their department is one the
    agency maps to that role (an agency that maps no department lets every department act). When the procedure
    names the kinds of department that handle the role's steps (``department_kinds``: code mnemonics such as
    ``TPHT`` for civil status), only the agency's departments of those kinds act — unless the agency has none
    of them, so that no task is left without anyone to handle it."""
    if person.agency_code != agency.code or person.role.value not in candidate_groups:
        return False
    allowed = agency.departments_handling(person.role.value, department_kinds)
    return not allowed or person.department_code in allowed
