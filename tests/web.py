"""A browser for the page tests: TestClient over HTTPS (so the session cookie is ``Secure``), no automatic
redirects, and helpers to log in (through the login form and its CSRF token) and read the page's CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from motcua.app import DEMO_PASSWORD


def browser(api: Any) -> TestClient:
    from api.app import asgi

    return TestClient(asgi(api.runtime), base_url="https://testserver", follow_redirects=False)


def login_form_token(client: TestClient) -> str:
    """Open the login page as a browser does: it sets the pre-session CSRF cookie and carries the form's token."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/dang-nhap").text)
    assert found, "the login form carries no CSRF token"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = DEMO_PASSWORD, next_url: str = "/") -> Any:
    data = {"username": username, "password": password, "next": next_url, "csrf_token": login_form_token(client)}
    return client.post("/dang-nhap", data=data)


def logged_in(api: Any, username: str) -> TestClient:
    client = browser(api)
    r = log_in(client, username)
    assert r.status_code == 303, r.text
    return client


def csrf(client: TestClient, path: str = "/thu-tuc") -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', client.get(path).text)
    assert found, "the page carries no CSRF token"
    return found.group(1)
