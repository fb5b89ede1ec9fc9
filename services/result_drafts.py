"""What officials see before they decide or number: the draft of a dossier's result and its register number.

* The leader's approval shows the result as it will be prepared for their signature — the same code renders it
  (the procedure's "prepare the result" step, run as a draft: :func:`services.signatures.drafting`), nothing is
  stored, the number, date, signature and seal are still empty.
* The clerk's numbering shows the leader-signed result and the number the agency's register will give (the next
  one of the procedure's series for the year), and once numbered the number given (the ``document.numbered``
  entry).

How each result is prepared and numbered is the result registry's (:mod:`services.results`, from the procedure's
data); this module keeps only the draft run and the register's reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, NotFound
from persistence.counters import last_register_number
from persistence.uow import transaction
from services.results import ResultRegistry
from services.shop import OneStopShop
from services.signatures import DraftReady, drafting


@dataclass(frozen=True)
class Numbering:
    """The clerk's view of the register: the number the next result gets, or the one this dossier got."""

    series: str
    next_number: str | None  # before numbering
    given_number: str | None  # after
    given_at: dt.datetime | None


class ResultDrafts:
    def __init__(self, shop: OneStopShop, results: ResultRegistry) -> None:
        self.shop = shop
        self.results = results

    def has_draft(self, code: str) -> bool:
        return self.results.result_of(code) is not None

    def draft(self, code: str, leader: str, variables: Mapping[str, Any]) -> bytes:
        """The result of dossier ``code`` as it would be prepared for ``leader`` now (nothing stored)."""
        if not self.has_draft(code):
            raise NotFound(
                "Thủ tục này không có văn bản kết quả để xem trước.",
                f"The procedure of dossier {code} has no result document to preview.",
            )
        with drafting() as sink:
            try:
                self.results.prepare(code, {**variables, "approve_by": leader})
            except DraftReady:
                pass
            except ValueError as exc:  # the dossier lacks what the result needs (e.g. the inspection record)
                raise Conflict(
                    "Chưa thể lập dự thảo kết quả: hồ sơ còn thiếu thông tin cần cho văn bản.",
                    f"The result cannot be drafted yet: {exc}",
                ) from exc
        if not sink:
            raise Conflict("Chưa thể lập dự thảo kết quả.", f"No draft was produced for {code}.")
        return sink[0]

    def numbering(self, code: str) -> Numbering | None:
        """The register number this dossier's result will get (or got); None when the process numbers nothing."""
        row = self.shop.dossier_row(code)
        found = self.results.series_of(code)
        if found is None:
            return None
        series, shape = found
        given = [e for e in self.shop.audit.for_dossier(code) if e.event.kind == "document.numbered"]
        if given:
            last = given[-1].event
            return Numbering(series, None, str(dict(last.details).get("number")), last.at)
        year = self.shop.clock.now().astimezone(VN_TZ).year
        with transaction(self.shop.db) as conn:
            last_number = last_register_number(conn, row.agency_code, year, series)
        return Numbering(series, shape(last_number + 1, year), None, None)
