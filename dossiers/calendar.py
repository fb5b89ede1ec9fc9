"""Working-day calendar of Vietnamese public agencies: working hours, holidays, swapped days, deadlines.

Pure Python (no I/O). Three layers decide whether a day is worked, the first that speaks wins:

1. :class:`CalendarOverrides` — the editable per-year table (``motcua/data/calendar_overrides.json``) for
   decisions of the Government / Ministry of Home Affairs that the ``holidays`` package does not know yet;
2. the holiday source — for :meth:`WorkingCalendar.vietnam`, the ``holidays`` package: statutory holidays
   (Labour Code 2019 Art. 112, lunar Tết included), days off given in compensation, and swapped days
   ("Day off (substituted from DD/MM/YYYY)"): the day off is a holiday and the Saturday named in its label
   becomes a make-up working day;
3. the week: Monday–Friday are working days, Saturday and Sunday are not.

Every moment is a timezone-aware :class:`datetime.datetime`; naive values are refused with ``ValueError``.
All computation happens in Vietnam time (:data:`VN_TZ`, UTC+07:00, no daylight saving time) and results are
returned in :data:`VN_TZ`.

Time conventions (DESIGN §6 "Deadline"):

* Working time is the union of the half-open periods ``[morning start, morning end)`` and
  ``[afternoon start, afternoon end)`` of each working day (default 07:00–11:30 and 13:30–17:00, so a
  working day holds 8 hours of working time).
* The legal clock starts at :meth:`WorkingCalendar.clock_start`: a dossier received outside working time
  counts from the next moment of working time (after closing → next working morning).
* A *working day* in a deadline is one day's worth of working time (8 hours by default), so "N working
  days" from Monday 09:00 is the same clock time N working days later (Thursday 09:00 for 3 days).
* A due moment is the *earliest* moment at which the required working time has elapsed. Consequently a
  deadline that would land exactly on an opening time (07:00 or 13:30) is expressed as the closing time of
  the preceding working period (17:00 of the previous working day, or 11:30): the citizen reads "due
  Monday 17:00", not "due Tuesday 07:00".
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import holidays as holidays_lib

from dossiers.problems import bilingual, written

__all__ = [
    "DEFAULT_HOURS",
    "VN_TZ",
    "CalendarOverrides",
    "HolidaySource",
    "WorkingCalendar",
    "WorkingHours",
    "YearDays",
    "validate_overrides",
    "vietnam_year_days",
]

VN_TZ = dt.timezone(dt.timedelta(hours=7))

_ONE_DAY = dt.timedelta(days=1)
_ONE_SECOND = dt.timedelta(seconds=1)
# A calendar with no working day for this long is broken (e.g. an override table gone wrong).
_MAX_NON_WORKING_STREAK = 366
_YEAR_KEY = re.compile(r"^\d{4}$")
# How the ``holidays`` package names a swapped day off (in Vietnamese):
# "Ngày nghỉ (thay cho ngày 22/08/2026)" = day off in exchange for working on 22/08/2026.
_SUBSTITUTED_FROM = re.compile(r"thay cho ngày (\d{2})/(\d{2})/(\d{4})")


def _frozen(mapping: Mapping[dt.date, str]) -> Mapping[dt.date, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class WorkingHours:
    """Office hours of a one-stop-shop counter (configurable; default 07:00–11:30 and 13:30–17:00).

    ``same_day_cutoff`` (default 15:00): a same-day procedure received after it is resolved the next
    working day (DESIGN §6).
    """

    morning: tuple[dt.time, dt.time] = (dt.time(7, 0), dt.time(11, 30))
    afternoon: tuple[dt.time, dt.time] = (dt.time(13, 30), dt.time(17, 0))
    same_day_cutoff: dt.time = dt.time(15, 0)

    def __post_init__(self) -> None:
        times = (*self.morning, *self.afternoon, self.same_day_cutoff)
        if any(t.tzinfo is not None for t in times):
            raise ValueError("working hours are local Vietnam times; give naive datetime.time values")
        (m_start, m_end), (a_start, a_end) = self.morning, self.afternoon
        if not m_start < m_end <= a_start < a_end:
            raise ValueError(
                "working hours must satisfy morning start < morning end <= afternoon start < afternoon end, "
                f"got {m_start}-{m_end} and {a_start}-{a_end}"
            )
        if not m_start <= self.same_day_cutoff <= a_end:
            raise ValueError(f"same-day cut-off {self.same_day_cutoff} lies outside {m_start}-{a_end}")

    @property
    def opening(self) -> dt.time:
        return self.morning[0]

    @property
    def closing(self) -> dt.time:
        return self.afternoon[1]

    @property
    def periods(self) -> tuple[tuple[dt.time, dt.time], tuple[dt.time, dt.time]]:
        return (self.morning, self.afternoon)

    @property
    def seconds_per_day(self) -> int:
        """Working seconds in one working day (28,800 = 8 h by default)."""
        day = dt.date(2000, 1, 1)
        total = dt.timedelta()
        for start, end in self.periods:
            total += dt.datetime.combine(day, end) - dt.datetime.combine(day, start)
        return total // _ONE_SECOND


DEFAULT_HOURS = WorkingHours()


_SECTIONS = ("holidays", "working_days")


def _parse_day_table(raw: object, year: int, where: str, problems: list[str]) -> dict[dt.date, str]:
    """The valid entries of one ``{"YYYY-MM-DD": "reason"}`` table; each invalid one adds a problem."""
    if not isinstance(raw, Mapping):
        problems.append(
            bilingual(
                f'{where}: phải là một đối tượng {{"YYYY-MM-DD": "lý do"}}, đang ghi {written(raw)}',
                f"{where}: expected an object of 'YYYY-MM-DD': 'reason', got {type(raw).__name__}",
            )
        )
        return {}
    days: dict[dt.date, str] = {}
    for key, reason in raw.items():
        entry = f"{where}[{key!r}]"
        if not isinstance(key, str):
            problems.append(
                bilingual(f"{entry}: ngày phải viết thành chuỗi YYYY-MM-DD", f"{entry}: date keys must be strings")
            )
            continue
        try:
            day = dt.date.fromisoformat(key)
        except ValueError as exc:
            problems.append(
                bilingual(
                    f"{entry}: không phải một ngày có thật viết theo dạng YYYY-MM-DD (năm-tháng-ngày)",
                    f"{entry}: not an ISO date YYYY-MM-DD ({exc})",
                )
            )
            continue
        if len(key) != 10:
            problems.append(
                bilingual(f"{entry}: hãy viết ngày theo dạng YYYY-MM-DD", f"{entry}: write the date as YYYY-MM-DD")
            )
            continue
        if day.year != year:
            problems.append(
                bilingual(
                    f'{entry}: ngày không thuộc năm {year}; hãy ghi vào mục "{day.year}"',
                    f'{entry}: date is not in year {year}; file it under "{day.year}"',
                )
            )
            continue
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                bilingual(
                    f"{entry}: cần ghi lý do (nêu văn bản quyết định ngày này)",
                    f"{entry}: the reason (naming its source) must be a non-empty string",
                )
            )
            continue
        days[day] = reason.strip()
    return days


def _parse_overrides(data: object) -> tuple[dict[dt.date, str], dict[dt.date, str], list[str]]:
    """Valid holidays, valid working days and every problem found in an overrides table."""
    problems: list[str] = []
    holidays: dict[dt.date, str] = {}
    working_days: dict[dt.date, str] = {}
    if not isinstance(data, Mapping):
        problems.append(
            bilingual(
                f"lịch điều chỉnh: phải là một đối tượng theo từng năm, đang ghi {written(data)}",
                f"calendar overrides: expected an object keyed by year, got {type(data).__name__}",
            )
        )
        return holidays, working_days, problems
    for year_key, year_data in data.items():
        if not isinstance(year_key, str):
            problems.append(
                bilingual(
                    f"lịch điều chỉnh: năm phải viết thành chuỗi bốn chữ số, đang ghi {written(year_key)}",
                    f"calendar overrides: year keys must be strings, got {year_key!r}",
                )
            )
            continue
        if year_key.startswith("_"):
            continue
        if not _YEAR_KEY.match(year_key):
            problems.append(
                bilingual(
                    f"lịch điều chỉnh: {written(year_key)} không phải một năm bốn chữ số",
                    f"calendar overrides: {year_key!r} is not a four-digit year",
                )
            )
            continue
        year = int(year_key)
        if not isinstance(year_data, Mapping):
            problems.append(
                bilingual(
                    f'{year_key}: phải là một đối tượng có mục "holidays" (ngày nghỉ) và/hoặc "working_days" (ngày '
                    f"làm bù), đang ghi {written(year_data)}",
                    f"{year_key}: expected an object with 'holidays' and/or 'working_days', got "
                    f"{type(year_data).__name__}",
                )
            )
            continue
        tables: dict[str, dict[dt.date, str]] = {}
        for section, raw in year_data.items():
            if isinstance(section, str) and section.startswith("_"):
                continue
            if section not in _SECTIONS:
                problems.append(
                    bilingual(
                        f'{year_key}: không có mục {written(section)}; chỉ có "holidays" (ngày nghỉ) và "working_days" '
                        '(ngày làm bù), ghi chú bắt đầu bằng "_"',
                        f"{year_key}: unknown section {section!r} (expected holidays, working_days; "
                        "comments start with '_')",
                    )
                )
                continue
            tables[section] = _parse_day_table(raw, year, f"{year_key}.{section}", problems)
        year_holidays, year_working = tables.get("holidays", {}), tables.get("working_days", {})
        for day in sorted(set(year_holidays) & set(year_working)):
            problems.append(
                bilingual(
                    f"{year_key}[{day.isoformat()!r}]: vừa là ngày nghỉ vừa là ngày làm bù; chỉ giữ một",
                    f"{year_key}[{day.isoformat()!r}]: both holiday and working day "
                    f"(holidays: {year_holidays[day]!r}; working_days: {year_working[day]!r}); keep one",
                )
            )
            del year_holidays[day], year_working[day]
        holidays.update(year_holidays)
        working_days.update(year_working)
    return holidays, working_days, problems


def validate_overrides(data: object) -> list[str]:
    """Every problem of a calendar-overrides table (the parsed JSON), each naming its year and entry.

    An empty list means :meth:`CalendarOverrides.from_data` accepts ``data``. Checked: the top level is an
    object keyed by four-digit years (keys starting with ``_`` are comments); a year holds only
    ``holidays`` and ``working_days`` (and ``_`` comments); each date is a real date written
    ``YYYY-MM-DD`` filed under its own year, with a non-empty reason; no date is in both tables.
    """
    return _parse_overrides(data)[2]


@dataclass(frozen=True)
class CalendarOverrides:
    """Government decisions layered on top of the holiday source (data, not code).

    ``extra_holidays``: days off decided on top of the statutory ones (e.g. a swapped Friday).
    ``extra_working_days``: days worked although they would not be (e.g. a make-up Saturday); it wins over
    every holiday. A day may not be in both. Values are the reason, naming the decision it comes from.
    """

    extra_holidays: Mapping[dt.date, str] = field(default_factory=dict)
    extra_working_days: Mapping[dt.date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("extra_holidays", "extra_working_days"):
            mapping: Mapping[object, object] = getattr(self, name)
            for day, reason in mapping.items():
                if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                    raise ValueError(f"{name}: keys must be datetime.date, got {day!r}")
                if not isinstance(reason, str):
                    raise ValueError(f"{name}[{day}]: reason must be a string, got {reason!r}")
        both = sorted(set(self.extra_holidays) & set(self.extra_working_days))
        if both:
            raise ValueError(f"days both holiday and working day: {', '.join(d.isoformat() for d in both)}")
        object.__setattr__(self, "extra_holidays", _frozen(self.extra_holidays))
        object.__setattr__(self, "extra_working_days", _frozen(self.extra_working_days))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CalendarOverrides:
        """Parse the JSON table ``{"2026": {"holidays": {"2026-02-13": "reason"}, "working_days": {...}}}``.

        Keys starting with ``_`` (at the top level or in a year) are comments and ignored. Every date must
        be a real date written ``YYYY-MM-DD``, belong to the year it is filed under and carry a non-empty
        reason; a date may not be in both tables. Raises ``ValueError`` listing every problem (each naming
        its year and entry, see :func:`validate_overrides`).
        """
        holidays, working_days, problems = _parse_overrides(data)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(extra_holidays=holidays, extra_working_days=working_days)


@dataclass(frozen=True)
class YearDays:
    """What a holiday source says about one year: days off and make-up working days (with their names)."""

    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    working_days: Mapping[dt.date, str] = field(default_factory=dict)


HolidaySource = Callable[[int], YearDays]
"""Loads one year's :class:`YearDays`; called lazily, at most once per year per calendar."""


def vietnam_year_days(year: int) -> YearDays:
    """Vietnam's statutory days off of ``year`` from the ``holidays`` package (names in Vietnamese).

    Swapped days: the package lists the day off as "Ngày nghỉ (thay cho ngày DD/MM/YYYY)"; the date in the
    label is the make-up working day (usually a Saturday). The neighbouring years are read too, because a
    swap may cross New Year (e.g. the day off 02/01/2015 was made up on 27/12/2014).
    """
    lib = holidays_lib.country_holidays("VN", years=(year - 1, year, year + 1), language="vi")
    days_off: dict[dt.date, str] = {}
    make_up: dict[dt.date, str] = {}
    for day, name in sorted(lib.items()):
        if day.year == year:
            days_off[day] = name
        for match in _SUBSTITUTED_FROM.finditer(name):
            dd, mm, yyyy = (int(g) for g in match.groups())
            worked = dt.date(yyyy, mm, dd)
            if worked.year == year:
                make_up[worked] = f"Ngày làm bù cho ngày nghỉ {day:%d/%m/%Y} (holidays package)"
    return YearDays(holidays=days_off, working_days=make_up)


def _require_aware(moment: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise ValueError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(VN_TZ)


class WorkingCalendar:
    """Working days and deadlines of an agency.

    ``holidays`` is a fixed mapping of extra days off (any years); ``source`` loads a year of statutory days
    off and make-up days lazily (cached per year) so the calendar works for any date; ``overrides`` wins
    over both. Use :meth:`vietnam` for the real Vietnamese calendar.
    """

    def __init__(
        self,
        holidays: Mapping[dt.date, str] | None = None,
        overrides: CalendarOverrides | None = None,
        hours: WorkingHours = DEFAULT_HOURS,
        *,
        source: HolidaySource | None = None,
    ) -> None:
        self._holidays = _frozen(holidays or {})
        self._overrides = overrides or CalendarOverrides()
        self._hours = hours
        self._source = source
        self._years: dict[int, YearDays] = {}
        self._lock = threading.Lock()

    @classmethod
    def vietnam(
        cls,
        years: Iterable[int] = (),
        overrides: CalendarOverrides | None = None,
        hours: WorkingHours = DEFAULT_HOURS,
    ) -> WorkingCalendar:
        """Vietnam's calendar from the ``holidays`` package; ``years`` are loaded now, others when needed."""
        calendar = cls(overrides=overrides, hours=hours, source=vietnam_year_days)
        for year in years:
            calendar._year(year)
        return calendar

    @property
    def hours(self) -> WorkingHours:
        return self._hours

    @property
    def overrides(self) -> CalendarOverrides:
        return self._overrides

    @property
    def loaded_years(self) -> frozenset[int]:
        """Years the source has been asked for so far."""
        return frozenset(self._years)

    def _year(self, year: int) -> YearDays:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        if self._source is None:
            loaded = YearDays()
        else:
            got = self._source(year)
            loaded = YearDays(holidays=_frozen(got.holidays), working_days=_frozen(got.working_days))
        with self._lock:
            return self._years.setdefault(year, loaded)

    # ----------------------------------------------------------------------------------------------- days

    def holiday_name(self, day: dt.date) -> str | None:
        """The name of the holiday on ``day`` (``None`` if none, or if the day was made a working day)."""
        if day in self._overrides.extra_working_days:
            return None
        reason = self._overrides.extra_holidays.get(day) or self._holidays.get(day)
        if reason is not None:
            return reason
        year = self._year(day.year)
        if day in year.working_days:
            return None
        return year.holidays.get(day)

    def is_working_day(self, day: dt.date) -> bool:
        """Monday–Friday unless a holiday; Saturday/Sunday only when a make-up (extra) working day."""
        if isinstance(day, dt.datetime):
            raise ValueError("is_working_day takes a date; use .date() of a Vietnam-time datetime")
        if day in self._overrides.extra_working_days:
            return True
        if day in self._overrides.extra_holidays or day in self._holidays:
            return False
        year = self._year(day.year)
        if day in year.working_days:
            return True
        if day in year.holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        candidate = day + _ONE_DAY
        for _ in range(_MAX_NON_WORKING_STREAK):
            if self.is_working_day(candidate):
                return candidate
            candidate += _ONE_DAY
        raise ValueError(f"no working day within {_MAX_NON_WORKING_STREAK} days after {day}")

    def _working_day_on_or_after(self, day: dt.date) -> dt.date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    def _at(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=VN_TZ)

    def _periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if not self.is_working_day(day):
            return []
        return [(self._at(day, start), self._at(day, end)) for start, end in self._hours.periods]

    # ----------------------------------------------------------------------------------------- moments

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` lies in working time (periods are half-open: 11:30 and 17:00 are not)."""
        t = _require_aware(moment, "moment")
        return any(start <= t < end for start, end in self._periods(t.date()))

    def clock_start(self, received_at: dt.datetime) -> dt.datetime:
        """When the legal clock starts for a dossier received at ``received_at``.

        Inside working time → ``received_at``; during the lunch break → afternoon opening (13:30) the same
        day; before opening on a working day → opening (07:00) the same day; at/after closing (17:00) or on
        a non-working day → opening of the next working day.
        """
        t = _require_aware(received_at, "received_at")
        for start, end in self._periods(t.date()):
            if t < end:
                return max(t, start)
        return self._at(self.next_working_day(t.date()), self._hours.opening)

    def add_working_seconds(self, start: dt.datetime, seconds: int) -> dt.datetime:
        """The earliest moment by which ``seconds`` of working time have elapsed since ``start``.

        Inverse of :meth:`working_seconds_between`: ``working_seconds_between(s, add_working_seconds(s, n))
        == n``. ``seconds == 0`` returns ``start`` itself (in Vietnam time). Being the *earliest* such
        moment, a result that would fall on an opening time is the previous closing time instead.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        t = _require_aware(start, "start")
        remaining = dt.timedelta(seconds=seconds)
        if not remaining:
            return t
        day = t.date()
        streak = 0
        while True:
            periods = self._periods(day)
            streak = 0 if periods else streak + 1
            if streak > _MAX_NON_WORKING_STREAK:
                raise ValueError(f"no working day within {_MAX_NON_WORKING_STREAK} days after {day}")
            for period_start, period_end in periods:
                if t >= period_end:
                    continue
                begin = max(t, period_start)
                available = period_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += _ONE_DAY

    def working_seconds_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Working time from ``start`` to ``end`` in whole seconds (rounded down); ``end`` >= ``start``.

        Used to pause the clock while a supplement is requested: the due date then moves by
        ``add_working_seconds(due, working_seconds_between(paused_at, resumed_at))``.
        """
        a = _require_aware(start, "start")
        b = _require_aware(end, "end")
        if b < a:
            raise ValueError(f"end {b.isoformat()} is before start {a.isoformat()}")
        total = dt.timedelta()
        day = a.date()
        while day <= b.date():
            for period_start, period_end in self._periods(day):
                lo, hi = max(a, period_start), min(b, period_end)
                if lo < hi:
                    total += hi - lo
            day += _ONE_DAY
        return total // _ONE_SECOND

    # ---------------------------------------------------------------------------------------- deadlines

    def add_working_days(self, received_at: dt.datetime, days: int) -> dt.datetime:
        """Due moment of a procedure taking ``days`` working days (``days`` >= 1).

        The clock starts at :meth:`clock_start`; one working day is one day's worth of working time
        (``hours.seconds_per_day``, 8 h by default); the due moment is the earliest moment at which that
        much working time has elapsed. Examples with default hours and no holidays: received Monday 09:00,
        3 days → Thursday 09:00; received Friday 16:30, 1 day → Monday 16:30; received Friday 18:00, the
        clock starts Monday 07:00 and 1 day → Monday 17:00 (not Tuesday 07:00: a due moment landing on an
        opening time is written as the previous closing time). Same-day procedures use
        :meth:`same_day_due`.
        """
        if days < 1:
            raise ValueError(f"days must be >= 1 (use same_day_due for same-day procedures), got {days}")
        return self.add_working_seconds(self.clock_start(received_at), days * self._hours.seconds_per_day)

    def same_day_due(self, received_at: dt.datetime) -> dt.datetime:
        """Due moment of a same-day procedure (DESIGN §6).

        Received on a working day at or before the cut-off (15:00:00; only receipts *after* 15:00 move) →
        closing (17:00) that day; otherwise (after the cut-off, or on a non-working day) → closing of the
        next working day.
        """
        t = _require_aware(received_at, "received_at")
        day = t.date()
        if self.is_working_day(day) and t.time() <= self._hours.same_day_cutoff:
            return self._at(day, self._hours.closing)
        return self._at(self.next_working_day(day), self._hours.closing)

    def add_calendar_days(self, received_at: dt.datetime, days: int) -> dt.datetime:
        """Due moment of a procedure counted in calendar days (``days`` >= 1).

        The one-stop-shop decrees (Decree 61/2018/NĐ-CP, replaced by Decree 118/2025/NĐ-CP) state limits in
        working or calendar days but set no counting rule of their own for calendar days, so the Civil Code
        2015 applies (Art. 145(1)): the day the clock starts is not counted (Art. 147(2)); the period ends
        at the end of its last day (Art. 148(1)); when the last day is a weekly rest day or a holiday, it
        ends at the end of the next working day (Art. 148(5)). A make-up Saturday is a working day, so a
        period may end on it.

        Here the clock starts at :meth:`clock_start` (a dossier received after closing or on a day off
        counts as received the next working day, DESIGN §6) and "the end of a day" is its closing time
        (17:00) — deliberately earlier than the Civil Code's 24:00 (Art. 148(6)), since the appointment on
        the receipt is a time the counter is open: last day = start day + ``days``; due = closing of the
        last day if it is a working day, else closing of the next working day.
        """
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        last_day = self.clock_start(received_at).date() + dt.timedelta(days=days)
        return self._at(self._working_day_on_or_after(last_day), self._hours.closing)
