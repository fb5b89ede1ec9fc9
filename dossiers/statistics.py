"""Statistics of dossier handling: the QĐ 766/QĐ-TTg indicator groups per agency, department, procedure, period.

QĐ 766/QĐ-TTg (23 June 2022) scores service quality in six groups: publicity (18 points), progress of
handling (20), online public services (12), online payment (10), satisfaction (18) and digitisation (22).
Publicity is about the published catalogue, not about dossiers; every other group is computed here from
plain records, for one period ``[start, end)`` (aware datetimes; the API turns Vietnamese calendar days
into that interval).

Definitions (every count is of dossiers; every share names its denominator):

Progress (TT 01/2018 reporting shape: carried over + received = resolved + refused + withdrawn + in progress)
    ``carried_over``  received before ``start`` and not finished before ``start`` (kỳ trước chuyển sang).
    ``received``      received in the period (mới tiếp nhận).
    ``resolved``      *đã giải quyết*: a result was issued in the period — the dossier reached
                      ``result_ready``/``returned`` and its ``finished_at`` (the moment the result was ready,
                      not the hand-over) lies in the period. Refusals and withdrawals are not results: they
                      are counted apart (``refused``, ``withdrawn`` — which also counts a dossier the agency
                      stopped, Mẫu 05 of 2025 —, by their ``finished_at``), so
                      ``early + on_time + late == resolved`` as in the reports the design quotes
                      ("8,315 resolved: 5,138 on time, 3,076 early, 101 late").
    ``early/on_time/late``  split of ``resolved`` by :func:`dossiers.lifecycle.timeliness` of
                      ``finished_at`` against the (pause-shifted) ``due_at``.
    ``in_progress``   received before ``end`` and not finished before ``end`` (đang giải quyết at the end of
                      the period, whatever its status then — in review, waiting for a supplement, …).
    ``overdue``       the part of ``in_progress`` whose due moment had passed at ``end`` (``due_at < end``),
                      except a dossier whose clock was stopped for a supplement request at ``end`` and that
                      was not yet late when the clock stopped (``paused_at <= end`` and ``due_at > paused_at``).
                      ``in_progress_within_due = in_progress - overdue``.

Online services and postal service (cohort: dossiers received in the period)
    ``received_online`` / ``received_postal`` / ``received_counter`` by intake channel.
    ``returned_by_post``  among ``resolved``: the result goes back by public postal service (BCCI).

Online payment (cohort: dossiers received in the period that paid a fee by ``end``)
    ``paid``          dossiers with at least one payment in status ``paid`` with ``paid_at < end``.
    ``paid_online``   among ``paid``: at least one such payment was made online (gateway).

Digitisation
    ``digitised_inputs``    among ``received``: the inputs are electronic — submitted online, or at least one
                            paper was digitised at the desk (a ``scan_copy`` document, an electronic copy signed
                            by the agency) created before ``end``.
    ``electronic_results``  among ``resolved``: an electronic signed result (a ``result`` document) exists
                            before ``end``.

Satisfaction (cohort: ratings given in the period, ``start <= rated_at < end``, whatever the dossier's period)
    ``ratings``   count per level 1 (very dissatisfied) … 5 (very satisfied).
    satisfied share = levels 4 and 5 over all ratings given; the mean level is reported too.

A dossier belongs to one agency (its receiving agency), one procedure and one *handling department*: the
department of the last specialist who claimed or completed one of its tasks (:func:`handling_department`);
``None`` when no specialist has acted yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from dossiers.lifecycle import Timeliness, timeliness
from dossiers.model import STOPPED_STATUSES, DossierStatus, Role

RESULT_STATUSES = frozenset({DossierStatus.RESULT_READY, DossierStatus.RETURNED})
SATISFIED_LEVELS = frozenset({4, 5})
RATING_LEVELS = (1, 2, 3, 4, 5)
DIGITISED_INPUT_KIND = "scan_copy"
ELECTRONIC_RESULT_KIND = "result"
UNASSIGNED = ""  # group key of dossiers without a handling department yet


class GroupBy(StrEnum):
    AGENCY = "agency"
    DEPARTMENT = "department"
    PROCEDURE = "procedure"


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` of aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be aware datetimes")
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, dt.datetime) and self.start <= moment < self.end


@dataclass(frozen=True)
class PaymentRecord:
    online: bool
    status: str  # pending | paid | failed | refunded
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class DocumentRecord:
    kind: str
    created_at: dt.datetime


@dataclass(frozen=True)
class RatingRecord:
    level: int  # 1..5
    rated_at: dt.datetime


@dataclass(frozen=True)
class DossierRecord:
    """What the statistics need of one dossier (the database adapter builds these)."""

    code: str
    agency_code: str
    procedure_code: str
    department_code: str | None
    status: DossierStatus
    channel: str  # counter | online | postal
    return_channel: str  # counter | postal | online
    received_at: dt.datetime
    due_at: dt.datetime
    finished_at: dt.datetime | None = None
    paused_at: dt.datetime | None = None  # set while a supplement request stops the clock
    payments: tuple[PaymentRecord, ...] = ()
    documents: tuple[DocumentRecord, ...] = ()
    rating: RatingRecord | None = None

    def key(self, group_by: GroupBy) -> str:
        if group_by is GroupBy.AGENCY:
            return self.agency_code
        if group_by is GroupBy.PROCEDURE:
            return self.procedure_code
        return self.department_code or UNASSIGNED


@dataclass(frozen=True)
class Share:
    """An exact share ``numerator / denominator``; ``None`` values when the denominator is 0."""

    numerator: int
    denominator: int

    @property
    def fraction(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> Decimal | None:
        """Percentage rounded half-up to two decimals (98.79)."""
        f = self.fraction
        if f is None:
            return None
        exact = Decimal(f.numerator * 100) / Decimal(f.denominator)
        return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Indicators:
    """Counts of one group for one period; shares are derived (see the module docstring)."""

    carried_over: int = 0
    received: int = 0
    received_online: int = 0
    received_postal: int = 0
    received_counter: int = 0
    resolved: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    refused: int = 0
    withdrawn: int = 0
    in_progress: int = 0
    overdue: int = 0
    returned_by_post: int = 0
    paid: int = 0
    paid_online: int = 0
    digitised_inputs: int = 0
    electronic_results: int = 0
    ratings: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # count per level 1..5

    def __add__(self, other: Indicators) -> Indicators:
        if not isinstance(other, Indicators):
            return NotImplemented
        values: dict[str, object] = {}
        for name in COUNT_FIELDS:
            values[name] = getattr(self, name) + getattr(other, name)
        values["ratings"] = tuple(a + b for a, b in zip(self.ratings, other.ratings, strict=True))
        return Indicators(**values)  # type: ignore[arg-type]

    @property
    def in_handling(self) -> int:
        """Dossiers handled in the period: carried over + received."""
        return self.carried_over + self.received

    @property
    def in_progress_within_due(self) -> int:
        return self.in_progress - self.overdue

    @property
    def rated(self) -> int:
        return sum(self.ratings)

    @property
    def satisfied(self) -> int:
        return sum(n for level, n in zip(RATING_LEVELS, self.ratings, strict=True) if level in SATISFIED_LEVELS)

    @property
    def mean_rating(self) -> Fraction | None:
        """Mean level of the ratings given in the period (exact)."""
        if not self.rated:
            return None
        return Fraction(sum(level * n for level, n in zip(RATING_LEVELS, self.ratings, strict=True)), self.rated)

    def shares(self) -> dict[str, Share]:
        """Every share with its denominator: over ``resolved`` (timeliness, post, electronic results),
        ``received`` (channels, digitised inputs), ``paid`` (online payment), ``rated`` (satisfaction)."""
        return {
            "early_or_on_time": Share(self.early + self.on_time, self.resolved),
            "early": Share(self.early, self.resolved),
            "on_time": Share(self.on_time, self.resolved),
            "late": Share(self.late, self.resolved),
            "overdue": Share(self.overdue, self.in_progress),
            "online": Share(self.received_online, self.received),
            "postal_intake": Share(self.received_postal, self.received),
            "postal_return": Share(self.returned_by_post, self.resolved),
            "online_payment": Share(self.paid_online, self.paid),
            "digitised_inputs": Share(self.digitised_inputs, self.received),
            "electronic_results": Share(self.electronic_results, self.resolved),
            "satisfied": Share(self.satisfied, self.rated),
        }


COUNT_FIELDS: tuple[str, ...] = tuple(f for f in Indicators.__dataclass_fields__ if f != "ratings")


@dataclass(frozen=True)
class Group:
    key: str
    indicators: Indicators


@dataclass(frozen=True)
class Report:
    period: Period
    group_by: GroupBy
    groups: tuple[Group, ...]
    total: Indicators = field(default_factory=Indicators)


# ------------------------------------------------------------------ one dossier


def _finished_before(record: DossierRecord, moment: dt.datetime) -> bool:
    return record.finished_at is not None and record.finished_at < moment


def _is_overdue_at(record: DossierRecord, moment: dt.datetime) -> bool:
    if record.due_at >= moment:
        return False
    paused = record.paused_at
    # the clock stopped for a supplement before ``moment`` and is still stopped: late only if it already was
    return not (paused is not None and paused <= moment and record.due_at > paused)


def indicators_of(record: DossierRecord, period: Period) -> Indicators:
    """The contribution of one dossier to its group (all zeros when it does not touch the period)."""
    start, end = period.start, period.end
    counts: dict[str, int] = {}

    def one(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    if record.received_at < start and not _finished_before(record, start):
        one("carried_over")
    if record.received_at in period:
        one("received")
        one({"online": "received_online", "postal": "received_postal"}.get(record.channel, "received_counter"))
        if record.channel == "online" or any(
            d.kind == DIGITISED_INPUT_KIND and d.created_at < end for d in record.documents
        ):
            one("digitised_inputs")
        paid = [p for p in record.payments if p.status == "paid" and p.paid_at is not None and p.paid_at < end]
        if paid:
            one("paid")
            if any(p.online for p in paid):
                one("paid_online")
    if record.finished_at is not None and record.finished_at in period:
        if record.status in RESULT_STATUSES:
            one("resolved")
            one(
                {Timeliness.EARLY: "early", Timeliness.ON_TIME: "on_time", Timeliness.LATE: "late"}[
                    timeliness(record.finished_at, record.due_at)
                ]
            )
            if record.return_channel == "postal":
                one("returned_by_post")
            if any(d.kind == ELECTRONIC_RESULT_KIND and d.created_at < end for d in record.documents):
                one("electronic_results")
        elif record.status == DossierStatus.REFUSED:
            one("refused")
        elif record.status in STOPPED_STATUSES:  # no result: neither on time nor late, counted as withdrawn
            one("withdrawn")
    if record.received_at < end and not _finished_before(record, end):
        one("in_progress")
        if _is_overdue_at(record, end):
            one("overdue")
    ratings = (0, 0, 0, 0, 0)
    if record.rating is not None and record.rating.rated_at in period:
        level = record.rating.level
        if level not in RATING_LEVELS:
            raise ValueError(f"rating level {level} of dossier {record.code} is not 1..5")
        ratings = tuple(1 if lvl == level else 0 for lvl in RATING_LEVELS)  # type: ignore[assignment]
    return Indicators(**counts, ratings=ratings)


# ------------------------------------------------------------------ populations


def compute(records: Iterable[DossierRecord], period: Period, group_by: GroupBy) -> Report:
    """Indicators per group (sorted by key) and their total for ``period``. Groups where nothing happened
    in the period are left out."""
    by_key: dict[str, Indicators] = {}
    for record in records:
        contribution = indicators_of(record, period)
        if contribution == Indicators():
            continue
        key = record.key(group_by)
        by_key[key] = by_key.get(key, Indicators()) + contribution
    groups = tuple(Group(k, by_key[k]) for k in sorted(by_key))
    total = sum((g.indicators for g in groups), Indicators())
    return Report(period, group_by, groups, total)


@dataclass(frozen=True)
class HandlingEvent:
    """A task claimed or completed on a dossier, with the actor's role and department."""

    at: dt.datetime
    role: str
    department_code: str | None


def handling_department(events: Sequence[HandlingEvent]) -> str | None:
    """The department that handles a dossier: the department of the last specialist (the role of the
    substantive review in every BPMN file) who claimed or completed one of its tasks. Role → department
    mappings cannot tell it when an agency maps several departments to ``specialist``."""
    for event in sorted(events, key=lambda e: e.at, reverse=True):
        if event.role == Role.SPECIALIST.value and event.department_code:
            return event.department_code
    return None


# ------------------------------------------------------------------ tables (export)

# (key, Vietnamese column header, value of a group)
Column = tuple[str, str, Callable[[Indicators], object]]


def _pct(name: str) -> Callable[[Indicators], object]:
    return lambda ind: ind.shares()[name].percent


def _level(level: int) -> Callable[[Indicators], object]:
    return lambda ind: ind.ratings[level - 1]


COLUMNS: tuple[Column, ...] = (
    ("carried_over", "Kỳ trước chuyển sang", lambda i: i.carried_over),
    ("received", "Mới tiếp nhận", lambda i: i.received),
    ("received_online", "Tiếp nhận trực tuyến", lambda i: i.received_online),
    ("received_counter", "Tiếp nhận trực tiếp", lambda i: i.received_counter),
    ("received_postal", "Tiếp nhận qua bưu chính công ích", lambda i: i.received_postal),
    ("resolved", "Đã giải quyết", lambda i: i.resolved),
    ("early", "Trước hạn", lambda i: i.early),
    ("on_time", "Đúng hạn", lambda i: i.on_time),
    ("late", "Quá hạn", lambda i: i.late),
    ("early_or_on_time_pct", "Tỷ lệ trước hạn và đúng hạn (%)", _pct("early_or_on_time")),
    ("refused", "Từ chối giải quyết", lambda i: i.refused),
    ("withdrawn", "Rút hồ sơ", lambda i: i.withdrawn),
    ("in_progress", "Đang giải quyết", lambda i: i.in_progress),
    ("in_progress_within_due", "Đang giải quyết trong hạn", lambda i: i.in_progress_within_due),
    ("overdue", "Đang giải quyết quá hạn", lambda i: i.overdue),
    ("online_pct", "Tỷ lệ hồ sơ trực tuyến (%)", _pct("online")),
    ("postal_intake_pct", "Tỷ lệ tiếp nhận qua bưu chính công ích (%)", _pct("postal_intake")),
    ("returned_by_post", "Trả kết quả qua bưu chính công ích", lambda i: i.returned_by_post),
    ("postal_return_pct", "Tỷ lệ trả kết quả qua bưu chính công ích (%)", _pct("postal_return")),
    ("paid", "Hồ sơ đã nộp phí, lệ phí", lambda i: i.paid),
    ("paid_online", "Thanh toán trực tuyến", lambda i: i.paid_online),
    ("online_payment_pct", "Tỷ lệ thanh toán trực tuyến (%)", _pct("online_payment")),
    ("digitised_inputs", "Hồ sơ được số hóa", lambda i: i.digitised_inputs),
    ("digitised_inputs_pct", "Tỷ lệ số hóa hồ sơ (%)", _pct("digitised_inputs")),
    ("electronic_results", "Kết quả điện tử", lambda i: i.electronic_results),
    ("electronic_results_pct", "Tỷ lệ cấp kết quả điện tử (%)", _pct("electronic_results")),
    ("rating_1", "Rất không hài lòng", _level(1)),
    ("rating_2", "Không hài lòng", _level(2)),
    ("rating_3", "Bình thường", _level(3)),
    ("rating_4", "Hài lòng", _level(4)),
    ("rating_5", "Rất hài lòng", _level(5)),
    ("satisfied_pct", "Tỷ lệ hài lòng (%)", _pct("satisfied")),
)

GROUP_HEADERS: Mapping[GroupBy, str] = {
    GroupBy.AGENCY: "Cơ quan",
    GroupBy.DEPARTMENT: "Phòng, ban",
    GroupBy.PROCEDURE: "Thủ tục hành chính",
}
TOTAL_LABEL = "Tổng cộng"
UNASSIGNED_LABEL = "Chưa phân công"


def table(report: Report, names: Mapping[str, str]) -> list[list[object]]:
    """The report as rows for CSV/XLSX: a header row (Vietnamese), one row per group, the total row.
    ``names`` maps group keys to display names; percentages are ``Decimal`` or ``None`` (no denominator)."""
    header: list[object] = [f"Mã {GROUP_HEADERS[report.group_by].lower()}", GROUP_HEADERS[report.group_by]]
    header += [title for _, title, _ in COLUMNS]
    rows: list[list[object]] = [header]
    for group in report.groups:
        label = names.get(group.key) or (UNASSIGNED_LABEL if group.key == UNASSIGNED else group.key)
        rows.append([group.key, label, *(value(group.indicators) for _, _, value in COLUMNS)])
    rows.append(["", TOTAL_LABEL, *(value(report.total) for _, _, value in COLUMNS)])
    return rows
