"""The audit log's store in the database: one append-only, hash-chained table (DESIGN §10).

Appends take the chain head row under a lock (``FOR UPDATE`` on PostgreSQL, the single writer on SQLite)
in the caller's transaction, so an event is recorded exactly when the change it describes commits.

Verification (:meth:`SqlAuditLog.verify_report`; :func:`services.audit.audit_report` for ``motcua audit verify``
and ``GET /api/audit/status``) reads the
log, its head row and the checkpoints in one snapshot, streaming the entries through the core's
:class:`~dossiers.audit.ChainScan` (constant memory), then checks every checkpoint: its statement names an entry
whose stored hash is the signed head, its detached CMS signature chains to the trusted roots and is the audit
agency's seal, and its RFC 3161 timestamp holds. :class:`AuditCheckpoints` signs the head on demand or, from
housekeeping, on a schedule (:meth:`AuditCheckpoints.make_if_due`).

Checkpoints are hourly and live in the same database, so whoever can delete the newest entries and rewrite the
head row could delete a checkpoint too. :class:`AuditAnchors` closes that window: every few seconds
(MOTCUA_AUDIT_ANCHOR_SECONDS) housekeeping writes the committed head, write-once, to the object store, and
verification compares the anchors of the newest entries with the log — an anchor beyond the log's end names the
deleted entries, an anchor that no longer matches its entry names a rewrite.

Reads of personal data are recorded too (Decree 13/2023), and there are many more reads than changes. Their entries
(:meth:`SqlAuditLog.append_read`) do not join the write queue one by one: the request queues the event and returns;
a flusher thread appends what is queued every ``read_flush_seconds`` (0.5 s by default, MOTCUA_AUDIT_READ_FLUSH_SECONDS)
in one short transaction — one head lock for the whole batch, in the order the reads were recorded — and at shutdown
(:meth:`SqlAuditLog.close`, and at interpreter exit). A request that finds the queue full appends it itself (the
queue never grows without bound, and a database that refuses appends refuses the reads with it). The entries are
ordinary chain entries (``motcua audit verify`` checks them like any other); an entry's ``at`` is when the read
happened, its ``seq`` when the batch committed, so a read may carry an ``at`` a fraction of a second earlier than a
change committed just before it. The price: a crash of the process (power cut, SIGKILL) loses the read entries
queued since the last flush committed — normally half a second's, more while a long writer holds the lock, never
more than ``read_buffer_entries`` — never a change's entry, which still commits with the change. A read recorded
inside a unit of work that writes joins that unit (it holds the lock already). ``read_flush_seconds = 0`` appends
each read's entry in the request instead.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import dataclasses
import datetime as dt
import io
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.pool import NullPool

from dossiers.audit import (
    ANCHOR_BUCKET,
    ANCHOR_PREFIX,
    GENESIS_HASH,
    ChainProblem,
    ChainScan,
    anchor_folder,
    anchor_problems,
    anchor_seq,
    anchor_statement,
    chain_hash,
    chain_problems,
    checkpoint_problems,
    checkpoint_statement,
    timestamp_problems,
)
from dossiers.ports import AuditEntry, AuditEvent
from persistence import uow
from persistence.counters import upsert
from persistence.schema import audit_checkpoint, audit_head, audit_log
from persistence.uow import after_rollback, is_sqlite, transaction

if TYPE_CHECKING:
    pass

STREAM_BATCH = 5_000  # rows fetched at a time when the whole log is read (a server-side cursor on PostgreSQL)
READ_FLUSH_SECONDS = 0.5  # how long a read's entry may wait in the queue (what a crash can lose)
READ_BUFFER_ENTRIES = 1_000  # a full queue is appended by the request that fills it

logger = structlog.get_logger(__name__)
# the append's statements, built once (SQLAlchemy's compiled cache then finds them without rebuilding them)
_SELECT_HEAD = select(audit_head.c.seq, audit_head.c.entry_hash).where(audit_head.c.id == 1)
_SELECT_HEAD_FOR_UPDATE = _SELECT_HEAD.with_for_update()
_INSERT_ENTRY = insert(audit_log)
_UPDATE_HEAD = update(audit_head).where(audit_head.c.id == 1)
_HEAD_KEY = "motcua_audit_head"  # conn.info: (a weak reference to the transaction, seq, entry_hash) it last wrote
_open_logs: weakref.WeakSet[SqlAuditLog] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for audit in list(_open_logs):
        audit.close()


def entry_row(e: AuditEntry) -> dict[str, Any]:
    """An entry as the ``audit_log`` row that keeps it."""
    return {
        "seq": e.seq,
        "kind": e.event.kind,
        "actor": e.event.actor,
        "at": e.event.at,
        "dossier_code": e.event.dossier_code,
        "details": dict(e.event.details),
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
    }


def _canonical_event(e: AuditEvent) -> AuditEvent:
    return AuditEvent(
        kind=e.kind, actor=e.actor, at=e.at, dossier_code=e.dossier_code, details=_canonical_details(e.details)
    )


def _writing_unit_open() -> bool:
    """Whether this thread is inside a unit of work that writes: an entry appended then joins it (and a separate
    append would wait for the lock this very unit holds)."""
    return uow.in_writing_transaction()


def _canonical_details(details: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(dict(details), default=str, sort_keys=True))  # type: ignore[no-any-return]


def latest_event_at(db: Engine) -> dt.datetime | None:
    """When the newest entry was recorded (None for an empty log): where a restarted demo clock resumes."""
    with db.connect() as conn:
        latest: dt.datetime | None = conn.execute(select(func.max(audit_log.c.at))).scalar_one_or_none()
    return latest


class SqlAuditLog:
    def __init__(
        self,
        db: Engine,
        read_flush_seconds: float = READ_FLUSH_SECONDS,
        read_buffer_entries: int = READ_BUFFER_ENTRIES,
    ) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)
        self._reader: Engine | None = None
        self._reader_lock = threading.Lock()
        self.read_flush_seconds = read_flush_seconds
        self.read_buffer_entries = max(1, read_buffer_entries)
        self._queued: list[AuditEvent] = []
        self._queue_lock = threading.Lock()  # guards the queue and the flusher thread's handle
        self._flush_lock = threading.Lock()  # one flush at a time: batches enter the chain in queue order
        self._flusher: threading.Thread | None = None
        self._closing = threading.Event()
        _open_logs.add(self)

    def append(self, event: AuditEvent) -> AuditEntry:
        """Append one entry in the caller's unit of work (or its own): it commits exactly with the change."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Append ``events`` in this order under one lock of the chain head: one short transaction for N entries.
        The reads still queued go first, in the same transaction, so the chain keeps the order things happened in
        (a page read, then its export); if the transaction rolls back they are queued again. Returns the entries
        of ``events``."""
        return self._append(events)[0]

    def _append(self, events: Sequence[AuditEvent]) -> tuple[list[AuditEntry], int]:
        """:meth:`append_many`; also how many queued reads went in before ``events``."""
        events = [_canonical_event(e) for e in events]
        entries: list[AuditEntry] = []
        with transaction(self.db) as conn:
            with self._queue_lock:
                waiting = bool(self._queued)
            if not events and not waiting:
                return [], 0
            seq, prev = self._lock_head(conn)
            with self._queue_lock:
                earlier, self._queued = self._queued, []
            if earlier:
                after_rollback(lambda: self._requeue(earlier))
                events = [*map(_canonical_event, earlier), *events]
            if not events:
                return [], 0
            for event in events:
                seq += 1
                entry_hash = chain_hash(prev, event, seq)
                entries.append(AuditEntry(seq=seq, event=event, prev_hash=prev, entry_hash=entry_hash))
                prev = entry_hash
            conn.execute(_INSERT_ENTRY, [entry_row(e) for e in entries])
            conn.execute(_UPDATE_HEAD, {"seq": seq, "entry_hash": prev})
            self._remember_head(conn, seq, prev)
        return entries[len(earlier) :], len(earlier)

    def _requeue(self, events: Sequence[AuditEvent]) -> None:
        with self._queue_lock:
            self._queued[:0] = events

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        """The chain head (seq, hash), locked for this transaction (``FOR UPDATE`` on PostgreSQL; on SQLite the
        transaction holds the one writer lock). A second append in the same transaction already holds the lock
        and knows the head it wrote (:meth:`_remember_head`): it reads nothing. The head row is created when
        missing — only then, not at every append."""
        known = conn.info.get(_HEAD_KEY)
        transaction_now = conn.get_transaction()
        if (
            known is not None
            and transaction_now is not None
            and known[0]() is transaction_now
            and conn.get_nested_transaction() is None
        ):
            return known[1], known[2]
        lock = _SELECT_HEAD if self._sqlite else _SELECT_HEAD_FOR_UPDATE
        head = conn.execute(lock).first()
        if head is None:
            # the head row must exist before it can be locked: otherwise concurrent first appends on an empty
            # PostgreSQL log would all take seq 1 (nothing to lock) and all but one fail; a concurrent creator's
            # insert makes this one wait for its commit, then do nothing
            conn.execute(
                upsert(conn, audit_head)
                .values(id=1, seq=0, entry_hash=GENESIS_HASH)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            head = conn.execute(lock).one()
        return int(head.seq), str(head.entry_hash)

    @staticmethod
    def _remember_head(conn: Connection, seq: int, entry_hash: str) -> None:
        """The head this transaction wrote, for its next append (never across transactions: another writer may
        append between them; not inside a savepoint, which could roll back alone)."""
        root = conn.get_transaction()
        if root is not None and conn.get_nested_transaction() is None:
            conn.info[_HEAD_KEY] = (weakref.ref(root), seq, entry_hash)
        else:
            conn.info.pop(_HEAD_KEY, None)

    # ------------------------------------------------------------------ reads' entries, queued and batched

    def append_read(self, event: AuditEvent) -> None:
        """Record a read (see the module docstring): queued for the flusher, not appended in the request. Inside a
        unit of work that writes it joins that unit instead (the lock is held already); with
        ``read_flush_seconds = 0`` it is appended at once."""
        if self.read_flush_seconds <= 0 or _writing_unit_open():
            self.append(event)
            return
        with self._queue_lock:
            self._queued.append(event)
            full = len(self._queued) >= self.read_buffer_entries
            if (self._flusher is None or not self._flusher.is_alive()) and not full:  # none, or lost in a fork
                self._flusher = threading.Thread(target=self._flush_loop, name="audit-read-flusher", daemon=True)
                self._flusher.start()
        if full:
            self.flush_reads()

    def flush_reads(self) -> int:
        """Append every queued read entry now, in one transaction of its own; how many. Nothing from inside a unit
        of work that writes (it would wait for its own lock); the entries stay queued when the append fails."""
        if _writing_unit_open():
            return 0
        with self._flush_lock:
            with self._queue_lock:
                if not self._queued:
                    return 0
            # a context of its own: not the caller's read-only unit, whatever this thread has open; append_many
            # takes the queue under the head's lock and gives it back if its transaction fails
            _entries, taken = contextvars.Context().run(self._append, [])
        return taken

    def _flush_loop(self) -> None:
        """The flusher: a batch every ``read_flush_seconds``; it ends after a quiet interval (the next read starts
        another) or at :meth:`close`."""
        while True:
            closing = self._closing.wait(self.read_flush_seconds)
            try:
                flushed = self.flush_reads()
            except Exception:  # noqa: BLE001 - the entries stay queued; the next tick (or a full queue) retries
                logger.warning("audit.read_flush_failed", queued=len(self._queued), exc_info=True)
                flushed = -1
            with self._queue_lock:
                if closing or (flushed == 0 and not self._queued):
                    self._flusher = None
                    return

    def _settle(self, dossier_code: str | None = None) -> None:
        """Before the log is read: the queued reads (of ``dossier_code`` when given) enter the chain first, so a
        reader of the log sees every read this process recorded."""
        with self._queue_lock:
            waiting = any(dossier_code is None or e.dossier_code == dossier_code for e in self._queued)
        if waiting:
            self.flush_reads()

    def close(self) -> None:
        """Stop the flusher and append what is still queued (shutdown). A failure is logged: nothing else can
        be done with the entries then."""
        self._closing.set()
        thread = self._flusher
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        try:
            self.flush_reads()
        except Exception:  # noqa: BLE001
            logger.error("audit.read_entries_lost", queued=len(self._queued), exc_info=True)
        finally:
            self._closing.clear()

    @staticmethod
    def _entry(r: Any) -> AuditEntry:
        return AuditEntry(
            seq=r.seq,
            event=AuditEvent(kind=r.kind, actor=r.actor, at=r.at, dossier_code=r.dossier_code, details=r.details),
            prev_hash=r.prev_hash,
            entry_hash=r.entry_hash,
        )

    def between(self, first: int, last: int) -> list[AuditEntry]:
        """The entries ``first``..``last`` (only that stretch: a proof never needs the whole log)."""
        self._settle()
        with transaction(self.db) as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.seq >= first, audit_log.c.seq <= last).order_by(audit_log.c.seq)
            ).all()
        return [self._entry(r) for r in rows]

    def for_dossier(self, dossier_code: str, *, include_queued: bool = True) -> list[AuditEntry]:
        """The dossier's entries; ``include_queued``: its reads still queued are appended first (see the port)."""
        if include_queued:
            self._settle(dossier_code)
        with transaction(self.db) as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.dossier_code == dossier_code).order_by(audit_log.c.seq)
            ).all()
        return [self._entry(r) for r in rows]

    def all(self) -> list[AuditEntry]:
        self._settle()
        with transaction(self.db) as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
        return [self._entry(r) for r in rows]

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry as the head row says; (0, genesis) for an empty log."""
        self._settle()
        with transaction(self.db) as conn:
            row = conn.execute(select(audit_head.c.seq, audit_head.c.entry_hash).where(audit_head.c.id == 1)).first()
        return (0, GENESIS_HASH) if row is None else (row.seq, row.entry_hash)

    # ------------------------------------------------------------------ reading the whole log for verification

    def _sqlite_reader(self) -> Engine | None:
        """A second engine on the same SQLite file whose transactions are plain (deferred) ``BEGIN``: in WAL mode a
        reader sees one snapshot and takes no write lock, so verifying a large log does not stop appends (the
        application's engine begins every transaction IMMEDIATE, i.e. as the single writer)."""
        database = self.db.url.database
        if not database or database == ":memory:" or "mode=memory" in str(self.db.url):
            return None
        with self._reader_lock:
            if self._reader is None:
                reader = create_engine(
                    self.db.url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 60}
                )

                @event.listens_for(reader, "connect")
                def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
                    dbapi_conn.isolation_level = None  # BEGIN/COMMIT are ours
                    dbapi_conn.execute("PRAGMA busy_timeout=60000")

                self._reader = reader
            return self._reader

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One consistent read of the log, its head and its checkpoints (REPEATABLE READ on PostgreSQL, a read
        transaction on SQLite), without blocking writers."""
        if self._sqlite:
            reader = self._sqlite_reader()
            if reader is None:
                with transaction(self.db) as conn:
                    yield conn
                return
            with reader.connect() as conn:
                conn.exec_driver_sql("BEGIN")
                try:
                    yield conn
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            return
        with self.db.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def stream(self, conn: Connection, batch: int = STREAM_BATCH) -> Iterator[AuditEntry]:
        """Every entry in seq order, ``batch`` rows at a time (never the whole log in memory)."""
        result = conn.execution_options(yield_per=batch).execute(select(audit_log).order_by(audit_log.c.seq))
        for row in result:
            yield self._entry(row)

    def scan(self, watch: Sequence[int] = ()) -> tuple[ChainScan, tuple[int, str] | None]:
        """The whole log through :class:`ChainScan` (keeping the hashes of the ``watch`` seqs) and the head row."""
        self._settle()
        with self.snapshot() as conn:
            return self._scan(conn, watch)

    def _scan(self, conn: Connection, watch: Sequence[int]) -> tuple[ChainScan, tuple[int, str] | None]:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.entry_hash).where(audit_head.c.id == 1)).first()
        scan = ChainScan(watch)
        for entry in self.stream(conn):
            scan.feed(entry)
        return scan, None if head is None else (head.seq, head.entry_hash)

    def verify(self) -> int | None:
        """``seq`` of the first broken entry, or None when the whole chain holds. The head row names the
        newest entry, so deleting entries from the end is detected too (reported as the first missing seq).
        Reads the log as a stream: a million entries take seconds and little memory. :meth:`verify_report` says
        what is wrong and checks the signed checkpoints too."""
        return self.verify_result(*self.scan())

    def verify_report(
        self,
        *,
        check_signature: Callable[[Checkpoint], CheckpointStatus] | None = None,
        anchors: AuditAnchors | None = None,
    ) -> AuditReport:
        """Recompute the whole chain, compare the head, and check every checkpoint: its statement, that it names
        an entry whose stored hash is the signed head hash and, with ``check_signature`` (which needs the signing
        adapter: :func:`services.audit.check_signature`), its CMS signature and RFC 3161 timestamp. With
        ``anchors``, the head anchors of the newest entries in the object store are compared with the log too
        (listed before the log is read: an anchor only names a committed
        head, so a log read afterwards has every anchored entry)."""
        self._settle()
        anchor_keys: list[str] = []
        anchor_trouble: list[ChainProblem] = []
        if anchors is not None:
            try:
                anchor_keys = anchors.keys_near(self.last_seq())
            except Exception as exc:  # noqa: BLE001 - the store is down: the newest entries cannot be vouched for
                message = getattr(exc, "message_en", None) or f"{type(exc).__name__}: {exc}"
                anchor_trouble.append(
                    ChainProblem(0, "anchor", f"the head anchors in the object store could not be listed ({message})")
                )
        with self.snapshot() as conn:
            rows = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq)).all()
            stored = [AuditCheckpoints._row(r) for r in rows]
            anchored = [seq for seq in map(anchor_seq, anchor_keys) if seq is not None]
            scan, head = self._scan(conn, [c.seq for c in stored] + anchored)
        problems = chain_problems(scan, head)
        problems += anchor_problems(anchor_keys, scan.hashes, scan.last_seq) + anchor_trouble
        checked: list[CheckpointStatus] = []
        last_good: int | None = None
        for cp in stored:
            found = checkpoint_problems(
                cp.seq,
                cp.head_hash,
                cp.agency_code,
                cp.statement,
                scan.hashes.get(cp.seq),
                scan.last_seq,
                last_good=last_good,
            )
            status = (
                check_signature(cp)
                if check_signature is not None
                else CheckpointStatus(cp.seq, cp.created_at, cp.trigger, cp.timestamped, None, None, None)
            )
            found += list(status.problems)
            if not found:
                last_good = cp.seq  # an anchor: a later mismatch was rewritten after this entry
            problems += found
            checked.append(dataclasses.replace(status, problems=tuple(found)))
        if check_signature is not None:
            problems += timestamp_problems([(c.seq, c.timestamp_valid) for c in checked])
        return AuditReport(
            entries=scan.count,
            last_seq=scan.last_seq,
            head_seq=None if head is None else head[0],
            first_broken=self.verify_result(scan, head),
            checkpoints=tuple(checked),
            problems=tuple(problems),
        )

    def last_seq(self) -> int:
        """The newest entry's seq as the log itself says (not the head row)."""
        self._settle()
        with transaction(self.db) as conn:
            return int(conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one())

    @staticmethod
    def verify_result(scan: ChainScan, head: tuple[int, str] | None) -> int | None:
        """:meth:`verify`'s answer from a scan and the head row."""
        if scan.first_bad is not None:
            return scan.first_bad
        if head is None:
            return None if scan.count == 0 else 1
        if head[0] != scan.last_seq or head[1] != scan.last_hash:
            return min(head[0], scan.last_seq + 1)
        return None


@dataclass(frozen=True)
class CheckpointStatus:
    """One checkpoint as verified: who signed it and when, whether a TSA's timestamp holds, what is wrong."""

    seq: int
    created_at: dt.datetime
    trigger: str
    timestamped: bool  # as stored
    signer: str | None
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    timestamp_valid: bool = False
    problems: tuple[ChainProblem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "trigger": self.trigger,
            "timestamped": self.timestamped,
            "signer": self.signer,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "timestamp_time": self.timestamp_time.isoformat() if self.timestamp_time else None,
            "timestamp_valid": self.timestamp_valid,
            "valid": not self.problems,
        }


@dataclass(frozen=True)
class AuditReport:
    """The result of verifying the log: how many entries and checkpoints, and every problem found (one line each,
    the first broken entry first)."""

    entries: int
    last_seq: int
    head_seq: int | None
    first_broken: int | None  # what :meth:`SqlAuditLog.verify` answers
    checkpoints: tuple[CheckpointStatus, ...] = ()
    problems: tuple[ChainProblem, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def latest(self) -> CheckpointStatus | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def summary(self) -> str:
        if not self.intact:
            return f"audit log BROKEN: {len(self.problems)} problem(s), first at entry {self.problems[0].seq}"
        text = f"audit chain intact: {self.entries} entries, {len(self.checkpoints)} checkpoints"
        latest = self.latest
        if latest is None:
            return text + " (no checkpoint yet)"
        signer = f", signed by {latest.signer}" if latest.signer else ""
        if latest.timestamp_valid and latest.timestamp_time is not None:
            stamped = f", timestamped {latest.timestamp_time.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        else:
            stamped = ", not timestamped"
        return text + f" (latest at seq {latest.seq}{signer}{stamped})"

    def lines(self) -> list[str]:
        return [p.message for p in self.problems] or [self.summary()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "summary": self.summary(),
            "entries": self.entries,
            "last_seq": self.last_seq,
            "head_seq": self.head_seq,
            "first_broken": self.first_broken,
            "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in self.problems],
            "checkpoints": len(self.checkpoints),
            "latest_checkpoint": self.latest.to_dict() if self.latest else None,
        }


class AuditAnchors:
    """The audit chain's head, written write-once to the object store (``audit/anchors/<bucket>/<seq>/<sha256>``,
    see :func:`dossiers.audit.anchor_key`): a copy of the newest entries' hashes out of reach of whoever holds
    only the database. Housekeeping writes one every MOTCUA_AUDIT_ANCHOR_SECONDS when the head moved (after
    the appends committed, never inside their transaction: an anchor names only a committed entry). Anchors of
    the same head from several processes are the same object."""

    def __init__(self, log: SqlAuditLog, store: Any) -> None:
        self.log = log
        self.store = store
        self._written = 0

    @property
    def supported(self) -> bool:
        """Whether the store can list keys (every store Motcua ships can)."""
        return callable(getattr(self.store, "list_keys", None))

    def write(self) -> int | None:
        """Anchor the committed head unless this process already did; the seq anchored, or None."""
        seq, head_hash = self.log.head()
        if seq == 0 or seq == self._written:
            return None
        self.store.put(anchor_folder(seq), io.BytesIO(anchor_statement(seq, head_hash)), "application/json")
        self._written = seq
        return seq

    def keys_near(self, log_end: int) -> list[str]:
        """The anchor keys from the bucket before the one of ``log_end`` on (the newest 10,000–20,000 entries,
        and every anchor beyond the log's end however far): older history is covered by signed checkpoints."""
        first_bucket = max(0, log_end // ANCHOR_BUCKET - 1)
        start_after = f"{ANCHOR_PREFIX}/{first_bucket:08d}" if first_bucket else None
        keys: list[str] = self.store.list_keys(ANCHOR_PREFIX, start_after)
        return keys


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint: the signed statement of the head at ``seq`` (see :func:`checkpoint_statement`)."""

    seq: int
    head_hash: str
    created_at: dt.datetime
    agency_code: str
    statement: bytes
    signature: bytes  # DER, detached CMS over ``statement`` (with an RFC 3161 signature timestamp when ``timestamped``)
    timestamped: bool
    trigger: str


class AuditCheckpoints:
    """Signs the head of the audit chain with the agency's key and a TSA timestamp (DESIGN §10).

    ``sign(statement) -> (cms_der, timestamped)`` is the signing adapter (agency key from the key provider, the
    TSA from settings); a checkpoint of a head that already has one returns the existing checkpoint."""

    def __init__(
        self, db: Engine, log: SqlAuditLog, agency_code: str, sign: Callable[[bytes], tuple[bytes, bool]]
    ) -> None:
        self.db = db
        self.log = log
        self.agency_code = agency_code
        self.sign = sign

    @staticmethod
    def _row(r: Any) -> Checkpoint:
        return Checkpoint(
            seq=r.seq,
            head_hash=r.head_hash,
            created_at=r.created_at,
            agency_code=r.agency_code,
            statement=bytes(r.statement),
            signature=bytes(r.signature),
            timestamped=bool(r.timestamped),
            trigger=r.trigger,
        )

    def make(self, now: dt.datetime, trigger: str = "demand") -> Checkpoint | None:
        """Checkpoint the current head (None while the log is empty). Signing happens outside any lock: the
        statement names a head that can never change, so a concurrent append does not invalidate it."""
        self.log._settle()  # the reads recorded so far are covered too
        with transaction(self.db) as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
            if head is None or head.seq == 0:
                return None
            found = conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.seq == head.seq)).first()
            if found is not None:
                return self._row(found)
        statement = checkpoint_statement(self.agency_code, head.seq, head.entry_hash, now)
        signature, timestamped = self.sign(statement)
        with transaction(self.db) as conn:
            conn.execute(
                upsert(conn, audit_checkpoint)
                .values(
                    seq=head.seq,
                    head_hash=head.entry_hash,
                    created_at=now,
                    agency_code=self.agency_code,
                    statement=statement,
                    signature=signature,
                    timestamped=timestamped,
                    trigger=trigger,
                )
                .on_conflict_do_nothing(index_elements=["seq"])
            )
            row = conn.execute(select(audit_checkpoint).where(audit_checkpoint.c.seq == head.seq)).one()
        return self._row(row)

    def due(self, now: dt.datetime, every_minutes: float) -> bool:
        """Whether a scheduled checkpoint is due: the head moved since the latest checkpoint, and that one is older
        than ``every_minutes`` (0: never). Two cheap reads, fine to ask every housekeeping tick."""
        if every_minutes <= 0:
            return False
        with transaction(self.db) as conn:
            head = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one_or_none()
            latest = conn.execute(
                select(audit_checkpoint.c.seq, audit_checkpoint.c.created_at)
                .order_by(audit_checkpoint.c.seq.desc())
                .limit(1)
            ).first()
        if not head:
            return False
        if latest is None:
            return True
        return bool(head > latest.seq and now - latest.created_at >= dt.timedelta(minutes=every_minutes))

    def make_if_due(self, now: dt.datetime, every_minutes: float) -> Checkpoint | None:
        """The scheduled checkpoint (housekeeping): made when :meth:`due`. Several processes may ask at once; the
        same head checkpointed twice keeps the first (ON CONFLICT DO NOTHING on seq)."""
        return self.make(now, trigger="schedule") if self.due(now, every_minutes) else None

    def all(self) -> list[Checkpoint]:
        with transaction(self.db) as conn:
            rows = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq)).all()
        return [self._row(r) for r in rows]

    def latest(self) -> Checkpoint | None:
        with transaction(self.db) as conn:
            row = conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.seq.desc()).limit(1)).first()
        return None if row is None else self._row(row)
