"""The unit of work: one transaction shared by nested calls, and the engine that opens them.

SQLite (default) serializes writers with ``BEGIN IMMEDIATE``, readers begin deferred on a WAL snapshot
(``transaction(db, read_only=True)``); PostgreSQL uses row locks (``SELECT … FOR UPDATE [SKIP LOCKED]``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeAlias

import structlog
from sqlalchemy import Connection, Engine, create_engine, event

Database: TypeAlias = Engine
"""The database a use case is given (SQLAlchemy's ``Engine``, named so the use cases need not import SQLAlchemy)."""

_current: ContextVar[Connection | None] = ContextVar("motcua_current_connection", default=None)
_read_only: ContextVar[bool] = ContextVar("motcua_read_only", default=False)
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("motcua_after_commit", default=None)
_after_rollback: ContextVar[list[Callable[[], None]] | None] = ContextVar("motcua_after_rollback", default=None)
log = structlog.get_logger(__name__)


# bench/readers.py turns it off to measure what deferred reads change (every unit then takes the writer lock)
DEFERRED_READS = True


class WriteInReadOnly(RuntimeError):
    """A unit of work that writes was opened inside a read-only one (a programming error, found by the tests)."""


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Connection]:
    """One unit of work: nested calls (engine step, audit append, dossier update) share the outer
    transaction, so they commit or roll back together.

    ``read_only``: the unit only reads. On SQLite it begins deferred (``BEGIN``, a WAL snapshot) instead of taking
    the one writer lock (``BEGIN IMMEDIATE``), so readers never queue behind writers, and the connection is
    ``query_only`` meanwhile: a write in it fails at once instead of upgrading the lock (which can fail under
    load). A unit that writes may not nest in a read-only one; a read-only one nested in a writer joins it."""
    outer = _current.get()
    if outer is not None:
        if _read_only.get() and not read_only:
            raise WriteInReadOnly("a unit of work that writes cannot join a read-only one")
        yield outer
        return
    mode = _read_only.set(read_only)
    callbacks: list[Callable[[], None]] = []
    undo: list[Callable[[], None]] = []
    hooks, undo_hooks = _after_commit.set(callbacks), _after_rollback.set(undo)
    try:
        with engine.begin() as conn:
            token = _current.set(conn)
            try:
                yield conn
            finally:
                _current.reset(token)
    except BaseException:
        for callback in undo:  # rolled back: give back what was taken for it
            _run_after_commit(callback)
        raise
    finally:
        _after_rollback.reset(undo_hooks)
        _after_commit.reset(hooks)
        _read_only.reset(mode)
    for callback in callbacks:  # committed: run what waited for it
        _run_after_commit(callback)


def in_writing_transaction() -> bool:
    """Whether a writing unit of work is open in this context (what is written now commits with it)."""
    return _current.get() is not None and not _read_only.get()


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current unit of work has committed — never if it rolls back; at once outside one.
    For what may happen only once the rows that allow it are durable, outside the database (removing a staging
    object once no row points at it). A failing callback is logged, not raised: the commit stands."""
    pending = _after_commit.get() if _current.get() is not None else None
    if pending is None:
        _run_after_commit(callback)
    else:
        pending.append(callback)


def after_rollback(callback: Callable[[], None]) -> None:
    """Run ``callback`` if the current unit of work rolls back (nothing outside one: nothing to roll back). For
    what a transaction took from memory and must give back when it does not commit (queued audit entries)."""
    pending = _after_rollback.get() if _current.get() is not None else None
    if pending is not None:
        pending.append(callback)


def _run_after_commit(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # noqa: BLE001 - the transaction committed; the callback's own failure is only reported
        log.warning(
            "uow.after_commit_failed", callback=getattr(callback, "__qualname__", repr(callback)), exc_info=True
        )


SQLITE_MODE = 0o600


def private_sqlite_file(url: str) -> None:
    """The SQLite database file of ``url`` made 0600 before SQLite opens it, whatever the umask (SQLite gives its
    ``-wal``/``-shm``/``-journal`` files the database's mode); an existing one, and its companions, lose group
    and world access: the database holds personal data and password hashes."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports that itself
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), SQLITE_MODE)
    os.close(fd)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        with suppress(FileNotFoundError, PermissionError):  # PermissionError: another user's file, not ours
            if stat.S_IMODE(os.stat(file).st_mode) != SQLITE_MODE:
                os.chmod(file, SQLITE_MODE)


def make_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine; on SQLite every transaction is ``BEGIN IMMEDIATE`` (one writer) and the
    database file is private to the service's user (:func:`private_sqlite_file`)."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=10, max_overflow=20
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            read_only = _read_only.get() and DEFERRED_READS
            if conn.info.get("query_only", False) != read_only:  # the pragma is the connection's: set on change
                conn.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
                conn.info["query_only"] = read_only
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
