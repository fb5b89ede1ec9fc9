"""The holiday override calendar (``calendar_override``): days off and make-up working days beyond the statutory
ones, as the administrator and the shipped reference data set them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from dossiers.calendar import CalendarOverrides, WorkingCalendar
from persistence.schema import calendar_override
from persistence.uow import transaction


def working_calendar(db: Engine) -> WorkingCalendar:
    """The Vietnamese working calendar with the stored overrides."""
    with transaction(db) as conn:
        rows = conn.execute(select(calendar_override)).all()
    overrides = CalendarOverrides(
        extra_holidays={r.day: r.reason for r in rows if r.kind == "holiday"},
        extra_working_days={r.day: r.reason for r in rows if r.kind == "working_day"},
    )
    return WorkingCalendar.vietnam(overrides=overrides)


def overrides(conn: Connection) -> list[Any]:
    """Every override in force (``day``, ``kind``, ``reason``), by day."""
    return list(conn.execute(select(calendar_override).order_by(calendar_override.c.day)).all())


def override_days(conn: Connection) -> set[dt.date]:
    """The days that have an override."""
    return {r.day for r in conn.execute(select(calendar_override.c.day))}


def override(conn: Connection, day: dt.date) -> Any:
    """The override of ``day``, or None."""
    return conn.execute(select(calendar_override).where(calendar_override.c.day == day)).first()


def add_override(conn: Connection, day: dt.date, kind: str, reason: str) -> None:
    conn.execute(insert(calendar_override).values(day=day, kind=kind, reason=reason))


def remove_override(conn: Connection, day: dt.date) -> None:
    conn.execute(delete(calendar_override).where(calendar_override.c.day == day))


def add_missing_overrides(conn: Connection, overrides: CalendarOverrides) -> int:
    """Store the overrides (the shipped reference data) of the days that have none yet; how many were added."""
    have_days = override_days(conn)
    added = 0
    for kind, table in (
        ("holiday", overrides.extra_holidays),
        ("working_day", overrides.extra_working_days),
    ):
        for day, reason in table.items():
            if day not in have_days:
                add_override(conn, day, kind, reason)
                added += 1
    return added
