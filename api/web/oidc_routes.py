"""Signing in through the agency's OpenID Provider (motcua/oidc.py): two browser routes.

``GET /dang-nhap/oidc`` sends the browser to the provider with ``state``, ``nonce`` and a PKCE challenge; the
three secrets travel in a short-lived cookie signed with ``MOTCUA_SECRET_KEY`` (HMAC-SHA256, 10 minutes,
``HttpOnly``, ``SameSite=Lax`` so the provider's top-level redirect brings it back, path limited to these
routes). ``GET /dang-nhap/oidc/callback`` checks ``state`` against that cookie, exchanges the code, validates
the ID token, maps ``preferred_username`` to an existing local account and starts the browser session
(api/web/session.py). The cookie is single-use: deleted on every callback, success or failure.

Without ``MOTCUA_OIDC_ISSUER`` both routes answer 404 (OIDC login is not offered).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.problems import STATUS, problem
from api.web.session import set_session_cookie
from dossiers.errors import MotcuaError, NotFound
from integrations.oidc import OidcClient, OidcConfig, OidcError, redirect_is_secure
from services.accounts import oidc_log_in

STATE_COOKIE = "motcua_oidc"
STATE_COOKIE_PATH = "/dang-nhap/oidc"
STATE_MAX_AGE_SECONDS = 600


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"motcua.oidc.state-cookie", hashlib.sha256).digest()


def sign_state(payload: dict[str, Any], secret_key: str, now: float | None = None) -> str:
    body = dict(payload, iat=int(time.time() if now is None else now))
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(hmac.new(_key(secret_key), data.encode(), hashlib.sha256).digest()).decode()
    return f"{data}.{mac.rstrip('=')}"


def read_state(cookie: str | None, secret_key: str, now: float | None = None) -> dict[str, Any]:
    """The payload of a valid, unexpired state cookie; :class:`OidcError` otherwise."""
    expired = OidcError(
        "Phiên đăng nhập OIDC đã hết hạn hoặc không hợp lệ. Hãy đăng nhập lại.",
        "The OIDC login request is missing, forged or expired in this browser; start the login again.",
    )
    if not cookie or "." not in cookie:
        raise expired
    data, mac = cookie.rsplit(".", 1)
    expected = base64.urlsafe_b64encode(hmac.new(_key(secret_key), data.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.decode().rstrip("="), mac):
        raise expired
    try:
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        raise expired from None
    if not isinstance(payload, dict) or not isinstance(payload.get("iat"), int):
        raise expired
    age = (time.time() if now is None else now) - payload["iat"]
    if not 0 <= age <= STATE_MAX_AGE_SECONDS or not all(isinstance(payload.get(k), str) for k in "snv"):
        raise expired
    return payload


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//`` or ``/\\`` tricks); "/" otherwise."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n"):
        return "/"
    return target


def oidc_router(runtime: Any) -> APIRouter:
    router = APIRouter(tags=["web"], include_in_schema=False)
    settings = runtime.settings
    config = OidcConfig.configured(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
        settings.resolved_oidc_redirect_url,
    )
    clients: list[OidcClient] = []
    lock = threading.Lock()

    def client() -> OidcClient:
        if config is None:
            raise NotFound("Chưa cấu hình đăng nhập qua OIDC.", "OIDC login is not configured (MOTCUA_OIDC_ISSUER).")
        with lock:
            if not clients:  # created on first use: the app starts even when the provider is down
                clients.append(OidcClient(config))
            return clients[0]

    @router.get("/dang-nhap/oidc")
    def oidc_login(next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
        oidc = client()
        request = oidc.authorization_request()
        payload = {"s": request.state, "n": request.nonce, "v": request.code_verifier, "next": safe_next(next)}
        response = RedirectResponse(request.url, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            STATE_COOKIE,
            sign_state(payload, runtime.settings.secret_key),
            max_age=STATE_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=redirect_is_secure(oidc.config),
            path=STATE_COOKIE_PATH,
        )
        return response

    @router.get("/dang-nhap/oidc/callback")
    def oidc_callback(request: Request) -> Response:
        oidc = client()
        try:
            saved = read_state(request.cookies.get(STATE_COOKIE), runtime.settings.secret_key)
            token = oidc_log_in(
                oidc,
                runtime.accounts,
                runtime.shop,
                dict(request.query_params),
                saved,
                runtime.clock.now(),
                dt.timedelta(hours=runtime.settings.token_ttl_hours),
            )
        except MotcuaError as exc:
            refused: Response = problem(STATUS.get(exc.kind, 400), exc.code, exc.message_vi, exc.message_en)
            refused.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)  # single use, also when refused
            refused.headers["Cache-Control"] = "no-store"
            return refused
        response = RedirectResponse(safe_next(saved.get("next")), status_code=303)
        response.headers["Cache-Control"] = "no-store"
        response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
        set_session_cookie(response, runtime, token, request)
        return response

    return router
