"""Audit-log benchmark (DESIGN §10): how fast entries are appended, and how long a full verification takes.

    python bench/audit.py [--appends 4000] [--writers 4] [--entries 1000000] [--databases sqlite,postgresql]
    make bench-audit

(a) **Appends per second**: ``SqlAuditLog.append`` (one transaction each: the head row locked ``FOR UPDATE``,
    the entry inserted, the head updated) from ``--writers`` threads and from one on PostgreSQL, and from one
    writer on SQLite (its single writer, ``BEGIN IMMEDIATE``) for comparison. The chain is verified afterwards.
(b) **Verification of a log of ``--entries`` entries**: the entries are generated with the core's
    ``chain_hash`` (three dossiers' worth of realistic events) and bulk-inserted in batches, then
    ``SqlAuditLog.verify`` recomputes the whole chain from the database — a stream read (server-side cursor on
    PostgreSQL, ``yield_per``), never the whole log in memory; the peak resident memory it added is sampled —
    and, for comparison, the pure in-memory recompute (``verify_chain`` over a list already in memory).
(c) **One checkpoint**: sign a checkpoint statement with a development-PKI seal (detached CAdES, no TSA) and
    verify it (``verify_detached``: chain, signer) — the per-checkpoint cost of ``motcua audit verify``.
(d) **Head anchors** (MOTCUA_AUDIT_ANCHOR_SECONDS): one anchor written to a local object store (what housekeeping
    does at most every few seconds, outside the append path, so (a) does not change), and the listing that
    ``verify_report`` adds, with ``--anchors`` anchors in the store.

PostgreSQL is a throw-away cluster started like the tests' (tests/integration/postgres.py, fsync off); without
Debian's ``postgresql`` it is skipped. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, insert  # noqa: E402

from dossiers.audit import GENESIS_HASH, chain_hash, checkpoint_statement, verify_chain  # noqa: E402
from dossiers.ports import AuditEntry, AuditEvent  # noqa: E402
from persistence.audit_log import SqlAuditLog, entry_row  # noqa: E402
from persistence.schema import audit_head, audit_log, metadata  # noqa: E402
from persistence.uow import make_engine, transaction  # noqa: E402

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
KINDS = ("dossier.received", "document.stored", "task.claimed", "task.completed", "dossier.read", "document.read")
BATCH = 10_000


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the resident set size every 20 ms in a thread: the peak above the level at the start."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def added_mb(self) -> float:
        return (self.peak - self.base) / 1e6


def event(n: int) -> AuditEvent:
    code = f"000.00.31.H99-260302-{n % 5000:04d}" if n % 11 else None
    details: dict[str, Any] = {"n": n, "channel": "browser"} if n % 3 else {"task": "review", "comment": "Hồ sơ hợp lệ"}
    return AuditEvent(KINDS[n % len(KINDS)], f"canbo{n % 40}", T0 + dt.timedelta(seconds=n), code, details)


def chained(count: int) -> Iterator[AuditEntry]:
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        ev = event(seq)
        h = chain_hash(prev, ev, seq)
        yield AuditEntry(seq, ev, prev, h)
        prev = h


# ---------------------------------------------------------------------------------------------- (a) appends


def appends(db: Engine, writers: int, total: int) -> tuple[float, int | None]:
    log = SqlAuditLog(db)
    each = total // writers
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        barrier.wait()
        try:
            for i in range(each):
                log.append(AuditEvent("bench.append", f"writer{w}", dt.datetime.now(dt.UTC), None, {"i": i}))
        except BaseException as exc:  # noqa: BLE001 - reported
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return each * writers / seconds, log.verify()


# ---------------------------------------------------------------------------------------------- (b) verification


def bulk_insert(db: Engine, count: int) -> tuple[float, float]:
    """Generate and insert ``count`` chained entries; (seconds generating, seconds in total)."""
    generating = 0.0
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    last: AuditEntry | None = None
    source = chained(count)
    while True:
        t = time.perf_counter()
        batch = [e for _, e in zip(range(BATCH), source, strict=False)]
        generating += time.perf_counter() - t
        if not batch:
            break
        rows = [entry_row(e) for e in batch]
        with transaction(db) as conn:
            conn.execute(insert(audit_log), rows)
        last = batch[-1]
    with transaction(db) as conn:
        conn.execute(
            insert(audit_head).values(
                id=1, seq=last.seq if last else 0, entry_hash=last.entry_hash if last else GENESIS_HASH
            )
        )
    return generating, time.perf_counter() - began


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def verification(db: Engine, count: int) -> dict[str, float]:
    generating, loading = bulk_insert(db, count)
    log = SqlAuditLog(db)
    with PeakRss() as rss:
        seconds, broken = timed(log.verify)
    assert broken is None, f"the generated chain breaks at {broken}"
    with PeakRss() as rss_report:
        report_seconds, report = timed(log.verify_report)
    assert report.intact, report.lines()
    return {
        "generate_s": generating,
        "load_s": loading,
        "verify_s": seconds,
        "verify_mb": rss.added_mb,
        "report_s": report_seconds,
        "report_mb": rss_report.added_mb,
    }


def in_memory(count: int) -> tuple[float, float, float]:
    """(seconds to build the list, seconds for verify_chain over it, its memory in MB)."""
    base = rss_bytes()
    build, entries = timed(lambda: list(chained(count)))
    size = (rss_bytes() - base) / 1e6
    began = time.perf_counter()
    broken = verify_chain(entries)
    seconds = time.perf_counter() - began
    assert broken is None
    del entries
    return build, seconds, size


# ---------------------------------------------------------------------------------------------- (c) a checkpoint


def checkpoint_costs(rounds: int = 20) -> tuple[float, float]:
    from signing.cms import sign_detached, verify_detached
    from signing.keys.pkcs12 import Pkcs12Keys
    from signing.pki import DevelopmentPki

    with tempfile.TemporaryDirectory() as tmp:
        pki = DevelopmentPki(Path(tmp) / "pki")
        pki.ensure([("000.00.00.H99", "Ủy ban nhân dân tỉnh Demo")], [], dt.datetime.now(dt.UTC))
        signer = Pkcs12Keys(pki).signer_for("agency:000.00.00.H99")
        signs, verifies = [], []
        for i in range(rounds + 1):
            statement = checkpoint_statement("000.00.00.H99", i + 1, f"{i:064x}", dt.datetime.now(dt.UTC))
            s, cms = timed(lambda: sign_detached(statement, signer))  # noqa: B023 - used at once
            v, _ = timed(lambda: verify_detached(statement, cms, pki.trust_roots(), crls=pki.crls()))  # noqa: B023
            if i:  # the first round loads and warms up
                signs.append(s)
                verifies.append(v)
    return statistics.median(signs) * 1000, statistics.median(verifies) * 1000


# ---------------------------------------------------------------------------------------------- (d) head anchors


def anchor_costs(count: int) -> tuple[float, float, int]:
    """(ms to write one anchor, ms to list the anchors near the end, anchors listed) over ``count`` anchors."""
    from persistence.audit_log import AuditAnchors
    from storage.local import LocalDocumentStore

    class Head:  # the head row of a log whose newest entry is ``seq``
        seq = 0

        def head(self) -> tuple[int, str]:
            return self.seq, f"{self.seq:064x}"

    with tempfile.TemporaryDirectory() as tmp:
        log = Head()
        anchors = AuditAnchors(log, LocalDocumentStore(Path(tmp)))  # type: ignore[arg-type]
        writes = []
        for seq in range(1, count + 1):
            log.seq = seq * 3  # a few entries between two anchors
            seconds, _ = timed(anchors.write)
            writes.append(seconds)
        listing, keys = timed(lambda: anchors.keys_near(log.seq))
    return statistics.median(writes) * 1000, listing * 1000, len(keys)


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=4000, help="entries appended in (a), over all writers")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers on PostgreSQL in (a)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the log verified in (b)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="where (a) and (b) run")
    parser.add_argument("--anchors", type=int, default=5000, help="head anchors written in (d)")
    args = parser.parse_args(argv)
    quiet()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    cpu = platform.processor() or platform.machine()
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    cluster = None
    with tempfile.TemporaryDirectory(prefix="motcua-bench-audit-") as tmp:
        urls: dict[str, Callable[[str], str]] = {"sqlite": lambda name: f"sqlite:///{tmp}/{name}.sqlite3"}
        if "postgresql" in databases:
            from tests.integration.postgres import PostgresUnavailable, start_cluster

            try:
                cluster = start_cluster()
                urls["postgresql"] = cluster.fresh_database
            except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
                print(f"postgresql skipped: {str(exc).splitlines()[0]}")
                databases.remove("postgresql")
        try:
            print(f"\n(a) appends, one transaction each ({args.appends} entries)")
            runs = [(name, n) for name in databases for n in ((1, args.writers) if name == "postgresql" else (1,))]
            for i, (name, writers) in enumerate(runs):
                db = make_engine(urls[name](f"appends{i}"))
                metadata.create_all(db)
                rate, broken = appends(db, writers, args.appends)
                db.dispose()
                chain = "intact" if broken is None else f"BROKEN at {broken}"
                print(f"  {name:10} {writers} writer(s): {rate:8.0f} appends/s   chain {chain}")

            print(f"\n(b) verification of {args.entries:,} entries")
            for name in databases:
                db = make_engine(urls[name]("verify"))
                metadata.create_all(db)
                f = verification(db, args.entries)
                db.dispose()
                print(
                    f"  {name:10} generated in {f['generate_s']:.1f} s, loaded in {f['load_s']:.1f} s; "
                    f"verify() {f['verify_s']:.1f} s ({args.entries / f['verify_s']:,.0f} entries/s, "
                    f"+{f['verify_mb']:.0f} MB peak); verify_report() {f['report_s']:.1f} s (+{f['report_mb']:.0f} MB)"
                )
            build, seconds, size = in_memory(args.entries)
            print(
                f"  in memory  verify_chain over a list: {seconds:.1f} s ({args.entries / seconds:,.0f} entries/s); "
                f"the list took {build:.1f} s to build and {size:.0f} MB"
            )

            sign_ms, verify_ms = checkpoint_costs()
            print(f"\n(c) one checkpoint (no TSA): sign {sign_ms:.1f} ms, verify {verify_ms:.1f} ms (medians of 20)")

            write_ms, list_ms, listed = anchor_costs(args.anchors)
            print(
                f"\n(d) head anchors, local store: write one {write_ms:.2f} ms (median of {args.anchors}); "
                f"verify lists the {listed} near the end of the log in {list_ms:.1f} ms"
            )
        finally:
            if cluster is not None:
                cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
