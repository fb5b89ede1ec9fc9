"""Finding dossiers: by the folded ``search_text`` of the row (code, applicant's name without diacritics, ID number,
phone) and the dossiers an official or their department handled, each within what the person may read, newest
first, a page at a time.

What a person may read is the same rule as :meth:`services.shop.OneStopShop.authorize_dossier`, as SQL: an
official reads the dossiers of their agency and those handed to it by a joint procedure (``exchange.delivered`` /
``exchange.received`` in the audit log naming it as the receiver); an administrator or auditor reads every one.

The queries scale with the index ``ix_dossier_agency_received`` (an agency's rows newest first, the search text in
the index: a ``LIKE`` is decided before the row is read) and ``ix_audit_log_kind_actor`` (the completed steps of
a few officials, the hand-offs to an agency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select

from dossiers.search_text import SearchTerms
from persistence.schema import app_user, audit_log, dossier, procedure

COMPLETED = "task.completed"
HANDED_TO = ("exchange.delivered", "exchange.received")  # services.handoffs: DELIVERED, RECEIVED


@dataclass(frozen=True)
class Scope:
    """The dossiers a person may read: ``agency_code``'s own and those handed to it; None: every dossier."""

    agency_code: str | None


@dataclass(frozen=True)
class Filters:
    procedure_code: str | None = None
    status: str | None = None


def _listed() -> list[Any]:
    return [
        dossier.c.code,
        dossier.c.procedure_code,
        procedure.c.name.label("procedure_name"),
        dossier.c.agency_code,
        dossier.c.status,
        dossier.c.applicant_name,
        dossier.c.received_at,
        dossier.c.due_at,
        dossier.c.finished_at,
    ]


def _handed_to(agency_code: str) -> Select[Any]:
    receiver = audit_log.c.details["receiver"].as_string()
    return select(audit_log.c.dossier_code).where(
        audit_log.c.kind.in_(HANDED_TO), receiver == agency_code, audit_log.c.dossier_code.is_not(None)
    )


def _visible(conn: Connection, scope: Scope) -> list[ColumnElement[bool]]:
    if scope.agency_code is None:
        return []
    own = dossier.c.agency_code == scope.agency_code
    if conn.execute(_handed_to(scope.agency_code).limit(1)).first() is None:
        return [own]  # the common case: the agency's rows, in the index's order
    return [or_(own, dossier.c.code.in_(_handed_to(scope.agency_code)))]


def _matching(terms: SearchTerms) -> list[ColumnElement[bool]]:
    """Every word at the start of a word of the search text, or one of the fragments anywhere in it."""
    text = dossier.c.search_text
    alternatives: list[ColumnElement[bool]] = []
    if terms.words:
        alternatives.append(and_(*(text.contains(" " + word, autoescape=True) for word in terms.words)))
    alternatives += [text.contains(fragment, autoescape=True) for fragment in terms.fragments]
    return [or_(*alternatives)] if alternatives else []


def _filtered(filters: Filters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.procedure_code:
        conditions.append(dossier.c.procedure_code == filters.procedure_code)
    if filters.status:
        conditions.append(dossier.c.status == filters.status)
    return conditions


def search_dossiers(
    conn: Connection, scope: Scope, terms: SearchTerms, filters: Filters, *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of the dossiers matching ``terms`` (all when empty) that the scope may read, newest first, and
    how many match in all."""
    conditions = [*_visible(conn, scope), *_matching(terms), *_filtered(filters)]
    rows = conn.execute(
        select(*_listed())
        .select_from(dossier.join(procedure, procedure.c.code == dossier.c.procedure_code))
        .where(*conditions)
        .order_by(dossier.c.received_at.desc(), dossier.c.code.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = conn.execute(select(func.count()).select_from(dossier).where(*conditions)).scalar_one()
    return list(rows), int(total)


def handled_dossiers(
    conn: Connection,
    scope: Scope,
    username: str,
    department: tuple[str, str] | None,
    filters: Filters,
    *,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """One page of the dossiers on which ``username`` — or an official of ``department`` (agency code, department
    code) — completed a step, the most recently handled first (``handled_at``), and how many there are.

    A step counts for the department it was recorded with (``task.completed`` names the department since it
    records one), else for its official's current department, as the statistics count it."""
    actors = {username}
    steps: list[ColumnElement[bool]] = [audit_log.c.kind == COMPLETED]
    if department is not None:
        agency_code, department_code = department
        members = select(app_user.c.username).where(
            app_user.c.agency_code == agency_code, app_user.c.department_code == department_code
        )
        actors |= set(conn.execute(members).scalars())
        recorded = audit_log.c.details["department"].as_string()
        steps.append(or_(audit_log.c.actor == username, recorded.is_(None), recorded == department_code))
    # one look-up per official in ix_audit_log_kind_actor, then the department each step was recorded with
    steps.append(audit_log.c.actor.in_(sorted(actors)))
    handled = (
        select(audit_log.c.dossier_code, func.max(audit_log.c.at).label("handled_at"))
        .where(*steps)
        .group_by(audit_log.c.dossier_code)
        .subquery("handled")
    )
    conditions = [*_visible(conn, scope), *_filtered(filters)]
    joined = dossier.join(handled, handled.c.dossier_code == dossier.c.code)
    rows = conn.execute(
        select(*_listed(), handled.c.handled_at)
        .select_from(joined.join(procedure, procedure.c.code == dossier.c.procedure_code))
        .where(*conditions)
        .order_by(handled.c.handled_at.desc(), dossier.c.code.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = conn.execute(select(func.count()).select_from(joined).where(*conditions)).scalar_one()
    return list(rows), int(total)


def procedure_choices(conn: Connection) -> list[tuple[str, str]]:
    """Every procedure of the catalogue as (code, name), by code: the procedure filter's choices."""
    rows = conn.execute(select(procedure.c.code, procedure.c.name).order_by(procedure.c.code))
    return [(r.code, r.name) for r in rows]
