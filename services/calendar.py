"""The holiday override calendar the administrator edits (``calendar_override``): days off and make-up working
days beyond the statutory ones, each change recorded in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from persistence import calendar as store
from persistence.uow import Database, transaction
from services.ports import DossierDesk


def overrides(db: Database) -> list[Any]:
    """Every override in force, by day."""
    with transaction(db) as conn:
        return store.overrides(conn)


def add_override(
    db: Database,
    desk: DossierDesk,
    actor: str,
    day: dt.date,
    kind: str,
    reason: str,
    *,
    rebuild: Callable[[], None],
    **how: Any,
) -> None:
    """Store an override (already checked with the days in force), rebuild the working calendar and record
    ``admin.calendar_override_added``."""
    with transaction(db) as conn:
        store.add_override(conn, day, kind, reason)
    rebuild()
    desk.record("admin.calendar_override_added", actor, day=day.isoformat(), kind=kind, reason=reason, **how)


def remove_override(
    db: Database, desk: DossierDesk, actor: str, day: dt.date, *, rebuild: Callable[[], None], **how: Any
) -> Any:
    """Remove the override of ``day``, rebuild the working calendar and record
    ``admin.calendar_override_removed``; the removed row, or None (nothing changed) when there was none."""
    with transaction(db) as conn:
        removed = store.override(conn, day)
        if removed is not None:
            store.remove_override(conn, day)
    if removed is None:
        return None
    rebuild()
    desk.record(
        "admin.calendar_override_removed",
        actor,
        day=day.isoformat(),
        kind=removed.kind,
        reason=removed.reason,
        **how,
    )
    return removed
