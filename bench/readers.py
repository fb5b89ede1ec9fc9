"""Readers while a writer writes (issue 17, point 2): on SQLite, officials reading task lists and dossiers while the
desk registers dossiers. Each reader loops over the specialist's task list and a dossier read for a few seconds
while one writer registers dossiers; printed: reads per second and the readers' p50/p95 latency, with read-only
units of work begun deferred (the default) and with every unit taking the writer lock (``BEGIN IMMEDIATE``, as
before), measured in the same run. Each read is recorded (``dossier.listed``, ``dossier.read``: Decree 13/2023);
the deferred runs are measured twice: with the reads' audit entries batched by the flusher (the default,
``MOTCUA_AUDIT_READ_FLUSH_SECONDS``) and appended in each request (``read_flush_s`` 0, as before).

Run: ``.venv/bin/python -m bench.readers --dossiers 300 --readers 8 --seconds 5``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import structlog

import persistence.uow
from bench.task_list import DETAILS, HOUSEHOLD, _stream, build
from motcua.demo import sample_pdf
from persistence.audit_log import READ_FLUSH_SECONDS
from services.intake import Applicant
from services.uploads import Upload


def run(runtime: Any, readers: int, seconds: float, deferred: bool, read_flush_seconds: float) -> dict[str, Any]:
    persistence.uow.DEFERRED_READS = deferred
    runtime.audit.read_flush_seconds = read_flush_seconds
    before = runtime.audit.head()[0]
    specialist = runtime.accounts.get("chuyenvien1.xa1")
    clerk = runtime.accounts.get("tiepnhan.xa1")
    codes = [t["dossier_code"] for t in runtime.tasks.tasks_for(specialist)][:50]
    stop = threading.Event()
    latencies: list[float] = []
    writes = 0
    lock = threading.Lock()
    paper = sample_pdf("Giay de nghi")

    def reader(i: int) -> None:
        mine: list[float] = []
        n = 0
        while not stop.is_set():
            began = time.perf_counter()
            runtime.tasks.task_rows(specialist)
            runtime.shop.read_dossier(specialist, codes[n % len(codes)])
            mine.append((time.perf_counter() - began) * 1000)
            n += 1
        with lock:
            latencies.extend(mine)

    def writer() -> None:
        nonlocal writes
        i = 0
        while not stop.is_set():
            uploads = [
                Upload("giay_de_nghi", "de-nghi.pdf", "application/pdf", _stream(paper)),
                Upload("giay_to_phap_ly", "cccd.pdf", "application/pdf", _stream(paper)),
            ]
            runtime.intake.intake(
                clerk, HOUSEHOLD, Applicant(f"Trần Thị {i}", f"0020900{i:05d}"), uploads, details=DETAILS
            )
            i += 1
        writes = i

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    persistence.uow.DEFERRED_READS = True
    runtime.audit.close()  # the reads still queued enter the chain
    reads_recorded = sum(
        1 for e in runtime.audit.between(before + 1, runtime.audit.head()[0]) if ".read" in e.event.kind
    )
    latencies.sort()
    return {
        "deferred_reads": deferred,
        "read_flush_s": read_flush_seconds,
        "dossier_reads_recorded": reads_recorded,
        "reads_per_s": round(len(latencies) / seconds, 1),
        "read_p50_ms": round(statistics.median(latencies), 1),
        "read_p95_ms": round(latencies[int(len(latencies) * 0.95)], 1),
        "writes_per_s": round(writes / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=300)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build(Path(tmp) / "var", args.dossiers)
        for deferred, flush in ((False, 0.0), (True, 0.0), (True, READ_FLUSH_SECONDS)):
            figures = run(runtime, args.readers, args.seconds, deferred, flush)
            print(json.dumps({"dossiers": args.dossiers, "readers": args.readers} | figures))
        chain = runtime.audit.verify()
        print(json.dumps({"audit_chain": "intact" if chain is None else f"broken at {chain}"}))
        runtime.close()


if __name__ == "__main__":
    main()
