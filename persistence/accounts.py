"""Accounts and API bearer tokens (``app_user``, ``api_token``): the queries behind :mod:`services.accounts`.

Every function works in the caller's connection, so the use case decides the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from persistence.schema import api_token, app_user


def user_exists(conn: Connection, username: str) -> bool:
    return conn.execute(select(app_user.c.username).where(app_user.c.username == username)).first() is not None


def insert_user(conn: Connection, username: str, created_at: dt.datetime, values: Mapping[str, Any]) -> None:
    conn.execute(insert(app_user).values(username=username, created_at=created_at, **values))


def update_user(conn: Connection, username: str, values: Mapping[str, Any]) -> bool:
    """Change the account's columns; False when there is no such account."""
    return bool(conn.execute(update(app_user).where(app_user.c.username == username).values(**values)).rowcount)


def user(conn: Connection, username: str) -> Any:
    """The account's row (with its password hash and ``active`` flag), or None."""
    return conn.execute(select(app_user).where(app_user.c.username == username)).first()


def users(conn: Connection) -> Sequence[Any]:
    """Every account, by user name."""
    return conn.execute(select(app_user).order_by(app_user.c.username)).all()


def user_list(conn: Connection) -> list[Any]:
    """Every account without its password hash (the administrator's list), by user name."""
    return list(
        conn.execute(
            select(
                app_user.c.username,
                app_user.c.full_name,
                app_user.c.role,
                app_user.c.agency_code,
                app_user.c.department_code,
                app_user.c.active,
            ).order_by(app_user.c.username)
        ).all()
    )


def insert_token(
    conn: Connection, token_hash: str, username: str, created_at: dt.datetime, expires_at: dt.datetime
) -> None:
    conn.execute(
        insert(api_token).values(token_hash=token_hash, username=username, created_at=created_at, expires_at=expires_at)
    )


def revoke_token(conn: Connection, token_hash: str) -> None:
    conn.execute(update(api_token).where(api_token.c.token_hash == token_hash).values(revoked=True))


def token_with_user(conn: Connection, token_hash: str) -> Any:
    """The token's row joined with its account's (``revoked``, ``expires_at``, ``active`` and the person), or None."""
    return conn.execute(
        select(api_token, app_user)
        .join(app_user, app_user.c.username == api_token.c.username)
        .where(api_token.c.token_hash == token_hash)
    ).first()
