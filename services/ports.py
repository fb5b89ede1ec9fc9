"""What the smaller use cases need of the dossier desk (:class:`services.shop.OneStopShop` provides it), described
here so that they do not import the desk, which uses them: no cycle between the modules of ``services``.

The desk is only the dossier's own behaviour (recording, reading and authorizing a dossier, its documents, the
procedures and agencies in force); the database, clock, document store and engine are given to each use case
explicitly, not reached through the desk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Protocol

from dossiers.calendar import WorkingCalendar
from dossiers.fees import FeeTable
from dossiers.model import Agency, AgencyStructure, Person, Procedure
from dossiers.ports import StoredObject


class DossierDesk(Protocol):
    calendar: WorkingCalendar  # the running working calendar (rebuilt when an override changes)
    accounts: Any  # services.accounts.Accounts, or None
    structures: tuple[AgencyStructure, ...]
    fees: FeeTable  # the fees each agency charges where the province sets them

    def record(self, event_kind: str, actor: str, dossier_code: str | None = None, **details: Any) -> None: ...

    def dossier_row(self, code: str) -> Any: ...

    def dossier_view(self, code: str) -> dict[str, Any]: ...

    def authorize_dossier(self, person: Person, code: str) -> Any: ...

    def insert_document(
        self,
        conn: Any,
        code: str,
        kind: str,
        paper_key: str | None,
        filename: str,
        obj: StoredObject,
        actor: str,
        idempotency_key: str | None = None,
    ) -> str: ...

    def verified_content(self, row: Any, actor: str, **how: Any) -> Iterator[bytes]: ...

    def procedure_of(self, row: Any) -> Procedure: ...

    def procedure(self, code: str, on: dt.date | None = None) -> Procedure: ...

    def procedures(self, on: dt.date | None = None) -> list[Procedure]: ...

    def procedure_names(self) -> dict[str, str]: ...

    def structure_now(self) -> AgencyStructure: ...

    def agency(self, code: str, on: dt.date | None = None) -> Agency: ...
