"""Each step's share of the time limit (dossiers.step_times): the internal procedure's hours as data, the default
split by role without them, never after the dossier's own due date; the catalogue refuses bad step times."""

from __future__ import annotations

import datetime as dt

from dossiers.calendar import VN_TZ, WorkingCalendar
from dossiers.catalogue import check_entry, parse_entry
from dossiers.lifecycle import due_at
from dossiers.step_times import DEFAULT_SHARES, step_due, step_seconds
from tests.unit.test_catalogue import entry_data

MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)  # a working Monday (07:00–11:30, 13:30–17:00)
CALENDAR = WorkingCalendar.vietnam([2026])


def household(**changes: object) -> tuple[object, object]:
    proc = parse_entry(entry_data(**changes)).at(MONDAY.date())  # 3 working days
    return proc, due_at(proc, CALENDAR, MONDAY)


def test_without_an_internal_procedure_the_time_limit_is_split_by_who_does_the_step() -> None:
    proc, dossier_due = household()
    total = CALENDAR.working_seconds_between(MONDAY, dossier_due)
    assert total == 3 * 8 * 3600
    for role, share in DEFAULT_SHARES.items():
        assert step_seconds(proc, "any", role, CALENDAR, MONDAY, dossier_due) == round(total * share)
    review_due = step_due(proc, "review", "specialist", CALENDAR, MONDAY, MONDAY, dossier_due)
    assert CALENDAR.working_seconds_between(MONDAY, review_due) == round(total * 0.6)
    assert review_due < dossier_due


def test_the_internal_procedures_hours_win_and_no_step_is_due_after_the_dossier() -> None:
    proc, dossier_due = household(step_times={"review": 12, "approve": 4})
    approve = step_due(proc, "approve", "leader", CALENDAR, MONDAY, MONDAY, dossier_due)
    assert CALENDAR.working_seconds_between(MONDAY, approve) == 4 * 3600
    late_start = dossier_due - dt.timedelta(hours=1)
    assert step_due(proc, "review", "specialist", CALENDAR, late_start, MONDAY, dossier_due) == dossier_due
    # a step begun at lunch starts counting at 13:30: 3 h 30 that afternoon, the last 30 minutes on Tuesday
    lunch = dt.datetime(2026, 3, 2, 12, 0, tzinfo=VN_TZ)
    assert step_due(proc, "approve", "leader", CALENDAR, lunch, MONDAY, dossier_due) == dt.datetime(
        2026, 3, 3, 7, 30, tzinfo=VN_TZ
    )


def test_the_catalogue_refuses_bad_step_times_naming_the_path() -> None:
    for bad, message in (
        (["review"], "must map a BPMN step id"),
        ({"review": 0}, "above 0"),
        ({"review": "12"}, "number of working hours"),
        ({"review": True}, "number of working hours"),
        ({"bad id!": 3}, "BPMN step id"),
    ):
        entry, problems = check_entry(entry_data(step_times=bad))
        assert entry is None and any("step_times" in p and message in p for p in problems), (bad, problems)
    entry, problems = check_entry(entry_data(step_times={"review": 12.5}))
    assert problems == [] and entry is not None and entry.step_times == (("review", 12.5),)
