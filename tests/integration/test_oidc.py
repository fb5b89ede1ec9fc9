"""OIDC login against a real OpenID Provider (deploy/oidc-dev: panva/oidc-provider on Node.js), never a mock.

A "browser" is two cookie jars: an httpx client talking to the provider (its login form, its consent form)
and the TestClient talking to Motcua; the provider's redirect to the callback is handed from one to the other,
as a browser would follow it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.web.oidc_routes import STATE_COOKIE, read_state, sign_state
from motcua.app import Runtime
from motcua.settings import Settings
from tests.integration.oidc_provider import OidcProvider, running_provider

pytestmark = [pytest.mark.integration]

REDIRECT_URL = "http://testserver/dang-nhap/oidc/callback"
OFFICIAL = "chuyenvien1.xa1"
STRANGER = "nguoi.la"
ACCOUNTS = {
    # the provider's subject identifiers are not the local usernames: the mapping is by preferred_username
    OFFICIAL: {
        "password": "mat-khau-idp-1",
        "sub": "7c0b9f2e-0d1a-4f51-9d55-2f4f1f0a0001",
        "name": "Chuyên viên Một",
        "email": "chuyenvien1@xa1.example",
    },
    STRANGER: {
        "password": "mat-khau-idp-2",
        "sub": "7c0b9f2e-0d1a-4f51-9d55-2f4f1f0a0002",
        "name": "Người Lạ",
        "email": "nguoi.la@example.org",
    },
}
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_provider(
        tmp_path_factory.mktemp("oidc-dev"), accounts=ACCOUNTS, redirect_uris=[REDIRECT_URL]
    ) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, provider: OidcProvider) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": provider.client_id,
            "oidc_client_secret": provider.client_secret,
            "oidc_redirect_url": REDIRECT_URL,
            "secret_key": "test-secret-for-oidc-state-cookies",
        }
    )


@pytest.fixture
def web(runtime: Runtime) -> TestClient:
    from api.app import create_app

    app = create_app(runtime)
    return TestClient(app.state.asgi, base_url="http://testserver", follow_redirects=False)


def start_login(web: TestClient, provider: OidcProvider) -> str:
    """Motcua's redirect to the provider (it also sets the state cookie in ``web``)."""
    r = web.get("/dang-nhap/oidc")
    assert r.status_code == 303, r.text
    assert web.cookies.get(STATE_COOKIE)
    location = r.headers["location"]
    assert location.startswith(provider.issuer + "/auth?")
    return location


def at_provider(provider: OidcProvider, authorize_url: str, username: str, password: str) -> tuple[str, list[str]]:
    """Follow the provider's pages as a browser would: the login form, then consent; returns the redirect to
    Motcua's callback and the kinds of forms seen."""
    seen: list[str] = []
    with httpx.Client(follow_redirects=False, timeout=10.0) as browser:
        method, url, data = "GET", authorize_url, None
        for _ in range(12):
            r = browser.request(method, url, data=data)
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                if url.startswith(REDIRECT_URL):
                    return url, seen
                method, data = "GET", None
                continue
            assert r.status_code == 200, r.text
            if seen and seen[-1] == "login" and "/login" in FORM_ACTION.search(r.text).group(1):  # type: ignore[union-attr]
                raise AssertionError(f"the provider refused the login: {r.text}")
            action = html.unescape(FORM_ACTION.search(r.text).group(1))  # type: ignore[union-attr]
            if action.endswith("/login"):
                seen.append("login")
                data = {"username": username, "password": password}
            elif action.endswith("/confirm"):
                seen.append("consent")
                data = {}
            else:
                raise AssertionError(f"unexpected page: {r.text}")
            method, url = "POST", urljoin(url, action)
    raise AssertionError("the provider never redirected back to Motcua")


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def with_param(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def replace_state_cookie(web: TestClient, value: str) -> None:
    """What a tampering browser does: another value in the state cookie Motcua set."""
    (cookie,) = [c for c in web.cookies.jar if c.name == STATE_COOKIE]
    cookie.value = value


def session_user(web: TestClient, runtime: Runtime) -> str | None:
    from api.web.session import SESSION_COOKIE

    token = web.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return runtime.accounts.person_for_token(token, runtime.clock.now()).username


def assert_refused(r: Any, status: int, vi: str, en: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert vi in body["title"], body
    assert en in body["detail"], body


# ---------------------------------------------------------------------------------------------------- tests


def test_full_flow_starts_a_session_for_the_mapped_local_official(
    web: TestClient, runtime: Runtime, provider: OidcProvider
) -> None:
    authorize = start_login(web, provider)
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [provider.client_id]
    assert query["redirect_uri"] == [REDIRECT_URL]
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email"}
    assert query["code_challenge_method"] == ["S256"]
    saved = read_state(web.cookies.get(STATE_COOKIE), runtime.settings.secret_key)
    assert query["state"] == [saved["s"]] and query["nonce"] == [saved["n"]]
    assert saved["v"] not in authorize  # the PKCE verifier never leaves the browser's cookie jar for the provider

    back, seen = at_provider(provider, authorize, OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
    assert seen == ["login", "consent"]
    answer = parse_qs(urlsplit(back).query)
    assert answer["code"] and answer["state"] == [saved["s"]] and answer["iss"] == [provider.issuer]

    r = web.get(callback_path(back))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    assert session_user(web, runtime) == OFFICIAL
    assert not web.cookies.get(STATE_COOKIE)  # single use
    logins = [e.event for e in runtime.shop.audit.all() if e.event.kind == "user.login_oidc"]
    assert [(e.actor, e.details["sub"], e.details["issuer"]) for e in logins] == [
        (OFFICIAL, ACCOUNTS[OFFICIAL]["sub"], provider.issuer)
    ]

    # the same callback again: the state cookie is gone (and the code was used) → refused
    web.cookies.delete("motcua_session")
    r = web.get(callback_path(back))
    assert_refused(r, 401, "hết hạn hoặc không hợp lệ", "start the login again")
    assert session_user(web, runtime) is None


def test_the_provider_checks_the_password(provider: OidcProvider, web: TestClient) -> None:
    authorize = start_login(web, provider)
    with httpx.Client(follow_redirects=True, timeout=10.0) as browser:
        page = browser.get(authorize)
        action = urljoin(str(page.url), html.unescape(FORM_ACTION.search(page.text).group(1)))  # type: ignore[union-attr]
        r = browser.post(action, data={"username": OFFICIAL, "password": "not-the-password"})
    assert r.status_code == 200
    assert "Wrong username or password" in r.text
    assert "code=" not in str(r.url)


def test_the_provider_requires_pkce(provider: OidcProvider, web: TestClient) -> None:
    authorize = start_login(web, provider)
    parts = urlsplit(authorize)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if not k.startswith("code_challenge")}
    with httpx.Client(follow_redirects=False, timeout=10.0) as browser:
        r = browser.get(urlunsplit(parts._replace(query=urlencode(query))))
    assert r.is_redirect and r.headers["location"].startswith(REDIRECT_URL)
    assert parse_qs(urlsplit(r.headers["location"]).query)["error"] == ["invalid_request"]


def test_wrong_state_is_refused(web: TestClient, runtime: Runtime, provider: OidcProvider) -> None:
    back, _ = at_provider(provider, start_login(web, provider), OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
    r = web.get(callback_path(with_param(back, state="an-attackers-state")))
    assert_refused(r, 401, "không thành công", "state does not match")
    assert session_user(web, runtime) is None


def test_callback_without_this_browsers_login_request_is_refused(
    web: TestClient, runtime: Runtime, provider: OidcProvider
) -> None:
    """Login CSRF: a code obtained in another browser (the attacker's) is not accepted in this one."""
    back, _ = at_provider(provider, start_login(web, provider), OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
    web.cookies.clear()
    r = web.get(callback_path(back))
    assert_refused(r, 401, "hết hạn hoặc không hợp lệ", "missing, forged or expired")
    assert session_user(web, runtime) is None


def test_unknown_username_is_refused_and_never_created(
    web: TestClient, runtime: Runtime, provider: OidcProvider
) -> None:
    assert runtime.accounts.get(STRANGER) is None
    back, _ = at_provider(provider, start_login(web, provider), STRANGER, ACCOUNTS[STRANGER]["password"])
    r = web.get(callback_path(back))
    assert_refused(r, 403, f"Tài khoản {STRANGER} chưa có trong hệ thống Một cửa", "never created automatically")
    assert r.json()["code"] == "motcua.oidc_unknown_user"
    assert session_user(web, runtime) is None
    assert runtime.accounts.get(STRANGER) is None


def test_tampered_code_is_refused(web: TestClient, runtime: Runtime, provider: OidcProvider) -> None:
    back, _ = at_provider(provider, start_login(web, provider), OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
    code = parse_qs(urlsplit(back).query)["code"][0]
    tampered = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    r = web.get(callback_path(with_param(back, code=tampered)))
    assert_refused(r, 401, "không thành công", "the token endpoint refused the code (invalid_grant")
    assert session_user(web, runtime) is None


def test_wrong_nonce_or_pkce_verifier_is_refused(web: TestClient, runtime: Runtime, provider: OidcProvider) -> None:
    """The provider's ID token must carry this login's nonce, and the code only goes with this login's PKCE
    verifier: a state cookie re-signed with other values (as if two logins were mixed up) fails."""
    secret = runtime.settings.secret_key
    for change, refusal in (("n", "nonce"), ("v", "invalid_grant")):
        back, _ = at_provider(provider, start_login(web, provider), OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
        saved = read_state(web.cookies.get(STATE_COOKIE), secret)
        saved[change] = "x" * 64
        replace_state_cookie(web, sign_state(saved, secret))
        r = web.get(callback_path(back))
        assert_refused(r, 401, "không thành công", refusal)
        assert session_user(web, runtime) is None


def test_a_forged_state_cookie_is_refused(web: TestClient, runtime: Runtime, provider: OidcProvider) -> None:
    back, _ = at_provider(provider, start_login(web, provider), OFFICIAL, ACCOUNTS[OFFICIAL]["password"])
    saved = read_state(web.cookies.get(STATE_COOKIE), runtime.settings.secret_key)
    replace_state_cookie(web, sign_state(saved, "another-key"))
    r = web.get(callback_path(back))
    assert_refused(r, 401, "hết hạn hoặc không hợp lệ", "missing, forged or expired")


def test_without_an_issuer_the_routes_are_not_offered(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from api.problems import install
    from api.web.oidc_routes import oidc_router

    class Plain:
        settings = Settings(var_dir=tmp_path / "var")

    app = FastAPI()
    install(app)
    app.include_router(oidc_router(Plain()))
    r = TestClient(app).get("/dang-nhap/oidc", follow_redirects=False)
    assert r.status_code == 404
    assert "not configured" in r.json()["detail"]
