"""The production shape started natively and run for real (issue 17, point 7).

One PostgreSQL; two Operaton nodes on one database of it (node 1 is the session's ``operaton_server``, its job
executor off as the other Operaton tests need; node 2 a second JVM of the same build on another port, job executor
on); SeaweedFS for the objects; two ``motcua serve`` processes on two ports with the same settings and var dir (as
the compose file's replicas share their volume), each pointed at a different Operaton node; two ``motcua worker``
processes, one per node. The test is its own load balancer: every request goes to the next API process, and to
the other one when the first cannot answer (connection refused, or 503 because its engine node is down).

Dossiers are received on both API processes and driven to their end, each task claimed on one process and
completed on the other; mid-flow one Operaton node is killed (SIGKILL) and restarted, then one API process and one
worker at once. Afterwards nothing is lost or doubled (dossiers, documents, audit events, engine instances and
service steps, stored objects), every signed result validates (the verification use case and poppler's
``pdfsig``), ``motcua audit verify`` and ``motcua storage check`` are clean, and sessions and rate limits hold
across the two API processes. Through ``operaton_server`` it runs in the ``operaton`` xdist group
(tests/distribution.py), after or before the other Operaton tests, never beside them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from motcua.app import DEMO_PASSWORD
from persistence.schema import audit_log, document, dossier, notification
from tests.conftest import HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, forget_operaton_instances, minimal_pdf
from tests.integration.flows import (
    EXPECTED_STATUSES,
    PLAN_CYCLE,
    PLANS,
    SIGN,
    Snapshot,
    check_prefix,
    expected_completions,
    finished,
    next_actions,
    snapshot,
)
from tests.integration.operaton import OperatonServer, OperatonUnavailable
from tests.integration.postgres import PostgresCluster
from tests.integration.seaweed import SeaweedServer, start_server
from tests.integration.server import (
    ADMIN,
    LEADER,
    RECEPTION,
    SPECIALIST,
    Api,
    MotcuaServer,
    free_port,
    stop_process,
)
from tests.pdftools import nss_db_trusting, pdfsig
from tests.services import service_missing

pytestmark = pytest.mark.integration

DOSSIERS = 12
LOCK_SECONDS = 10  # a killed worker's external task comes back to the other worker within the test
CLERK = "vanthu.xa1"
AUDITOR = "thanhtra.tinh"
OFFICIALS = (RECEPTION, SPECIALIST, LEADER, CLERK, ADMIN, AUDITOR)
ID_NUMBER = "001090012345"  # Api.submit's applicant
BUCKET = "motcua-cluster"
PUBLIC_LOOKUPS_PER_MINUTE = 6


# ---------------------------------------------------------------------- the load balancer


class Balancer:
    """Round robin over the API processes, with the failover a load balancer does: a connection that cannot be
    made, or a 502/503, goes to the next process. A request that may have reached a process that then died is
    not sent again (its answer is a synthetic 599): the driver re-reads the dossier's history instead."""

    def __init__(self, apis: list[Api]) -> None:
        self.apis = apis
        self._turn = 0
        self._lock = threading.Lock()
        self.failovers: Counter[str] = Counter()
        self.served: Counter[int] = Counter()
        self.claims: Counter[str] = Counter()

    def _next(self) -> int:
        with self._lock:
            self._turn += 1
            return self._turn

    def request(self, method: str, path: str, as_user: str | None = None, **kw: Any) -> httpx.Response:
        start = self._next()
        tries = 40  # ≈ 10 s of failing over before giving up: both processes down for longer is a failure
        for attempt in range(tries):
            index = (start + attempt) % len(self.apis)
            api = self.apis[index]
            headers = {"Authorization": f"Bearer {api.token(as_user)}"} if as_user else {}
            try:
                r = api.http.request(method, path, headers=headers, **kw)
            except httpx.ConnectError:
                self.failovers["connect"] += 1
                time.sleep(0.25 if attempt % 2 else 0)
                continue
            except httpx.TransportError as exc:
                if method != "GET":
                    return httpx.Response(599, text=f"lost response: {exc!r}")
                self.failovers["transport"] += 1
                continue
            if r.status_code in (502, 503):
                self.failovers[str(r.status_code)] += 1
                time.sleep(0.25 if attempt % 2 else 0)
                continue
            self.served[index] += 1
            return r
        raise AssertionError(f"no API process answered {method} {path} in {tries} attempts")

    def get(self, path: str, as_user: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, as_user, **kw)

    # the part of tests.integration.server.Api that tests.integration.flows drives
    def history(self, code: str) -> list[dict[str, Any]]:
        r = self.get(f"/api/dossiers/{code}/history", SPECIALIST)
        assert r.status_code == 200, r.text
        return list(r.json())

    def tasks(self, as_user: str) -> list[dict[str, Any]]:
        r = self.get("/api/tasks", as_user)
        assert r.status_code == 200, r.text
        return list(r.json())

    def complete(self, task_id: str, as_user: str, decision: str | None) -> httpx.Response:
        """Claim on one API process, complete on the next (the round robin alternates them)."""
        claimed = self.request("POST", f"/api/tasks/{task_id}/claim", as_user)
        self.claims[str(claimed.status_code)] += 1
        return self.request("POST", f"/api/tasks/{task_id}/complete", as_user, json={"decision": decision})

    def supplement(self, code: str, as_user: str = RECEPTION) -> httpx.Response:
        files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", minimal_pdf("bo sung"), "application/pdf")}
        return self.request("POST", f"/api/dossiers/{code}/supplement", as_user, files=files)

    def sign_on_device(self, code: str, as_user: str = LEADER) -> httpx.Response:
        from signing.device import DeviceClient
        from signing.pki import DEVELOPMENT_PASSPHRASE

        pending = [p for p in self.get("/api/signatures/pending", as_user).json() if p["dossier_code"] == code]
        assert len(pending) == 1, pending
        key_file = self.apis[0].server.var_dir / "pki" / "person" / f"{as_user}.p12"
        value = DeviceClient(key_file.read_bytes(), DEVELOPMENT_PASSPHRASE).sign(
            base64.b64decode(pending[0]["data_to_sign"]), pending[0]["digest_algorithm"]
        )
        return self.request(
            "POST",
            f"/api/signatures/{pending[0]['id']}",
            as_user,
            json={"signature_value": base64.b64encode(value).decode()},
        )


# ---------------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    database_url: str
    seaweed: SeaweedServer
    nodes: list[OperatonServer]
    apis: list[MotcuaServer]
    clients: list[Api]
    workers: list[Any] = field(default_factory=list)  # subprocess.Popen of `motcua worker`, one per node
    restarts: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)

    def start_worker(self, index: int) -> None:
        proc = self.apis[index].spawn(f"worker-{index + 1}", "worker", "--threads", "2")
        if index < len(self.workers):
            self.workers[index] = proc
        else:
            self.workers.append(proc)


def _motcua_env(database_url: str, storage_url: str, node: OperatonServer) -> dict[str, str]:
    return {
        "MOTCUA_ENGINE": "operaton",
        "MOTCUA_OPERATON_URL": node.url,
        "MOTCUA_OPERATON_USER": node.user,
        "MOTCUA_OPERATON_PASSWORD": node.password,
        "MOTCUA_DATABASE_URL": database_url,
        "MOTCUA_STORAGE_URL": storage_url,
        "MOTCUA_DEMO_CLOCK": "false",  # several processes: one clock, the real one
        "MOTCUA_WORKERS_IN_PROCESS": "false",
        "MOTCUA_PUBLIC_LOOKUPS_PER_MINUTE": str(PUBLIC_LOOKUPS_PER_MINUTE),
        "MOTCUA_WORKER_LOCK_SECONDS": str(LOCK_SECONDS),
        "MOTCUA_WORKER_MAX_TASKS": "1",  # a fetch locks what a thread handles now, not ten tasks that wait
        "MOTCUA_WORKER_POLL_SECONDS": "2",
        "MOTCUA_WORKER_RETRY_SECONDS": "1",
    }


@pytest.fixture(scope="module")
def cluster(
    postgres_cluster: PostgresCluster, operaton_server: OperatonServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The session's Operaton (on the suite's PostgreSQL) is node 1; node 2 is a second JVM of the same build on
    the same database, with its job executor on. Started in parallel where the order allows it: node 2 beside
    SeaweedFS and ``motcua init`` (which needs S3), then each API process as soon as its node answers."""
    began = time.monotonic()
    forget_operaton_instances(operaton_server)  # other tests' instances: their external tasks are not ours
    base = tmp_path_factory.mktemp("cluster")
    database_url = postgres_cluster.fresh_database()
    second = OperatonServer(
        jar=operaton_server.jar,
        jdbc=operaton_server.jdbc,
        log_dir=base / "operaton-2",
        user=operaton_server.user,
        password=operaton_server.password,
        port=free_port(),
    )
    nodes = [operaton_server, second]
    var_dir = base / "var"  # one var dir for every process, as the compose file's services share one volume
    apis: list[MotcuaServer] = []
    seaweed: SeaweedServer | None = None
    made: Cluster | None = None
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            node = pool.submit(second.start)
            seaweed = start_server(base / "seaweed")
            for n, on in enumerate(nodes):
                (base / f"api-{n + 1}").mkdir()
                env = _motcua_env(database_url, seaweed.url(BUCKET), on)
                apis.append(
                    MotcuaServer(var_dir=var_dir, log_dir=base / f"api-{n + 1}", port=free_port(), extra_env=env)
                )
            apis[0].init()
            first_api = pool.submit(apis[0].start)
            try:
                node.result()
            except OperatonUnavailable as exc:
                service_missing(f"Operaton unavailable: {exc}")
            apis[1].start()
            first_api.result()
        made = Cluster(database_url, seaweed, nodes, apis, [Api(s) for s in apis])
        for n in range(len(apis)):
            made.start_worker(n)
        made.timings["start"] = time.monotonic() - began
        yield made
    finally:
        for client in made.clients if made else []:
            client.close()
        for s in apis:
            s.close()
        second.stop()
        if operaton_server.proc is None:  # killed by the test, which failed before it was back
            operaton_server.start()
        if seaweed is not None:
            seaweed.stop()
            seaweed.remove_sockets()


# ---------------------------------------------------------------------- the flow, with faults


@dataclass
class Chaos:
    """Kills at fixed points of the flow's progress (share of its steps done), each restarted in the background."""

    cluster: Cluster
    restarting: list[threading.Thread] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stage: int = 0

    def _later(self, what: str, delay: float, action: Callable[[], None]) -> None:
        def run() -> None:
            time.sleep(delay)
            began = time.monotonic()
            try:
                action()
            except BaseException as exc:  # reported by settle(), in the test's thread
                self.failed.append(f"{what}: {exc!r}")
                raise
            self.log.append(f"{what} back after {time.monotonic() - began:.1f} s")

        thread = threading.Thread(target=run, name=f"restart {what}", daemon=True)
        thread.start()
        self.restarting.append(thread)

    def kill_engine_node(self) -> None:
        node = self.cluster.nodes[0]
        node.kill()
        self.cluster.restarts["operaton node"] += 1
        self.log.append(f"killed Operaton node 1 (port {node.port})")
        self._later("Operaton node 1", 3.0, node.start)

    def kill_api_and_worker(self) -> None:
        c = self.cluster
        c.apis[1].kill()
        c.workers[1].kill()
        c.workers[1].wait(timeout=10)
        c.restarts["api process"] += 1
        c.restarts["worker process"] += 1
        self.log.append(f"killed API process 2 (port {c.apis[1].port}) and worker 2")

        def back() -> None:
            c.apis[1].start()  # the client's pool drops the dead connections itself (reconnect() would race)
            c.start_worker(1)

        self._later("API process 2 and worker 2", 1.0, back)

    def due(self, progress: float) -> Callable[[], None] | None:
        """The fault to inject with this round's requests (so it lands while they are in flight), if any."""
        if self.stage == 0 and progress >= 0.15:
            self.stage = 1
            return self.kill_engine_node
        if self.stage == 1 and progress >= 0.4:
            if progress >= 0.6:  # keep the second fault inside the flow: wait for the engine node if need be
                self.restarting[0].join(timeout=120)
            if not self.restarting[0].is_alive():
                self.stage = 2
                return self.kill_api_and_worker
        return None

    def settle(self) -> None:
        for thread in self.restarting:
            thread.join(timeout=120)
            assert not thread.is_alive(), f"{thread.name} did not finish"
        assert not self.failed, self.failed


def drive_through_faults(
    lb: Balancer, plans: dict[str, str], pool: ThreadPoolExecutor, chaos: Chaos, timeout: float = 300.0
) -> tuple[dict[str, Snapshot], Counter[str]]:
    """tests.integration.flows.drive_to_end, tolerating the answers of a cluster losing members (a lost response,
    a task another process completed meanwhile): each round re-reads every dossier's history and acts on it."""
    total = sum(len(PLANS[p]) for p in plans.values())
    refused: Counter[str] = Counter()
    snaps: dict[str, Snapshot] = {}
    pending = sorted(plans)
    deadline = time.monotonic() + timeout
    while True:
        fresh = dict(zip(pending, pool.map(lambda c: snapshot(lb, c), pending), strict=True))
        for code, snap in fresh.items():
            check_prefix(plans[code], snap)
        snaps.update(fresh)
        pending = [c for c in pending if not finished(plans, snaps[c])]
        if not pending and chaos.stage >= 2:
            return snaps, refused
        assert time.monotonic() < deadline, {c: (plans[c], snaps[c].status, snaps[c].done) for c in pending}
        progress = sum(len(s.done) for s in snaps.values()) / total
        actions = next_actions(lb, plans, {c: snaps[c] for c in pending})
        fault = chaos.due(progress)
        work = [pool.submit(lambda a=a: (a[0], a[1]())) for a in actions]
        if fault is not None:
            time.sleep(0.02)  # the round's requests are on their way
            fault()
        for future in work:
            code, r = future.result()
            if r.status_code != 200:
                refused[str(r.status_code)] += 1
                assert r.status_code in (404, 409, 599), f"{code}: {r.status_code} {r.text}"
        if not actions:
            time.sleep(0.15)  # nothing to do until a worker moves a dossier on


# ---------------------------------------------------------------------- checks


def _rows(database_url: str) -> dict[str, Any]:
    """What the database holds per dossier: documents by kind, audit events by kind, notifications."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            codes = [r.code for r in conn.execute(select(dossier.c.code))]
            docs = Counter(
                (r.dossier_code, r.kind) for r in conn.execute(select(document.c.dossier_code, document.c.kind))
            )
            events = Counter(
                (r.dossier_code, r.kind)
                for r in conn.execute(select(audit_log.c.dossier_code, audit_log.c.kind))
                if r.dossier_code
            )
            notices = Counter(
                (r.dossier_code, r.subject)
                for r in conn.execute(select(notification.c.dossier_code, notification.c.subject))
            )
            keys = conn.execute(select(func.count(), func.count(func.distinct(document.c.storage_key)))).one()
    finally:
        engine.dispose()
    return {"codes": codes, "documents": docs, "events": events, "notifications": notices, "keys": keys}


def _per_dossier(counts: Counter[tuple[str, str]], code: str) -> Counter[str]:
    return Counter({kind: n for (c, kind), n in counts.items() if c == code})


def _web_login(http: httpx.Client, base: str, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    page = http.get(f"{base}/dang-nhap")
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return http.post(
        f"{base}/dang-nhap",
        data={"username": username, "password": password, "next": "/", "csrf_token": found.group(1)},
        headers={"Origin": base},
    )


def _sessions_hold_across_processes(c: Cluster) -> None:
    """A web session made on API 1 is the same session on API 2: the pages open, and logging out on API 2 ends it
    on API 1 (sessions are tokens in the database, CSRF tokens HMACs under the shared secret key)."""
    one, two = (s.base_url for s in c.apis)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        r = _web_login(browser, one, SPECIALIST)
        assert r.status_code == 303, r.text
        cookie = r.cookies.get("motcua_session")
        assert cookie
    cookies = {"motcua_session": cookie}
    with httpx.Client(follow_redirects=False, timeout=30, cookies=cookies) as browser:
        page = browser.get(f"{two}/can-bo/nhiem-vu")
        assert page.status_code == 200 and "Trần Văn Minh" in page.text, page.text[:500]
        token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
        assert token, "the page carries no CSRF token"
        out = browser.post(f"{two}/dang-xuat", data={"csrf_token": token.group(1)}, headers={"Origin": two})
        assert out.status_code == 303, out.text
        after = browser.get(f"{one}/can-bo/nhiem-vu")
        assert after.status_code != 200 and "Trần Văn Minh" not in after.text, after.status_code


def _rate_limits_hold_across_processes(c: Cluster, code: str) -> None:
    """The public lookup limit and the failed-login throttle count hits made on both processes together."""
    one, two = (s.base_url for s in c.apis)
    settings_limit = PUBLIC_LOOKUPS_PER_MINUTE
    params = {"code": code, "id_number": ID_NUMBER}
    with httpx.Client(timeout=30) as http:
        answers = [http.get(f"{(one, two)[i % 2]}/api/public/tracking", params=params) for i in range(settings_limit)]
        assert [a.status_code for a in answers] == [200] * settings_limit, [a.text for a in answers]
        for base in (one, two):
            over = http.get(f"{base}/api/public/tracking", params=params)
            assert over.status_code == 429 and "Quá nhiều lượt tra cứu" in over.text, over.text
        wrong = [
            http.post(f"{base}/api/auth/token", json={"username": "chuyenvien2.xa1", "password": "sai"}).status_code
            for base in (one, two, one, two, one)
        ]
        assert wrong == [401] * 5, wrong
        blocked = http.post(f"{two}/api/auth/token", json={"username": "chuyenvien2.xa1", "password": DEMO_PASSWORD})
        assert blocked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in blocked.text, blocked.text


def _submit(api: Api, n: int) -> httpx.Response:
    """Api.submit with a telephone number, so any message to the applicant is a row of its own (an SMS)."""
    data = {
        "procedure_code": HOUSEHOLD_BUSINESS,
        "applicant_name": f"Hộ kinh doanh {n:02d}",
        "applicant_id_number": ID_NUMBER,
        "applicant_phone": f"09120000{n:02d}",
        "details": json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False),
    }
    files = {
        "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
        "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
    }
    return api.post("/api/dossiers", RECEPTION, data=data, files=files)


# ---------------------------------------------------------------------- the test


def test_dossiers_flow_through_a_cluster_that_loses_members(cluster: Cluster, tmp_path: Path) -> None:
    began = time.monotonic()
    c = cluster
    c.clients[0].login_all(OFFICIALS)
    c.clients[1]._tokens = c.clients[0]._tokens  # bearer tokens live in the database: one login for both
    lb = Balancer(c.clients)

    # intake on both API processes, alternately
    with ThreadPoolExecutor(max_workers=6) as pool:
        submitted = list(pool.map(lambda i: _submit(c.clients[i % 2], i), range(DOSSIERS)))
    assert [r.status_code for r in submitted] == [201] * DOSSIERS, [r.text for r in submitted if r.status_code != 201]
    codes = sorted(str(r.json()["code"]) for r in submitted)
    assert len(set(codes)) == DOSSIERS
    plans = {code: PLAN_CYCLE[i % len(PLAN_CYCLE)] for i, code in enumerate(codes)}

    chaos = Chaos(c)
    with ThreadPoolExecutor(max_workers=8) as pool:
        snaps, refused = drive_through_faults(lb, plans, pool, chaos)
    chaos.settle()
    flow_seconds = time.monotonic() - began
    for proc in c.workers:
        assert proc.poll() is None, f"a worker exited with {proc.returncode}"

    # every dossier finished once, along its plan
    for code, plan in plans.items():
        assert list(snaps[code].statuses) == EXPECTED_STATUSES[plan], (code, plan, snaps[code].statuses)
        assert snaps[code].done == PLANS[plan], (code, snaps[code].done)

    # nothing lost or doubled in the database: rows per dossier, and dossiers of one plan alike
    rows = _rows(c.database_url)
    assert sorted(rows["codes"]) == codes
    documents, events, notices = rows["documents"], rows["events"], rows["notifications"]
    by_plan: dict[str, list[tuple[Counter[str], Counter[str], Counter[str]]]] = {}
    for code, plan in plans.items():
        docs = _per_dossier(documents, code)
        assert docs["receipt"] == 1, (code, docs)
        assert docs["result"] == (0 if plan == "refuse" else 1), (code, docs)
        kinds = _per_dossier(events, code)
        del kinds["dossier.read"]  # personal data read by this test's own requests, a varying number
        # a claim is an attempt (it may have met a dead engine node): at most one per task the officials completed
        claims = kinds.pop("task.claimed", 0)
        assert claims <= sum(n for task, n in expected_completions(plan).items() if task != SIGN), (code, claims)
        completed = Counter(e["details"]["task"] for e in snaps[code].history if e["kind"] == "task.completed")
        assert completed == expected_completions(plan), (code, completed)
        by_plan.setdefault(plan, []).append((docs, kinds, _per_dossier(notices, code)))
    for plan, seen in by_plan.items():
        assert all(s == seen[0] for s in seen), f"dossiers of the plan '{plan}' differ: {seen}"
    total_documents, distinct_keys = rows["keys"]
    assert total_documents == distinct_keys, "two documents share one stored object"

    # the engine: one process instance per dossier, completed; every service step of it done once
    with c.nodes[1].client() as http:
        instances = http.get("/history/process-instance").json()
        per_key = Counter(i["businessKey"] for i in instances)
        assert per_key == Counter(codes), per_key
        assert {i["state"] for i in instances} == {"COMPLETED"}, instances
        log = http.get("/history/external-task-log", params={"successLog": "true"}).json()
        steps = Counter((e["processInstanceId"], e["activityId"]) for e in log)
        by_instance = {i["id"]: i["businessKey"] for i in instances}
        for (instance, activity), n in steps.items():
            if activity in ("accept", "issue_receipt", "seal_result"):
                assert n == 1, (by_instance[instance], activity, n)
        once = Counter(activity for _instance, activity in steps)
        signed = sum(plan != "refuse" for plan in plans.values())
        assert (once["accept"], once["issue_receipt"], once["seal_result"]) == (DOSSIERS, DOSSIERS, signed), once
        workers_seen = Counter(e["workerId"].rsplit("-", 1)[0] for e in log)

    # every signed result validates: the verification use case, and pdfsig trusting only the development root
    (tmp_path / "nss").mkdir()
    nss = nss_db_trusting(c.apis[0].var_dir / "pki" / "ca" / "root.pem", tmp_path / "nss")
    results = 0
    for code, plan in plans.items():
        if plan == "refuse":
            continue
        [result] = [d for d in lb.get(f"/api/dossiers/{code}", RECEPTION).json()["documents"] if d["kind"] == "result"]
        report = lb.get(f"/api/dossiers/{code}/documents/{result['id']}/verification", AUDITOR)
        assert report.status_code == 200, report.text
        assert report.json()["indication"] == "TOTAL-PASSED", report.json()
        assert [s["field_name"] for s in report.json()["signatures"]] == ["leader_signature", "agency_seal"]
        pdf = lb.get(f"/api/dossiers/{code}/documents/{result['id']}", RECEPTION)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.status_code
        for block in pdfsig(pdf.content, nss, tmp_path):
            assert block["Signature Validation"] == "Signature is Valid.", (code, block)
            assert block["Certificate Validation"] == "Certificate is Trusted.", (code, block)
        results += 1

    audit = c.apis[0].cli("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    check = c.apis[1].cli("storage", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    orphans = c.apis[1].cli("storage", "check", "--orphans")

    _sessions_hold_across_processes(c)
    _rate_limits_hold_across_processes(c, codes[0])

    for proc in c.workers:
        exit_code, took, killed = stop_process(proc, timeout=30)
        assert exit_code == 0 and not killed, (exit_code, took)
    print(
        f"\ncluster: {DOSSIERS} dossiers ({dict(Counter(plans.values()))}), {results} signed results, "
        f"{sum(len(s.done) for s in snaps.values())} steps, flow {flow_seconds:.1f} s, "
        f"checks {time.monotonic() - began - flow_seconds:.1f} s, start {c.timings['start']:.1f} s; "
        f"restarts {dict(c.restarts)}; {'; '.join(chaos.log)}; "
        f"failovers {dict(lb.failovers)}, refused/lost actions {dict(refused)}, claims {dict(lb.claims)}, "
        f"requests per API {dict(lb.served)}; "
        f"service steps per worker {dict(workers_seen)}; storage check --orphans: "
        f"{(orphans.stdout.strip().splitlines() or ['?'])[-1]}"
    )
    if " 0 orphan(s)" not in orphans.stdout:  # left by a killed request or a handler run twice: name them
        print(orphans.stdout)
