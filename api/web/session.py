"""Browser sessions over the core's accounts.

A session is one of the core's access tokens (``Accounts.issue_token``: hashed in the database, expiring,
revocable) kept in an ``HttpOnly`` cookie — ``SameSite=Lax``, ``Secure`` whenever the request came over
HTTPS or ``MOTCUA_COOKIE_SECURE`` is set — so logging out or an admin disabling the account ends it at once.

CSRF: every state-changing request authenticated by the cookie must carry the session's CSRF token, in the
form field ``csrf_token`` or the ``X-CSRF-Token`` header (pages put it in a ``<meta>`` tag for scripts).
The token is an HMAC of the session token under ``MOTCUA_SECRET_KEY``: nothing to store, unguessable without
the cookie, and it changes with every login.

The login form has no session yet: a pre-session cookie (``motcua_login_csrf``, ``HttpOnly``, a random nonce)
and the form's hidden ``csrf_token`` (the nonce's HMAC under ``MOTCUA_SECRET_KEY``) must match — a double
submit another site can neither read nor forge — and an ``Origin`` (or, without one, ``Referer``) header must
name this site: the request's own host or ``MOTCUA_PUBLIC_BASE_URL``. Without it a foreign page could log a
victim into the attacker's account (login CSRF) and read what the victim then submits.

Login attempts are rate-limited per client address and per user name by :class:`persistence.rate_limits.LoginThrottle`
(counted in the database, so the limit holds across API processes; the same one guards ``POST /api/auth/token``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response

from dossiers.errors import Forbidden, Unauthorized
from dossiers.model import Person
from services.accounts import log_in

SESSION_COOKIE = "motcua_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_CSRF_COOKIE = "motcua_login_csrf"
LOGIN_PATH = "/dang-nhap"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def _secure(request: Request | None, runtime: Any) -> bool:
    if getattr(runtime.settings, "cookie_secure", False):
        return True
    return request is not None and request.url.scheme == "https"


def start_session(response: Response, runtime: Any, person: Person, request: Request | None = None) -> str:
    """Log ``person`` in on this browser: a fresh token in the session cookie. Returns the token."""
    import datetime as dt

    hours = runtime.settings.token_ttl_hours
    token, _expires = log_in(
        runtime.accounts, runtime.shop, person, runtime.clock.now(), dt.timedelta(hours=hours), channel="browser"
    )
    set_session_cookie(response, runtime, token, request)
    return token


def set_session_cookie(response: Response, runtime: Any, token: str, request: Request | None = None) -> None:
    """The session cookie carrying ``token`` (issued by a use case that recorded the login)."""
    hours = runtime.settings.token_ttl_hours
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, runtime),
        path="/",
    )


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


# ---------------------------------------------------------------- the login form (no session yet)


def login_nonce(request: Request) -> str:
    """This browser's pre-session nonce (from its cookie), or a new one."""
    return _login_nonce(request) or secrets.token_urlsafe(32)


def login_form_token(nonce: str, runtime: Any) -> str:
    """The login form's CSRF token for a pre-session nonce."""
    return csrf_for(f"login:{nonce}", runtime.settings.secret_key)


def keep_login_nonce(response: Response, nonce: str, request: Request, runtime: Any) -> None:
    """The pre-session cookie the login form's token is bound to (only the login path receives it)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        nonce,
        max_age=12 * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, runtime),
        path=LOGIN_PATH,
    )


def check_login_form(request: Request, runtime: Any, submitted: str | None) -> None:
    """Refuse a login posted from another site or without this browser's login-form token."""
    foreign = _foreign_origin(request, runtime.settings.resolved_public_base_url)
    if foreign is not None:
        raise Forbidden(
            "Yêu cầu đăng nhập được gửi từ một trang web khác; hệ thống đã từ chối. Hãy mở trang đăng nhập "
            "của hệ thống và đăng nhập lại.",
            f"The login request comes from another site ({foreign[:100]}), not this one: refused.",
        )
    nonce = _login_nonce(request)
    expected = login_form_token(nonce, runtime) if nonce else None
    if expected is None or not hmac.compare_digest(expected, submitted or ""):
        raise Forbidden(
            "Biểu mẫu đăng nhập đã cũ hoặc không hợp lệ (CSRF). Hãy đăng nhập lại trên biểu mẫu này.",
            "The login form is stale or forged: its CSRF token is missing or does not match this browser's "
            "login cookie. Log in again on the form.",
        )


def _login_nonce(request: Request) -> str | None:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return nonce if _NONCE.fullmatch(nonce) else None


def _origin(url: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of an http(s) URL, lower-case, without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    default = 443 if scheme == "https" else 80
    return scheme, host if port in (None, default) else f"{host}:{port}"


def _foreign_origin(request: Request, public_base_url: str) -> str | None:
    """The ``Origin`` (else ``Referer``) of a request when it is not this site; None when it is, or when the
    browser sent neither (then the token alone decides). "This site": the host the request was sent to, under
    either scheme (a TLS proxy may forward plain HTTP), or the public base URL."""
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
        if not claimed:
            return None
    origin = _origin(claimed)
    if origin is None:
        return claimed  # "null" (a sandboxed or privacy-restricted page) or garbage
    host = request.headers.get("host", "")
    own = {_origin(f"{scheme}://{host}") for scheme in ("http", "https")} if host else set()
    if origin in own or origin == _origin(public_base_url):
        return None
    return claimed
