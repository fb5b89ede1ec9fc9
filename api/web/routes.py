"""Login, logout, language and the home page that sends each role to its desk; the helpers every page
module uses to require a signed-in person (``signed_in``) and to check a form's CSRF token (``form_of``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.web.render import page
from api.web.session import (
    CSRF_FIELD,
    check_csrf,
    check_login_form,
    end_session,
    keep_login_nonce,
    login_form_token,
    login_nonce,
    session_person,
    session_token,
    start_session,
)
from dossiers.errors import Forbidden, Unauthorized
from dossiers.model import Person, Role
from persistence.rate_limits import TooManyRequests

HOME_BY_ROLE = {
    Role.CITIZEN: "/cong-dan",
    Role.RECEPTION: "/mot-cua",
    Role.SPECIALIST: "/can-bo/nhiem-vu",
    Role.LEADER: "/can-bo/nhiem-vu",
    Role.CLERK: "/can-bo/nhiem-vu",
    Role.AUDITOR: "/thanh-tra",
    Role.ADMIN: "/quan-tri",
}


class LoginRequired(Exception):
    """A page needs a signed-in person: back to the login page, then to where the visitor was going."""

    def __init__(self, next_url: str, expired: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//evil``): an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def signed_in(request: Request, runtime: Any, *roles: Role) -> Person:
    """The signed-in person of a page; a visitor without a valid session is sent to log in (an expired or
    revoked session says so), a person whose role may not see the page gets 403."""
    person = session_person(request, runtime)
    if person is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target, expired=session_token(request) is not None)
    if roles and person.role not in roles:
        raise Forbidden(
            "Trang này không dành cho vai trò của bạn.",
            f"This page is not for the role {person.role.value}.",
        )
    return person


async def form_of(request: Request, runtime: Any) -> dict[str, Any]:
    """The submitted form (files included) after its CSRF token was checked."""
    form = await request.form(max_files=50, max_fields=200)
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in values:
            existing = values[key]
            values[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            values[key] = value
    submitted = values.get(CSRF_FIELD)
    check_csrf(request, runtime, submitted if isinstance(submitted, str) else None)
    return values


def install_login_redirect(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        reason = "&het_han=1" if exc.expired else ""
        response = RedirectResponse(f"/dang-nhap?next={quote(exc.next_url)}{reason}", status_code=303)
        if exc.expired:
            response.delete_cookie("motcua_session", path="/")
        return response


def web_router(runtime: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        person = session_person(request, runtime)
        if person is None:
            return page(request, runtime, "home.html")
        return RedirectResponse(HOME_BY_ROLE.get(person.role, "/thu-tuc"), status_code=303)

    def login_form(request: Request, status_code: int = 200, **context: Any) -> Response:
        """The login page; its form carries the pre-session CSRF token (the cookie is set when missing)."""
        nonce = login_nonce(request)
        response = page(
            request,
            runtime,
            "login.html",
            status_code=status_code,
            login_csrf=login_form_token(nonce, runtime),
            oidc=bool(getattr(runtime.settings, "oidc_issuer", None)),
            **context,
        )
        keep_login_nonce(response, nonce, request, runtime)
        return response

    @router.get("/dang-nhap", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", het_han: int = 0) -> Response:  # noqa: A002
        return login_form(request, next=_safe_next(next), expired=bool(het_han))

    @router.post("/dang-nhap", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form(max_fields=10, max_files=0)
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        target = _safe_next(str(form.get("next") or "/"))
        submitted = form.get(CSRF_FIELD)
        address = request.client.host if request.client else "?"
        try:
            check_login_form(request, runtime, submitted if isinstance(submitted, str) else None)
        except Forbidden as exc:
            return login_form(request, status_code=403, next=target, error=exc, username=username)
        try:  # the same throttle as POST /api/auth/token, shared by every API process (motcua/ratelimit.py)
            person = await run_in_threadpool(runtime.login_throttle.login, username, password, address, "browser")
        except TooManyRequests as exc:
            busy = login_form(request, status_code=429, next=target, error=exc, username=username)
            busy.headers["Retry-After"] = str(exc.retry_after)
            return busy
        except Unauthorized as exc:
            return login_form(request, status_code=401, next=target, error=exc, username=username)
        response = RedirectResponse(target if target != "/" else HOME_BY_ROLE.get(person.role, "/"), 303)
        start_session(response, runtime, person, request)
        return response

    @router.post("/dang-xuat")
    async def logout(request: Request) -> Response:
        await form_of(request, runtime)  # a forged logout is refused too
        response = RedirectResponse("/dang-nhap", status_code=303)
        end_session(request, response, runtime)
        return response

    return router
