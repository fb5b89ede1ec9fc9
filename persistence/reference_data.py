"""The reference data an installation is seeded with: agency structures (``agency_structure``, ``agency``,
``department``) and the procedure catalogue (``procedure``). ``motcua init`` adds what is missing and never removes
anything: a dossier keeps the structure and the procedure version it was received under. A procedure whose entry
left the catalogue keeps its row (its dossiers point at it), marked withdrawn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dossiers.agencies import parse_structures
from dossiers.catalogue import CatalogueEntry
from dossiers.model import AgencyStructure
from persistence.schema import agency, agency_structure, department, procedure
from persistence.uow import transaction


def agency_structures(db: Engine) -> tuple[AgencyStructure, ...]:
    """Agency structures from the database, in the JSON shape the domain parser validates."""
    with transaction(db) as conn:
        structures = conn.execute(select(agency_structure)).all()
        agencies = conn.execute(select(agency)).all()
        departments = conn.execute(select(department)).all()
    data: dict[str, Any] = {"structures": []}
    for s in structures:
        data["structures"].append(
            {
                "version": s.version,
                "valid_from": s.valid_from.isoformat(),
                "valid_to": s.valid_to.isoformat() if s.valid_to else None,
                "tiers": s.tiers,
                "agencies": [
                    {
                        "code": a.code,
                        "name": a.name,
                        "level": a.level,
                        "parent_code": a.parent_code,
                        "role_departments": a.role_departments,
                        "departments": [
                            {"code": d.code, "name": d.name}
                            for d in departments
                            if d.structure_version == s.version and d.agency_code == a.code
                        ],
                    }
                    for a in agencies
                    if a.structure_version == s.version
                ],
            }
        )
    return parse_structures(data) if data["structures"] else ()


def add_structures(conn: Connection, structures: Iterable[AgencyStructure]) -> list[str]:
    """Store the structures whose version is not stored yet, with their agencies and departments; the versions
    added."""
    have = {r.version for r in conn.execute(select(agency_structure.c.version))}
    added = []
    for s in structures:
        if s.version in have:
            continue
        conn.execute(
            insert(agency_structure).values(
                version=s.version,
                valid_from=s.valid_from,
                valid_to=s.valid_to,
                tiers=s.tiers,
                description="",
            )
        )
        for a in s.agencies:
            conn.execute(
                insert(agency).values(
                    structure_version=s.version,
                    code=a.code,
                    name=a.name,
                    level=a.level.value,
                    parent_code=a.parent_code,
                    role_departments={k: list(v) for k, v in a.role_departments.items()},
                )
            )
            for d in a.departments:
                conn.execute(
                    insert(department).values(structure_version=s.version, agency_code=a.code, code=d.code, name=d.name)
                )
        added.append(s.version)
    return added


def save_procedures(conn: Connection, entries: Iterable[tuple[Any, Mapping[str, Any], CatalogueEntry]]) -> list[str]:
    """Store the catalogue entries (``(path, data, entry)``) that are new or whose data changed; their codes."""
    have_procedures = {r.code: r.data for r in conn.execute(select(procedure.c.code, procedure.c.data))}
    saved = []
    for _path, data, entry in entries:
        latest = entry.versions[-1]
        values = {
            "name": entry.name,
            "process_key": entry.process_key,
            "time_limit_days": latest.time_limit_days,
            "working_days": latest.time_unit.value != "calendar_days",
            "data": data,
        }
        if entry.code not in have_procedures:
            conn.execute(insert(procedure).values(code=entry.code, **values))
        elif have_procedures[entry.code] != data:
            # the catalogue changed (e.g. a new rule version): every dossier keeps the version it recorded
            conn.execute(update(procedure).where(procedure.c.code == entry.code).values(**values))
        else:
            continue
        saved.append(entry.code)
    return saved


def withdraw_procedures(
    conn: Connection, entries: Iterable[tuple[Any, Mapping[str, Any], CatalogueEntry]], on: dt.date
) -> list[str]:
    """Mark the stored procedures that are no longer in the catalogue as withdrawn from ``on`` (kept if already
    marked): from then on none is offered, while their dossiers are still handled under the version each recorded.
    One that an entry lists in ``replaces`` (a corrected code) names it in ``replaced_by`` and takes that entry's
    result, so its dossiers in progress end with the document the catalogue ships now. The codes marked."""
    current = {entry.code: (data, entry) for _path, data, entry in entries}
    replacing = {old: code for code, (_, entry) in current.items() for old in entry.replaces}
    marked = []
    for row in conn.execute(select(procedure.c.code, procedure.c.data)).all():
        if row.code in current:
            continue
        data = dict(row.data)
        data.setdefault("withdrawn_on", on.isoformat())
        new_code = replacing.get(row.code)
        if new_code is not None:
            data["replaced_by"] = new_code
            if "result" in current[new_code][0]:
                data["result"] = current[new_code][0]["result"]
        if data != row.data:
            conn.execute(update(procedure).where(procedure.c.code == row.code).values(data=data))
            marked.append(row.code)
    return marked
