"""The embedded engine on a fresh SQLite file and a simulated clock: the fixtures ``clock`` and ``engine`` for the
engine's own tests (``pytest_plugins``), over the bench's five-wait process (``bench/five_waits.bpmn``) unless a
module gives its own ``bpmn_dirs``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine import HERE as BENCH_BPMN
from dossiers.clock import SimulatedClock
from persistence.schema import metadata
from persistence.uow import make_engine
from workflows.embedded.engine import EmbeddedEngine

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def bpmn_dirs() -> list[Path]:
    return [BENCH_BPMN]


@pytest.fixture
def engine(tmp_path: Path, clock: SimulatedClock, bpmn_dirs: list[Path]) -> Iterator[EmbeddedEngine]:
    db = make_engine(f"sqlite:///{tmp_path}/engine.sqlite3")
    metadata.create_all(db)
    eng = EmbeddedEngine(db, clock, bpmn_dirs)
    eng.deploy()
    yield eng
    db.dispose()
