"""Rate limits that hold across API processes: every counted request is a row of ``rate_limit_hit``.

A limit allows ``limit`` hits per key in any ``window`` seconds (a sliding window over wall-clock time, which
every process shares). Counting and recording happen in one transaction serialized per key — SQLite's single
writer (``BEGIN IMMEDIATE``), a transaction-scoped advisory lock per key on PostgreSQL — so concurrent requests
to several processes cannot all slip under the limit.

Two uses: the public lookups (every request counts, per client address) and logins (an attempt is counted
before the password is checked, so parallel guesses are counted too, and taken back when it succeeds; a
success also clears the user name's failures, as before).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text

from dossiers.errors import MotcuaError, Unauthorized
from dossiers.model import Person
from persistence.schema import rate_limit_hit
from persistence.uow import is_sqlite, transaction

PRUNE_EVERY = 60.0  # seconds between two deletions of expired hits by one limiter
LONGEST_WINDOW = 3600.0  # hits older than this are never looked at again


class TooManyRequests(MotcuaError):
    """A rate limit was reached: ``retry_after`` (seconds) says when the next request will be counted again."""

    kind = "too_many"
    code = "motcua.rate_limited"

    @property
    def retry_after(self) -> int:
        return int(self.details.get("retry_after", 1))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits of ``key`` in any ``window`` seconds."""

    key: str
    limit: int
    window: float


class RateLimiter:
    """Counts hits in the database; ``clock`` gives wall-clock seconds (every process must agree on it)."""

    def __init__(self, db: Engine, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._pruned_at = 0.0

    def hit(self, *limits: Limit) -> float | None:
        """Count one request against every limit: None when all allow it (it is recorded under each key), else
        the seconds until the first blocked key allows one again (nothing is recorded)."""
        wait, _ids = self._take(limits)
        return wait

    def reserve(self, *limits: Limit) -> list[int] | float:
        """Like :meth:`hit`, but returns the ids of the recorded hits (for :meth:`release`) when allowed."""
        wait, ids = self._take(limits)
        return ids if wait is None else wait

    def release(self, ids: Sequence[int]) -> None:
        """Take recorded hits back (a login that succeeded does not count as a failure)."""
        if ids:
            with transaction(self.db) as conn:
                conn.execute(delete(rate_limit_hit).where(rate_limit_hit.c.id.in_(list(ids))))

    def clear(self, key: str) -> None:
        """Forget every hit of ``key``."""
        with transaction(self.db) as conn:
            conn.execute(delete(rate_limit_hit).where(rate_limit_hit.c.key == _key(key)))

    def count(self, key: str, window: float) -> int:
        """Hits of ``key`` in the last ``window`` seconds."""
        since = self.clock() - window
        with transaction(self.db) as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(rate_limit_hit)
                    .where(rate_limit_hit.c.key == _key(key), rate_limit_hit.c.at > since)
                ).scalar_one()
            )

    def _take(self, limits: Sequence[Limit]) -> tuple[float | None, list[int]]:
        now = self.clock()
        keys = sorted({_key(limit.key) for limit in limits})
        with transaction(self.db) as conn:
            if not is_sqlite(self.db):
                for key in keys:  # in key order: two requests never wait for each other's locks in a cycle
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            waits = []
            for limit in limits:
                since = now - limit.window
                row = conn.execute(
                    select(func.count(), func.min(rate_limit_hit.c.at)).where(
                        rate_limit_hit.c.key == _key(limit.key), rate_limit_hit.c.at > since
                    )
                ).one()
                if row[0] >= max(1, limit.limit):
                    oldest = _oldest_counted(conn, _key(limit.key), since, row[0] - max(1, limit.limit) + 1)
                    waits.append(max(oldest + limit.window - now, 0.001))
            if waits:
                return max(waits), []
            ids = [
                int(conn.execute(insert(rate_limit_hit).values(key=_key(limit.key), at=now)).inserted_primary_key[0])
                for limit in limits
            ]
            if now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                conn.execute(delete(rate_limit_hit).where(rate_limit_hit.c.at <= now - LONGEST_WINDOW))
        return None, ids


def _oldest_counted(conn: Any, key: str, since: float, nth: int) -> float:
    """The ``nth`` oldest hit in the window: when it leaves the window, one more hit fits under the limit."""
    return float(
        conn.execute(
            select(rate_limit_hit.c.at)
            .where(rate_limit_hit.c.key == key, rate_limit_hit.c.at > since)
            .order_by(rate_limit_hit.c.at)
            .offset(nth - 1)
            .limit(1)
        ).scalar_one()
    )


def _key(key: str) -> str:
    """Keys carry user-chosen text (user names): long ones are stored as their digest."""
    return key if len(key) <= 120 else key[:40] + "#" + hashlib.sha256(key.encode()).hexdigest()


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


# ------------------------------------------------------------------ the two policies


class PublicLookups:
    """The public lookups by dossier code and ID number (the tracking API and page, the result link, the
    citizen's rating): at most ``per_minute`` per client address in any 60 seconds, all of them together — each
    answers whether a code and ID number belong together, so each is a guess."""

    def __init__(self, limiter: RateLimiter, per_minute: int) -> None:
        self.limiter = limiter
        self.per_minute = max(1, per_minute)

    def check(self, address: str) -> None:
        wait = self.limiter.hit(Limit(f"public:{address}", self.per_minute, 60.0))
        if wait is not None:
            seconds = retry_after(wait)
            raise TooManyRequests(
                f"Quá nhiều lượt tra cứu từ địa chỉ này; vui lòng thử lại sau {seconds} giây.",
                f"Too many lookups from this address (at most {self.per_minute} per minute); retry after {seconds} s.",
                retry_after=seconds,
                limit=self.per_minute,
            )


class LoginThrottle:
    """Failed logins, for the web login and ``POST /api/auth/token`` alike: 5 per user name and 20 per client
    address within 5 minutes, then wait. Every failure is recorded in the audit log (``user.login_failed``, with
    the address and the channel, never the password)."""

    def __init__(
        self,
        limiter: RateLimiter,
        accounts: Any,
        record: Callable[..., None],
        *,
        per_user: int = 5,
        per_address: int = 20,
        seconds: float = 300.0,
    ) -> None:
        self.limiter = limiter
        self.accounts = accounts
        self.record = record
        self.per_user = per_user
        self.per_address = per_address
        self.seconds = seconds

    def login(self, username: str, password: str, address: str, channel: str) -> Person:
        """The person, after counting the attempt; :class:`TooManyRequests` while blocked (the password is not
        even checked), :class:`Unauthorized` for a wrong one."""
        reserved = self.limiter.reserve(
            Limit(f"login-user:{username.strip().lower()}", self.per_user, self.seconds),
            Limit(f"login-address:{address}", self.per_address, self.seconds),
        )
        if not isinstance(reserved, list):
            seconds = retry_after(reserved)
            minutes = max(1, math.ceil(seconds / 60))
            raise TooManyRequests(
                f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau khoảng {minutes} phút.",
                f"Too many failed logins. Try again in about {minutes} minute(s).",
                retry_after=seconds,
            )
        try:
            person: Person = self.accounts.authenticate(username, password)
        except Unauthorized:
            self.record("user.login_failed", (username or "?")[:80], address=address, channel=channel)
            raise
        except BaseException:
            self.limiter.release(reserved)  # not a wrong password (a database error): not a failure
            raise
        self.limiter.release(reserved)
        self.limiter.clear(f"login-user:{username.strip().lower()}")
        return person
