"""The bearer-token check of the JSON routers, in one place (``create_app`` has its own, which also accepts the
web session's cookie). A router writes ``Auditor = Annotated[Person, Depends(role_guard(runtime, …))]``.

No ``from __future__ import annotations``: FastAPI must see the ``Annotated`` dependency as an object.
"""

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dossiers.errors import Forbidden, Unauthorized
from dossiers.model import Person, Role

_bearer = HTTPBearer(auto_error=False)


def bearer_person(runtime: Any) -> Callable[..., Person]:
    """A dependency: the person a ``Authorization: Bearer`` token belongs to (401 without a valid one)."""

    def current_person(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Person:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized(
                "Cần đăng nhập (mã truy cập Bearer).", "A bearer token is required (POST /api/auth/token)."
            )
        person: Person = runtime.accounts.person_for_token(credentials.credentials, runtime.clock.now())
        return person

    return current_person


def role_guard(runtime: Any, roles: Iterable[Role], message_vi: str, message_en: str) -> Callable[..., Person]:
    """A dependency: the bearer's person, 403 with the given message unless their role is one of ``roles``."""
    allowed = frozenset(roles)
    current_person = bearer_person(runtime)

    def guarded(person: Annotated[Person, Depends(current_person)]) -> Person:
        if person.role not in allowed:
            raise Forbidden(message_vi, message_en)
        return person

    return guarded
