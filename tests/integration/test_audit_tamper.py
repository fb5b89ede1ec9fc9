"""Tampering with the audit log directly in the database, on SQLite and PostgreSQL, and ``motcua audit verify``
(the real command, in a subprocess) naming what was done and where (DESIGN §10).

One log per backend: 40 events of three dossiers (and a few of none) with signed checkpoints at entries 10 and
25. Each case changes the stored rows with SQL — an entry's details or kind, a deleted entry in the middle, the
newest entries deleted, two rows' seq swapped, a checkpoint's head hash or signature, and history rewritten
consistently (every later hash recomputed and the head row updated, as a holder of the database without the
TSA could) — runs the command, and puts the log back. Also: a checkpoint timestamped by a live RFC 3161 TSA
verifies, a key holder re-signing it without the TSA is caught, a dossier's chain proof holds against a real
checkpoint and fails when any element of it is changed, and concurrent appends on PostgreSQL form one chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from sqlalchemy import Engine, delete, insert, select, update

from dossiers.audit import ChainProof, ProofStep, chain_hash, chain_proof, parse_checkpoint_statement, verify_proof
from dossiers.clock import SimulatedClock
from dossiers.ports import AuditEvent
from motcua.app import Runtime, build_runtime, init_state
from motcua.settings import Settings
from persistence.audit_log import SqlAuditLog
from persistence.schema import audit_checkpoint, audit_head, audit_log, metadata
from persistence.uow import make_engine, transaction
from services.audit import audit_report
from signing.cms import sign_detached, verify_detached
from tests.conftest import MONDAY_MORNING
from tests.integration.certomancer_pki import LivePki
from tests.integration.server import motcua_command

pytestmark = pytest.mark.integration

DOSSIERS = ("000.00.31.H99-260302-0001", "000.00.31.H99-260302-0002", "000.00.32.H99-260302-0001")
ENTRIES = 40
CHECKPOINTS = (10, 25)
TABLES = (audit_log, audit_head, audit_checkpoint)


def fill(runtime: Runtime, upto: int, checkpoints: tuple[int, ...] = CHECKPOINTS) -> None:
    """Append events (three dossiers in turn, every seventh about no dossier) up to entry ``upto``, making a
    checkpoint when the head reaches each of ``checkpoints``."""
    clock = runtime.clock
    assert isinstance(clock, SimulatedClock)
    while (seq := runtime.audit.head()[0]) < upto:
        n = seq + 1
        code = None if n % 7 == 0 else DOSSIERS[n % 3]
        runtime.shop.record("dossier.read" if n % 2 else "task.completed", f"canbo{n % 4}", code, n=n, note="Hồ sơ")
        clock.advance(dt.timedelta(minutes=3))
        if n in checkpoints:
            assert runtime.checkpoints.make(clock.now()) is not None


def make_runtime(settings: Settings) -> Runtime:
    init_state(settings, demo=False)
    runtime = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    assert runtime.audit.head()[0] == 0, "init records nothing in the audit log"
    return runtime


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env["MOTCUA_VAR_DIR"] = str(settings.var_dir)
    if settings.database_url:
        env["MOTCUA_DATABASE_URL"] = settings.database_url
    if settings.trust_roots:
        env["MOTCUA_TRUST_ROOTS"] = settings.trust_roots
    if settings.tsa_url:
        env["MOTCUA_TSA_URL"] = settings.tsa_url
    return env


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*motcua_command(), *args],
        env=cli_env(settings),
        cwd=settings.var_dir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@dataclass
class Log:
    settings: Settings
    runtime: Runtime
    pristine: dict[str, list[dict[str, Any]]]

    @property
    def db(self) -> Engine:
        return self.runtime.db

    def restore(self) -> None:
        with transaction(self.db) as conn:
            for table in reversed(TABLES):
                conn.execute(delete(table))
            for table in TABLES:
                if self.pristine[table.name]:
                    conn.execute(insert(table), self.pristine[table.name])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_cluster").fresh_database()
    settings = Settings(var_dir=tmp_path_factory.mktemp(f"audit-{request.param}") / "var", database_url=url)
    runtime = make_runtime(settings)
    assert runtime.db.dialect.name == request.param
    fill(runtime, ENTRIES)
    with transaction(runtime.db) as conn:
        pristine = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in TABLES}
    try:
        yield Log(settings, runtime, pristine)
    finally:
        runtime.close()


# ---------------------------------------------------------------- the tamperings


def edit_details(db: Engine) -> None:
    with transaction(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 17).values(details={"n": 17, "note": "đã sửa"}))


def edit_kind(db: Engine) -> None:
    with transaction(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 17).values(kind="dossier.refused"))


def delete_middle(db: Engine) -> None:
    with transaction(db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 17))


def delete_newest(db: Engine) -> None:
    with transaction(db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 37))


def swap(db: Engine) -> None:
    with transaction(db) as conn:  # seq is the primary key: through a free value
        conn.execute(update(audit_log).where(audit_log.c.seq == 17).values(seq=-17))
        conn.execute(update(audit_log).where(audit_log.c.seq == 19).values(seq=17))
        conn.execute(update(audit_log).where(audit_log.c.seq == -17).values(seq=19))


def edit_checkpoint_head(db: Engine) -> None:
    with transaction(db) as conn:
        head = conn.execute(select(audit_log.c.entry_hash).where(audit_log.c.seq == 24)).scalar_one()
        conn.execute(update(audit_checkpoint).where(audit_checkpoint.c.seq == 25).values(head_hash=head))


def corrupt_signature(db: Engine) -> None:
    """The signature value inside the CMS changed (the structure still parses)."""
    with transaction(db) as conn:
        der = conn.execute(select(audit_checkpoint.c.signature).where(audit_checkpoint.c.seq == 25)).scalar_one()
        info = cms.ContentInfo.load(bytes(der))
        signer_info = info["content"]["signer_infos"][0]
        value = bytearray(signer_info["signature"].native)
        value[len(value) // 2] ^= 0xFF
        signer_info["signature"] = cms.OctetString(bytes(value))
        conn.execute(
            update(audit_checkpoint)
            .where(audit_checkpoint.c.seq == 25)
            .values(signature=cms.ContentInfo.load(info.dump(force=True)).dump())
        )


def rewrite_history(db: Engine, at: int = 17) -> None:
    """What someone holding the database (but not the TSA) can do: change entry ``at``, recompute every hash
    after it and update the head row — the chain and the head then verify."""
    entries = SqlAuditLog(db).all()
    rewritten = []
    prev = entries[at - 2].entry_hash
    for entry in entries[at - 1 :]:
        event = entry.event
        if entry.seq == at:
            event = dataclasses.replace(event, details={**event.details, "note": "viết lại"})
        rewritten.append((entry.seq, event, prev, chain_hash(prev, event, entry.seq)))
        prev = rewritten[-1][3]
    with transaction(db) as conn:
        for seq, _, _, _ in rewritten:  # entry_hash is unique: move the old values out of the way first
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(entry_hash=f"old-{seq}"))
        for seq, event, prev_hash, entry_hash in rewritten:
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == seq)
                .values(details=dict(event.details), prev_hash=prev_hash, entry_hash=entry_hash)
            )
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(entry_hash=prev))


CASES: dict[str, tuple[Callable[[Engine], None], int, str]] = {
    "details edited": (edit_details, 17, "entry 17 was changed"),
    "kind edited": (edit_kind, 17, "entry 17 was changed"),
    "middle entry deleted": (delete_middle, 17, "entry 17 is missing"),
    "newest entries deleted": (delete_newest, 38, "head says 40 entries, log ends at 37"),
    "two entries swapped": (swap, 17, "entries out of order at 17"),
    "checkpoint head edited": (edit_checkpoint_head, 25, "checkpoint at 25 does not match entry 25"),
    "checkpoint signature corrupted": (corrupt_signature, 25, "checkpoint at 25: signature invalid ("),
    "history rewritten": (rewrite_history, 25, "checkpoint at 25 does not match entry 25"),
}


def test_an_intact_log_verifies_with_the_command_and_its_old_name(log: Log) -> None:
    report = audit_report(log.runtime)
    assert report.intact, report.lines()
    assert [c.seq for c in report.checkpoints] == list(CHECKPOINTS)
    for args in (("audit", "verify"), ("audit-verify",)):
        done = run_cli(log.settings, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(
            f"audit chain intact: {ENTRIES} entries, 2 checkpoints (latest at seq 25, signed by "
        )
        assert "not timestamped)" in done.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_detected_and_located_by_motcua_audit_verify(log: Log, case: str) -> None:
    tamper, seq, first_line = CASES[case]
    tamper(log.db)
    try:
        report = audit_report(log.runtime)
        done = run_cli(log.settings, "audit", "verify")
    finally:
        log.restore()
    assert not report.intact and report.problems[0].seq == seq, report.lines()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(first_line), lines
    assert lines == report.lines()
    assert f"first at entry {seq}" in done.stderr
    if case == "history rewritten":
        # the chain and the head recompute fine: only the signed checkpoint shows the rewrite (after entry 10)
        assert log.runtime.audit.verify() is None
        assert lines == [lines[0]] and "after entry 10" in lines[0]
    if case == "checkpoint signature corrupted":
        assert "does not verify" in lines[0], lines
    assert audit_report(log.runtime).intact  # put back for the next case


# ---------------------------------------------------------------- the newest entries, between two checkpoints


@pytest.fixture(params=["sqlite", "postgresql"])
def anchored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Runtime]]:
    """A log of its own: the head anchors it leaves in the object store outlive any restore of the rows."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_cluster").fresh_database()
    settings = Settings(var_dir=tmp_path / "var", database_url=url)
    runtime = make_runtime(settings)
    try:
        yield settings, runtime
    finally:
        runtime.close()


def test_deleting_the_newest_entries_and_rewriting_the_head_is_named_by_motcua_audit_verify(
    anchored: tuple[Settings, Runtime],
) -> None:
    """Checkpoints are hourly: entries 26–40 have none. Deleting 38–40 and setting the head row to entry 37 keeps
    the chain and the head consistent; the head anchored in the object store (what housekeeping writes every
    MOTCUA_AUDIT_ANCHOR_SECONDS) still names entry 40."""
    settings, runtime = anchored
    fill(runtime, ENTRIES)
    runtime.anchor_tick()
    assert run_cli(settings, "audit", "verify").returncode == 0
    with transaction(runtime.db) as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 37))
        newest = conn.execute(select(audit_log.c.entry_hash).where(audit_log.c.seq == 37)).scalar_one()
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=37, entry_hash=newest))
    assert runtime.audit.verify() is None  # the chain and the head row agree
    done = run_cli(settings, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "entries 38–40 are missing: the object store holds an anchor of the head at entry 40, the log ends at 37"
    ]
    assert "first at entry 38" in done.stderr


# ---------------------------------------------------------------- a dossier's proof against a real checkpoint


def test_a_dossiers_chain_proof_holds_against_a_signed_checkpoint_and_fails_when_changed(log: Log) -> None:
    entries = log.runtime.audit.all()
    checkpoint = next(c for c in log.runtime.checkpoints.all() if c.seq == 25)
    agency, seq, head_hash, _ = parse_checkpoint_statement(checkpoint.statement)
    assert (agency, seq, head_hash) == (log.settings.audit_agency, 25, checkpoint.head_hash)
    verify_detached(checkpoint.statement, checkpoint.signature, log.runtime.pki.trust_roots())  # raises if not
    code = DOSSIERS[1]
    proof = chain_proof(entries, code, 25)
    assert verify_proof(proof, head_hash) is None
    mine = [s for s in proof.steps if s.entry is not None]
    assert mine and all(s.entry is not None and s.entry.event.dossier_code == code for s in mine)
    assert any(s.entry is None for s in proof.steps)  # the others' entries travel as digests only

    def changed_step(i: int, **change: Any) -> ChainProof:
        steps = list(proof.steps)
        steps[i] = dataclasses.replace(steps[i], **change)
        return dataclasses.replace(proof, steps=tuple(steps))

    own = next(i for i, s in enumerate(proof.steps) if s.entry is not None)
    other = next(i for i, s in enumerate(proof.steps) if s.entry is None)
    own_entry = proof.steps[own].entry
    assert own_entry is not None
    forged_event = dataclasses.replace(own_entry.event, actor="forger")
    variants = {
        "start hash": dataclasses.replace(proof, start_prev_hash="e" * 64),
        "checkpoint seq": dataclasses.replace(proof, checkpoint_seq=24),
        "other's digest": changed_step(other, inner_hash="1" * 64),
        "own digest": changed_step(own, inner_hash="2" * 64),
        "own entry": changed_step(own, entry=dataclasses.replace(own_entry, event=forged_event)),
        "own entry's hash": changed_step(own, entry=dataclasses.replace(own_entry, entry_hash="3" * 64)),
        "step seq": changed_step(other, seq=proof.steps[other].seq + 100),
        "step dropped": dataclasses.replace(proof, steps=proof.steps[:other] + proof.steps[other + 1 :]),
        "steps swapped": dataclasses.replace(proof, steps=(proof.steps[1], proof.steps[0], *proof.steps[2:])),
        "last step dropped": dataclasses.replace(proof, steps=proof.steps[:-1]),
        "someone else's entry as own": changed_step(other, entry=entries[proof.steps[other].seq - 1]),
    }
    for name, variant in variants.items():
        assert verify_proof(variant, head_hash) is not None, name
    assert verify_proof(proof, "f" * 64) is not None  # another head
    assert isinstance(proof.steps[0], ProofStep)


# ---------------------------------------------------------------- a live TSA


@pytest.fixture
def stamped(tmp_path: Path, live_pki: LivePki) -> Iterator[tuple[Settings, Runtime]]:
    roots = live_pki.pem_file("certomancer-root.pem", "root")
    settings = Settings(var_dir=tmp_path / "var", tsa_url=live_pki.tsa_url, trust_roots=str(roots))
    runtime = make_runtime(settings)
    try:
        yield settings, runtime
    finally:
        runtime.close()


def test_a_checkpoint_timestamped_by_a_live_tsa_verifies(stamped: tuple[Settings, Runtime]) -> None:
    settings, runtime = stamped
    fill(runtime, 30)
    checkpoints = runtime.checkpoints.all()
    assert [(c.seq, c.timestamped) for c in checkpoints] == [(10, True), (25, True)]
    report = audit_report(runtime)
    assert report.intact, report.lines()
    latest = report.latest
    assert latest is not None and latest.timestamp_valid and latest.timestamp_time is not None
    cms_report = verify_detached(
        checkpoints[-1].statement, checkpoints[-1].signature, [*runtime.pki.trust_roots(), *_pem_roots(settings)]
    )
    assert cms_report.timestamp_valid and cms_report.timestamp_time is not None
    done = run_cli(settings, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    stamp = f"timestamped {latest.timestamp_time.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"
    assert done.stdout.strip().endswith(stamp), done.stdout
    made = run_cli(settings, "audit", "checkpoint")
    assert made.returncode == 0 and "checkpoint at seq 30" in made.stdout and ", timestamped" in made.stdout
    assert runtime.checkpoints.latest() is not None and runtime.checkpoints.latest().trigger == "demand"  # type: ignore[union-attr]


def test_a_key_holder_rewriting_history_and_re_signing_without_the_tsa_is_caught(
    stamped: tuple[Settings, Runtime],
) -> None:
    settings, runtime = stamped
    fill(runtime, 30)
    rewrite_history(runtime.db)  # entry 17 and everything after it, and the head row
    head = runtime.audit.all()[24].entry_hash
    statement = parse_checkpoint_statement(next(c for c in runtime.checkpoints.all() if c.seq == 25).statement)
    from dossiers.audit import checkpoint_statement

    forged = checkpoint_statement(statement[0], 25, head, statement[3])
    signature = sign_detached(forged, runtime.keys.signer_for(f"agency:{settings.audit_agency}"))  # no TSA
    with transaction(runtime.db) as conn:
        conn.execute(
            update(audit_checkpoint)
            .where(audit_checkpoint.c.seq == 25)
            .values(head_hash=head, statement=forged, signature=signature, timestamped=False)
        )
    assert runtime.audit.verify() is None  # the chain and the head recompute
    report = audit_report(runtime)
    assert [p.seq for p in report.problems] == [25], report.lines()
    assert "checkpoint at 25 is not timestamped although the one at 10 is" in report.problems[0].message
    done = run_cli(settings, "audit", "verify")
    assert done.returncode == 1 and done.stdout.startswith("checkpoint at 25 is not timestamped"), done.stdout


def _pem_roots(settings: Settings) -> list[Any]:
    from services.verification import configured_roots

    return configured_roots(settings)


# ---------------------------------------------------------------- concurrent appends on PostgreSQL


def test_concurrent_appends_on_postgresql_form_one_chain_without_a_fork(postgres_cluster: Any) -> None:
    url = postgres_cluster.fresh_database()
    db = make_engine(url)
    metadata.create_all(db)
    log = SqlAuditLog(db)
    writers, each = 4, 50
    barrier = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    def append(w: int) -> None:
        barrier.wait()
        try:
            for i in range(each):
                log.append(AuditEvent("test.event", f"writer{w}", dt.datetime.now(dt.UTC), None, {"i": i}))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=append, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        entries = log.all()
        assert [e.seq for e in entries] == list(range(1, writers * each + 1))
        assert len({e.prev_hash for e in entries}) == len(entries)  # no two entries follow the same one
        assert {e.event.actor for e in entries} == {f"writer{w}" for w in range(writers)}
        assert log.verify() is None
        assert log.verify_report().intact
        assert log.head() == (writers * each, entries[-1].entry_hash)
    finally:
        db.dispose()
