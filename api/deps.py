"""The request dependencies of the JSON API, in one place, as typed ``Annotated`` aliases: the runtime, the
person behind the request and the role guard. A route writes ``person: CurrentPerson`` (a bearer token, or the
browser's session cookie: the pages' scripts call these routes), ``person: BearerPerson`` (a bearer token only)
or ``person: Annotated[Person, Depends(role_guard(…))]``.

Every route that takes a token shares the one ``HTTPBearer`` scheme: the OpenAPI document lists it once and marks
those operations (their 401 and 403 are documented from that, api/openapi.py).

No ``from __future__ import annotations``: FastAPI must see the ``Annotated`` aliases as objects.
"""

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.web.session import SAFE_METHODS, check_csrf, session_token
from dossiers.calendar import WorkingCalendar
from dossiers.errors import Forbidden, Unauthorized
from dossiers.model import Person, Role
from dossiers.ports import Clock, DocumentStore, Engine
from persistence.audit_log import AuditCheckpoints, SqlAuditLog
from persistence.rate_limits import LoginThrottle, PublicLookups
from services.accounts import Accounts
from services.intake import Intake
from services.paperwork import Paperwork
from services.receiving import EnvelopeReceiver
from services.reception import Reception
from services.result_drafts import ResultDrafts
from services.shop import OneStopShop
from services.signatures import PersonalSignatures
from services.supplements import Supplements
from services.tasks import TaskDesk


class Runtime(Protocol):
    """What the HTTP layer needs of an installation. The composition root (``motcua.app.Runtime``) provides it;
    the API depends on this description, never on the root, so the layers contract holds (docs/architecture.md)."""

    settings: Any
    db: Any
    clock: Clock
    engine: Engine
    store: DocumentStore
    audit: SqlAuditLog
    accounts: Accounts
    shop: OneStopShop
    intake: Intake
    tasks: TaskDesk
    supplements: Supplements
    reception: Reception
    drafts: ResultDrafts
    paperwork: Paperwork
    signatures: PersonalSignatures
    checkpoints: AuditCheckpoints
    exchange: Any
    keys: Any
    pki: Any

    @property
    def login_throttle(self) -> LoginThrottle: ...

    @property
    def public_lookups(self) -> PublicLookups: ...

    def envelope_receiver(self) -> EnvelopeReceiver | None:
        """The exchange endpoint's side, when partner installations are configured."""

    def load_calendar(self) -> WorkingCalendar:
        """The working calendar with the administrator's overrides, read afresh."""

    def catalogue_problems(self) -> list[Any]:
        """Everything ``motcua procedures validate`` checks."""


bearer_scheme = HTTPBearer(auto_error=False)  # no "Bearer" header: None, and resolve_person answers the 401


def get_runtime(request: Request) -> Runtime:
    """The installation the app was made for (``create_app`` keeps it in ``app.state``)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def resolve_person(
    runtime: Runtime, request: Request, credentials: HTTPAuthorizationCredentials | None, *, accept_session: bool
) -> Person:
    """The one resolution of who is calling: a bearer token; else, where ``accept_session``, the browser's
    session cookie — then a state-changing request must carry the session's CSRF token (``X-CSRF-Token``).
    Neither: 401; an unknown, expired or revoked token: the accounts' 401."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        person: Person = runtime.accounts.person_for_token(credentials.credentials, runtime.clock.now())
        return person
    token = session_token(request) if accept_session else None
    if token:
        person = runtime.accounts.person_for_token(token, runtime.clock.now())
        if request.method not in SAFE_METHODS:
            check_csrf(request, runtime, None)
        return person
    raise Unauthorized("Cần đăng nhập (mã truy cập Bearer).", "A bearer token is required (POST /api/auth/token).")


def current_person(request: Request, runtime: RuntimeDep, credentials: BearerCredentials) -> Person:
    """A bearer token (API clients) or the session cookie (the pages' scripts, with CSRF when not safe)."""
    return resolve_person(runtime, request, credentials, accept_session=True)


def bearer_person(request: Request, runtime: RuntimeDep, credentials: BearerCredentials) -> Person:
    """A bearer token only: routes the pages do not call, whose files the desks offer under the session."""
    return resolve_person(runtime, request, credentials, accept_session=False)


CurrentPerson = Annotated[Person, Depends(current_person)]
BearerPerson = Annotated[Person, Depends(bearer_person)]


def require_role(
    person: Person, roles: Iterable[Role], message_vi: str | None = None, message_en: str | None = None
) -> None:
    """403 unless ``person``'s role is one of ``roles``: with the given message, or one naming the roles."""
    allowed = tuple(roles)
    if person.role in allowed:
        return
    if message_vi is None or message_en is None:
        raise Forbidden(
            "Vai trò của bạn không được phép thực hiện thao tác này.",
            f"Role {person.role} may not do this (needs {', '.join(r.value for r in allowed)}).",
        )
    raise Forbidden(message_vi, message_en)


def role_guard(
    roles: Iterable[Role], message_vi: str | None = None, message_en: str | None = None
) -> Callable[..., Person]:
    """A dependency: the bearer's person (:data:`BearerPerson`), checked by :func:`require_role`."""
    allowed = tuple(roles)

    def guarded(person: BearerPerson) -> Person:
        require_role(person, allowed, message_vi, message_en)
        return person

    return guarded
