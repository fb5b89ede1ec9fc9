"""Ports: what the domain and the application need from the outside world.

Adapters live in the card's folders (``workflows/``, ``storage/``, ``signing/``, ``motcua/``); each port
also has a fast in-memory adapter for unit tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

JsonValue = Any  # values that survive json.dumps: process variables, audit details


class Clock(Protocol):
    """All time comes from here; tests and the demo use a simulated clock."""

    def now(self) -> dt.datetime:  # timezone-aware
        ...


# ---------------------------------------------------------------- engine


@dataclass(frozen=True)
class ExternalTask:
    """A service task waiting for a worker (Camunda's *external task*)."""

    id: str
    topic: str
    activity_id: str
    instance_id: str
    business_key: str
    variables: Mapping[str, JsonValue]
    retries: int | None
    worker_id: str | None = None
    lock_expires_at: dt.datetime | None = None


# The process variable naming the agency whose officials act on the current step: set at the start to the dossier's
# agency and by each joint hand-off (services.joint_work); the engines filter user tasks on it (``tenant``).
TENANT_VARIABLE = "current_agency"


@dataclass(frozen=True)
class UserTask:
    id: str
    instance_id: str
    business_key: str
    activity_id: str
    name: str
    candidate_groups: tuple[str, ...]
    assignee: str | None
    created_at: dt.datetime
    due_at: dt.datetime | None
    variables: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    """A step the workers gave up on (retries exhausted): it waits for an operator's retry."""

    id: str
    instance_id: str
    business_key: str
    activity_id: str
    message: str
    created_at: dt.datetime
    task_id: str | None = None  # the external task to retry (``Engine.set_retries``)


@dataclass(frozen=True)
class ProcessInstance:
    id: str
    process_key: str
    business_key: str
    state: str  # running | completed | cancelled | failed
    variables: Mapping[str, JsonValue]


@dataclass(frozen=True)
class ActivityStates:
    """Where an instance is, by BPMN activity id, each in the order the engine met them: ``current`` (waiting there
    now: a user task, a service step for a worker, a message or timer event) and ``completed`` (done; an activity
    done once and current again after a loop is in both)."""

    current: tuple[str, ...]
    completed: tuple[str, ...]


class Engine(Protocol):
    """One BPMN file, two engines: embedded SpiffWorkflow and Operaton implement this."""

    def deploy(self) -> list[str]: ...

    def definition_xml(self, process_key: str, business_key: str | None = None) -> bytes | None:
        """The deployed BPMN file that holds ``process_key``: the version the instance of ``business_key`` runs
        when it has one, else the latest; None when no such process is deployed."""
        ...

    def activity_states(self, business_key: str) -> ActivityStates | None:
        """The activities of the instance of ``business_key``; None when there is no instance."""
        ...

    def start(self, process_key: str, business_key: str, variables: Mapping[str, JsonValue]) -> str:
        """Start an instance; starting again with the same business key returns the existing one."""
        ...

    def instance(self, business_key: str) -> ProcessInstance | None: ...

    def fetch_and_lock(
        self, worker_id: str, topics: Sequence[str], max_tasks: int, lock_seconds: float, wait_seconds: float = 0.0
    ) -> list[ExternalTask]:
        """Lock up to ``max_tasks``; with ``wait_seconds`` an engine that can long-poll holds the request open
        until a task arrives (Operaton's ``asyncResponseTimeout``); others return at once."""
        ...

    def complete_external_task(self, task_id: str, worker_id: str, variables: Mapping[str, JsonValue]) -> None: ...

    def fail_external_task(
        self, task_id: str, worker_id: str, message: str, retries: int, retry_seconds: float
    ) -> None: ...

    def user_tasks(
        self,
        *,
        candidate_groups: Sequence[str] | None = None,
        business_key: str | None = None,
        assignee: str | None = None,
        tenant: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UserTask]:
        """Open user tasks in due order (then creation, then id: pages do not overlap). ``tenant``: only tasks whose
        instance's :data:`TENANT_VARIABLE` has that value (the agency acting on the step), filtered by the engine,
        so a list costs the tasks of one agency and role, not of the whole installation."""
        ...

    def user_task(self, task_id: str) -> UserTask | None: ...

    def claim(self, task_id: str, user: str) -> None: ...

    def unclaim(self, task_id: str) -> None: ...

    def complete_user_task(self, task_id: str, variables: Mapping[str, JsonValue]) -> None: ...

    def correlate_message(self, name: str, business_key: str, variables: Mapping[str, JsonValue]) -> None: ...

    def fire_due_timers(self, now: dt.datetime) -> int: ...

    def incidents(self) -> list[Incident]: ...

    def set_retries(self, task_id: str, retries: int) -> None:
        """Give a failed external task new retries: its incident is resolved and workers fetch it again."""
        ...

    def cancel(self, business_key: str, reason: str) -> bool:
        """End the running instance of ``business_key`` where it is (processing stopped: Mẫu 05): its user tasks,
        service steps and timers go, so no list shows it and no worker or timer moves it again; its state becomes
        ``cancelled``. False when no instance of that key is running (none, or ended already): safe to repeat."""
        ...


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    content_type: str
    version_id: str | None = None


class DocumentStore(Protocol):
    def put(self, key_prefix: str, stream: BinaryIO, content_type: str) -> StoredObject:
        """Hash first, then store under ``<key_prefix>/<sha256>``; never overwrite."""
        ...

    def open(self, obj: StoredObject) -> Iterator[bytes]:
        """Stream the bytes, checking the SHA-256 at the end (raises on mismatch)."""
        ...

    def exists(self, key: str) -> bool: ...

    def check_writable(self) -> None:
        """Raise (an ``Unavailable``) unless a new object could be stored now; cheap, for health checks."""
        ...

    def copy(self, source: StoredObject, key_prefix: str) -> StoredObject:
        """Store ``source``'s bytes also under ``<key_prefix>/<sha256>``, inside the store where it can (a hard
        link, a server-side copy); the source stays until :meth:`discard`."""
        ...

    def discard(self, obj: StoredObject) -> None:
        """Remove an object for good (its recorded version); gone already is fine."""
        ...

    @property
    def keeps_every_version(self) -> bool:
        """Every version is kept for a retention period (object lock): removing an object frees nothing."""
        ...


# ---------------------------------------------------------------- audit


@dataclass(frozen=True)
class AuditEvent:
    """What happened, who did it, to which dossier; ``details`` is canonical JSON."""

    kind: str
    actor: str
    at: dt.datetime
    dossier_code: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    event: AuditEvent
    prev_hash: str
    entry_hash: str


class AuditLog(Protocol):
    def append(self, event: AuditEvent) -> AuditEntry: ...

    def append_read(self, event: AuditEvent) -> None:
        """A read of personal data: it enters the chain shortly after, batched with other reads, so a read does
        not queue for the writers' lock (the store says what a crash can lose)."""
        ...

    def for_dossier(self, dossier_code: str, *, include_queued: bool = True) -> list[AuditEntry]:
        """The dossier's entries in chain order; with ``include_queued`` the reads still queued enter the chain
        first (which may wait for the writers' lock), without it only what is already in the chain."""
        ...


# ---------------------------------------------------------------- signing


@dataclass(frozen=True)
class SignatureRequest:
    """Who signs which field of a PDF, and why. ``signer`` names a key: ``agency:<agency code>`` for an
    agency seal, ``person:<username>`` for an official."""

    signer: str
    field_name: str
    reason: str
    location: str = ""
    certify: bool = False  # the first signature certifies (DocMDP P=2: form filling and signatures allowed)


class Signer(Protocol):
    def sign(self, pdf: bytes, request: SignatureRequest) -> bytes:
        """Return the PDF with one more PAdES signature (an incremental update)."""
        ...


@dataclass(frozen=True)
class SignatureCheck:
    field_name: str
    signer_subject: str
    signing_time: dt.datetime | None
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_document: bool
    modification_level: str
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.intact and self.valid and self.trusted and not self.problems


@dataclass(frozen=True)
class ValidationReport:
    """Per signature results and an overall indication in ETSI EN 319 102-1 terms."""

    signatures: tuple[SignatureCheck, ...]
    indication: str  # TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE
    sub_indication: str | None = None

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL-PASSED"


class SignatureValidator(Protocol):
    def validate(self, pdf: bytes) -> ValidationReport: ...


# ---------------------------------------------------------------- inter-agency exchange


@dataclass(frozen=True)
class ExchangeDocument:
    """One document of a hand-off, named by id and SHA-256 (the manifest of a later signed envelope)."""

    id: str
    kind: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class ExchangeReceipt:
    """The receiving agency's acknowledgment of one message; ``duplicate`` when the message id was delivered
    before (the first delivery's receipt is returned and nothing is delivered again)."""

    message_id: str
    sender_agency: str
    receiver_agency: str
    dossier_code: str
    delivered_at: dt.datetime
    documents: tuple[str, ...]  # the SHA-256 of each document, in the order sent
    duplicate: bool = False
    queued: bool = False  # signed and in the outbox: the partner's acknowledgment follows (delivered_at = queued at)


class Exchange(Protocol):
    """Hands a dossier from one agency to another (một cửa liên thông, DESIGN §9). Idempotent by
    ``message_id``: sending the same message again returns the first receipt and delivers nothing twice.
    The first adapter delivers in-process; a later one sends signed envelopes, with the same contract."""

    def send(
        self,
        sender_agency: str,
        receiver_agency: str,
        dossier_code: str,
        message_id: str,
        documents: Sequence[ExchangeDocument],
        context: Mapping[str, JsonValue] | None = None,
    ) -> ExchangeReceipt:
        """``context`` tells a partner installation what to do with the dossier (the step it acts on, the
        variables it needs, whether this hand-off only files documents); in-process delivery ignores it."""
        ...


# ---------------------------------------------------------------- notifications


class Notifier(Protocol):
    """Messages to citizens (e-mail, SMS, …). ``notify`` queues the message in the caller's unit of work
    (an outbox row) and returns its id; delivery happens afterwards, with retries. The idempotency key makes
    a repeated call (a redelivered task, a retried request) a no-op that returns the first message's id."""

    def notify(self, channel: str, recipient: str, subject: str, body: str, idempotency_key: str) -> str: ...


# ---------------------------------------------------------------- fees


@dataclass(frozen=True)
class PaymentRecord:
    """One payment of a dossier's fee: ``status`` is pending | paid | failed | refunded."""

    id: str
    dossier_code: str
    amount_vnd: int
    method: str  # cash | gateway
    reference: str  # the receipt number, or the gateway's reference of the payment intent
    status: str
    created_at: dt.datetime
    paid_at: dt.datetime | None = None


class Payment(Protocol):
    """A way to pay a dossier's fee. Cash: the reception officer's receipt number is the reference and the
    payment is paid at once. A gateway: a pending intent with the gateway's reference, paid when the
    gateway's signed callback arrives."""

    method: str

    def request(
        self, dossier_code: str, amount_vnd: int, actor: str, reference: str | None = None
    ) -> PaymentRecord: ...
