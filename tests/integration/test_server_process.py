"""The real ``motcua`` processes: concurrent intake, SIGKILL and restart, a second ``init``, a standalone worker.

Every server runs as ``motcua serve`` on 127.0.0.1 with its own var dir and the demo clock (Monday
2 March 2026, 08:00 +07:00, standing still unless an admin advances it).
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait

import httpx
import pytest

from dossiers.codes import parse_dossier_code
from tests.conftest import COMMUNE
from tests.integration.flows import (
    EXPECTED_STATUSES,
    PLAN_CYCLE,
    PLANS,
    drive_to_end,
    expected_completions,
    open_tasks,
    snapshot,
)
from tests.integration.server import (
    ADMIN,
    FINAL_STATUSES,
    LEADER,
    RECEPTION,
    SPECIALIST,
    Api,
    MotcuaServer,
    ServerFactory,
    kill_when_a_worker_holds_a_lock,
    locked_external_tasks,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.integration

DEMO_DAY = "260302"  # the demo clock's first day, as it appears in dossier codes
OFFICIALS = (RECEPTION, SPECIALIST, LEADER, ADMIN)


def _serial(code: str) -> int:
    return parse_dossier_code(code)[2]


# ---------------------------------------------------------------------- 1. gap-free codes


def test_parallel_intakes_get_gap_free_codes(live_server: MotcuaServer, live_api: Api) -> None:
    live_api.login_all([RECEPTION])
    before = len(live_server.codes)  # 0 when this test runs first on the session server
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: live_api.submit(name=f"Người nộp {i:02d}"), range(30)))

    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses if r.status_code != 201]
    codes = [r.json()["code"] for r in responses]
    assert len(set(codes)) == 30
    unit, day, _ = parse_dossier_code(codes[0])
    assert (unit, f"{day:%y%m%d}") == (COMMUNE, DEMO_DAY)
    assert sorted(codes) == [f"{COMMUNE}-{DEMO_DAY}-{n:04d}" for n in range(before + 1, before + 31)]
    # the in-process workers may accept a dossier before its intake response is written
    assert {r.json()["status"] for r in responses} <= {"received", "in_progress"}


# ---------------------------------------------------------------------- 2. SIGKILL and restart


COUNT = 15


def _assign_plans(codes: list[str]) -> dict[str, str]:
    return {code: PLAN_CYCLE[i % len(PLAN_CYCLE)] for i, code in enumerate(sorted(codes))}


def _outcomes(futures: list[Future[httpx.Response]]) -> Counter[str]:
    return Counter(
        str(f.result().status_code) if f.exception() is None else type(f.exception()).__name__ for f in futures
    )


def _review_tasks(api: Api) -> dict[str, str]:
    return {t["dossier_code"]: t["id"] for t in api.tasks(SPECIALIST) if t["activity_id"] == "review"}


def _first_decisions(api: Api, plans: dict[str, str]) -> list[tuple[str, str, str]]:
    """(code, review task id, decision) for every dossier, once all of them wait for their review."""

    def all_waiting() -> dict[str, str] | None:
        reviews = _review_tasks(api)
        return reviews if set(plans) <= set(reviews) else None

    reviews = wait_for("every dossier accepted and waiting for review", all_waiting, timeout=20)
    return [(code, reviews[code], str(PLANS[plan][0].decision)) for code, plan in plans.items()]


def _restart(server: MotcuaServer, api: Api) -> None:
    # External tasks the killed process had fetched stay locked until their lock expires
    # (MOTCUA_WORKER_LOCK_SECONDS=60) on the demo clock, which stands still: move it past them.
    stranded = locked_external_tasks(server.var_dir)
    print(f"external tasks locked by the killed process: {len(stranded)} {sorted(stranded)}")
    server.start()
    api.reconnect()
    api.advance_clock(hours=0.05)


def _kill_during_intake(server: MotcuaServer, api: Api, pool: ThreadPoolExecutor, rng: random.Random) -> list[str]:
    """SIGKILL while intakes are in flight; after the restart the codes that exist are still 1..n without a
    gap (an intake that did not commit gave its number back), then top up to COUNT dossiers."""
    futures = [pool.submit(api.submit, name=f"Hộ kinh doanh {i:02d}") for i in range(COUNT)]
    delay = rng.uniform(0.05, 0.5)
    time.sleep(delay)
    server.kill()
    done, _ = wait(futures, timeout=40)
    assert len(done) == COUNT
    print(f"killed {delay * 1000:.0f} ms into the intakes: {dict(_outcomes(futures))}")
    acknowledged = {f.result().json()["code"] for f in futures if f.exception() is None and f.result().is_success}

    _restart(server, api)
    probed = {n: api.get(f"/api/dossiers/{COMMUNE}-{DEMO_DAY}-{n:04d}", RECEPTION).status_code for n in range(1, 17)}
    assert set(probed.values()) <= {200, 404}, probed
    existing = [n for n, status in probed.items() if status == 200]
    assert existing == list(range(1, len(existing) + 1)), f"gap in the serials that survived the kill: {existing}"
    codes = [f"{COMMUNE}-{DEMO_DAY}-{n:04d}" for n in existing]
    assert acknowledged <= set(codes), "an intake answered 201 before the kill is gone"
    print(f"{len(acknowledged)} intakes answered 201, {len(codes)} dossiers exist after the restart")

    more = list(pool.map(lambda i: api.submit(name=f"Bổ sung {i:02d}"), range(COUNT - len(codes))))
    assert [r.status_code for r in more] == [201] * len(more), [r.text for r in more]
    codes += [r.json()["code"] for r in more]
    assert sorted(_serial(c) for c in codes) == list(range(1, COUNT + 1))
    return codes


def _kill_around_completions(
    moment: str, server: MotcuaServer, api: Api, pool: ThreadPoolExecutor, rng: random.Random
) -> dict[str, str]:
    responses = list(pool.map(lambda i: api.submit(name=f"Hộ kinh doanh {i:02d}"), range(COUNT)))
    assert [r.status_code for r in responses] == [201] * COUNT, [r.text for r in responses]
    plans = _assign_plans([r.json()["code"] for r in responses])
    assert sorted(_serial(c) for c in plans) == list(range(1, COUNT + 1))

    decisions = _first_decisions(api, plans)
    futures = [pool.submit(api.complete, task_id, SPECIALIST, d) for _, task_id, d in decisions]
    if moment == "during_burst":
        delay = rng.uniform(0.01, 0.25)
        time.sleep(delay)
        server.kill()
        done, _ = wait(futures, timeout=40)
        assert len(done) == len(futures)
        print(f"killed {delay * 1000:.0f} ms into the burst of completions: {dict(_outcomes(futures))}")
    else:
        assert [f.result().status_code for f in futures] == [200] * len(futures)
        # the batch started service tasks (request_supplement, refuse): kill while one is being handled
        hit = kill_when_a_worker_holds_a_lock(server)
        print(f"killed {'while a worker held a lock' if hit else 'after 2 s without seeing a lock'}")
    _restart(server, api)
    return plans


@pytest.mark.parametrize("moment", ["during_intake", "during_burst", "after_batch"])
def test_sigkill_then_restart_every_dossier_finishes(moment: str, motcua_server_factory: ServerFactory) -> None:
    """SIGKILL ``motcua serve`` at one moment, restart it on the same var dir, drive every dossier to its
    end: nothing lost, nothing doubled, the audit chain intact.

    during_intake: while 15 intakes are in flight; during_burst: at a random delay into a burst of
    parallel review decisions; after_batch: right after a batch of decisions, as soon as an in-process
    worker holds the lock of a service task it started."""
    seed = int(os.environ.get("MOTCUA_TEST_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"moment={moment} seed={seed} (MOTCUA_TEST_SEED={seed} repeats the kill delay)")
    server = motcua_server_factory(f"kill-{moment}")
    api = Api(server)
    try:
        api.login_all(OFFICIALS)
        with ThreadPoolExecutor(max_workers=10) as pool:
            if moment == "during_intake":
                plans = _assign_plans(_kill_during_intake(server, api, pool, rng))
            else:
                plans = _kill_around_completions(moment, server, api, pool, rng)
            snaps = drive_to_end(api, plans, pool, timeout=45)

        for code, plan in plans.items():
            snap = snaps[code]
            completed = Counter(e["details"]["task"] for e in snap.history if e["kind"] == "task.completed")
            assert completed == expected_completions(plan), f"{code} ({plan}): {completed}"
            supplemented = sum(e["kind"] == "dossier.supplemented" for e in snap.history)
            assert supplemented == (1 if plan == "supplement" else 0), code
            assert list(snap.statuses) == EXPECTED_STATUSES[plan], f"{code} ({plan}): {snap.statuses}"
            finals = [s for s in snap.statuses if s in FINAL_STATUSES]
            assert len(finals) == 1, f"{code}: {snap.statuses}"
            view = api.dossier(code)
            assert view["status"] == finals[0]
            assert view["finished_at"] is not None
        assert not [key for key in open_tasks(api) if key[0] in plans], "user tasks left behind"
        incidents = api.get("/api/incidents", ADMIN)
        assert incidents.status_code == 200 and incidents.json() == [], incidents.text

        assert_audit_chain_intact(server)
    finally:
        api.close()


def assert_audit_chain_intact(server: MotcuaServer) -> None:
    """``motcua audit-verify`` with the server's environment: nothing lost, doubled, edited or reordered."""
    verified = server.cli("audit-verify", timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain intact" in verified.stdout, verified.stdout


# ---------------------------------------------------------------------- 3. a second init and start


def test_second_init_and_start_reuse_the_state(live_server: MotcuaServer, live_api: Api) -> None:
    live_api.login_all([RECEPTION])
    r = live_api.submit(name="Trần Thị Bình")
    assert r.status_code == 201, r.text
    codes = list(live_server.codes)

    def all_accepted() -> dict[str, dict[str, object]] | None:
        """Accepted and given their receipt (the step after acceptance): nothing left moving before the stop."""
        views = {code: live_api.dossier(code) for code in codes}
        settled = all(
            v["status"] == "in_progress" and any(d["kind"] == "receipt" for d in v["documents"]) for v in views.values()
        )
        return views if settled else None

    before = wait_for("the in-process workers to accept every dossier", all_accepted, timeout=30, every=0.2)

    exit_code, took, killed = live_server.stop() or (None, 0.0, False)
    # a graceful stop: uvicorn drains, then `serve` stops its workers and scheduler and returns
    assert (exit_code, killed) == (0, False), f"SIGTERM: exit {exit_code} after {took:.1f} s"

    out = live_server.init().stdout
    for key in ("structures", "procedures", "deployed"):
        assert f"{key}: unchanged" in out, out
    assert "demo users" not in out, out

    live_server.start()
    serve_log = (live_server.log_dir / "serve.log").read_text(encoding="utf-8")
    assert "development mode" in serve_log and "production mode" not in serve_log  # the startup says its mode
    live_api.reconnect()
    for code, view in before.items():
        again = live_api.dossier(code)
        for field in ("code", "status", "applicant", "received_at", "due_at", "documents"):
            assert again[field] == view[field], (code, field)
    r = live_api.submit(name="Lê Văn Cường")
    assert r.status_code == 201, r.text
    assert _serial(r.json()["code"]) == len(codes) + 1  # the day's counter survived the restart
    assert_audit_chain_intact(live_server)  # the chain written on the demo clock (+07:00) verifies


# ---------------------------------------------------------------------- 4. standalone worker


def test_standalone_worker_process_moves_the_dossier(motcua_server_factory: ServerFactory) -> None:
    server = motcua_server_factory("no-inproc-workers", extra_env={"MOTCUA_WORKERS_IN_PROCESS": "false"})
    api = Api(server)
    try:
        api.login_all([RECEPTION, SPECIALIST])
        r = api.submit()
        assert r.status_code == 201, r.text
        code = r.json()["code"]

        # Nobody handles dossier.accept: the dossier stays received for a second or more.
        for _ in range(5):
            assert api.dossier(code)["status"] == "received"
            time.sleep(0.25)
        assert api.tasks(SPECIALIST) == []

        worker = server.spawn("worker", "worker")
        try:
            wait_for(
                "the standalone worker to accept the dossier",
                lambda: worker.poll() is None and snapshot(api, code).status == "in_progress",
                timeout=20,
                every=0.2,
            )
            # the review task exists once the engine step that completed dossier.accept has committed
            reviews = wait_for(
                "the review task",
                lambda: [t["activity_id"] for t in api.tasks(SPECIALIST) if t["dossier_code"] == code],
                timeout=10,
            )
            assert reviews == ["review"]
            assert worker.poll() is None, f"worker exited with {worker.returncode}"
        finally:
            exit_code, took, killed = stop_process(worker, timeout=30)
        assert not killed, f"the worker ignored SIGTERM for {took:.1f} s"
        assert exit_code == 0 and took < 30, (exit_code, took)
    finally:
        api.close()


# ---------------------------------------------------------------------- the address printed on receipts


def test_the_receipt_sends_citizens_to_the_address_the_server_answers_on(
    live_server: MotcuaServer, live_api: Api
) -> None:
    """A server on a port other than 8000 printed ``http://127.0.0.1:8000/tra-cuu…`` on every receipt (and in its
    QR code); with no MOTCUA_PUBLIC_BASE_URL the link is the server's own address."""
    live_api.login_all([RECEPTION])
    r = live_api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]

    def receipt() -> dict[str, str] | None:
        documents = live_api.get(f"/api/dossiers/{code}", RECEPTION).json()["documents"]
        return next((d for d in documents if d["kind"] == "receipt"), None)

    doc = wait_for("the receipt", receipt)
    pdf = live_api.get(f"/api/dossiers/{code}/documents/{doc['id']}", RECEPTION)
    assert pdf.status_code == 200
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout
    printed = " ".join(text.decode().split())
    assert live_server.port != 8000
    assert f"{live_server.base_url}/tra-cuu?ma={code}" in printed, printed
