"""The health check's store probe: a real write probe, its answer kept for a few seconds (no sleeps: a clock)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.health import StoreProbe
from storage.local import LocalDocumentStore

pytestmark = pytest.mark.integration


def test_the_probe_reports_a_store_that_cannot_be_written_and_caches_its_answer(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    now = [0.0]
    probe = StoreProbe(LocalDocumentStore(root), seconds=5.0, clock=lambda: now[0])
    assert probe.problem() is None
    shutil.rmtree(root)
    root.write_bytes(b"a file where the store's directory was")  # root cannot stop writes; a file can
    now[0] = 4.9
    assert probe.problem() is None  # the answer of 0.0 still stands
    now[0] = 5.0
    problem = probe.problem()
    assert problem is not None and "document store" in problem and "Not a directory" in problem
    root.unlink()
    now[0] = 9.9
    assert probe.problem() == problem
    now[0] = 10.0
    assert probe.problem() is None and root.is_dir()  # the store makes its directory again
