"""What the smaller use cases need of the dossier desk (:class:`services.shop.OneStopShop` provides it), described
here so that they do not import the desk, which uses them: no cycle between the modules of ``services``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from dossiers.model import Person, Procedure
from dossiers.ports import Clock


class DossierDesk(Protocol):
    db: Any
    clock: Clock

    def record(self, event_kind: str, actor: str, dossier_code: str | None = None, **details: Any) -> None: ...

    def dossier_row(self, code: str) -> Any: ...

    def authorize_dossier(self, person: Person, code: str) -> Any: ...

    def procedure_of(self, row: Any) -> Procedure: ...

    def procedure(self, code: str, on: dt.date | None = None) -> Procedure: ...
