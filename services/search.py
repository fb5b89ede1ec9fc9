"""Finding a dossier: officials and reception search by code (lower case, spaces, a part of it), the applicant's
name with or without diacritics, ID number or phone, and list the dossiers they or their department handled
("đã xử lý") — always within what they may read, newest first, a page at a time.

Who may read what is :meth:`services.shop.OneStopShop.authorize_dossier`'s rule, applied by the query
(:mod:`persistence.dossier_search`) instead of row by row. The rows shown carry applicants' names: a page of
results is recorded as ``dossier.listed`` (Decree 13/2023), as the task list is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dossiers.errors import Forbidden, InvalidInput
from dossiers.model import OFFICIAL_ROLES, STATUS_LABELS_VI, DossierStatus, Person, Role
from dossiers.search_text import search_terms
from persistence import dossier_search as queries
from persistence.uow import Database, transaction

PAGE_SIZE = 20
PER_PAGE_MAX = 100
PAGE_MAX = 10_000  # far past any list a person pages through; bounds the offset the database skips
PROCEDURE_CODE_MAX = 40


@dataclass(frozen=True)
class FoundDossier:
    """One dossier of a result list: what a row of the list shows and what it links to."""

    code: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    status: str
    applicant_name: str
    received_at: dt.datetime
    due_at: dt.datetime
    finished_at: dt.datetime | None
    handled_at: dt.datetime | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS_VI.get(DossierStatus(self.status), self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "procedure_code": self.procedure_code,
            "procedure_name": self.procedure_name,
            "agency_code": self.agency_code,
            "status": self.status,
            "status_label": self.status_label,
            "applicant_name": self.applicant_name,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "handled_at": self.handled_at.isoformat() if self.handled_at else None,
        }


@dataclass(frozen=True)
class ResultPage:
    rows: tuple[FoundDossier, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "items": [r.to_json() for r in self.rows],
        }


def _found(row: Any) -> FoundDossier:
    return FoundDossier(
        code=row.code,
        procedure_code=row.procedure_code,
        procedure_name=row.procedure_name,
        agency_code=row.agency_code,
        status=row.status,
        applicant_name=row.applicant_name,
        received_at=row.received_at,
        due_at=row.due_at,
        finished_at=row.finished_at,
        handled_at=getattr(row, "handled_at", None),
    )


class DossierSearch:
    """The officials' and reception's search and their "handled" list."""

    def __init__(self, db: Database, record: Callable[..., None]) -> None:
        self.db = db
        self.record = record

    @staticmethod
    def scope(person: Person) -> queries.Scope:
        """What the person may read (the desk core's rule): an official their agency's dossiers and those handed
        to it, an administrator or auditor every dossier; a citizen has their own list, not a search."""
        if person.role in (Role.ADMIN, Role.AUDITOR):
            return queries.Scope(None)
        if person.role in OFFICIAL_ROLES and person.agency_code:
            return queries.Scope(person.agency_code)
        raise Forbidden("Chỉ cán bộ mới tìm kiếm được hồ sơ.", "Only officials search dossiers.")

    def search(
        self,
        person: Person,
        text: str | None,
        *,
        procedure_code: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = PAGE_SIZE,
        listing: str = "search",
    ) -> ResultPage:
        """The dossiers matching ``text`` (a code or part of one, a name with or without diacritics, an ID number,
        a phone; empty: every one) that the person may read, newest first."""
        scope = self.scope(person)
        terms = search_terms(text)
        filters = _filters(procedure_code, status)
        _check_page(page, per_page)
        with transaction(self.db, read_only=True) as conn:
            rows, total = queries.search_dossiers(
                conn, scope, terms, filters, limit=per_page, offset=(page - 1) * per_page
            )
        return self._listed(person, rows, total, page, per_page, listing)

    def handled(
        self,
        person: Person,
        *,
        procedure_code: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = PAGE_SIZE,
        listing: str = "handled",
    ) -> ResultPage:
        """The dossiers on which the person or an official of their department completed a step, the most
        recently handled first."""
        scope = self.scope(person)
        filters = _filters(procedure_code, status)
        _check_page(page, per_page)
        department = (
            (person.agency_code, person.department_code) if person.agency_code and person.department_code else None
        )
        with transaction(self.db, read_only=True) as conn:
            rows, total = queries.handled_dossiers(
                conn, scope, person.username, department, filters, limit=per_page, offset=(page - 1) * per_page
            )
        return self._listed(person, rows, total, page, per_page, listing)

    def procedure_choices(self) -> list[tuple[str, str]]:
        """Every procedure of the catalogue as (code, name): the procedure filter's choices."""
        with transaction(self.db, read_only=True) as conn:
            return queries.procedure_choices(conn)

    def _listed(
        self, person: Person, rows: list[Any], total: int, page: int, per_page: int, listing: str
    ) -> ResultPage:
        found = tuple(_found(r) for r in rows)
        if found:
            self.record("dossier.listed", person.username, None, codes=[f.code for f in found], page=listing)
        return ResultPage(found, total, page, per_page)


def _filters(procedure_code: str | None, status: str | None) -> queries.Filters:
    if status and status not in {s.value for s in DossierStatus}:
        raise InvalidInput(
            "Trạng thái hồ sơ không hợp lệ.",
            f"Unknown dossier status; one of {', '.join(s.value for s in DossierStatus)}.",
            field="status",
        )
    if procedure_code and len(procedure_code) > PROCEDURE_CODE_MAX:
        raise InvalidInput("Mã thủ tục không hợp lệ.", "The procedure code is too long.", field="procedure")
    return queries.Filters(procedure_code or None, status or None)


def _check_page(page: int, per_page: int) -> None:
    if not 1 <= page <= PAGE_MAX:
        raise InvalidInput(f"Số trang phải từ 1 đến {PAGE_MAX}.", f"The page must be 1 to {PAGE_MAX}.", field="page")
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise InvalidInput(
            f"Số hồ sơ mỗi trang phải từ 1 đến {PER_PAGE_MAX}.",
            f"Dossiers per page must be 1 to {PER_PAGE_MAX}.",
            field="per_page",
        )
