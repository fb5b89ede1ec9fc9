"""The officials' task list as the office grows (issue 17, point 1): N household-business dossiers registered at the
counter through the intake use case and moved by the real workers to the specialist's review — except the
receipt, whose signing ``bench/signing.py`` measures (here a no-op, so building 2,000 dossiers takes a minute, not
twenty) — then the specialist's list is read through ``TaskDesk.task_rows`` (what ``/can-bo/nhiem-vu`` and
``GET /api/tasks`` show): milliseconds per list and SQL statements per list, beside a bare ``SELECT 1`` round
trip of the same database so the figures compare across machines.

The open tasks are spread over ``--agencies`` agencies (default 20, as in a province): one dossier in that many
stays with the specialist's commune, the others' review steps are handed to the other agencies of the demo
structure (their ``current_agency`` and the task row's tenant, as a joint hand-off sets them). The list is read
*before* (the engine returns the role's tasks of every agency and the desk drops the others in Python — what the
desk did until issue 17) and *after* (the engine returns the role's tasks of the specialist's agency only, through
its index), plus the JSON API's first page (``limit`` 200).

Run: ``.venv/bin/python -m bench.task_list --dossiers 500 2000`` (SQLite in a temporary directory; as a module, so
``bench/signing.py`` does not shadow the ``signing`` package).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event, select, text, update

from dossiers.clock import SimulatedClock
from dossiers.model import Role
from motcua.app import build_runtime, init_state
from motcua.demo import sample_pdf
from motcua.settings import Settings
from persistence.schema import wf_user_task
from persistence.uow import transaction
from services.intake import Applicant
from services.uploads import Upload
from workers.runtime import Complete

HOUSEHOLD = "1.001612"
DETAILS = {
    "business_name": "Tạp hóa Bình An",
    "business_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "business_lines": ["Bán lẻ lương thực, thực phẩm"],
    "capital_vnd": 100_000_000,
    "owner_birth_date": "1985-04-12",
    "owner_address": "Xã Hòa An, tỉnh Demo",
}


def build(var_dir: Path, dossiers: int, agencies: int = 20) -> Any:
    settings = Settings(var_dir=var_dir, demo_clock=True)
    init_state(settings)
    runtime = build_runtime(settings)
    runtime.worker.handlers["documents.receipt"] = lambda ctx: Complete({"receipt_document_id": "bench"})
    clerk = runtime.accounts.get("tiepnhan.xa1")
    assert clerk is not None
    paper = sample_pdf("Giay de nghi")
    for i in range(dossiers):
        uploads = [
            Upload("giay_de_nghi", "de-nghi.pdf", "application/pdf", _stream(paper)),
            Upload("giay_to_phap_ly", "cccd.pdf", "application/pdf", _stream(paper)),
        ]
        runtime.intake.intake(
            clerk, HOUSEHOLD, Applicant(f"Nguyễn Văn {i}", f"0010900{i:05d}"), uploads, details=DETAILS
        )
        if i % 50 == 49:
            runtime.worker.drain()
            assert isinstance(runtime.clock, SimulatedClock)
            runtime.clock.advance(dt.timedelta(minutes=7))  # dossiers through the day, over the days
    runtime.worker.drain()
    spread(runtime, clerk.agency_code, agencies)
    return runtime


def spread(runtime: Any, home: str | None, agencies: int) -> None:
    """Keep one open task in ``agencies`` with ``home``; hand the others to the structure's other agencies."""
    others = sorted(a.code for a in runtime.shop.structure_now().agencies if a.code != home)
    with transaction(runtime.db) as conn:
        rows = conn.execute(select(wf_user_task.c.id, wf_user_task.c.variables).order_by(wf_user_task.c.id)).all()
        for i, row in enumerate(rows):
            if i % agencies == 0:
                continue
            acting = others[i % len(others)]
            conn.execute(
                update(wf_user_task)
                .where(wf_user_task.c.id == row.id)
                .values(tenant=acting, variables={**row.variables, "current_agency": acting})
            )


class EveryAgency:
    """The engine as the desk used it before issue 17: a role's tasks of every agency, whatever the tenant."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def user_tasks(self, **query: Any) -> Any:
        return self.engine.user_tasks(**(query | {"tenant": None, "offset": 0, "limit": None}))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def _stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def timed(runtime: Any, read: Any, repeat: int) -> tuple[int, float, int]:
    """(rows, median milliseconds, SQL statements) of one list read ``repeat`` times."""
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.db, "before_cursor_execute", count)
    timings, rows, per_list = [], 0, 0
    for _ in range(repeat):
        statements_before = statements
        began = time.perf_counter()
        rows = len(read())
        timings.append((time.perf_counter() - began) * 1000)
        per_list = statements - statements_before
    event.remove(runtime.db, "before_cursor_execute", count)
    return rows, round(statistics.median(timings), 1), per_list


def measure(runtime: Any, repeat: int = 5) -> dict[str, float]:
    specialist = runtime.accounts.get("chuyenvien1.xa1")
    assert specialist is not None and specialist.role == Role.SPECIALIST
    tasks = runtime.tasks
    with transaction(runtime.db, read_only=True) as conn:
        open_tasks = len(conn.execute(select(wf_user_task.c.id)).all())
    engine = tasks.engine
    tasks.engine = EveryAgency(engine)
    try:
        before_rows, before_ms, before_statements = timed(runtime, lambda: tasks.task_rows(specialist), repeat)
    finally:
        tasks.engine = engine
    rows, list_ms, per_list = timed(runtime, lambda: tasks.task_rows(specialist), repeat)
    assert rows == before_rows, (rows, before_rows)  # the same list, whichever way it is read
    _, page_ms, page_statements = timed(runtime, lambda: tasks.tasks_for(specialist, limit=200), repeat)
    began = time.perf_counter()
    for _ in range(200):
        with runtime.db.connect() as conn:
            conn.execute(text("SELECT 1"))
    select_one = (time.perf_counter() - began) * 1000 / 200
    return {
        "open_tasks": open_tasks,
        "tasks_shown": rows,
        "before_list_ms_median": before_ms,
        "before_statements_per_list": before_statements,
        "list_ms_median": list_ms,
        "statements_per_list": per_list,
        "api_page_ms_median": page_ms,
        "api_page_statements": page_statements,
        "select_1_ms": round(select_one, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, nargs="+", default=[500])
    parser.add_argument("--agencies", type=int, default=20, help="one open task in this many is the commune's")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for n in args.dossiers:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            runtime = build(Path(tmp) / "var", n, args.agencies)
            built = time.perf_counter() - began
            figures = {"dossiers": n, "agencies": args.agencies, "build_s": round(built, 1)} | measure(runtime)
            runtime.close()
        print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
