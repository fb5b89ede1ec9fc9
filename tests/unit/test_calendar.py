"""Working-day calendar: working hours, Vietnamese holidays (package + overrides), deadlines."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import (
    VN_TZ,
    CalendarOverrides,
    WorkingCalendar,
    WorkingHours,
    YearDays,
    validate_overrides,
    vietnam_year_days,
)
from dossiers.problems import english, vietnamese

DATA_FILE = Path(__file__).resolve().parents[2] / "motcua" / "data" / "calendar_overrides.json"
HOUR = 3600


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def plain() -> WorkingCalendar:
    """Weekends only: no holiday at all, so examples in plain weeks are easy to check by hand."""
    return WorkingCalendar()


@pytest.fixture(scope="module")
def vietnam() -> WorkingCalendar:
    return WorkingCalendar.vietnam([2025, 2026])


@pytest.fixture(scope="module")
def data_overrides() -> CalendarOverrides:
    return CalendarOverrides.from_data(json.loads(DATA_FILE.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------------------- working hours


def test_default_working_hours_hold_eight_hours() -> None:
    hours = WorkingHours()
    assert (hours.opening, hours.closing) == (dt.time(7), dt.time(17))
    assert hours.seconds_per_day == 8 * HOUR
    assert hours.same_day_cutoff == dt.time(15)


def test_configured_working_hours_change_the_day_length() -> None:
    hours = WorkingHours(morning=(dt.time(8), dt.time(12)), afternoon=(dt.time(13), dt.time(17, 30)))
    assert hours.seconds_per_day == 8 * HOUR + 30 * 60
    calendar = WorkingCalendar(hours=hours)
    # Monday 2 March 2026 06:00 → clock starts at the configured opening.
    assert calendar.clock_start(vn(2026, 3, 2, 6)) == vn(2026, 3, 2, 8)
    assert calendar.clock_start(vn(2026, 3, 2, 12, 15)) == vn(2026, 3, 2, 13)


@pytest.mark.parametrize(
    ("morning", "afternoon", "cutoff"),
    [
        ((dt.time(11, 30), dt.time(7)), (dt.time(13, 30), dt.time(17)), dt.time(15)),
        ((dt.time(7), dt.time(14)), (dt.time(13, 30), dt.time(17)), dt.time(15)),
        ((dt.time(7), dt.time(11, 30)), (dt.time(13, 30), dt.time(17)), dt.time(18)),
        ((dt.time(7, tzinfo=VN_TZ), dt.time(11, 30)), (dt.time(13, 30), dt.time(17)), dt.time(15)),
    ],
)
def test_inconsistent_working_hours_are_refused(
    morning: tuple[dt.time, dt.time], afternoon: tuple[dt.time, dt.time], cutoff: dt.time
) -> None:
    with pytest.raises(ValueError):
        WorkingHours(morning=morning, afternoon=afternoon, same_day_cutoff=cutoff)


# ------------------------------------------------------------------------------------------ clock start


@pytest.mark.parametrize(
    ("received", "starts"),
    [
        (vn(2026, 3, 2, 9, 15), vn(2026, 3, 2, 9, 15)),  # Monday morning: immediately
        (vn(2026, 3, 2, 16, 59, 59), vn(2026, 3, 2, 16, 59, 59)),  # last second of the day
        (vn(2026, 3, 2, 6, 30), vn(2026, 3, 2, 7)),  # before opening → opening the same day
        (vn(2026, 3, 2, 11, 30), vn(2026, 3, 2, 13, 30)),  # lunch starts at 11:30 sharp
        (vn(2026, 3, 2, 12, 45), vn(2026, 3, 2, 13, 30)),  # lunch break → 13:30
        (vn(2026, 3, 2, 17), vn(2026, 3, 3, 7)),  # closing time → next working morning
        (vn(2026, 3, 2, 21, 10), vn(2026, 3, 3, 7)),  # evening (online intake) → next morning
        (vn(2026, 3, 6, 18), vn(2026, 3, 9, 7)),  # Friday evening → Monday 07:00
        (vn(2026, 3, 7, 10), vn(2026, 3, 9, 7)),  # Saturday → Monday 07:00
    ],
)
def test_clock_start(plain: WorkingCalendar, received: dt.datetime, starts: dt.datetime) -> None:
    assert plain.clock_start(received) == starts


def test_clock_start_converts_other_timezones_to_vietnam_time(plain: WorkingCalendar) -> None:
    # Sunday 23:30 UTC is Monday 06:30 in Hà Nội.
    received = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    started = plain.clock_start(received)
    assert started == vn(2026, 3, 2, 7)
    assert started.utcoffset() == dt.timedelta(hours=7)


# ---------------------------------------------------------------------------------- working-day deadlines


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        (vn(2026, 3, 2, 9), 3, vn(2026, 3, 5, 9)),  # Monday 09:00 + 3 → Thursday 09:00
        (vn(2026, 3, 2, 9), 10, vn(2026, 3, 16, 9)),  # two full weeks later
        (vn(2026, 3, 6, 16, 30), 1, vn(2026, 3, 9, 16, 30)),  # Friday 16:30 + 1 → Monday 16:30
        (vn(2026, 3, 6, 18), 1, vn(2026, 3, 9, 17)),  # after closing: Monday 07:00 + 1 day → Monday 17:00
        (vn(2026, 3, 2, 7), 1, vn(2026, 3, 2, 17)),  # received at opening → closing the same day
        (vn(2026, 3, 2, 12), 1, vn(2026, 3, 3, 11, 30)),  # lunch: 13:30 + 8 h → Tuesday 11:30, not 13:30
        (vn(2026, 3, 7, 9), 2, vn(2026, 3, 10, 17)),  # Saturday intake: Monday 07:00 + 2 days
    ],
)
def test_add_working_days(plain: WorkingCalendar, received: dt.datetime, days: int, due: dt.datetime) -> None:
    assert plain.add_working_days(received, days) == due


def test_due_landing_on_opening_is_written_as_previous_closing(plain: WorkingCalendar) -> None:
    due = plain.add_working_days(vn(2026, 3, 6, 19), 3)  # clock starts Monday 9 March 07:00
    assert due == vn(2026, 3, 11, 17)  # Wednesday 17:00, the same instant of work as Thursday 07:00
    assert due.time() == dt.time(17)


def test_add_working_days_rejects_non_positive_days(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="same_day_due"):
        plain.add_working_days(vn(2026, 3, 2, 9), 0)
    with pytest.raises(ValueError):
        plain.add_working_days(vn(2026, 3, 2, 9), -2)


# ------------------------------------------------------------------------------------------- same day


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (vn(2026, 3, 2, 6, 45), vn(2026, 3, 2, 17)),  # before opening on a working day
        (vn(2026, 3, 2, 12), vn(2026, 3, 2, 17)),  # lunch break
        (vn(2026, 3, 2, 14, 59), vn(2026, 3, 2, 17)),
        (vn(2026, 3, 2, 15), vn(2026, 3, 2, 17)),  # at 15:00:00 it is not yet "after 15:00"
        (vn(2026, 3, 2, 15, 0, 1), vn(2026, 3, 3, 17)),  # after the cut-off → next working day
        (vn(2026, 3, 6, 16), vn(2026, 3, 9, 17)),  # Friday afternoon → Monday
        (vn(2026, 3, 7, 9), vn(2026, 3, 9, 17)),  # Saturday → Monday
    ],
)
def test_same_day_due(plain: WorkingCalendar, received: dt.datetime, due: dt.datetime) -> None:
    assert plain.same_day_due(received) == due


def test_same_day_cutoff_is_configurable() -> None:
    calendar = WorkingCalendar(hours=WorkingHours(same_day_cutoff=dt.time(16)))
    assert calendar.same_day_due(vn(2026, 3, 2, 15, 30)) == vn(2026, 3, 2, 17)
    assert calendar.same_day_due(vn(2026, 3, 2, 16, 1)) == vn(2026, 3, 3, 17)


# --------------------------------------------------------------------------------------- calendar days


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        (vn(2026, 3, 2, 10), 4, vn(2026, 3, 6, 17)),  # ends Friday → Friday closing
        (vn(2026, 3, 2, 10), 5, vn(2026, 3, 9, 17)),  # ends Saturday → Monday closing
        (vn(2026, 3, 2, 10), 6, vn(2026, 3, 9, 17)),  # ends Sunday → Monday closing
        (vn(2026, 3, 2, 10), 15, vn(2026, 3, 17, 17)),
        (vn(2026, 3, 6, 18), 1, vn(2026, 3, 10, 17)),  # after closing Friday: counts from Monday
    ],
)
def test_add_calendar_days(plain: WorkingCalendar, received: dt.datetime, days: int, due: dt.datetime) -> None:
    assert plain.add_calendar_days(received, days) == due


def test_add_calendar_days_rejects_non_positive_days(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        plain.add_calendar_days(vn(2026, 3, 2, 10), 0)


# ------------------------------------------------------------------------------ working seconds (pauses)


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 2, 15), 4 * HOUR),  # 2.5 h morning + 1.5 h afternoon
        (vn(2026, 3, 2, 11, 45), vn(2026, 3, 2, 13, 15), 0),  # lunch only
        (vn(2026, 3, 6, 16), vn(2026, 3, 9, 8), 2 * HOUR),  # over a weekend
        (vn(2026, 3, 6, 20), vn(2026, 3, 7, 23), 0),  # Friday night to Saturday night
        (vn(2026, 3, 2, 9), vn(2026, 3, 2, 9), 0),
        (vn(2026, 3, 2, 7), vn(2026, 3, 9, 7), 5 * 8 * HOUR),  # one week = five working days
    ],
)
def test_working_seconds_between(plain: WorkingCalendar, start: dt.datetime, end: dt.datetime, seconds: int) -> None:
    assert plain.working_seconds_between(start, end) == seconds


def test_working_seconds_between_rejects_reversed_interval(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="before start"):
        plain.working_seconds_between(vn(2026, 3, 2, 10), vn(2026, 3, 2, 9))


@pytest.mark.parametrize(
    "start",
    [
        vn(2026, 2, 13, 14, 20),  # Friday before Tết 2026
        vn(2026, 2, 17, 10),  # inside Tết
        vn(2026, 3, 2, 11, 30),  # start of lunch
        vn(2026, 3, 6, 17),  # Friday closing
        vn(2026, 8, 28, 16, 59, 59),
    ],
)
@pytest.mark.parametrize("seconds", [1, 1800, 4 * HOUR + 1, 8 * HOUR, 8 * HOUR * 7 + 123])
def test_add_working_seconds_is_inverse_of_working_seconds_between(
    vietnam: WorkingCalendar, start: dt.datetime, seconds: int
) -> None:
    end = vietnam.add_working_seconds(start, seconds)
    assert vietnam.working_seconds_between(start, end) == seconds
    # the earliest such moment: one second earlier is not enough
    assert vietnam.working_seconds_between(start, end - dt.timedelta(seconds=1)) == seconds - 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 4, 15, 10)),
        (vn(2026, 2, 12, 8), vn(2026, 2, 24, 10, 5)),  # across Tết 2026
        (vn(2026, 3, 6, 22), vn(2026, 3, 10, 13, 45)),  # start outside working hours
    ],
)
def test_add_working_seconds_lands_back_on_a_working_moment(
    vietnam: WorkingCalendar, a: dt.datetime, b: dt.datetime
) -> None:
    assert vietnam.add_working_seconds(a, vietnam.working_seconds_between(a, b)) == b


def test_add_working_seconds_zero_and_negative(plain: WorkingCalendar) -> None:
    saturday = vn(2026, 3, 7, 10)
    assert plain.add_working_seconds(saturday, 0) == saturday
    assert plain.add_working_seconds(saturday, 60) == vn(2026, 3, 9, 7, 1)
    with pytest.raises(ValueError):
        plain.add_working_seconds(saturday, -1)


def test_supplement_pause_shifts_the_due_date_by_the_paused_working_time(plain: WorkingCalendar) -> None:
    received = vn(2026, 3, 2, 9)  # Monday
    due = plain.add_working_days(received, 5)
    assert due == vn(2026, 3, 9, 9)
    # supplement requested Tuesday 10:00, supplied Thursday 14:00: 5 h (Tue) + 8 h (Wed) + 5 h (Thu)
    paused = plain.working_seconds_between(vn(2026, 3, 3, 10), vn(2026, 3, 5, 14))
    assert paused == 18 * HOUR
    # Monday 9 March 09:00 + 18 h of work: 6 h Monday, 8 h Tuesday, 4 h Wednesday morning
    assert plain.add_working_seconds(due, paused) == vn(2026, 3, 11, 11)


# ----------------------------------------------------------------------------------------- naive input


@pytest.mark.parametrize(
    "call",
    [
        lambda c, t: c.clock_start(t),
        lambda c, t: c.add_working_days(t, 3),
        lambda c, t: c.same_day_due(t),
        lambda c, t: c.add_calendar_days(t, 3),
        lambda c, t: c.add_working_seconds(t, 60),
        lambda c, t: c.working_seconds_between(t, t),
        lambda c, t: c.is_working_time(t),
    ],
)
def test_naive_datetimes_are_rejected(plain: WorkingCalendar, call: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(plain, dt.datetime(2026, 3, 2, 9))


def test_working_seconds_between_rejects_a_naive_end(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plain.working_seconds_between(vn(2026, 3, 2, 9), dt.datetime(2026, 3, 2, 10))


def test_is_working_day_refuses_a_datetime(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        plain.is_working_day(vn(2026, 3, 2, 9))


# ----------------------------------------------------------------------------- Vietnam: holidays package


def test_tet_2026_is_not_worked(vietnam: WorkingCalendar) -> None:
    tet = [dt.date(2026, 2, d) for d in range(16, 21)]
    assert [vietnam.is_working_day(d) for d in tet] == [False] * 5
    assert "Tết" in (vietnam.holiday_name(dt.date(2026, 2, 17)) or "")
    # officials' break is Saturday 14 → Sunday 22 February; work resumes Monday 23 (6th day of Tết)
    assert vietnam.is_working_day(dt.date(2026, 2, 13))
    assert vietnam.is_working_day(dt.date(2026, 2, 23))
    assert vietnam.next_working_day(dt.date(2026, 2, 13)) == dt.date(2026, 2, 23)


def test_dossier_received_before_tet_2026_is_due_after_tet(vietnam: WorkingCalendar) -> None:
    # Friday 13 Feb 14:20: 2 h 40 min that day, Monday 23 and Tuesday 24 in full, 5 h 20 min on Wednesday 25
    assert vietnam.add_working_days(vn(2026, 2, 13, 14, 20), 3) == vn(2026, 2, 25, 14, 20)
    # same-day procedure received after 15:00 that Friday waits for the end of Tết
    assert vietnam.same_day_due(vn(2026, 2, 13, 15, 30)) == vn(2026, 2, 23, 17)


def test_reunification_and_labour_day_2026(vietnam: WorkingCalendar) -> None:
    assert not vietnam.is_working_day(dt.date(2026, 4, 30))
    assert not vietnam.is_working_day(dt.date(2026, 5, 1))
    # Wednesday 29 April 09:00 + 1 working day skips Thu 30/4, Fri 1/5 and the weekend
    assert vietnam.add_working_days(vn(2026, 4, 29, 9), 1) == vn(2026, 5, 4, 9)
    # Hùng Kings' day (10/3 lunar) fell on Sunday 26 April 2026 and is observed on Monday 27
    assert not vietnam.is_working_day(dt.date(2026, 4, 27))


def test_national_day(vietnam: WorkingCalendar) -> None:
    assert not vietnam.is_working_day(dt.date(2025, 9, 2))
    assert not vietnam.is_working_day(dt.date(2026, 9, 2))
    assert not vietnam.is_working_day(dt.date(2026, 9, 1))
    # calendar-day deadline whose last day (Tue 1 Sep 2026) is a holiday ends at the next working closing
    assert vietnam.add_calendar_days(vn(2026, 8, 27, 10), 5) == vn(2026, 9, 3, 17)


def test_swaps_from_the_package_make_the_saturday_a_working_day(vietnam: WorkingCalendar) -> None:
    # 2025: Fri 2 May off, made up on Sat 26 April; 2026: Mon 31 August off, made up on Sat 22 August
    assert vietnam.is_working_day(dt.date(2025, 4, 26))
    assert not vietnam.is_working_day(dt.date(2025, 5, 2))
    assert vietnam.is_working_day(dt.date(2026, 8, 22))
    assert not vietnam.is_working_day(dt.date(2026, 8, 31))
    # Friday 25 April 2025 09:00 + 1 working day → the make-up Saturday
    assert vietnam.add_working_days(vn(2025, 4, 25, 9), 1) == vn(2025, 4, 26, 9)


def test_vietnam_year_days_pairs_a_swap_across_new_year() -> None:
    # Day off Friday 2 Jan 2015 was made up on Saturday 27 Dec 2014 (holidays package data)
    days_2014 = vietnam_year_days(2014)
    assert dt.date(2014, 12, 27) in days_2014.working_days
    assert dt.date(2015, 1, 2) not in days_2014.holidays
    assert dt.date(2015, 1, 2) in vietnam_year_days(2015).holidays


def test_years_are_loaded_lazily_and_once() -> None:
    calls: list[int] = []

    def source(year: int) -> YearDays:
        calls.append(year)
        return YearDays(
            holidays={dt.date(year, 6, 1): "test holiday"},
            working_days={dt.date(year, 6, 5): "test make-up Saturday"},
        )

    calendar = WorkingCalendar(source=source)
    assert calls == []
    assert not calendar.is_working_day(dt.date(2032, 6, 1))  # a Tuesday
    assert calendar.is_working_day(dt.date(2032, 6, 5))  # a Saturday
    assert calendar.next_working_day(dt.date(2032, 5, 31)) == dt.date(2032, 6, 2)
    assert calendar.next_working_day(dt.date(2032, 6, 4)) == dt.date(2032, 6, 5)
    assert calls == [2032]
    assert calendar.loaded_years == frozenset({2032})


def test_vietnam_calendar_loads_unrequested_years() -> None:
    calendar = WorkingCalendar.vietnam([2026])
    assert calendar.loaded_years == frozenset({2026})
    # Tết 2027: Lunar New Year is Saturday 6 Feb 2027; Monday 8 Feb (3rd day) is off
    assert not calendar.is_working_day(dt.date(2027, 2, 8))
    assert 2027 in calendar.loaded_years
    # across New Year: Wed 31 Dec 2025 16:00 + 1 day skips New Year's Day 2026
    assert calendar.add_working_days(vn(2025, 12, 31, 16), 1) == vn(2026, 1, 2, 16)


# ------------------------------------------------------------------------------------------ overrides


@pytest.fixture(scope="module")
def swapped() -> WorkingCalendar:
    """Made-up decision (test only): Friday 8 Oct 2027 off, made up on Saturday 9 Oct 2027."""
    overrides = CalendarOverrides(
        extra_holidays={dt.date(2027, 10, 8): "test: swapped Friday"},
        extra_working_days={dt.date(2027, 10, 9): "test: make-up Saturday"},
    )
    return WorkingCalendar(overrides=overrides)


def test_swapped_saturday_moves_working_days(swapped: WorkingCalendar, plain: WorkingCalendar) -> None:
    assert not swapped.is_working_day(dt.date(2027, 10, 8))
    assert swapped.is_working_day(dt.date(2027, 10, 9))
    assert swapped.next_working_day(dt.date(2027, 10, 7)) == dt.date(2027, 10, 9)
    assert swapped.holiday_name(dt.date(2027, 10, 8)) == "test: swapped Friday"
    received = vn(2027, 10, 7, 9)  # Thursday
    assert plain.add_working_days(received, 1) == vn(2027, 10, 8, 9)
    assert swapped.add_working_days(received, 1) == vn(2027, 10, 9, 9)
    assert swapped.add_working_days(received, 2) == vn(2027, 10, 11, 9)
    assert swapped.same_day_due(vn(2027, 10, 7, 16)) == vn(2027, 10, 9, 17)
    assert swapped.clock_start(vn(2027, 10, 8, 9)) == vn(2027, 10, 9, 7)
    # a calendar-day deadline ending on the make-up Saturday ends that Saturday, not on Monday
    assert plain.add_calendar_days(vn(2027, 10, 6, 10), 3) == vn(2027, 10, 11, 17)
    assert swapped.add_calendar_days(vn(2027, 10, 6, 10), 3) == vn(2027, 10, 9, 17)
    assert swapped.working_seconds_between(vn(2027, 10, 7, 17), vn(2027, 10, 11, 7)) == 8 * HOUR


def test_overrides_win_over_the_package() -> None:
    overrides = CalendarOverrides(
        extra_working_days={dt.date(2026, 11, 24): "test: worked"},
        extra_holidays={dt.date(2026, 3, 3): "test: day off"},
    )
    calendar = WorkingCalendar.vietnam([2026], overrides=overrides)
    assert WorkingCalendar.vietnam([2026]).is_working_day(dt.date(2026, 11, 24)) is False
    assert calendar.is_working_day(dt.date(2026, 11, 24)) is True
    assert calendar.holiday_name(dt.date(2026, 11, 24)) is None
    assert calendar.is_working_day(dt.date(2026, 3, 3)) is False


def test_fixed_holiday_mapping() -> None:
    calendar = WorkingCalendar(holidays={dt.date(2026, 3, 3): "local day off"})
    assert not calendar.is_working_day(dt.date(2026, 3, 3))
    assert calendar.add_working_days(vn(2026, 3, 2, 9), 1) == vn(2026, 3, 4, 9)


# ---------------------------------------------------------------------------------- overrides data/JSON


def test_from_data_parses_years_and_ignores_comments() -> None:
    overrides = CalendarOverrides.from_data(
        {
            "_about": "comment",
            "2027": {
                "_note": "comment",
                "holidays": {"2027-10-08": " swapped Friday "},
                "working_days": {"2027-10-09": "make-up Saturday"},
            },
            "2028": {"holidays": {}},
        }
    )
    assert dict(overrides.extra_holidays) == {dt.date(2027, 10, 8): "swapped Friday"}
    assert dict(overrides.extra_working_days) == {dt.date(2027, 10, 9): "make-up Saturday"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "object keyed by year"),
        ({"26": {}}, "four-digit year"),
        ({"2026": []}, "expected an object"),
        ({"2026": {"holiday": {}}}, "unknown section"),
        ({"2026": {"holidays": ["2026-02-13"]}}, "expected an object"),
        ({"2026": {"holidays": {"2026-02-30": "x"}}}, "not an ISO date"),
        ({"2026": {"holidays": {"20260213": "x"}}}, "YYYY-MM-DD"),
        ({"2026": {"holidays": {"2027-02-13": "x"}}}, "not in year 2026"),
        ({"2026": {"holidays": {"2026-02-13": ""}}}, "non-empty"),
        ({"2026": {"working_days": {"2026-02-14": 1}}}, "non-empty"),
        (
            {"2026": {"holidays": {"2026-02-13": "a"}, "working_days": {"2026-02-13": "b"}}},
            "both holiday and working day",
        ),
    ],
)
def test_from_data_rejects_bad_input(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalendarOverrides.from_data(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"2026": {"holidays": {"2026-02-30": "x"}}},
            "2026.holidays['2026-02-30']: not an ISO date YYYY-MM-DD (day is out of range for month)",
            id="invalid date text",
        ),
        pytest.param(
            {"2026": {"working_days": {"2027-02-13": "x"}}},
            "2026.working_days['2027-02-13']: date is not in year 2026",
            id="date filed under the wrong year",
        ),
        pytest.param(
            {"2026": {"holidays": {"2026-02-13": "   "}}},
            "2026.holidays['2026-02-13']: the reason (naming its source) must be a non-empty string",
            id="empty reason",
        ),
        pytest.param(
            {"2026": {"holidays": {"2026-02-13": "a"}, "working_days": {"2026-02-13": "b"}}},
            "2026['2026-02-13']: both holiday and working day",
            id="day in both tables",
        ),
        pytest.param(
            {"2026": {"holidays": {}, "working_day": {"2026-02-14": "x"}}},
            "2026: unknown section 'working_day'",
            id="unknown key in a year",
        ),
    ],
)
def test_from_data_names_the_year_and_entry(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CalendarOverrides.from_data(data)
    assert len(validate_overrides(data)) == 1
    assert english(validate_overrides(data)[0]).startswith(message)


def test_validate_overrides_lists_every_problem() -> None:
    data = {
        "_about": "comments are fine",
        "2026": {
            "_note": "so are comments in a year",
            "holidays": {
                "2026-02-30": "no such day",
                "2026-02-13": "fine",
                "2027-01-01": "wrong year",
                "2026-03-03": "",
                "2026-09-01": "also a working day",
            },
            "working_days": {"2026-09-01": "also a holiday", "2026-08-22": "fine"},
            "holliday": {},
        },
        "2027": {"working_days": {"27-10-09": "bad text"}},
        "20x8": {},
    }
    problems = validate_overrides(data)
    # Vietnamese first for the administrator's pages, each with its place in the file
    assert vietnamese(problems[0]) == (
        "2026.holidays['2026-02-30']: không phải một ngày có thật viết theo dạng YYYY-MM-DD (năm-tháng-ngày)"
    )
    assert vietnamese(problems[1]) == "2026.holidays['2027-01-01']: ngày không thuộc năm 2026; hãy ghi vào mục \"2027\""
    assert vietnamese(problems[6]) == 'lịch điều chỉnh: "20x8" không phải một năm bốn chữ số'
    assert [english(p) for p in problems] == [
        "2026.holidays['2026-02-30']: not an ISO date YYYY-MM-DD (day is out of range for month)",
        "2026.holidays['2027-01-01']: date is not in year 2026; file it under \"2027\"",
        "2026.holidays['2026-03-03']: the reason (naming its source) must be a non-empty string",
        "2026: unknown section 'holliday' (expected holidays, working_days; comments start with '_')",
        "2026['2026-09-01']: both holiday and working day (holidays: 'also a working day'; "
        "working_days: 'also a holiday'); keep one",
        "2027.working_days['27-10-09']: not an ISO date YYYY-MM-DD (Invalid isoformat string: '27-10-09')",
        "calendar overrides: '20x8' is not a four-digit year",
    ]
    # from_data reports them all at once
    with pytest.raises(ValueError) as raised:
        CalendarOverrides.from_data(data)
    assert str(raised.value) == "; ".join(problems)


def test_validate_overrides_accepts_the_data_file() -> None:
    assert validate_overrides(json.loads(DATA_FILE.read_text(encoding="utf-8"))) == []
    assert validate_overrides({}) == []
    assert [english(p) for p in validate_overrides([])] == [
        "calendar overrides: expected an object keyed by year, got list"
    ]


def test_overrides_are_immutable() -> None:
    source = {dt.date(2026, 3, 3): "x"}
    overrides = CalendarOverrides(extra_holidays=source)
    source[dt.date(2026, 3, 4)] = "added later"
    assert list(overrides.extra_holidays) == [dt.date(2026, 3, 3)]
    with pytest.raises(TypeError):
        overrides.extra_holidays[dt.date(2026, 3, 5)] = "y"  # type: ignore[index]


def test_data_file_parses_and_names_a_source_for_each_entry(data_overrides: CalendarOverrides) -> None:
    entries = {**data_overrides.extra_holidays, **data_overrides.extra_working_days}
    assert entries, "the data file is expected to hold the 2025-2026 decisions"
    assert dt.date(2025, 4, 26) in data_overrides.extra_working_days
    assert all(len(reason) > 20 for reason in entries.values())


def test_data_file_agrees_with_the_package(data_overrides: CalendarOverrides) -> None:
    calendar = WorkingCalendar.vietnam([2025, 2026], overrides=data_overrides)
    assert calendar.is_working_day(dt.date(2025, 4, 26))
    assert [calendar.is_working_day(dt.date(2026, 2, d)) for d in range(14, 24)] == [False] * 9 + [True]
    assert calendar.add_working_days(vn(2026, 2, 13, 14, 20), 3) == vn(2026, 2, 25, 14, 20)
