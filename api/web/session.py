"""Browser sessions over the core's accounts.

A session is one of the core's access tokens (``Accounts.issue_token``: hashed in the database, expiring,
revocable) kept in an ``HttpOnly`` cookie — ``SameSite=Lax``, ``Secure`` whenever the request came over
HTTPS or ``MOTCUA_COOKIE_SECURE`` is set — so logging out or an admin disabling the account ends it at once.

CSRF: every state-changing request authenticated by the cookie must carry the session's CSRF token, in the
form field ``csrf_token`` or the ``X-CSRF-Token`` header (pages put it in a ``<meta>`` tag for scripts).
The token is an HMAC of the session token under ``MOTCUA_SECRET_KEY``: nothing to store, unguessable without
the cookie, and it changes with every login.

Login attempts are rate-limited per client address and per user name (a sliding window in memory).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from dossiers.errors import Forbidden, MotcuaError, Unauthorized
from dossiers.model import Person

SESSION_COOKIE = "motcua_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TooManyAttempts(MotcuaError):
    kind = "too_many"
    code = "motcua.too_many_attempts"


def _secure(request: Request | None, runtime: Any) -> bool:
    if getattr(runtime.settings, "cookie_secure", False):
        return True
    return request is not None and request.url.scheme == "https"


def start_session(response: Response, runtime: Any, person: Person, request: Request | None = None) -> str:
    """Log ``person`` in on this browser: a fresh token in the session cookie. Returns the token."""
    import datetime as dt

    hours = runtime.settings.token_ttl_hours
    token, _expires = runtime.accounts.issue_token(person.username, runtime.clock.now(), dt.timedelta(hours=hours))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, runtime),
        path="/",
    )
    runtime.shop.record("user.login", person.username, role=person.role.value, channel="browser")
    return token


def end_session(request: Request, response: Response, runtime: Any) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        runtime.accounts.revoke(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def session_person(request: Request, runtime: Any) -> Person | None:
    """The person of a valid session cookie, or None (absent, expired, revoked)."""
    token = session_token(request)
    if not token:
        return None
    try:
        person: Person = runtime.accounts.person_for_token(token, runtime.clock.now())
    except Unauthorized:
        return None
    return person


def csrf_for(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{token}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_token(request: Request, runtime: Any) -> str:
    token = session_token(request)
    return csrf_for(token, runtime.settings.secret_key) if token else ""


def check_csrf(request: Request, runtime: Any, submitted: str | None) -> None:
    """Refuse a state-changing request whose CSRF token does not belong to this session."""
    token = session_token(request)
    expected = csrf_for(token, runtime.settings.secret_key) if token else None
    given = submitted or request.headers.get(CSRF_HEADER) or ""
    if expected is None or not hmac.compare_digest(expected, given):
        raise Forbidden(
            "Phiên làm việc không hợp lệ hoặc biểu mẫu đã cũ (CSRF). Hãy tải lại trang và thử lại.",
            "Missing or forged CSRF token: reload the page and try again.",
        )


class SlidingWindow:
    """At most ``limit`` events per key within ``seconds`` (in memory, per process)."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return events

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: allowed now)."""
        now = self.clock()
        with self._lock:
            events = self._recent(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, events[0] + self.seconds - now)

    def hit(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


class LoginLimiter:
    """Failed logins: 5 per user name and 20 per client address within 5 minutes, then wait."""

    def __init__(self, per_user: int = 5, per_address: int = 20, seconds: float = 300) -> None:
        self.users = SlidingWindow(per_user, seconds)
        self.addresses = SlidingWindow(per_address, seconds)

    def check(self, address: str, username: str) -> None:
        wait = max(self.users.blocked_for(username.lower()), self.addresses.blocked_for(address))
        if wait > 0:
            minutes = max(1, int(wait // 60) + (1 if wait % 60 else 0))
            raise TooManyAttempts(
                f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau khoảng {minutes} phút.",
                f"Too many failed logins. Try again in about {minutes} minute(s).",
                retry_after=int(wait) + 1,
            )

    def failed(self, address: str, username: str) -> None:
        self.users.hit(username.lower())
        self.addresses.hit(address)

    def succeeded(self, username: str) -> None:
        self.users.clear(username.lower())
