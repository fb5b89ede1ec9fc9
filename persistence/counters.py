"""One "insert or …" for both databases, and one gap-free counter built on it.

SQLite and PostgreSQL both speak ``INSERT … ON CONFLICT``, but SQLAlchemy builds it from a dialect-specific
``insert``: :func:`upsert` picks it once, from the connection, so no caller switches on the dialect.
:func:`next_number` is the one counter of the application (dossier serials per unit and day, register numbers
per agency, year and series): the counter row is incremented in the caller's transaction, so a rolled-back
use gives its number back and concurrent users queue on the row lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.schema import document_register, dossier_counter


def upsert(conn: Connection, table: Table) -> Any:
    """``INSERT`` into ``table`` with ``on_conflict_do_update``/``on_conflict_do_nothing`` in the dialect of
    ``conn``."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def next_number(conn: Connection, counter: Column[int], key: Mapping[str, Any]) -> int:
    """Increment the counter column ``counter`` of the row identified by ``key`` (created at 1) and return the
    new value, in ``conn``'s transaction."""
    table = counter.table
    assert isinstance(table, Table)
    stmt = (
        upsert(conn, table)
        .values(**key, **{counter.name: 1})
        .on_conflict_do_update(index_elements=list(key), set_={counter.name: counter + 1})
        .returning(counter)
    )
    return int(conn.execute(stmt).scalar_one())


def next_dossier_serial(conn: Connection, unit_code: str, day: dt.date) -> int:
    """The next serial of the unit's dossier codes for ``day`` (gap-free, see :func:`next_number`)."""
    return next_number(conn, dossier_counter.c.last_serial, {"unit_code": unit_code, "day": day})


def next_register_number(conn: Connection, agency_code: str, year: int, series: str) -> int:
    """The next number of the agency's register of ``series`` for ``year`` (gap-free, see :func:`next_number`)."""
    return next_number(
        conn, document_register.c.last_number, {"agency_code": agency_code, "year": year, "series": series}
    )


def last_register_number(conn: Connection, agency_code: str, year: int, series: str) -> int:
    """The last number given in the agency's register of ``series`` for ``year`` (0 when none): what the clerk's
    page shows as the next one (+ 1) without taking it."""
    found = conn.execute(
        select(document_register.c.last_number).where(
            document_register.c.agency_code == agency_code,
            document_register.c.year == year,
            document_register.c.series == series,
        )
    ).scalar()
    return int(found or 0)
