"""What officials see before they decide or number: the draft of a dossier's result and its register number.

* The leader's approval shows the result as it will be prepared for their signature — the same code renders it
  (the procedure's "prepare the result" step, run as a draft: :func:`services.signatures.drafting`), nothing is
  stored, the number, date, signature and seal are still empty.
* The clerk's numbering shows the leader-signed result and the number the agency's register will give (the next
  one of the procedure's series for the year), and once numbered the number given (the ``document.numbered``
  entry).

One table by process says how each result is prepared and numbered; issue 18 makes that table data (procedures
as data, one result registry), this module then keeps only the draft run and the register's reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, NotFound
from persistence.counters import last_register_number
from persistence.uow import transaction
from services.civil_status import RESULTS as CIVIL_RESULTS
from services.civil_status import CivilStatusPapers
from services.exchange import PartnerDirectory
from services.joint_work import LAND_SERIES, PERMIT_SERIES, JointProcedures
from services.paperwork import RESULT_SERIES, Paperwork, approving_leader
from services.shop import OneStopShop
from services.signatures import DraftReady, drafting

Prepare = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Numbering:
    """The clerk's view of the register: the number the next result gets, or the one this dossier got."""

    series: str
    next_number: str | None  # before numbering
    given_number: str | None  # after
    given_at: dt.datetime | None


def _plain(serial: int, series: str, year: int) -> str:
    return f"{serial:02d}/{series}"


class ResultDrafts:
    def __init__(self, shop: OneStopShop, paperwork: Paperwork, exchange: Any, clock: Any) -> None:
        self.shop = shop
        self.paperwork = paperwork
        civil = CivilStatusPapers(shop, paperwork, clock, paperwork.issuer.store, "system:draft")
        joint = JointProcedures(shop, paperwork, exchange, PartnerDirectory(), clock, "system:draft")

        def household(code: str, variables: Mapping[str, Any]) -> str:
            return paperwork.prepare_household_business_certificate(code, approving_leader(variables))

        self.prepare: dict[str, Prepare] = {
            "household_business_registration": household,
            "birth_registration": civil.prepare_birth_certificate,
            "marriage_registration": civil.prepare_marriage_certificate,
            "certified_copy": civil.prepare_certified_copy,
            "construction_permit": joint.prepare_permit,
            "land_registration": joint.prepare_land_certificate,
        }
        civil_number: Callable[[int, str, int], str] = lambda serial, series, year: next(  # noqa: E731
            k.number(serial, year) for k in CIVIL_RESULTS.values() if k.series == series
        )
        self.series: dict[str, tuple[str, Callable[[int, str, int], str]]] = {
            "household_business_registration": (RESULT_SERIES, _plain),
            "construction_permit": (PERMIT_SERIES, _plain),
            "land_registration": (LAND_SERIES, _plain),
            **{key: (kind.series, civil_number) for key, kind in CIVIL_RESULTS.items()},
        }

    def has_draft(self, code: str) -> bool:
        return self.shop.procedure_of(self.shop.dossier_row(code)).process_key in self.prepare

    def draft(self, code: str, leader: str, variables: Mapping[str, Any]) -> bytes:
        """The result of dossier ``code`` as it would be prepared for ``leader`` now (nothing stored)."""
        process_key = self.shop.procedure_of(self.shop.dossier_row(code)).process_key
        prepare = self.prepare.get(process_key)
        if prepare is None:
            raise NotFound(
                "Thủ tục này không có văn bản kết quả để xem trước.",
                f"Process {process_key} has no result document to preview.",
            )
        with drafting() as sink:
            try:
                prepare(code, {**variables, "approve_by": leader})
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
        found = self.series.get(self.shop.procedure_of(row).process_key)
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
        return Numbering(series, shape(last_number + 1, series, year), None, None)
