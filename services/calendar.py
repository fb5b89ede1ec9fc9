"""The holiday override calendar the administrator edits (``calendar_override``): days off and make-up working
days beyond the statutory ones, each change recorded in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select

from persistence.schema import calendar_override
from persistence.uow import transaction

if TYPE_CHECKING:
    from services.shop import OneStopShop


def overrides(db: Engine) -> list[Any]:
    """Every override in force, by day."""
    with transaction(db) as conn:
        return list(conn.execute(select(calendar_override).order_by(calendar_override.c.day)).all())


def add_override(
    shop: OneStopShop,
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
    with transaction(shop.db) as conn:
        conn.execute(insert(calendar_override).values(day=day, kind=kind, reason=reason))
    rebuild()
    shop.record("admin.calendar_override_added", actor, day=day.isoformat(), kind=kind, reason=reason, **how)


def remove_override(shop: OneStopShop, actor: str, day: dt.date, *, rebuild: Callable[[], None], **how: Any) -> Any:
    """Remove the override of ``day``, rebuild the working calendar and record
    ``admin.calendar_override_removed``; the removed row, or None (nothing changed) when there was none."""
    with transaction(shop.db) as conn:
        removed = conn.execute(select(calendar_override).where(calendar_override.c.day == day)).first()
        if removed is not None:
            conn.execute(delete(calendar_override).where(calendar_override.c.day == day))
    if removed is None:
        return None
    rebuild()
    shop.record(
        "admin.calendar_override_removed",
        actor,
        day=day.isoformat(),
        kind=removed.kind,
        reason=removed.reason,
        **how,
    )
    return removed
