"""The applicant's satisfaction with a resolved dossier (``rating``, one per dossier)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from persistence.schema import rating


def level_of(conn: Connection, code: str) -> int | None:
    """The level the applicant gave the dossier, None before they rate it."""
    level: int | None = conn.execute(select(rating.c.level).where(rating.c.dossier_code == code)).scalar_one_or_none()
    return level


def is_rated(conn: Connection, code: str) -> bool:
    return conn.execute(select(rating.c.level).where(rating.c.dossier_code == code)).first() is not None


def add(conn: Connection, code: str, level: int, comment: str | None, rated_at: dt.datetime) -> bool:
    """Store the rating; False when the dossier already has one (a concurrent rating won): the caller's
    transaction must then roll back."""
    try:
        conn.execute(insert(rating).values(dossier_code=code, level=level, comment=comment, rated_at=rated_at))
    except IntegrityError:
        return False
    return True
