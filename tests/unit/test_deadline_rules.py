# ruff: noqa: E501
# (the case tables keep one case per line)
"""Deadline rules of DESIGN §6, as one table of hand-computed cases, checked on the simulated clock.

Calendar under test: the production one — ``WorkingCalendar.vietnam`` (the ``holidays`` package, 0.109 when
the table was written) with ``motcua/data/calendar_overrides.json`` on top, default working hours
07:00–11:30 and 13:30–17:00 (8 h = one working day), same-day cut-off 15:00.

Rules and their sources:

* **N working days** — the clock starts when a valid dossier is received, or, outside working time, at the
  next moment of working time (lunch → 13:30; before 07:00 → 07:00; at/after 17:00, weekend, holiday → next
  working morning). One working day = 8 h of working time; the due moment is the earliest moment those
  hours have elapsed, so it is the same clock time N working days later, and an expiry that would fall on
  an opening time is written as the preceding closing time (Tuesday 07:00 → Monday 17:00).
* **Same day** — due at closing the same working day; received *after* 15:00 (15:00:00 itself is not
  after), or on a day off, due at closing of the next working day (DESIGN §6; e.g. Decree 23/2015/NĐ-CP
  Art. 21 for certification: "sau 15 giờ ... trong ngày làm việc tiếp theo").
* **N calendar days** — Civil Code 2015 (applied by Art. 145 where the one-stop-shop decrees, Decree
  61/2018/NĐ-CP and its successor Decree 118/2025/NĐ-CP, set no counting rule of their own):
  Art. 147(2) the day the clock starts is not counted; Art. 148(1) the period ends at the end of its last
  day; Art. 148(5) if the last day is a weekly rest day or a holiday, the period ends at the end of the
  next working day. Our "end of a day" is the counter's closing time 17:00 (stricter than the Civil Code's
  24:00 of Art. 148(6): the appointment on the receipt is within office hours). A make-up Saturday is a
  working day, so a period may end on it.
* **Supplement pause** — the due moment moves by the working time between the request and the supplied
  papers (``shifted_due``); nights, weekends, lunch breaks and holidays inside the pause do not count.

Days off used below (all checked in ``test_days_off_used_by_the_table``):

* Tết 2026 (Bính Ngọ): officials off Saturday 14 – Sunday 22 Feb 2026 (package: 16–20 Feb; the JSON
  restates them); last working day before Tết: **Friday 13 Feb 2026**; work resumes Monday 23 Feb.
* Tết 2027 (Đinh Mùi, mùng 1 = Saturday 6 Feb 2027): no Government decision for 2027 is known to us, so
  2027 relies on the package's statutory days: five Tết days Friday 5 – Tuesday 9 Feb (giao thừa + mùng
  1–4), with mùng 1 (Saturday) moved to Thursday 4 Feb and mùng 2 (Sunday) to Wednesday 10 Feb, i.e. off
  **Thursday 4 – Wednesday 10 Feb 2027**; last working day before Tết: **Wednesday 3 Feb 2027**; work
  resumes Thursday 11 Feb. Replace by the real decision (override table) once it is published.
* 2025: Giỗ Tổ Monday 7 Apr; 30/4–1/5 Wednesday–Thursday plus Friday 2 May swapped with the make-up
  **Saturday 26 Apr 2025** (Thông báo 6150/TB-BLĐTBXH); Quốc khánh (two days since Labour Code 2019
  Art. 112, in force 2021) Monday 1 + Tuesday 2 Sep.
* 2026: New Year Thursday 1 Jan; Giỗ Tổ Sunday 26 Apr observed Monday 27 Apr; 30/4–1/5 Thursday–Friday;
  Quốc khánh Tuesday 1 + Wednesday 2 Sep, Monday 31 Aug swapped with the make-up **Saturday 22 Aug 2026**
  (package); Ngày Văn hóa Việt Nam Tuesday 24 Nov (package, Resolution 80-NQ/TW).
* 2027: New Year Friday 1 Jan 2027.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dossiers.calendar import VN_TZ, CalendarOverrides, WorkingCalendar, WorkingHours
from dossiers.clock import SimulatedClock
from dossiers.lifecycle import Timeliness, due_at, shifted_due, timeliness
from dossiers.model import Procedure

DATA_FILE = Path(__file__).resolve().parents[2] / "motcua" / "data" / "calendar_overrides.json"
HOUR = 3600
SECOND = dt.timedelta(seconds=1)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)


def procedure(days: int, working_days: bool) -> Procedure:
    return Procedure(
        code=f"T-{days}-{'wd' if working_days else 'cd'}",
        name="test procedure",
        process_key="test",
        time_limit_days=days,
        working_days=working_days,
        levels=(),
        papers=(),
    )


SAME_DAY = procedure(0, True)


def working_days(n: int) -> Procedure:
    return procedure(n, True)


def calendar_days(n: int) -> Procedure:
    return procedure(n, False)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    overrides = CalendarOverrides.from_data(json.loads(DATA_FILE.read_text(encoding="utf-8")))
    return WorkingCalendar.vietnam([2025, 2026, 2027], overrides=overrides)


# Weekdays for the plain week used first: March 2026 — Mon 2, Tue 3, Wed 4, Thu 5, Fri 6, Sat 7, Sun 8, Mon 9.
# fmt: off
CASES = [
    # ------------------------------------------------------------------ N working days: hours of the day
    pytest.param(vn(2026, 3, 2, 9, 15), working_days(3), vn(2026, 3, 5, 9, 15), id="inside hours: Mon 09:15 + 3 wd -> Thu 09:15"),
    pytest.param(vn(2026, 3, 3, 14), working_days(2), vn(2026, 3, 5, 14), id="inside afternoon: Tue 14:00 + 2 wd -> Thu 14:00"),
    pytest.param(vn(2026, 3, 4, 10), working_days(10), vn(2026, 3, 18, 10), id="ten working days = two weeks"),
    # clock starts 13:30; Mon 13:30-17:00 = 3.5 h, Tue 07:00-11:30 = 4.5 h -> 8 h at Tue 11:30 (not 13:30)
    pytest.param(vn(2026, 3, 2, 12, 10), working_days(1), vn(2026, 3, 3, 11, 30), id="lunch break: clock starts 13:30, due next day 11:30"),
    # 11:30 is already lunch; Mon 3.5 h + Tue 8 h + Wed 4.5 h = 16 h -> Wed 11:30
    pytest.param(vn(2026, 3, 2, 11, 30), working_days(2), vn(2026, 3, 4, 11, 30), id="received at 11:30 sharp counts from 13:30"),
    pytest.param(vn(2026, 3, 2, 6, 30), working_days(1), vn(2026, 3, 2, 17), id="before opening: clock starts 07:00, due 17:00 same day"),
    pytest.param(vn(2026, 3, 2, 6, 30), working_days(5), vn(2026, 3, 6, 17), id="before opening Mon + 5 wd -> Fri 17:00"),
    pytest.param(vn(2026, 3, 2, 16, 59, 59), working_days(1), vn(2026, 3, 3, 16, 59, 59), id="last second before closing counts that day"),
    pytest.param(vn(2026, 3, 2, 17), working_days(1), vn(2026, 3, 3, 17), id="exactly 17:00 counts from next morning"),
    # clock starts Wed 07:00; 16 h -> Thu 17:00 (not Fri 07:00)
    pytest.param(vn(2026, 3, 3, 19, 45), working_days(2), vn(2026, 3, 5, 17), id="after closing (online, evening) counts from next morning"),
    pytest.param(vn(2026, 3, 6, 17, 30), working_days(1), vn(2026, 3, 9, 17), id="Friday after closing counts from Monday 07:00"),
    # Fri 16:00-17:00 = 1 h; Mon 07:00-11:30 = 4.5 h, 13:30 + 2.5 h = 16:00
    pytest.param(vn(2026, 3, 6, 16), working_days(1), vn(2026, 3, 9, 16), id="Friday 16:00 + 1 wd -> Monday 16:00 over the weekend"),
    pytest.param(vn(2026, 3, 7, 10), working_days(1), vn(2026, 3, 9, 17), id="Saturday counts from Monday 07:00"),
    pytest.param(vn(2026, 3, 8, 22), working_days(3), vn(2026, 3, 11, 17), id="Sunday night + 3 wd -> Wednesday 17:00"),
    pytest.param(dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC), working_days(1), vn(2026, 3, 3, 9), id="received 02:00 UTC = 09:00 Vietnam time"),
    # ------------------------------------------------------------------------------------------ same day
    pytest.param(vn(2026, 3, 2, 14, 59), SAME_DAY, vn(2026, 3, 2, 17), id="same day at 14:59 -> 17:00 that day"),
    pytest.param(vn(2026, 3, 2, 15), SAME_DAY, vn(2026, 3, 2, 17), id="same day at 15:00 is not after 15:00 -> 17:00 that day"),
    pytest.param(vn(2026, 3, 2, 15, 1), SAME_DAY, vn(2026, 3, 3, 17), id="same day at 15:01 -> next working day 17:00"),
    pytest.param(vn(2026, 3, 6, 15, 1), SAME_DAY, vn(2026, 3, 9, 17), id="same day Friday 15:01 -> Monday 17:00"),
    pytest.param(vn(2026, 3, 2, 6, 50), SAME_DAY, vn(2026, 3, 2, 17), id="same day before opening -> 17:00 that day"),
    pytest.param(vn(2026, 3, 2, 12), SAME_DAY, vn(2026, 3, 2, 17), id="same day in the lunch break -> 17:00 that day"),
    pytest.param(vn(2026, 3, 2, 17, 30), SAME_DAY, vn(2026, 3, 3, 17), id="same day after closing -> next working day"),
    pytest.param(vn(2026, 3, 7, 9), SAME_DAY, vn(2026, 3, 9, 17), id="same day on Saturday -> Monday 17:00"),
    # -------------------------------------------------------------------------------------- calendar days
    pytest.param(vn(2026, 3, 2, 10), calendar_days(4), vn(2026, 3, 6, 17), id="4 calendar days end on Friday"),
    pytest.param(vn(2026, 3, 2, 10), calendar_days(5), vn(2026, 3, 9, 17), id="calendar days ending Saturday move to Monday"),
    pytest.param(vn(2026, 3, 2, 10), calendar_days(6), vn(2026, 3, 9, 17), id="calendar days ending Sunday move to Monday"),
    pytest.param(vn(2026, 3, 2, 10), calendar_days(7), vn(2026, 3, 9, 17), id="7 calendar days end on Monday itself"),
    pytest.param(vn(2026, 3, 2, 10), calendar_days(15), vn(2026, 3, 17, 17), id="15 calendar days, weekends counted"),
    pytest.param(vn(2026, 3, 2, 17), calendar_days(2), vn(2026, 3, 5, 17), id="calendar days received at 17:00 count from Tuesday"),
    pytest.param(vn(2026, 3, 6, 18), calendar_days(1), vn(2026, 3, 10, 17), id="calendar days received Friday evening count from Monday"),
    pytest.param(vn(2026, 3, 7, 9), calendar_days(3), vn(2026, 3, 12, 17), id="calendar days received Saturday count from Monday"),
    # ------------------------------------------------------------ Tết 2026: off Sat 14 - Sun 22 Feb 2026
    # Fri 14:20-17:00 = 2 h 40; Mon 23 and Tue 24 = 16 h; Wed 25 07:00 + 5 h 20 -> 14:20
    pytest.param(vn(2026, 2, 13, 14, 20), working_days(3), vn(2026, 2, 25, 14, 20), id="Tet 2026: last working day Fri 13 Feb + 3 wd"),
    # Fri 09:00-17:00 = 6 h; Mon 23 07:00 + 2 h
    pytest.param(vn(2026, 2, 13, 9), working_days(1), vn(2026, 2, 23, 9), id="Tet 2026: Fri 13 Feb 09:00 + 1 wd -> Mon 23 Feb 09:00"),
    pytest.param(vn(2026, 2, 13, 15), SAME_DAY, vn(2026, 2, 13, 17), id="Tet 2026: same day at 15:00 on Fri 13 Feb is done before Tet"),
    pytest.param(vn(2026, 2, 13, 15, 30), SAME_DAY, vn(2026, 2, 23, 17), id="Tet 2026: same day after 15:00 waits until Mon 23 Feb"),
    pytest.param(vn(2026, 2, 13, 17, 30), working_days(1), vn(2026, 2, 23, 17), id="Tet 2026: Fri 13 Feb after closing counts from Mon 23"),
    pytest.param(vn(2026, 2, 17, 10), working_days(2), vn(2026, 2, 24, 17), id="Tet 2026: received online on mung 1 counts from Mon 23"),
    # Thu 12 (1 h) + Fri 13 (8) + Mon 23, Tue 24, Wed 25 (24) + Thu 26 07:00 + 7 h = 16:00
    pytest.param(vn(2026, 2, 12, 16), working_days(5), vn(2026, 2, 26, 16), id="Tet 2026: Thu 12 Feb 16:00 + 5 wd -> Thu 26 Feb 16:00"),
    # last day Wed 18 Feb (mùng 2) is a holiday -> next working day Mon 23 Feb
    pytest.param(vn(2026, 2, 13, 10), calendar_days(5), vn(2026, 2, 23, 17), id="Tet 2026: calendar days ending inside Tet move to Mon 23"),
    pytest.param(vn(2026, 2, 13, 10), calendar_days(10), vn(2026, 2, 23, 17), id="Tet 2026: 10 calendar days end on Mon 23 itself"),
    pytest.param(vn(2026, 2, 12, 10), calendar_days(15), vn(2026, 2, 27, 17), id="Tet 2026: Tet days count as calendar days"),
    # ---------------------------------------- Tết 2027 (package, no decision known): off Thu 4 - Wed 10 Feb
    pytest.param(vn(2027, 2, 3, 10), working_days(1), vn(2027, 2, 11, 10), id="Tet 2027: last working day Wed 3 Feb + 1 wd -> Thu 11 Feb"),
    pytest.param(vn(2027, 2, 3, 16), working_days(3), vn(2027, 2, 15, 16), id="Tet 2027: Wed 3 Feb 16:00 + 3 wd -> Mon 15 Feb 16:00"),
    pytest.param(vn(2027, 2, 3, 15, 30), SAME_DAY, vn(2027, 2, 11, 17), id="Tet 2027: same day after 15:00 on Wed 3 Feb -> Thu 11 Feb"),
    pytest.param(vn(2027, 2, 3, 10), calendar_days(3), vn(2027, 2, 11, 17), id="Tet 2027: calendar days ending on mung 1 move to Thu 11"),
    pytest.param(vn(2027, 2, 10, 9), working_days(1), vn(2027, 2, 11, 17), id="Tet 2027: received on Wed 10 Feb (mung 2 moved) counts from Thu 11"),
    # ------------------------------------- make-up Saturday 26 Apr 2025 for Fri 2 May; 30/4-1/5 2025
    pytest.param(vn(2025, 4, 25, 9), working_days(1), vn(2025, 4, 26, 9), id="2025 swap: Fri 25 Apr + 1 wd -> make-up Sat 26 Apr"),
    pytest.param(vn(2025, 4, 26, 10), SAME_DAY, vn(2025, 4, 26, 17), id="2025 swap: same day on the make-up Saturday"),
    pytest.param(vn(2025, 4, 26, 15, 30), SAME_DAY, vn(2025, 4, 28, 17), id="2025 swap: same day after 15:00 on the make-up Saturday -> Mon"),
    pytest.param(vn(2025, 4, 25, 10), calendar_days(1), vn(2025, 4, 26, 17), id="2025 swap: calendar days may end on the make-up Saturday"),
    # off Wed 30/4, Thu 1/5, Fri 2/5 and the weekend: Mon 5, Tue 6, Wed 7 May
    pytest.param(vn(2025, 4, 29, 10), working_days(3), vn(2025, 5, 7, 10), id="30/4-1/5 2025: Tue 29 Apr + 3 wd -> Wed 7 May"),
    # Sunday → clock Mon 28; +2 → Wed 30 Apr, a holiday; next working day Mon 5 May
    pytest.param(vn(2025, 4, 27, 10), calendar_days(2), vn(2025, 5, 5, 17), id="30/4-1/5 2025: calendar days ending on 30/4 move to Mon 5 May"),
    # ------------------------------------------------------------------------ 30/4-1/5 and Giỗ Tổ 2026
    pytest.param(vn(2026, 4, 29, 9), working_days(1), vn(2026, 5, 4, 9), id="30/4-1/5 2026: Wed 29 Apr + 1 wd -> Mon 4 May"),
    pytest.param(vn(2025, 4, 4, 14), working_days(1), vn(2025, 4, 8, 14), id="Gio To 2025: Mon 7 Apr off, Fri 4 Apr + 1 wd -> Tue 8 Apr"),
    pytest.param(vn(2026, 4, 24, 16), SAME_DAY, vn(2026, 4, 28, 17), id="Gio To 2026 observed Mon 27 Apr: same day Fri 16:00 -> Tue 28"),
    pytest.param(vn(2026, 4, 24, 10), working_days(2), vn(2026, 4, 29, 10), id="Gio To 2026: Fri 24 Apr + 2 wd -> Wed 29 Apr"),
    pytest.param(vn(2026, 4, 24, 10), calendar_days(2), vn(2026, 4, 28, 17), id="Gio To 2026: calendar days ending Sunday skip observed Monday"),
    # --------------------------------------------------------------------------------------- Quốc khánh
    pytest.param(vn(2025, 8, 29, 15, 30), SAME_DAY, vn(2025, 9, 3, 17), id="2/9 2025: same day Fri 29 Aug after 15:00 -> Wed 3 Sep"),
    pytest.param(vn(2025, 8, 29, 9), working_days(2), vn(2025, 9, 4, 9), id="2/9 2025: Mon 1 and Tue 2 Sep off, Fri + 2 wd -> Thu 4 Sep"),
    pytest.param(vn(2026, 8, 21, 10), working_days(1), vn(2026, 8, 22, 10), id="2026 swap: Fri 21 Aug + 1 wd -> make-up Sat 22 Aug"),
    pytest.param(vn(2026, 8, 28, 10), working_days(1), vn(2026, 9, 3, 10), id="2/9 2026: Mon 31 Aug - Wed 2 Sep off, Fri 28 Aug + 1 wd -> Thu 3 Sep"),
    pytest.param(vn(2026, 8, 27, 10), calendar_days(5), vn(2026, 9, 3, 17), id="2/9 2026: calendar days ending Tue 1 Sep move to Thu 3 Sep"),
    # ------------------------------------------------------------------------------------------ New Year
    pytest.param(vn(2025, 12, 31, 16), working_days(1), vn(2026, 1, 2, 16), id="New Year 2026: Wed 31 Dec 16:00 + 1 wd -> Fri 2 Jan 16:00"),
    pytest.param(vn(2025, 12, 24, 10), calendar_days(8), vn(2026, 1, 2, 17), id="New Year 2026: calendar days ending on 1 Jan move to 2 Jan"),
    # Thu 31 Dec 10:00-17:00 = 5 h; Fri 1 Jan off, weekend; Mon 4 Jan 8 h; Tue 5 Jan 07:00 + 3 h = 10:00
    pytest.param(vn(2026, 12, 31, 10), working_days(2), vn(2027, 1, 5, 10), id="New Year 2027: Thu 31 Dec + 2 wd -> Tue 5 Jan"),
    pytest.param(vn(2026, 12, 31, 15, 30), SAME_DAY, vn(2027, 1, 4, 17), id="New Year 2027: same day after 15:00 on 31 Dec -> Mon 4 Jan"),
    # -------------------------------------------------------------------------------------- Culture Day
    pytest.param(vn(2026, 11, 23, 10), working_days(1), vn(2026, 11, 25, 10), id="Vietnam Culture Day Tue 24 Nov 2026 (package) is skipped"),
]
# fmt: on


@pytest.mark.parametrize(("received", "kind", "due"), CASES)
def test_due_moment(calendar: WorkingCalendar, received: dt.datetime, kind: Procedure, due: dt.datetime) -> None:
    clock = SimulatedClock(received)
    got = due_at(kind, calendar, clock.now())
    assert got == due
    assert got.utcoffset() == dt.timedelta(hours=7)
    # the due moment closes working time: the second before it is worked
    assert calendar.is_working_time(got - SECOND)
    if kind.time_limit_days and kind.working_days:
        # exactly N days' worth of working time between the clock start and the due moment
        worked = calendar.working_seconds_between(calendar.clock_start(received), got)
        assert worked == kind.time_limit_days * calendar.hours.seconds_per_day
    # on the simulated clock: a result at the due moment is on time, one second later it is late
    clock.set(got)
    assert timeliness(clock.now(), got) is Timeliness.ON_TIME
    clock.advance(SECOND)
    assert timeliness(clock.now(), got) is Timeliness.LATE


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


def _off(calendar: WorkingCalendar, first: dt.date, last: dt.date) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if not calendar.is_working_day(d)]


def test_days_off_used_by_the_table(calendar: WorkingCalendar) -> None:
    d = dt.date
    # Tết 2026: Sat 14 - Sun 22 Feb; Fri 13 and Mon 23 worked
    assert _off(calendar, d(2026, 2, 13), d(2026, 2, 23)) == [d(2026, 2, 14) + dt.timedelta(days=i) for i in range(9)]
    # Tết 2027 (package only): Thu 4 - Wed 10 Feb (weekend 6-7 inside), Wed 3 and Thu 11 worked
    assert _off(calendar, d(2027, 2, 3), d(2027, 2, 12)) == [d(2027, 2, 4) + dt.timedelta(days=i) for i in range(7)]
    assert "Tết" in (calendar.holiday_name(d(2027, 2, 8)) or "")
    assert not calendar.overrides.extra_holidays.keys() & {d(2027, 2, 4) + dt.timedelta(days=i) for i in range(7)}
    # 2025: make-up Saturday 26 Apr; off 30 Apr - 4 May; Giỗ Tổ Mon 7 Apr; Quốc khánh Sat 30 Aug - Tue 2 Sep
    assert calendar.is_working_day(d(2025, 4, 26))
    assert _off(calendar, d(2025, 4, 26), d(2025, 5, 5)) == [
        d(2025, 4, 27),
        *(d(2025, 4, 30) + dt.timedelta(days=i) for i in range(5)),
    ]
    assert _off(calendar, d(2025, 4, 4), d(2025, 4, 8)) == [d(2025, 4, 5), d(2025, 4, 6), d(2025, 4, 7)]
    assert _off(calendar, d(2025, 8, 29), d(2025, 9, 3)) == [
        d(2025, 8, 30),
        d(2025, 8, 31),
        d(2025, 9, 1),
        d(2025, 9, 2),
    ]
    # 2026: Giỗ Tổ Sun 26 observed Mon 27 Apr; 30/4-1/5 Thu-Fri; make-up Sat 22 Aug; off Sat 29 Aug - Wed 2 Sep
    assert _off(calendar, d(2026, 4, 24), d(2026, 5, 4)) == [
        d(2026, 4, 25), d(2026, 4, 26), d(2026, 4, 27), d(2026, 4, 30), d(2026, 5, 1), d(2026, 5, 2), d(2026, 5, 3)
    ]  # fmt: skip
    assert calendar.is_working_day(d(2026, 8, 22))
    assert _off(calendar, d(2026, 8, 28), d(2026, 9, 3)) == [d(2026, 8, 29) + dt.timedelta(days=i) for i in range(5)]
    assert not calendar.is_working_day(d(2026, 11, 24))
    # New Year: Thu 1 Jan 2026, Fri 1 Jan 2027
    assert _off(calendar, d(2025, 12, 31), d(2026, 1, 2)) == [d(2026, 1, 1)]
    assert _off(calendar, d(2026, 12, 31), d(2027, 1, 4)) == [d(2027, 1, 1), d(2027, 1, 2), d(2027, 1, 3)]


# --------------------------------------------------------------------------------------- supplement pauses

# fmt: off
PAUSES = [
    # Fri 16:00-17:00 = 1 h, Mon 07:00-09:00 = 2 h -> 3 h; Wed 10:00 + 3 h: 1.5 h to 11:30, 13:30 + 1.5 h
    pytest.param(vn(2026, 3, 11, 10), vn(2026, 3, 6, 16), vn(2026, 3, 9, 9), 3 * HOUR, vn(2026, 3, 11, 15), id="paused Fri 16:00, resumed Mon 09:00: 3 working hours"),
    pytest.param(vn(2026, 3, 11, 10), vn(2026, 3, 7, 10), vn(2026, 3, 8, 18), 0, vn(2026, 3, 11, 10), id="pause inside a weekend: zero working time, due unchanged"),
    pytest.param(vn(2026, 3, 11, 10), vn(2026, 3, 9, 11, 40), vn(2026, 3, 9, 13, 20), 0, vn(2026, 3, 11, 10), id="pause inside the lunch break: zero"),
    pytest.param(vn(2026, 3, 11, 10), vn(2026, 3, 6, 17), vn(2026, 3, 9, 7), 0, vn(2026, 3, 11, 10), id="pause from Friday closing to Monday opening: zero"),
    # Mon 15:00 + 2 h = 17:00 Monday (earliest moment), not Tuesday 07:00
    pytest.param(vn(2026, 3, 9, 15), vn(2026, 3, 3, 9), vn(2026, 3, 3, 11), 2 * HOUR, vn(2026, 3, 9, 17), id="shift landing on closing stays at 17:00"),
    # due: Tue 10 Feb 10:00 + 5 wd = Wed 11, Thu 12, Fri 13, Mon 23, Tue 24 Feb 10:00
    # pause Thu 12 10:00 (5 h) + Fri 13 (8 h) + Tết + Mon 23 (8 h) + Tue 24 07:00-10:00 (3 h) = 24 h = 3 wd
    pytest.param(vn(2026, 2, 24, 10), vn(2026, 2, 12, 10), vn(2026, 2, 24, 10), 24 * HOUR, vn(2026, 2, 27, 10), id="pause spanning Tet 2026 counts only working time"),
    pytest.param(vn(2026, 2, 24, 10), vn(2026, 2, 16, 10), vn(2026, 2, 20, 10), 0, vn(2026, 2, 24, 10), id="pause entirely inside Tet 2026: zero"),
    # Fri 13 Feb 16:00-17:00 = 1 h + Mon 23 07:00-09:00 = 2 h; due Mon 23 16:00 + 3 h = 1 h + Tue 24 07:00 + 2 h
    pytest.param(vn(2026, 2, 23, 16), vn(2026, 2, 13, 16), vn(2026, 2, 23, 9), 3 * HOUR, vn(2026, 2, 24, 9), id="paused Fri before Tet 2026, resumed after Tet"),
    # Fri 25 Apr 16:00-17:00 1 h + make-up Sat 26 8 h + Mon 28 07:00-08:00 1 h = 10 h;
    # due Tue 29 Apr 16:00 + 10 h: 1 h Tue, (30/4-4/5 off), Mon 5 May 8 h, Tue 6 May 07:00 + 1 h
    pytest.param(vn(2025, 4, 29, 16), vn(2025, 4, 25, 16), vn(2025, 4, 28, 8), 10 * HOUR, vn(2025, 5, 6, 8), id="pause over the make-up Saturday 2025 counts it"),
]
# fmt: on


@pytest.mark.parametrize(("due", "paused_from", "resumed_at", "paused", "new_due"), PAUSES)
def test_supplement_pause(
    calendar: WorkingCalendar,
    due: dt.datetime,
    paused_from: dt.datetime,
    resumed_at: dt.datetime,
    paused: int,
    new_due: dt.datetime,
) -> None:
    clock = SimulatedClock(paused_from)
    clock.set(resumed_at)
    assert shifted_due(calendar, due, paused_from, clock.now()) == (new_due, paused)


def test_supplement_pause_on_a_dossier_received_before_tet_2026(calendar: WorkingCalendar) -> None:
    """The whole story on the simulated clock: receipt, pause, resumption, result."""
    clock = SimulatedClock(vn(2026, 2, 10, 10))  # Tuesday before Tết
    due = due_at(working_days(5), calendar, clock.now())
    assert due == vn(2026, 2, 24, 10)
    paused_from = clock.set(vn(2026, 2, 12, 10))  # supplement requested Thursday 12 Feb 10:00
    clock.advance(dt.timedelta(days=12))  # papers supplied Tuesday 24 Feb 10:00, after Tết
    due, paused = shifted_due(calendar, due, paused_from, clock.now())
    assert (due, paused) == (vn(2026, 2, 27, 10), 3 * calendar.hours.seconds_per_day)
    clock.set(vn(2026, 2, 26, 16))
    assert timeliness(clock.now(), due) is Timeliness.EARLY
    clock.set(vn(2026, 2, 27, 9, 59))
    assert timeliness(clock.now(), due) is Timeliness.ON_TIME
    clock.set(vn(2026, 2, 27, 10, 0, 1))
    assert timeliness(clock.now(), due) is Timeliness.LATE


# ---------------------------------------------------------------------------------- other working hours


def test_configured_working_hours_08_12_13_17() -> None:
    """Hours are configuration: with 08:00-12:00 and 13:00-17:00 (still 8 h a day) every rule follows them."""
    hours = WorkingHours(morning=(dt.time(8), dt.time(12)), afternoon=(dt.time(13), dt.time(17)))
    calendar = WorkingCalendar.vietnam([2026], hours=hours)
    assert hours.seconds_per_day == 8 * HOUR
    # before opening: clock starts 08:00, not 07:00
    assert calendar.clock_start(vn(2026, 3, 2, 7, 30)) == vn(2026, 3, 2, 8)
    # lunch 12:30: clock starts 13:00; Mon 13:00-17:00 = 4 h, Tue 08:00-12:00 = 4 h -> Tue 12:00
    assert due_at(working_days(1), calendar, vn(2026, 3, 2, 12, 30)) == vn(2026, 3, 3, 12)
    # 12:30 would be lunch here but is working time under the default hours
    assert due_at(working_days(1), WorkingCalendar.vietnam([2026]), vn(2026, 3, 2, 12, 30)) == vn(2026, 3, 3, 11, 30)
    # Tết 2026: Fri 13 Feb 09:00-17:00 = 7 h, Mon 23 08:00 + 1 h
    assert due_at(working_days(1), calendar, vn(2026, 2, 13, 9)) == vn(2026, 2, 23, 9)
    # same day and calendar days end at this closing time (still 17:00); cut-off still 15:00
    assert due_at(SAME_DAY, calendar, vn(2026, 3, 2, 15, 1)) == vn(2026, 3, 3, 17)
    assert due_at(calendar_days(5), calendar, vn(2026, 3, 2, 10)) == vn(2026, 3, 9, 17)
    # pause Fri 16:00 -> Mon 09:00: Fri 16:00-17:00 1 h + Mon 08:00-09:00 1 h = 2 h (3 h with default hours)
    assert calendar.working_seconds_between(vn(2026, 3, 6, 16), vn(2026, 3, 9, 9)) == 2 * HOUR
