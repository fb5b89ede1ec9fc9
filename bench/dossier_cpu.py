"""Server CPU and stored bytes per dossier, end to end (issue 17, point 5): N household-business dossiers on the
embedded engine, in this process, through the use cases the pages call — registered at the counter, accepted and
given their sealed receipt by the workers, reviewed, approved, signed on the leader's device, numbered by the
clerk, sealed by the agency and handed back — as ``motcua/samples.py`` and ``tests/e2e/test_dossier_flow.py``
drive them.

Prints the process CPU time per dossier (``time.process_time``: the workers, the engine, the database, the PDFs
and the signatures; the leader's device signature is the only client-side step and is negligible), the SQL
statements per dossier, the stored bytes per dossier (object store and database growth), the size of a receipt
and of a signed result — beside a baseline measured in the same run, one stock pyHanko signature of a small PDF
(invisible, PAdES B-B, the agency's P-256 key loaded once), so the figures compare across machines.
``--profile`` adds the top cumulative functions (cProfile, this thread only: the forms are rendered in a
thread of their own, ``documents.time_limit``) of the timed dossiers.

Run: ``.venv/bin/python -m bench.dossier_cpu --dossiers 20`` (as a module, so ``bench/signing.py`` does not
shadow the ``signing`` package). The first dossier is a warm-up (fonts, templates, keys loaded once per process)
and is not counted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event

from bench.task_list import DETAILS, HOUSEHOLD
from documents.samples import sample_pdf
from dossiers.model import Person
from motcua.app import build_runtime, init_state
from motcua.settings import Settings
from services.intake import Applicant
from services.uploads import Upload

AGENCY = "000.00.31.H99"
RECEPTION, SPECIALIST, LEADER, CLERK = "tiepnhan.xa1", "chuyenvien1.xa1", "lanhdao.xa1", "vanthu.xa1"


class Flow:
    """One runtime and the people of commune 1; :meth:`dossier` drives one dossier from the counter to its return."""

    def __init__(self, runtime: Any) -> None:
        from signing.device import DeviceClient

        self.runtime = runtime
        self.people = {name: self._person(name) for name in (RECEPTION, SPECIALIST, LEADER, CLERK)}
        key_file = runtime.pki.pkcs12_path(f"person:{LEADER}")
        self.device = DeviceClient(key_file.read_bytes(), runtime.settings.key_passphrase)
        self.paper = sample_pdf("Giay de nghi dang ky ho kinh doanh", "Hồ sơ đo chi phí.")
        self.identity = sample_pdf("Can cuoc cong dan", "Hồ sơ đo chi phí.")
        self.count = 0
        self.phases: dict[str, float] = {}  # CPU seconds per step of the flow, summed over the dossiers
        self.statements = 0  # SQL statements so far (counted by run() while the dossiers are timed)
        self.phase_statements: dict[str, int] = {}  # SQL statements per step of the flow, summed over the dossiers
        self._statements_at = 0

    def _person(self, username: str) -> Person:
        found = self.runtime.accounts.get(username)
        if found is None:
            raise SystemExit(f"no demo person {username}: the state was initialised without the demo people")
        return found

    def _decide(self, username: str, code: str, decision: str | None) -> None:
        person = self.people[username]
        tasks = [t for t in self.runtime.tasks.tasks_for(person) if t["dossier_code"] == code]
        if len(tasks) != 1:
            raise SystemExit(f"{code}: expected one task for {username}, found {len(tasks)}")
        self.runtime.tasks.complete(person, tasks[0]["id"], decision, None)
        self.runtime.worker.drain()

    def _phase(self, name: str, began: float) -> float:
        now = time.process_time()
        self.phases[name] = self.phases.get(name, 0.0) + now - began
        self.phase_statements[name] = self.phase_statements.get(name, 0) + self.statements - self._statements_at
        self._statements_at = self.statements
        return now

    def dossier(self) -> str:
        self.count += 1
        self._statements_at = self.statements  # the previous dossier's final read is no step's
        began = time.process_time()
        uploads = [
            Upload("giay_de_nghi", "giay-de-nghi.pdf", "application/pdf", io.BytesIO(self.paper)),
            Upload("giay_to_phap_ly", "cccd.pdf", "application/pdf", io.BytesIO(self.identity)),
        ]
        view = self.runtime.intake.intake(
            self.people[RECEPTION],
            HOUSEHOLD,
            Applicant(f"Nguyễn Văn {self.count}", f"001090{self.count:06d}", "0912345678"),
            uploads,
            agency_code=AGENCY,
            details=DETAILS,
        )
        code = str(view["code"])
        began = self._phase("intake", began)
        self.runtime.worker.drain()  # dossier.accept, documents.receipt (sealed)
        began = self._phase("accept and sealed receipt", began)
        self._decide(SPECIALIST, code, "approve")
        began = self._phase("specialist's review", began)
        self._decide(LEADER, code, "approve")  # then result.prepare
        began = self._phase("leader's approval, result prepared for signing", began)
        leader = self.people[LEADER]
        for pending in self.runtime.signatures.pending_for(leader):
            if pending.dossier_code == code:
                device = time.process_time()
                value = self.device.sign(pending.data_to_sign, pending.digest_algorithm)  # the leader's device
                began += time.process_time() - device  # not the server's CPU
                self.runtime.signatures.complete(leader, pending.id, value)
        self.runtime.worker.drain()
        began = self._phase("leader's signature finished", began)
        self._decide(CLERK, code, None)  # register_number; then result.seal, dossier.result_ready
        began = self._phase("number, date and agency seal", began)
        self._decide(RECEPTION, code, None)  # return_result; then dossier.close
        began = self._phase("hand-over and close", began)
        status = self.runtime.shop.dossier_view(code)["status"]
        if status != "returned":
            raise SystemExit(f"{code} ended as {status}, not returned")
        return code

    def documents(self, code: str) -> dict[str, int]:
        """Bytes of each generated document of dossier ``code`` by kind (uploads aside)."""
        return {d["kind"]: int(d["size"]) for d in self.runtime.shop.dossier_view(code)["documents"]}


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def baseline_ms(runs: int = 20) -> tuple[float, float]:
    """CPU milliseconds of one stock pyHanko signature (invisible PAdES B-B, 1-page PDF, P-256 key kept): the
    median and the fastest of ``runs``."""
    import datetime as dt

    from bench.signing import AGENCY as SEAL_AGENCY
    from bench.signing import AGENCY_NAME, make_pdf, reloaded_simple_signer, sign_with
    from signing.pki import DevelopmentPki

    with tempfile.TemporaryDirectory() as tmp:
        pki = DevelopmentPki(Path(tmp) / "pki")
        pki.ensure([(SEAL_AGENCY, AGENCY_NAME)], [], dt.datetime.now(dt.UTC))
        signer = reloaded_simple_signer(pki)
        pdf = make_pdf(1)
        sign_with(pdf, signer)  # warm-up
        times: list[float] = []
        for _ in range(runs):
            began = time.process_time()
            sign_with(pdf, signer)
            times.append((time.process_time() - began) * 1000)
    return statistics.median(times), min(times)


def run(dossiers: int, profile: bool, top: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(var_dir=Path(tmp) / "var", demo_clock=True)
        init_state(settings)
        runtime = build_runtime(settings)
        try:
            flow = Flow(runtime)
            first = flow.dossier()  # warm-up: what a process does once
            documents = flow.documents(first)
            flow.phases.clear()
            flow.phase_statements.clear()
            objects_before = _tree_bytes(settings.objects_dir)
            database = Path(str(settings.resolved_database_url).removeprefix("sqlite:///"))
            db_before = database.stat().st_size if database.exists() else 0
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1
                flow.statements += 1

            event.listen(runtime.db, "before_cursor_execute", count)
            profiler = cProfile.Profile() if profile else None
            began_cpu, began_wall = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            each: list[float] = []
            for _ in range(dossiers):
                began = time.process_time()
                flow.dossier()
                each.append(time.process_time() - began)
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - began_cpu
            wall = time.perf_counter() - began_wall
            event.remove(runtime.db, "before_cursor_execute", count)
            objects = _tree_bytes(settings.objects_dir) - objects_before
            db_growth = (database.stat().st_size if database.exists() else 0) - db_before
        finally:
            runtime.close()
    figures: dict[str, Any] = {
        "dossiers": dossiers,
        "cpu_ms_per_dossier": round(cpu * 1000 / dossiers, 1),
        "cpu_ms_median_min": [round(statistics.median(each) * 1000, 1), round(min(each) * 1000, 1)],
        "wall_ms_per_dossier": round(wall * 1000 / dossiers, 1),
        "sql_statements_per_dossier": statements // dossiers,
        "object_store_bytes_per_dossier": objects // dossiers,
        "database_bytes_per_dossier": db_growth // dossiers,
        "receipt_bytes": documents.get("receipt"),
        "result_bytes": documents.get("result"),
        "cpu_ms_per_dossier_by_step": {k: round(v * 1000 / dossiers, 1) for k, v in flow.phases.items()},
        "sql_statements_per_dossier_by_step": {k: round(v / dossiers, 1) for k, v in flow.phase_statements.items()},
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
        figures["profile"] = out.getvalue()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20, help="timed dossiers (after one warm-up)")
    parser.add_argument("--profile", action="store_true", help="print the top cumulative functions (cProfile)")
    parser.add_argument("--top", type=int, default=60, help="how many functions --profile prints")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    base, fastest = baseline_ms()
    figures = run(args.dossiers, args.profile, args.top)
    report = figures.pop("profile", None)
    figures["baseline_pyhanko_signature_cpu_ms_median_min"] = [round(base, 2), round(fastest, 2)]
    figures["dossier_in_baseline_signatures"] = round(figures["cpu_ms_median_min"][0] / base, 1)
    print(json.dumps(figures, ensure_ascii=False))
    if report:
        print(report)


if __name__ == "__main__":
    main()
