"""The same application on PostgreSQL (tests/integration/postgres.py starts a throw-away server): migrations,
the embedded engine's row locks (``FOR UPDATE SKIP LOCKED``), gap-free counters through ON CONFLICT upserts,
one household-business dossier end to end over HTTP, and concurrent first audit appends on an empty log.
Each test gets its own empty database."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select

from bench.engine import HERE as BENCH_BPMN
from bench.engine import run as run_bench
from dossiers.clock import SimulatedClock, SystemClock
from dossiers.ports import AuditEvent
from motcua.app import Runtime, build_runtime, init_state
from motcua.settings import Settings
from persistence.audit_log import SqlAuditLog
from persistence.migrate import upgrade
from persistence.schema import dossier, dossier_counter, metadata
from persistence.uow import make_engine, transaction
from services.intake import Applicant
from services.uploads import Upload
from signing.validate import PadesValidator
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, MONDAY_MORNING, Api, minimal_pdf
from workers.runtime import Complete, TaskContext, Worker
from workflows.embedded.engine import EmbeddedEngine

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_runtime(pg_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(database_url=pg_url, var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True)
    init_state(settings)
    rt = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    assert _dialect(rt.db) == "postgresql"
    rt.engine.deploy()
    try:
        yield rt
    finally:
        rt.close()
        rt.db.dispose()


def _dialect(db: Engine) -> str:
    return db.dialect.name


def test_migrations_on_postgresql_create_exactly_the_schema_of_the_models(pg_url: str) -> None:
    db = make_engine(pg_url)
    try:
        assert _dialect(db) == "postgresql"
        upgrade(db)
        upgrade(db)  # idempotent
        with db.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        db.dispose()
    assert diff == []


def test_engine_benchmark_completes_on_postgresql(pg_url: str) -> None:
    result = run_bench(30, db_url=pg_url)
    assert result["instances"] == 30
    assert result["engine_steps"] == 30 * 6


def test_two_workers_racing_on_postgresql_complete_every_task_exactly_once(pg_url: str) -> None:
    db = make_engine(pg_url)
    metadata.create_all(db)
    assert _dialect(db) == "postgresql"
    eng = EmbeddedEngine(db, SystemClock(), [BENCH_BPMN])
    eng.deploy()
    try:
        for i in range(40):
            eng.start("bench_five_waits", f"R-{i}", {"decision": "approve"})
        handled: Counter[str] = Counter()
        lock = threading.Lock()

        def noop(ctx: TaskContext) -> Complete:
            with lock:
                handled[ctx.task_id] += 1
            time.sleep(0.005)  # hold the lock a little so the workers really overlap
            return Complete({"handled_by": threading.current_thread().name})

        workers = [Worker(eng, {"bench.noop": noop}, f"w{i}", max_tasks=3) for i in range(2)]
        errors: list[BaseException] = []

        def drain(w: Worker) -> None:
            try:
                w.drain()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=drain, args=(w,), name=w.worker_id) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert len(handled) == 40
        assert set(handled.values()) == {1}
        tasks = eng.user_tasks()
        assert len(tasks) == 40
        assert {t.activity_id for t in tasks} == {"step2"}
        assert set(Counter(t.variables["handled_by"] for t in tasks)) == {"w0", "w1"}  # both really worked
    finally:
        db.dispose()


def test_parallel_intakes_on_postgresql_get_gap_free_codes(pg_runtime: Runtime) -> None:
    desk = pg_runtime.intake
    reception = pg_runtime.accounts.get("tiepnhan.xa1")
    assert reception is not None
    n = 20
    barrier = threading.Barrier(n, timeout=30)

    def intake(i: int) -> str:
        uploads = [
            Upload("giay_de_nghi", "a.pdf", "application/pdf", io.BytesIO(minimal_pdf(f"de nghi {i}"))),
            Upload("giay_to_phap_ly", "b.pdf", "application/pdf", io.BytesIO(minimal_pdf(f"cccd {i}"))),
        ]
        barrier.wait()
        result = desk.intake(
            reception,
            HOUSEHOLD_BUSINESS,
            Applicant(f"Nguyễn Văn {i}", "001090012345"),
            uploads,
            details=HOUSEHOLD_DETAILS,
        )
        return str(result["code"])

    with ThreadPoolExecutor(max_workers=n) as pool:
        codes = list(pool.map(intake, range(n), timeout=120))
    assert sorted(codes) == [f"{COMMUNE}-260302-{i:04d}" for i in range(1, n + 1)]
    with pg_runtime.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dossier)).scalar_one() == n
        assert conn.execute(select(dossier_counter.c.last_serial)).scalar_one() == n
    assert pg_runtime.audit.verify() is None  # the audit chain stayed one unbroken chain


def test_concurrent_first_audit_appends_on_an_empty_postgresql_log_form_one_chain(pg_url: str) -> None:
    db = make_engine(pg_url)
    metadata.create_all(db)
    log = SqlAuditLog(db)
    barrier = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []

    def append(i: int) -> None:
        barrier.wait()
        try:
            with transaction(db):  # as inside an intake: the transaction stays open a little after the append
                event = AuditEvent("test.event", f"a{i}", dt.datetime.now(dt.UTC), None, {})
                log.append(event)
                time.sleep(0.3)
        except Exception as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=append, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert log.verify() is None
    finally:
        db.dispose()


def test_household_business_dossier_end_to_end_over_http_on_postgresql(pg_runtime: Runtime) -> None:
    api = Api(pg_runtime)
    r = api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert code == f"{COMMUNE}-260302-0001"
    assert api.work() == 2  # dossier.accept, documents.receipt
    assert api.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "result_ready"
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()  # dossier.close
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "returned"
    assert view["finished_at"] is not None
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", "tiepnhan.xa1").content
    report = PadesValidator(pg_runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    verification = api.get(f"/api/dossiers/{code}/documents/{result['id']}/verification", "thanhtra.tinh").json()
    assert verification["indication"] == "TOTAL-PASSED", verification
    assert pg_runtime.engine.instance(code).state == "completed"  # type: ignore[union-attr]
    api.client.close()


def test_a_rate_limit_holds_for_concurrent_requests_of_several_processes_on_postgresql(pg_url: str) -> None:
    """Eight "API processes" (each its own engine and limiter) count 40 requests of one client at once against a
    limit of 10: exactly 10 pass, whatever the interleaving (an advisory lock per key serializes the count)."""
    from persistence.rate_limits import Limit, RateLimiter

    engines = [make_engine(pg_url) for _ in range(8)]
    metadata.create_all(engines[0])
    limiters = [RateLimiter(db) for db in engines]
    barrier = threading.Barrier(8, timeout=30)

    def client(i: int) -> list[bool]:
        barrier.wait()
        return [limiters[i].hit(Limit("public:198.51.100.7", 10, 60.0)) is None for _ in range(5)]

    try:
        with ThreadPoolExecutor(8) as pool:
            allowed = [ok for answers in pool.map(client, range(8)) for ok in answers]
        assert allowed.count(True) == 10 and len(allowed) == 40
        assert limiters[0].count("public:198.51.100.7", 60.0) == 10
    finally:
        for db in engines:
            db.dispose()
