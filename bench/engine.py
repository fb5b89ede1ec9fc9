"""Embedded-engine benchmark: instances of a 5-wait-state process with no-op handlers, persisted in SQLite.

Each instance starts, then goes through three external tasks (fetched, locked and completed by a worker)
and two user tasks; every wait state is serialized to the database in its own transaction. Prints
instances per second and milliseconds per engine step. Run: ``make bench`` (``--instances N``).
Reference on one core: stock SpiffWorkflow ≈ 300 instances/s in memory, ≈ 80/s with JSON at each wait
state; target ≥ 60 instances/s with the database in the loop.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

import structlog

from dossiers.clock import SystemClock
from persistence.schema import metadata
from persistence.uow import make_engine
from workers.runtime import Complete, TaskContext, Worker
from workflows.embedded.engine import EmbeddedEngine

HERE = Path(__file__).resolve().parent


def run(instances: int, db_url: str | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(db_url or f"sqlite:///{tmp}/bench.sqlite3")
        metadata.create_all(db)
        engine = EmbeddedEngine(db, SystemClock(), [HERE])
        engine.deploy()

        def noop(ctx: TaskContext) -> Complete:
            return Complete({f"done_{ctx.activity_id}": True})

        worker = Worker(engine, {"bench.noop": noop}, "bench", max_tasks=50)
        steps = 0
        started = time.perf_counter()
        for i in range(instances):
            engine.start("bench_five_waits", f"BENCH-{i:06d}", {"decision": "approve"})
            steps += 1
        while True:
            handled = worker.run_once()
            users = engine.user_tasks()
            for task in users:
                engine.complete_user_task(task.id, {})
            steps += handled + len(users)
            if handled == 0 and not users:
                break
        elapsed = time.perf_counter() - started
        completed = sum(1 for i in range(instances) if engine.instance(f"BENCH-{i:06d}").state == "completed")  # type: ignore[union-attr]
        db.dispose()
    if completed != instances:
        raise SystemExit(f"only {completed} of {instances} instances completed")
    return {
        "instances": instances,
        "engine_steps": steps,
        "seconds": elapsed,
        "instances_per_second": instances / elapsed,
        "ms_per_step": elapsed / steps * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--db-url", default=None, help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = run(args.instances, args.db_url)
    print(
        f"embedded engine, {result['instances']:.0f} instances × 6 engine steps (5 wait states), "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}:\n"
        f"  {result['instances_per_second']:.1f} instances/s, {result['ms_per_step']:.2f} ms per engine step "
        f"({result['engine_steps']:.0f} steps in {result['seconds']:.1f} s)"
    )


if __name__ == "__main__":
    main()
