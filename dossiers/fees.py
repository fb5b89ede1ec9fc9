"""Fees a province sets: the per-agency fee table (``motcua/data/fees.json``, and ``fees.json`` in an agency's
own catalogue directory).

Some fees are national (the certified copy's 2.000 đồng a page, Thông tư 226/2016/TT-BTC) and live in the
catalogue's ``fee_vnd``. Others are set by each province's People's Council (Hội đồng nhân dân cấp tỉnh, Thông
tư 85/2019/TT-BTC): the catalogue says so (``"fee_set_by": "province"``, ``fee_vnd`` 0) and the amount is a
per-agency value here, dated by the resolution that sets it. A province that has not configured one still
starts (``motcua procedures validate`` warns; the fee counts as 0) rather than refusing to serve.

The file format::

    {"fees": [{"procedure": "1.001612", "agencies": ["*"], "amount_vnd": 100000,
               "valid_from": "2025-07-01", "source": "Nghị quyết số …/NQ-HĐND …"}]}

``agencies`` lists agency codes; ``"*"`` is every agency of the installation (one province). An agency's own
row beats ``"*"``; among the rows that apply, the latest ``valid_from`` on or before the day wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dossiers.model import Procedure
from dossiers.problems import bilingual, written

EVERY_AGENCY = "*"
ROW_KEYS = {"procedure", "agencies", "amount_vnd", "valid_from", "source"}


@dataclass(frozen=True)
class AgencyFee:
    procedure: str
    agencies: tuple[str, ...]
    amount_vnd: int
    valid_from: dt.date
    source: str


@dataclass(frozen=True)
class FeeTable:
    rows: tuple[AgencyFee, ...] = ()

    def _row(self, procedure: str, agency: str, day: dt.date) -> AgencyFee | None:
        applicable = [r for r in self.rows if r.procedure == procedure and r.valid_from <= day]
        for wanted in (agency, EVERY_AGENCY):
            rows = [r for r in applicable if wanted in r.agencies]
            if rows:
                return max(rows, key=lambda r: r.valid_from)
        return None

    def amount(self, procedure: str, agency: str, day: dt.date) -> int | None:
        """The fee ``agency`` charges for ``procedure`` on ``day``; None when the table says nothing."""
        row = self._row(procedure, agency, day)
        return None if row is None else row.amount_vnd

    def procedures(self) -> set[str]:
        return {r.procedure for r in self.rows}

    def agencies(self) -> set[str]:
        return {a for r in self.rows for a in r.agencies if a != EVERY_AGENCY}


def fee_for(procedure: Procedure, agency_code: str, day: dt.date, table: FeeTable) -> int:
    """What a dossier of ``procedure`` received by ``agency_code`` on ``day``
    pays: the catalogue's national fee, or the agency's configured value when the province sets it (0 while it is
    not configured — ``procedures validate`` warns)."""
    if procedure.fee_set_by != "province":
        return procedure.fee_vnd
    return table.amount(procedure.code, agency_code, day) or 0


def check_fee_table(data: Any, where: str = "fees.json") -> tuple[FeeTable, list[str]]:
    """Parse the fee table; every problem with its JSON path (the good rows are kept)."""
    problems: list[str] = []

    def fail(at: str, vi: str, en: str) -> None:
        problems.append(f"{at}: {bilingual(vi, en)}")

    if data is None:
        return FeeTable(), []
    if isinstance(data, str):  # the reader's own complaint (e.g. not readable JSON)
        return FeeTable(), [f"{where}: {data}"]  # "Vietnamese / English" already
    if not isinstance(data, Mapping) or not isinstance(data.get("fees", []), list):
        fail(where, 'bảng lệ phí phải có dạng {"fees": [...]}', 'must be an object {"fees": [...]}')
        return FeeTable(), problems
    rows: list[AgencyFee] = []
    for i, raw in enumerate(data.get("fees", [])):
        path = f"{where}: $.fees[{i}]"
        before = len(problems)
        if not isinstance(raw, Mapping):
            fail(path, "phải là một đối tượng JSON {…}", "must be an object")
            continue
        for key in sorted(set(raw) - ROW_KEYS):
            if not key.startswith("_"):
                fail(
                    f"{path}.{key}",
                    f"mục này không có trong mẫu bảng lệ phí; chỉ dùng: {', '.join(sorted(ROW_KEYS))}",
                    f"unknown key (allowed: {', '.join(sorted(ROW_KEYS))})",
                )
        procedure = raw.get("procedure")
        if not isinstance(procedure, str) or not procedure.strip():
            fail(f"{path}.procedure", "phải ghi mã thủ tục (ví dụ 1.001612)", "must be a procedure code")
        agencies = raw.get("agencies")
        if not isinstance(agencies, list) or not agencies or not all(isinstance(a, str) and a for a in agencies):
            fail(
                f"{path}.agencies",
                'phải liệt kê mã các cơ quan áp dụng (hoặc "*" cho mọi cơ quan)',
                'must list agency codes (or "*" for every agency)',
            )
        amount = raw.get("amount_vnd")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            fail(
                f"{path}.amount_vnd",
                f"phải là số đồng, số nguyên từ 0 trở lên, đang ghi {written(amount)}",
                f"must be a whole number of đồng ≥ 0, got {amount!r}",
            )
        valid_from: dt.date | None = None
        try:
            valid_from = dt.date.fromisoformat(str(raw.get("valid_from")))
        except ValueError:
            fail(
                f"{path}.valid_from",
                f"phải là một ngày viết theo dạng năm-tháng-ngày (ví dụ 2025-07-01), đang ghi "
                f"{written(raw.get('valid_from'))}",
                f"must be a date YYYY-MM-DD, got {raw.get('valid_from')!r}",
            )
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            fail(
                f"{path}.source",
                "phải ghi nghị quyết của Hội đồng nhân dân cấp tỉnh quy định mức thu (Nghị quyết … HĐND)",
                "must name the resolution that sets the fee (Nghị quyết … HĐND)",
            )
        if len(problems) > before or valid_from is None:
            continue
        assert isinstance(agencies, list) and isinstance(amount, int)  # checked above
        rows.append(AgencyFee(str(procedure).strip(), tuple(agencies), amount, valid_from, str(source).strip()))
    return FeeTable(tuple(rows)), problems


def merge(tables: Iterable[FeeTable]) -> FeeTable:
    """The built-in table and an agency's own, one table (the rules of :meth:`FeeTable.amount` pick)."""
    return FeeTable(tuple(r for t in tables for r in t.rows))
