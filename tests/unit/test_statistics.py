"""The QĐ 766 indicators (dossiers.statistics) on a hand-made population whose every figure is known."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from dossiers.calendar import VN_TZ
from dossiers.model import DossierStatus as S
from dossiers.statistics import (
    UNASSIGNED,
    DocumentRecord,
    DossierRecord,
    GroupBy,
    HandlingEvent,
    Indicators,
    PaymentRecord,
    Period,
    RatingRecord,
    Share,
    compute,
    handling_department,
    indicators_of,
    table,
)

MARCH = Period(dt.datetime(2026, 3, 1, tzinfo=VN_TZ), dt.datetime(2026, 4, 1, tzinfo=VN_TZ))


def t(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=VN_TZ)


def rec(code: str, received: dt.datetime, due: dt.datetime, status: S = S.IN_PROGRESS, **kw: object) -> DossierRecord:
    values: dict[str, object] = {
        "agency_code": "A1",
        "procedure_code": "P1",
        "department_code": None,
        "channel": "counter",
        "return_channel": "counter",
    } | kw
    return DossierRecord(code=code, status=status, received_at=received, due_at=due, **values)  # type: ignore[arg-type]


POPULATION = [
    # received before March, resolved late in March, result returned by post, electronic result
    rec(
        "carried",
        t(2, 20),
        t(2, 25, 8),
        S.RETURNED,
        finished_at=t(3, 3),
        return_channel="postal",
        department_code="PKT",
        documents=(DocumentRecord("result", t(3, 3)),),
    ),
    # resolved in February, rated in March: counts in satisfaction only
    rec("old", t(2, 10), t(2, 13, 8), S.RETURNED, finished_at=t(2, 12), rating=RatingRecord(5, t(3, 5))),
    # online, paid online, resolved the day before the due day: early
    rec(
        "early",
        t(3, 2, 8),
        t(3, 5, 8),
        S.RETURNED,
        finished_at=t(3, 4, 10),
        channel="online",
        department_code="PKT",
        payments=(PaymentRecord(True, "paid", t(3, 2, 9)),),
        rating=RatingRecord(4, t(3, 6)),
    ),
    # counter, scanned at the desk, paid cash, result ready on the due day before the due moment: on time
    rec(
        "ontime",
        t(3, 2, 8),
        t(3, 5, 8),
        S.RESULT_READY,
        finished_at=t(3, 5, 7, 30),
        department_code="PKT",
        documents=(DocumentRecord("scan_copy", t(3, 2, 8)), DocumentRecord("result", t(3, 5, 7, 30))),
        payments=(PaymentRecord(False, "paid", t(3, 2, 8)),),
        rating=RatingRecord(2, t(3, 10)),
    ),
    # postal intake, a failed online payment, resolved after the due moment: late; rated after the period
    rec(
        "late",
        t(3, 9),
        t(3, 12, 8),
        S.RETURNED,
        finished_at=t(3, 13),
        channel="postal",
        department_code="VHXH",
        payments=(PaymentRecord(True, "failed", None),),
        rating=RatingRecord(1, t(4, 2)),
    ),
    rec("refused", t(3, 10), t(3, 13, 8), S.REFUSED, finished_at=t(3, 11), department_code="VHXH"),
    rec("withdrawn", t(3, 10), t(3, 13, 8), S.WITHDRAWN, finished_at=t(3, 12)),
    # never finished, due in March: overdue at the end of the period
    rec("overdue", t(3, 16), t(3, 19, 8), department_code="VHXH"),
    # online, due after the period: in progress within due
    rec("within", t(3, 30), t(4, 2, 8), channel="online"),
    # clock stopped for a supplement before its due moment: in progress, not overdue
    rec("paused-ok", t(3, 20), t(3, 25, 8), S.SUPPLEMENT_REQUESTED, paused_at=t(3, 23)),
    # clock stopped only after the due moment had passed: overdue
    rec("paused-late", t(3, 16), t(3, 19, 8), S.SUPPLEMENT_REQUESTED, paused_at=t(3, 20)),
    # finished after the period: in progress (and overdue) at its end, not resolved in it
    rec("after", t(3, 25), t(3, 28, 8), S.RETURNED, finished_at=t(4, 3)),
    # received after the period: nowhere
    rec("future", t(4, 2), t(4, 7, 8)),
    # scanned only after the period: not digitised in March
    rec("scan-late", t(3, 26), t(4, 5, 8), documents=(DocumentRecord("scan_copy", t(4, 2)),)),
]


def test_every_total_of_the_population() -> None:
    total = compute(POPULATION, MARCH, GroupBy.AGENCY).total
    assert total == Indicators(
        carried_over=1,
        received=11,
        received_online=2,
        received_postal=1,
        received_counter=8,
        resolved=4,
        early=1,
        on_time=1,
        late=2,
        refused=1,
        withdrawn=1,
        in_progress=6,
        overdue=3,
        returned_by_post=1,
        paid=2,
        paid_online=1,
        digitised_inputs=3,
        electronic_results=2,
        ratings=(0, 1, 0, 1, 1),
    )
    # stock and flow agree: carried over + received = resolved + refused + withdrawn + in progress
    assert total.in_handling == 12 == total.resolved + total.refused + total.withdrawn + total.in_progress
    assert total.in_progress_within_due == 3
    assert (total.rated, total.satisfied, total.mean_rating) == (3, 2, Fraction(11, 3))


def test_every_share_with_its_denominator() -> None:
    shares = compute(POPULATION, MARCH, GroupBy.AGENCY).total.shares()
    expected = {
        "early_or_on_time": (2, 4, "50.00"),
        "early": (1, 4, "25.00"),
        "on_time": (1, 4, "25.00"),
        "late": (2, 4, "50.00"),
        "overdue": (3, 6, "50.00"),
        "online": (2, 11, "18.18"),
        "postal_intake": (1, 11, "9.09"),
        "postal_return": (1, 4, "25.00"),
        "online_payment": (1, 2, "50.00"),
        "digitised_inputs": (3, 11, "27.27"),
        "electronic_results": (2, 4, "50.00"),
        "satisfied": (2, 3, "66.67"),
    }
    assert {k: (s.numerator, s.denominator, str(s.percent)) for k, s in shares.items()} == expected


def test_groups_by_department_add_up_to_the_total() -> None:
    report = compute(POPULATION, MARCH, GroupBy.DEPARTMENT)
    groups = {g.key: g.indicators for g in report.groups}
    assert list(groups) == [UNASSIGNED, "PKT", "VHXH"]
    assert groups["PKT"] == Indicators(
        carried_over=1,
        received=2,
        received_online=1,
        received_counter=1,
        resolved=3,
        early=1,
        on_time=1,
        late=1,
        returned_by_post=1,
        paid=2,
        paid_online=1,
        digitised_inputs=2,
        electronic_results=2,
        ratings=(0, 1, 0, 1, 0),
    )
    assert groups["VHXH"] == Indicators(
        received=3, received_postal=1, received_counter=2, resolved=1, late=1, refused=1, in_progress=1, overdue=1
    )
    assert groups[UNASSIGNED] == Indicators(
        received=6,
        received_online=1,
        received_counter=5,
        withdrawn=1,
        in_progress=5,
        overdue=2,
        digitised_inputs=1,
        ratings=(0, 0, 0, 0, 1),
    )
    assert sum(groups.values(), Indicators()) == report.total


def test_grouping_by_agency_and_procedure() -> None:
    population = [
        rec("a", t(3, 2), t(3, 5, 8), agency_code="A2", procedure_code="P2"),
        rec("b", t(3, 2), t(3, 5, 8), S.RETURNED, finished_at=t(3, 3), agency_code="A1", procedure_code="P2"),
        rec("c", t(1, 2), t(1, 5, 8), S.RETURNED, finished_at=t(1, 3), agency_code="A3"),  # nothing in March
    ]
    by_agency = compute(population, MARCH, GroupBy.AGENCY)
    assert [(g.key, g.indicators.received, g.indicators.resolved) for g in by_agency.groups] == [
        ("A1", 1, 1),
        ("A2", 1, 0),
    ]
    by_procedure = compute(population, MARCH, GroupBy.PROCEDURE)
    assert [(g.key, g.indicators.received) for g in by_procedure.groups] == [("P2", 2)]


def test_timeliness_boundaries() -> None:
    due = t(3, 5, 8)

    def outcome(finished: dt.datetime) -> tuple[int, int, int]:
        i = indicators_of(rec("x", t(3, 2), due, S.RETURNED, finished_at=finished), MARCH)
        return i.early, i.on_time, i.late

    assert outcome(t(3, 4, 23, 59)) == (1, 0, 0)  # before the due day
    assert outcome(t(3, 5, 0, 0)) == (0, 1, 0)  # the due day, before the due moment
    assert outcome(due) == (0, 1, 0)  # the due moment itself
    assert outcome(due + dt.timedelta(seconds=1)) == (0, 0, 1)


def test_period_bounds_are_half_open() -> None:
    start, end = MARCH.start, MARCH.end
    at_start = indicators_of(rec("s", start, end, S.RETURNED, finished_at=start), MARCH)
    assert (at_start.received, at_start.resolved, at_start.carried_over, at_start.in_progress) == (1, 1, 0, 0)
    at_end = indicators_of(rec("e", end, end + dt.timedelta(days=3)), MARCH)
    assert at_end == Indicators()
    # finished exactly at the end: still in progress at the end (a dossier due at the end is not yet overdue)
    edge = indicators_of(rec("f", t(3, 30), end, S.RETURNED, finished_at=end), MARCH)
    assert (edge.in_progress, edge.overdue, edge.resolved) == (1, 0, 0)
    with pytest.raises(ValueError):
        Period(end, start)
    with pytest.raises(ValueError):
        Period(dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1))


def test_a_rating_outside_1_to_5_is_refused() -> None:
    with pytest.raises(ValueError, match="1..5"):
        indicators_of(
            rec("r", t(2, 1), t(2, 4), S.RETURNED, finished_at=t(2, 2), rating=RatingRecord(6, t(3, 2))), MARCH
        )


def test_shares_are_exact_and_the_seed_figures_come_out() -> None:
    # "8,315 resolved: 5,138 on time, 3,076 early (98.79 %), 101 late (1.2 %)" (DESIGN §6 seed)
    assert Share(5138 + 3076, 8315).percent == Decimal("98.79")
    assert Share(101, 8315).percent == Decimal("1.21")
    assert Share(101, 8315).fraction == Fraction(101, 8315)
    assert Share(1, 8).percent == Decimal("12.50")
    assert Share(1, 200).percent == Decimal("0.50")
    assert Share(1, 0).percent is None and Share(0, 0).fraction is None


def test_handling_department_is_the_last_specialist() -> None:
    events = [
        HandlingEvent(t(3, 2), "specialist", "PKT"),
        HandlingEvent(t(3, 4), "leader", "VP"),
        HandlingEvent(t(3, 3), "specialist", "VHXH"),
    ]
    assert handling_department(events) == "VHXH"
    assert handling_department([HandlingEvent(t(3, 2), "reception", "TTPVHCC")]) is None
    assert handling_department([]) is None


def test_table_has_vietnamese_headers_and_a_total_row() -> None:
    report = compute(POPULATION, MARCH, GroupBy.DEPARTMENT)
    rows = table(report, {"PKT": "Phòng Kinh tế"})
    assert rows[0][:4] == ["Mã phòng, ban", "Phòng, ban", "Kỳ trước chuyển sang", "Mới tiếp nhận"]
    assert "Tỷ lệ trước hạn và đúng hạn (%)" in rows[0]
    assert [r[1] for r in rows[1:]] == ["Chưa phân công", "Phòng Kinh tế", "VHXH", "Tổng cộng"]
    header = rows[0]
    total = dict(zip(header, rows[-1], strict=True))
    assert total["Mới tiếp nhận"] == 11
    assert total["Quá hạn"] == 2
    assert total["Đang giải quyết quá hạn"] == 3
    assert total["Tỷ lệ hồ sơ trực tuyến (%)"] == Decimal("18.18")
    assert total["Rất hài lòng"] == 1
    vhxh = dict(zip(header, rows[3], strict=True))
    assert vhxh["Tỷ lệ hài lòng (%)"] is None  # nobody rated: no denominator
