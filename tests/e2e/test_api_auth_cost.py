"""argon2 only where a person logs in (issue 17, point 5): a password login verifies one argon2id hash; every API
call after it is authenticated by its bearer token (a SHA-256 lookup), never by hashing again."""

from __future__ import annotations

from typing import Any

import pytest

from services import accounts
from tests.conftest import Api


class CountingHasher:
    """The suite's argon2id hasher, counting what it hashes and verifies."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return str(self.inner.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        self.calls += 1
        return bool(self.inner.verify(stored, password))


def test_bearer_calls_do_not_hash_passwords(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = CountingHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    code = api.submit().json()["code"]  # logs the desk officer in: one argon2 verification
    assert hasher.calls == 1
    for _ in range(10):
        assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").status_code == 200
        assert api.get("/api/tasks", "tiepnhan.xa1").status_code == 200
    assert hasher.calls == 1, "API calls with a bearer token hash nothing"
    wrong = api.client.post("/api/auth/token", json={"username": "tiepnhan.xa1", "password": "not the password"})
    assert wrong.status_code == 401
    assert hasher.calls == 2, "a password login still verifies with argon2"
