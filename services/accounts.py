"""Local accounts (argon2id password hashes) and API bearer tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dossiers import text_rules
from dossiers.errors import Conflict, InvalidInput, MotcuaError, Unauthorized
from dossiers.model import Person, Role
from persistence import accounts as store
from persistence.uow import Database, transaction
from services.ports import DossierDesk

_hasher = PasswordHasher()  # argon2id with the library's default parameters (slow on purpose)
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _person(row: Any) -> Person:
    return Person(
        username=row.username,
        full_name=row.full_name,
        role=Role(row.role),
        agency_code=row.agency_code,
        department_code=row.department_code,
    )


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        username: str,
        password: str,
        full_name: str,
        role: Role,
        agency_code: str | None,
        department_code: str | None,
        now: dt.datetime,
        *,
        update_existing: bool = False,
        password_hash: str | None = None,
    ) -> Person:
        """Create (or with ``update_existing`` change) the account; ``password_hash`` is the hash of ``password``
        when the caller already has it (the demo people share one, computed once per process)."""
        full_name = text_rules.clean_person_name(
            full_name, field="full_name", label_vi="Họ tên người dùng", label_en="The user's full name"
        )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
                f"Password must have at least {MIN_PASSWORD_LENGTH} characters.",
            )
        values = {
            "full_name": full_name,
            "password_hash": password_hash or hash_password(password),
            "role": role.value,
            "agency_code": agency_code,
            "department_code": department_code,
            "active": True,
        }
        with transaction(self.db) as conn:
            exists = store.user_exists(conn, username)
            if exists and not update_existing:
                raise Conflict(f"Tài khoản {username} đã tồn tại.", f"User {username} already exists.")
            if exists:
                store.update_user(conn, username, values)
            else:
                store.insert_user(conn, username, now, values)
        return Person(username, full_name, role, agency_code, department_code)

    def list(self) -> list[Person]:
        with transaction(self.db) as conn:
            rows = store.users(conn)
        return [_person(r) for r in rows]

    def rows(self) -> Sequence[Any]:
        """Every account with its ``active`` flag (the administrator's list), by user name."""
        with transaction(self.db) as conn:
            return store.user_list(conn)

    def set_active(self, username: str, active: bool) -> bool:
        """Deactivate or reactivate an account (a deactivated one can neither log in nor use its sessions or
        tokens); False when there is no such account."""
        with transaction(self.db) as conn:
            return store.update_user(conn, username, {"active": active})

    def get(self, username: str) -> Person | None:
        with transaction(self.db) as conn:
            row = store.user(conn, username)
        return None if row is None else _person(row)

    def authenticate(self, username: str, password: str) -> Person:
        with transaction(self.db) as conn:
            row = store.user(conn, username)
        bad = Unauthorized("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.")
        if row is None or not row.active:
            _hasher.hash(password)  # same work either way: no user enumeration by timing
            raise bad
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise bad from None
        return _person(row)

    def issue_token(self, username: str, now: dt.datetime, ttl: dt.timedelta) -> tuple[str, dt.datetime]:
        token = secrets.token_urlsafe(32)
        expires = now + ttl
        with transaction(self.db) as conn:
            store.insert_token(conn, _token_digest(token), username, now, expires)
        return token, expires

    def revoke(self, token: str) -> None:
        with transaction(self.db) as conn:
            store.revoke_token(conn, _token_digest(token))

    def person_for_token(self, token: str, now: dt.datetime) -> Person:
        with transaction(self.db, read_only=True) as conn:  # every API request asks: never behind the writers
            row = store.token_with_user(conn, _token_digest(token))
        if row is None or row.revoked or not row.active:
            raise Unauthorized("Mã truy cập không hợp lệ.", "Invalid bearer token.")
        if row.expires_at <= now:
            raise Unauthorized("Mã truy cập đã hết hạn, hãy đăng nhập lại.", "Bearer token has expired.")
        return _person(row)


def save_user(
    accounts: Accounts,
    shop: DossierDesk,
    actor: str,
    username: str,
    password: str,
    full_name: str,
    role: Role,
    agency_code: str | None,
    department_code: str | None,
    now: dt.datetime,
    after_save: Callable[[Person, str], None] | None = None,
    **how: Any,
) -> Person:
    """An administrator adds an account, recorded as ``admin.user_saved``; ``after_save(person, actor)`` follows
    (in development: the new official's certificate, ``services.certificates``)."""
    person = accounts.add(username, password, full_name, role, agency_code, department_code, now)
    shop.record(
        "admin.user_saved",
        actor,
        username=username,
        role=role.value,
        agency_code=agency_code,
        department_code=department_code,
        **how,
    )
    if after_save is not None:
        after_save(person, actor)
    return person


def set_user_active(accounts: Accounts, shop: DossierDesk, actor: str, username: str, active: bool, **how: Any) -> bool:
    """An administrator deactivates or reactivates an account, recorded as ``admin.user_deactivated`` or
    ``admin.user_reactivated``; False (and nothing recorded) when there is no such account."""
    if not accounts.set_active(username, active):
        return False
    kind = "admin.user_reactivated" if active else "admin.user_deactivated"
    shop.record(kind, actor, username=username, **how)
    return True


def log_in(
    accounts: Accounts, shop: DossierDesk, person: Person, now: dt.datetime, ttl: dt.timedelta, **how: Any
) -> tuple[str, dt.datetime]:
    """A bearer token for an authenticated person (its expiry beside it), recorded as ``user.login``."""
    token, expires = accounts.issue_token(person.username, now, ttl)
    shop.record("user.login", person.username, role=person.role.value, **how)
    return token, expires


def oidc_log_in(
    oidc: Any,
    accounts: Accounts,
    shop: DossierDesk,
    params: dict[str, str],
    saved: dict[str, Any],
    now: dt.datetime,
    ttl: dt.timedelta,
) -> str:
    """Finish a login at the identity provider (``integrations.oidc``): the local person its claims name, a session
    token recorded as ``user.login`` (browser) and ``user.login_oidc``; a refusal is recorded as
    ``user.login_failed`` and raised."""
    from integrations.oidc import local_person

    try:
        claims = oidc.finish(params, state=saved["s"], nonce=saved["n"], code_verifier=saved["v"])
        person = local_person(accounts, claims)
    except MotcuaError as exc:
        actor = str(exc.details.get("username") or "?")
        shop.record("user.login_failed", actor, channel="oidc", reason=exc.code, detail=exc.message_en)
        raise
    token, _expires = log_in(accounts, shop, person, now, ttl, channel="browser")
    shop.record("user.login_oidc", person.username, issuer=oidc.config.issuer, sub=str(claims["sub"]))
    return token
