"""A browser for the page tests: TestClient over HTTPS (so the session cookie is ``Secure``), no automatic
redirects, and helpers to log in and read the page's CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from motcua.app import DEMO_PASSWORD


def browser(api: Any) -> TestClient:
    from api.app import asgi

    return TestClient(asgi(api.runtime), base_url="https://testserver", follow_redirects=False)


def log_in(client: TestClient, username: str, password: str = DEMO_PASSWORD, next_url: str = "/") -> Any:
    return client.post("/dang-nhap", data={"username": username, "password": password, "next": next_url})


def logged_in(api: Any, username: str) -> TestClient:
    client = browser(api)
    r = log_in(client, username)
    assert r.status_code == 303, r.text
    return client


def csrf(client: TestClient, path: str = "/thu-tuc") -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', client.get(path).text)
    assert found, "the page carries no CSRF token"
    return found.group(1)
