"""Uploads are stored once (issue 17, point 4): filing a dossier's papers under its code copies them inside the
store (a hard link on the local directory, a server-side copy on S3) and removes the staging object once the
document row points at the copy — never before that commit. A store outage while filing loses nothing: the
document keeps pointing at bytes that exist, the step is tried again, and at worst an orphan is left for
``motcua storage check --clean``."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dossiers.clock import SimulatedClock
from motcua.app import Runtime, build_runtime, init_state
from motcua.settings import Settings
from persistence.schema import document
from storage.errors import StorageError
from storage.local import LocalDocumentStore
from storage.s3 import S3DocumentStore
from tests.conftest import COMMUNE, MONDAY_MORNING, Api
from tests.integration.seaweed import SeaweedServer

pytest_plugins = ["tests.integration.seaweed"]
pytestmark = pytest.mark.integration

RECEPTION = "tiepnhan.xa1"


def storage_check(runtime: Runtime, *args: str) -> Any:
    """``motcua storage check`` on the runtime's database and store."""
    from typer.testing import CliRunner

    from motcua.cli import app as cli

    env = {"MOTCUA_VAR_DIR": str(runtime.settings.var_dir)}
    if runtime.settings.storage_url:
        env["MOTCUA_STORAGE_URL"] = runtime.settings.storage_url
    return CliRunner().invoke(cli, ["storage", "check", *args], env=env)


def _rows(runtime: Runtime, code: str) -> list[Any]:
    with runtime.db.connect() as conn:
        return list(conn.execute(select(document).where(document.c.dossier_code == code)).all())


def _uploads(runtime: Runtime, code: str) -> list[Any]:
    return [r for r in _rows(runtime, code) if r.kind == "upload"]


def _downloads_intact(api: Api, code: str) -> None:
    for row in _rows(api.runtime, code):
        r = api.get(f"/api/dossiers/{code}/documents/{row.id}", RECEPTION)
        assert r.status_code == 200, r.text
        assert hashlib.sha256(r.content).hexdigest() == row.sha256


def _submitted(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    staged = _uploads(api.runtime, code)
    assert len(staged) == 2 and all(row.storage_key.startswith(f"{COMMUNE}/incoming/") for row in staged)
    assert len({row.storage_key.rsplit("/", 1)[0] for row in staged}) == 2  # a staging folder per upload
    return code


def test_on_the_local_store_an_upload_is_one_file_linked_into_place(api: Api) -> None:
    store = api.runtime.store
    assert isinstance(store, LocalDocumentStore)
    code = _submitted(api)
    api.work()  # dossier.accept files the papers
    uploads = _uploads(api.runtime, code)
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/upload/") for row in uploads)
    keys = list(store.iter_keys())
    assert not [k for k in keys if "/incoming/" in k], keys  # the staging objects are gone
    for row in uploads:
        assert os.stat(store.root / row.storage_key).st_nlink == 1  # the one file, renamed by a link
    _downloads_intact(api, code)
    run = storage_check(api.runtime, "--orphans")
    assert run.exit_code == 0 and "0 problem(s), 0 orphan(s)" in run.output, run.output


def test_filing_rolled_back_keeps_the_staging_object(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's unit of work fails after the papers were filed in it: the rows go back to the staging keys,
    so the staging objects must still be there (they are removed only after a commit)."""
    from services.shop import OneStopShop

    code = _submitted(api)
    real = OneStopShop.change_status

    def fail_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(OneStopShop, "change_status", real)
        raise RuntimeError("simulated failure after filing, before the commit")

    monkeypatch.setattr(OneStopShop, "change_status", fail_once)
    api.work()
    staged = _uploads(api.runtime, code)
    assert all(row.storage_key.startswith(f"{COMMUNE}/incoming/") for row in staged)
    _downloads_intact(api, code)
    api.advance(seconds=api.runtime.settings.worker_retry_seconds + 1)  # the step again: filed this time
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/") for row in _uploads(api.runtime, code))
    _downloads_intact(api, code)
    run = storage_check(api.runtime, "--orphans")
    assert run.exit_code == 0 and "0 orphan(s)" in run.output, run.output


# ---------------------------------------------------------------- S3 (SeaweedFS), versioned, no object lock


@pytest.fixture
def versioned_runtime(tmp_path: Path, seaweed: SeaweedServer) -> Iterator[Runtime]:
    url = seaweed.url(f"filing/{uuid.uuid4().hex[:10]}", versioning="true")
    settings = Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True, storage_url=url)
    init_state(settings)
    rt = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    rt.engine.deploy()
    assert isinstance(rt.store, S3DocumentStore) and rt.store.capabilities.versioning
    assert not rt.store.keeps_every_version
    yield rt
    rt.close()


def test_on_s3_the_copy_is_server_side_and_no_staging_version_stays(versioned_runtime: Runtime) -> None:
    api, store = Api(versioned_runtime), versioned_runtime.store
    assert isinstance(store, S3DocumentStore)
    code = _submitted(api)
    staged = _uploads(api.runtime, code)
    api.work()
    uploads = _uploads(api.runtime, code)
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/upload/") and row.version_id for row in uploads)
    for row in staged:
        assert store.versions(row.storage_key) == []  # removed for good, not hidden behind a delete marker
    _downloads_intact(api, code)
    run = storage_check(api.runtime, "--orphans")
    assert run.exit_code == 0 and "0 problem(s), 0 orphan(s)" in run.output, run.output


def test_s3_down_while_filing_loses_nothing(
    versioned_runtime: Runtime, seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, store = Api(versioned_runtime), versioned_runtime.store
    assert isinstance(store, S3DocumentStore)
    store.retry = type(store.retry)(attempts=2, base_delay=0.05, max_delay=0.1)
    code = _submitted(api)

    # 1. the server dies during the first copy: the step fails, every row still points at its staging object
    real_copy = store.copy
    monkeypatch.setattr(store, "copy", lambda *a, **k: (seaweed.kill(), real_copy(*a, **k))[1])
    try:
        api.work()
    finally:
        seaweed.start()
    monkeypatch.undo()
    assert all(row.storage_key.startswith(f"{COMMUNE}/incoming/") for row in _uploads(api.runtime, code))
    _downloads_intact(api, code)

    # 2. back, then down again right after the commit, before the staging objects are removed: filed all the same
    real_discard = store.discard
    failed: list[str] = []

    def down(obj: Any) -> None:
        failed.append(obj.key)
        raise StorageError.unreachable("delete", obj.key, store.endpoint, "simulated outage", 2)

    monkeypatch.setattr(store, "discard", down)
    api.advance(seconds=api.runtime.settings.worker_retry_seconds + 1)
    monkeypatch.setattr(store, "discard", real_discard)
    assert len(failed) == 2
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/") for row in _uploads(api.runtime, code))
    _downloads_intact(api, code)
    run = storage_check(api.runtime, "--orphans")  # the staging objects are orphans now, nothing is missing
    assert run.exit_code == 1 and "0 problem(s), 2 orphan(s)" in run.output, run.output
    assert all(f"ORPHAN  {key}" in run.output for key in failed), run.output
    run = storage_check(api.runtime, "--orphans", "--clean", "--grace-minutes", "0")
    assert run.exit_code == 0 and "2 removed" in run.output, run.output
    _downloads_intact(api, code)


def test_after_commit_runs_once_committed_never_after_a_rollback(tmp_path: Path) -> None:
    from sqlalchemy import text

    from persistence.uow import after_commit, make_engine, transaction

    db = make_engine(f"sqlite:///{tmp_path / 'uow.sqlite3'}")
    ran: list[str] = []
    try:
        after_commit(lambda: ran.append("outside a unit of work: at once"))
        with transaction(db) as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            with transaction(db):  # nested: joins the outer one, so waits for its commit
                after_commit(lambda: ran.append("committed"))
            after_commit(lambda: (_ for _ in ()).throw(RuntimeError("a failing callback")))  # logged, not raised
            assert ran == ["outside a unit of work: at once"]
        assert ran == ["outside a unit of work: at once", "committed"]
        with pytest.raises(RuntimeError, match="roll back"), transaction(db) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError("roll back")
        assert ran == ["outside a unit of work: at once", "committed"]
    finally:
        db.dispose()


def test_a_second_run_of_the_filing_step_that_read_the_papers_before_the_first_committed_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose lock ran out while it filed: another worker runs the step too, having read the document rows
    before the first one committed. Its copy finds the staging object gone (or the filed one there already); it
    fails no retry, records no second ``document.filed`` and leaves every paper readable."""
    from persistence import dossier_records

    code = _submitted(api)
    with api.runtime.db.connect() as conn:
        stale = dossier_records.uploaded_documents(conn, code)
    supplements = api.runtime.supplements
    assert supplements.file_uploads(code, "worker-1") == 2
    monkeypatch.setattr(dossier_records, "uploaded_documents", lambda conn, dossier: stale)
    assert supplements.file_uploads(code, "worker-2") == 0
    monkeypatch.undo()
    filed = [e for e in api.runtime.audit.for_dossier(code) if e.event.kind == "document.filed"]
    assert len(filed) == 2
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/upload/") for row in _uploads(api.runtime, code))
    _downloads_intact(api, code)
