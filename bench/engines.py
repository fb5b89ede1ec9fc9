"""Engine benchmark: Operaton on PostgreSQL and the embedded engine, with 1, 2 and 4 worker processes.

Production shape: one PostgreSQL cluster (tests/integration/postgres.py) holds the application database and,
for Operaton, the engine's own database; one Operaton JVM (tests/integration/operaton.py, job executor off)
serves every Operaton run. The driver (this process) talks to the application's HTTP API in process
(``TestClient`` over ``api.app.asgi``, the helper of tests/conftest.py); the external tasks are done by separate
worker *processes* (this file with ``--worker-process``: ``build_runtime`` + ``runtime.new_worker`` +
``start_in_threads``, exactly what ``motcua worker --threads 1`` runs, plus a start barrier and the seal
appearance warm-up of ``motcua serve``). Every run gets a fresh application database (a PostgreSQL copy of a
database ``motcua init`` prepared once per engine) and a fresh var dir (copy of the initialized one, with the
development PKI); before every Operaton run all process instances, running and historic, are deleted
(dossier codes start at 0001 again in each fresh database). The simulated demo clock stands still, so no
timer fires.

Two measurements per engine and worker count, each on a fresh state with freshly started workers:

(a) **external tasks per second** — a burst: ``--burst`` household business dossiers are submitted through the
    API while the workers wait at the barrier (untimed); then the workers are released and the clock runs until
    every dossier has gone through its two automatic first steps (``dossier.accept``: files the uploads and
    starts the deadline, ``documents.receipt``: renders and seals the Mẫu 01 receipt), i.e. until every dossier
    has its receipt document. tasks/s = 2 × burst / wall time; ms/task is its inverse (wall time per task
    over all workers, not the latency of one task). These are the real handlers, not no-ops: the number says
    what an agency's workers sustain on the procedure's own steps.
(b) **dossiers end to end per second** — ``--dossiers`` dossiers of the household business procedure go the
    whole way: submitted at the desk (API), accepted and receipted (workers), reviewed by the specialist and
    approved by the leader (driver), certificate prepared (worker), signed by the leader's own device in two
    steps (``GET /api/signatures/pending`` → ``DeviceClient.sign`` → ``POST /api/signatures/{id}``), numbered by
    the clerk (driver), sealed by the agency and sent to the desk (workers), returned by reception (driver),
    closed (worker). The clock runs from the first submission until every dossier is ``returned``; at the end
    every dossier has a result document, every process instance is completed and there is no incident.
    Each dossier is 6 external tasks and 5 user tasks. The single-threaded driver and the API share the CPU
    with the workers, the database and the JVM, as a real server would.

Before its runs each engine drives ``--warmup`` dossiers end to end (untimed, results discarded): a production
Operaton JVM is long running and JIT-compiled, and the first run would otherwise pay for it.

Prints a markdown table; ``--json PATH`` also writes the results as JSON (nothing is written by default).
Run: ``python bench/engines.py``; defaults: ``--workers 1,2,4 --burst 150 --dossiers 40 --warmup 10
--engines operaton,embedded``.
Needs PostgreSQL (Debian's ``postgresql``) and, for Operaton, Java 17 and Maven (the jar is built once and
cached); an engine that cannot start is reported and skipped.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/engines.py` from the repository root
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from motcua.app import Runtime, build_runtime, init_state  # noqa: E402
from motcua.settings import Settings  # noqa: E402
from persistence.schema import document, dossier  # noqa: E402

RECEPTION = "tiepnhan.xa1"
SPECIALIST = "chuyenvien1.xa1"
LEADER = "lanhdao.xa1"
CLERK = "vanthu.xa1"
USERS = (SPECIALIST, LEADER, CLERK, RECEPTION)
DECISIONS = {"review": "approve", "approve": "approve", "register_number": None, "return_result": None}
EXTERNAL_PER_DOSSIER = 6  # accept, receipt, prepare_certificate, seal, result_ready, close
USER_PER_DOSSIER = 5  # review, approve, sign_result, register_number, return_result
POLL_SECONDS = 2.0  # workers' long polling on Operaton (short, so that they stop quickly)
READY_SECONDS = 120.0
RUN_SECONDS = 600.0


def quiet_logs(stream: Any = None) -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
    )


# ---------------------------------------------------------------------------------------------- worker processes


def worker_process(threads: int) -> None:
    """One worker process (settings from MOTCUA_*): build, warm up, say ``ready``, wait for ``go``, work until
    stdin closes or SIGTERM."""
    from signing.appearance import warm_up
    from workers.runtime import start_in_threads

    quiet_logs(sys.stderr)
    settings = Settings()
    runtime = build_runtime(settings)
    warm_up()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pool = [runtime.new_worker(f"bench-{os.getpid()}-{i}") for i in range(threads)]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        runtime.close()
        return

    def watch_stdin() -> None:
        sys.stdin.read()  # EOF: the driver is done (or gone)
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    started = start_in_threads(pool, stop)
    stop.wait()
    for thread in started:
        thread.join(timeout=settings.worker_poll_seconds + 10)
    runtime.close()


@dataclass
class WorkerProcesses:
    env: dict[str, str]
    count: int
    log_dir: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self) -> None:
        """Start ``count`` processes and wait until every one has built its runtime."""
        for i in range(self.count):
            log = (self.log_dir / f"worker-{len(self.procs)}-{i}.log").open("a")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "--worker-process"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=self.env,
                    cwd=ROOT,
                    text=True,
                )
            )
            log.close()
        deadline = time.monotonic() + READY_SECONDS
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()  # bounded: the process exits (EOF) or says ready
            if line != "ready" or time.monotonic() > deadline:
                raise RuntimeError(f"worker {proc.pid} did not start ({line!r}); see {self.log_dir}")

    def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def stop(self) -> None:
        """Close their stdin (they stop), SIGTERM after a while, SIGKILL last; only our own children."""
        for proc in self.procs:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
        for proc in self.procs:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None and proc.poll() is None:
                    proc.send_signal(sig)
                try:
                    proc.wait(timeout=POLL_SECONDS + 10)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs.clear()


# ---------------------------------------------------------------------------------------------- the driver


class Driver:
    """The officials at their desks, through the HTTP API (in process)."""

    def __init__(self, runtime: Runtime) -> None:
        from signing.device import DeviceClient
        from tests.conftest import Api

        self.runtime = runtime
        self.api = Api(runtime)
        pkcs12 = runtime.pki.pkcs12_path(f"person:{LEADER}").read_bytes()
        self.device = DeviceClient(pkcs12, runtime.settings.key_passphrase)  # the leader's own token
        for user in USERS:
            self.api.token(user)  # log in before the clock runs (argon2 is slow on purpose)

    def close(self) -> None:
        self.api.client.close()

    def submit(self) -> str:
        r = self.api.submit(RECEPTION)
        if r.status_code != 201:
            raise RuntimeError(f"submission refused: {r.status_code} {r.text}")
        return str(r.json()["code"])

    def step(self, codes: set[str]) -> int:
        """Complete every user task of ``codes`` that is open now; how many were done."""
        done = 0
        for user in USERS:
            tasks = self.api.get("/api/tasks", user).json()
            mine = [t for t in tasks if t["dossier_code"] in codes]
            signing = {t["dossier_code"] for t in mine if t["activity_id"] == "sign_result"}
            if signing:
                for pending in self.api.get("/api/signatures/pending", user).json():
                    if pending["dossier_code"] not in signing:
                        continue
                    value = self.device.sign(base64.b64decode(pending["data_to_sign"]), pending["digest_algorithm"])
                    body = {"signature_value": base64.b64encode(value).decode()}
                    self._ok(self.api.post(f"/api/signatures/{pending['id']}", user, json=body))
                    done += 1
            for task in mine:
                if task["activity_id"] == "sign_result":
                    continue
                decision = DECISIONS[task["activity_id"]]
                body = {"decision": decision, "comment": None}
                self._ok(self.api.post(f"/api/tasks/{task['id']}/complete", user, json=body))
                done += 1
        return done

    @staticmethod
    def _ok(r: Any) -> None:
        if r.status_code != 200:
            raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")


def count(runtime: Runtime, query: Any) -> int:
    with runtime.db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def wait_until(runtime: Runtime, query: Any, target: int, what: str, started: float) -> float:
    """Poll the application database until ``query`` reaches ``target``; the seconds since ``started``."""
    while True:
        if count(runtime, query) >= target:
            return time.perf_counter() - started
        if time.perf_counter() - started > RUN_SECONDS:
            raise RuntimeError(f"{what}: {count(runtime, query)} of {target} after {RUN_SECONDS:.0f} s")
        time.sleep(0.02)


def check_clean(runtime: Runtime, codes: list[str], state: str | None) -> None:
    incidents = runtime.engine.incidents()
    if incidents:
        raise RuntimeError(f"{len(incidents)} incident(s), e.g. {incidents[0].message[:300]}")
    if state is not None:
        states = {c: (i.state if (i := runtime.engine.instance(c)) else None) for c in codes}
        wrong = {c: s for c, s in states.items() if s != state}
        if wrong:
            raise RuntimeError(f"{len(wrong)} process instance(s) not {state}: {list(wrong.items())[:5]}")


# ---------------------------------------------------------------------------------------------- one state per run


@dataclass
class Stage:
    """The PostgreSQL cluster, Operaton (optional) and one initialized template (database + var dir) per engine."""

    root: Path
    cluster: Any
    operaton: Any = None
    templates: dict[str, tuple[str, Path]] = field(default_factory=dict)
    serial: int = 0

    def settings(self, engine: str, database_url: str, var_dir: Path) -> Settings:
        extra: dict[str, Any] = {}
        if engine == "operaton":
            extra = {
                "operaton_url": self.operaton.url,
                "operaton_user": self.operaton.user,
                "operaton_password": self.operaton.password,
            }
        return Settings(
            engine=engine,
            database_url=database_url,
            var_dir=var_dir,
            storage_url=None,
            demo_clock=True,
            worker_poll_seconds=POLL_SECONDS,
            **extra,
        )

    def template(self, engine: str) -> tuple[str, Path]:
        if engine not in self.templates:
            name = f"tpl_{engine}"
            url = self.cluster.fresh_database(name)
            var_dir = self.root / name
            if engine == "operaton":
                forget_operaton(self.operaton)
            init_state(self.settings(engine, url, var_dir))
            self.templates[engine] = (name, var_dir)
        return self.templates[engine]

    @contextlib.contextmanager
    def fresh(self, engine: str) -> Iterator[Settings]:
        """A copy of the engine's initialized state: its own database and var dir."""
        template, template_dir = self.template(engine)
        self.serial += 1
        name = f"run_{engine}_{self.serial}"
        admin = create_engine(self.cluster.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        finally:
            admin.dispose()
        var_dir = self.root / name
        shutil.copytree(template_dir, var_dir)
        if engine == "operaton":
            forget_operaton(self.operaton)
        try:
            yield self.settings(engine, self.cluster.url(name), var_dir)
        finally:
            shutil.rmtree(var_dir, ignore_errors=True)

    def worker_env(self, settings: Settings) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(
            MOTCUA_ENGINE=settings.engine,
            MOTCUA_DATABASE_URL=settings.database_url or "",
            MOTCUA_VAR_DIR=str(settings.var_dir),
            MOTCUA_DEMO_CLOCK="true",
            MOTCUA_WORKER_POLL_SECONDS=str(POLL_SECONDS),
        )
        if settings.engine == "operaton":
            env.update(
                MOTCUA_OPERATON_URL=settings.operaton_url or "",
                MOTCUA_OPERATON_USER=settings.operaton_user or "",
                MOTCUA_OPERATON_PASSWORD=settings.operaton_password or "",
            )
        return env


def forget_operaton(server: Any) -> None:
    """Delete every process instance, running and historic (tests/conftest.py), and check that none is left."""
    from tests.conftest import forget_operaton_instances

    forget_operaton_instances(server)
    with server.client() as http:
        left = (
            http.get("/process-instance/count").json()["count"]
            + http.get("/history/process-instance/count").json()["count"]
        )
    if left:
        raise RuntimeError(f"{left} Operaton process instances survived the reset")


@dataclass
class Row:
    engine: str
    workers: int
    burst_dossiers: int
    burst_tasks: int
    burst_seconds: float
    tasks_per_second: float
    ms_per_task: float
    dossiers: int
    dossier_seconds: float
    dossiers_per_second: float
    dossier_external_tasks_per_second: float
    dossier_user_tasks: int


def run_burst(stage: Stage, engine: str, workers: int, burst: int) -> tuple[int, float, float]:
    with stage.fresh(engine) as settings:
        runtime = build_runtime(settings)
        driver = Driver(runtime)
        pool = WorkerProcesses(stage.worker_env(settings), workers, stage.root / "logs")
        try:
            pool.start()
            began = time.perf_counter()
            codes = [driver.submit() for _ in range(burst)]  # untimed: the workers wait at the barrier
            submitting = time.perf_counter() - began
            receipts = select(func.count()).select_from(document).where(document.c.kind == "receipt")
            started = time.perf_counter()
            pool.go()
            seconds = wait_until(runtime, receipts, burst, "receipts", started)
            pool.stop()
            in_progress = select(func.count()).select_from(dossier).where(dossier.c.status == "in_progress")
            if count(runtime, in_progress) != burst:
                raise RuntimeError("not every burst dossier is in progress")
            reviews = [t for t in runtime.engine.user_tasks(candidate_groups=["specialist"]) if t.business_key in codes]
            if len(reviews) != burst:
                raise RuntimeError(f"{len(reviews)} review tasks for {burst} dossiers")
            check_clean(runtime, codes, None)
        finally:
            pool.stop()
            driver.close()
            runtime.close()
    return 2 * burst, seconds, submitting


def run_dossiers(stage: Stage, engine: str, workers: int, n: int) -> tuple[float, int]:
    with stage.fresh(engine) as settings:
        runtime = build_runtime(settings)
        driver = Driver(runtime)
        pool = WorkerProcesses(stage.worker_env(settings), workers, stage.root / "logs")
        returned = select(func.count()).select_from(dossier).where(dossier.c.status == "returned")
        user_tasks = 0
        try:
            pool.start()
            pool.go()
            started = time.perf_counter()
            codes = [driver.submit() for _ in range(n)]
            mine = set(codes)
            while count(runtime, returned) < n:
                if time.perf_counter() - started > RUN_SECONDS:
                    raise RuntimeError(f"only {count(runtime, returned)} of {n} dossiers returned")
                done = driver.step(mine)
                user_tasks += done
                if not done:
                    time.sleep(0.05)  # the workers have the dossiers now
            seconds = time.perf_counter() - started
            pool.stop()
            results = select(func.count()).select_from(document).where(document.c.kind == "result")
            if count(runtime, results) != n:
                raise RuntimeError(f"{count(runtime, results)} result documents for {n} dossiers")
            check_clean(runtime, codes, "completed")
        finally:
            pool.stop()
            driver.close()
            runtime.close()
    if user_tasks != USER_PER_DOSSIER * n:
        raise RuntimeError(f"{user_tasks} user tasks completed, expected {USER_PER_DOSSIER * n}")
    return seconds, user_tasks


def start_operaton(cluster: Any, log_dir: Path) -> tuple[Any, str | None]:
    from tests.integration.operaton import Jdbc, OperatonUnavailable
    from tests.integration.operaton import start_operaton as start

    try:
        jdbc = Jdbc.from_sqlalchemy(cluster.fresh_database("operaton"))
        return start(jdbc, log_dir, job_executor=False), None
    except (OperatonUnavailable, OSError, subprocess.SubprocessError) as exc:
        return None, str(exc).splitlines()[0]


def table(rows: list[Row]) -> str:
    lines = [
        "| engine | workers | tasks/s (a) | ms/task (a) | dossiers/s (b) | s/dossier (b) | ext. tasks/s in (b) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.engine} | {r.workers} | {r.tasks_per_second:.1f} | {r.ms_per_task:.1f} | "
            f"{r.dossiers_per_second:.2f} | {1 / r.dossiers_per_second:.2f} | "
            f"{r.dossier_external_tasks_per_second:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (comma-separated)")
    parser.add_argument("--burst", type=int, default=150, help="dossiers in the task burst (a); 2 tasks each")
    parser.add_argument("--dossiers", type=int, default=40, help="dossiers driven end to end (b)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed dossiers end to end per engine first (0: none)")
    parser.add_argument("--engines", default="operaton,embedded", help="operaton, embedded or both")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--worker-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_process:
        worker_process(threads=1)
        return
    quiet_logs()
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from tests.integration.postgres import PostgresUnavailable, start_cluster

    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    began = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-engines-"))
    (root / "logs").mkdir()
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    cluster = operaton = None
    try:
        try:
            cluster = start_cluster()
        except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
            print(f"skipped: PostgreSQL did not start here ({str(exc).splitlines()[0]})")
            return
        stage = Stage(root, cluster)
        if "operaton" in engines:
            operaton, reason = start_operaton(cluster, root / "operaton")
            if operaton is None:
                skipped["operaton"] = reason or "unavailable"
                engines.remove("operaton")
            stage.operaton = operaton
        for engine in engines:
            if args.warmup:
                warming = time.perf_counter()
                run_dossiers(stage, engine, 2, args.warmup)  # JIT, caches, lazy imports; not counted
                print(f"{engine}: warm-up, {args.warmup} dossiers, {time.perf_counter() - warming:.1f} s", flush=True)
            for n in workers:
                tasks, burst_seconds, submitting = run_burst(stage, engine, n, args.burst)
                seconds, user_tasks = run_dossiers(stage, engine, n, args.dossiers)
                row = Row(
                    engine=engine,
                    workers=n,
                    burst_dossiers=args.burst,
                    burst_tasks=tasks,
                    burst_seconds=burst_seconds,
                    tasks_per_second=tasks / burst_seconds,
                    ms_per_task=burst_seconds / tasks * 1000,
                    dossiers=args.dossiers,
                    dossier_seconds=seconds,
                    dossiers_per_second=args.dossiers / seconds,
                    dossier_external_tasks_per_second=EXTERNAL_PER_DOSSIER * args.dossiers / seconds,
                    dossier_user_tasks=user_tasks,
                )
                rows.append(row)
                print(
                    f"{engine}, {n} worker process(es): (a) {tasks} tasks in {burst_seconds:.1f} s, "
                    f"(b) {args.dossiers} dossiers in {seconds:.1f} s (untimed: {args.burst} submissions for (a) "
                    f"{submitting:.1f} s)",
                    flush=True,
                )
    finally:
        if operaton is not None:
            operaton.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - began
    print(
        f"\nEngines, {dt.datetime.now(dt.UTC):%Y-%m-%d}, {os.cpu_count()} CPU(s), PostgreSQL app database; "
        f"(a) burst of {args.burst} dossiers × 2 external tasks, (b) {args.dossiers} household dossiers end to end "
        f"({EXTERNAL_PER_DOSSIER} external + {USER_PER_DOSSIER} user tasks each); whole run {total:.0f} s\n"
    )
    print(table(rows))
    for engine, reason in skipped.items():
        print(f"\n{engine} skipped: {reason}")
    if args.json is not None:
        report = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
            "burst_dossiers": args.burst,
            "dossiers": args.dossiers,
            "run_seconds": total,
            "skipped": skipped,
            "rows": [asdict(r) for r in rows],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
