"""The officials' task list as the office grows (issue 17, point 1): N household-business dossiers registered at the
counter through the intake use case and moved by the real workers to the specialist's review — except the
receipt, whose signing ``bench/signing.py`` measures (here a no-op, so building 2,000 dossiers takes a minute, not
twenty) — then the specialist's list is read through ``TaskDesk.task_rows`` (what ``/can-bo/nhiem-vu`` and
``GET /api/tasks`` show): milliseconds per list and SQL statements per list, beside a bare ``SELECT 1`` round
trip of the same database so the figures compare across machines.

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
from sqlalchemy import event, text

from dossiers.clock import SimulatedClock
from dossiers.model import Role
from motcua.app import build_runtime, init_state
from motcua.demo import sample_pdf
from motcua.settings import Settings
from services.intake import Applicant
from services.uploads import Upload
from workers.runtime import Complete

HOUSEHOLD = "2.000575"
DETAILS = {
    "business_name": "Tạp hóa Bình An",
    "business_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "business_lines": ["Bán lẻ lương thực, thực phẩm"],
    "capital_vnd": 100_000_000,
    "owner_birth_date": "1985-04-12",
    "owner_address": "Xã Hòa An, tỉnh Demo",
}


def build(var_dir: Path, dossiers: int) -> Any:
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
    return runtime


def _stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def measure(runtime: Any, repeat: int = 5) -> dict[str, float]:
    specialist = runtime.accounts.get("chuyenvien1.xa1")
    assert specialist is not None and specialist.role == Role.SPECIALIST
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.db, "before_cursor_execute", count)
    timings, rows = [], 0
    for _ in range(repeat):
        statements_before = statements
        began = time.perf_counter()
        rows = len(runtime.tasks.task_rows(specialist))
        timings.append((time.perf_counter() - began) * 1000)
        per_list = statements - statements_before
    event.remove(runtime.db, "before_cursor_execute", count)
    began = time.perf_counter()
    for _ in range(200):
        with runtime.db.connect() as conn:
            conn.execute(text("SELECT 1"))
    select_one = (time.perf_counter() - began) * 1000 / 200
    return {
        "tasks_shown": rows,
        "list_ms_median": round(statistics.median(timings), 1),
        "statements_per_list": per_list,
        "select_1_ms": round(select_one, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, nargs="+", default=[500])
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for n in args.dossiers:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            runtime = build(Path(tmp) / "var", n)
            built = time.perf_counter() - began
            figures = {"dossiers": n, "build_s": round(built, 1)} | measure(runtime)
            runtime.close()
        print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
