"""The whole dossier flow with ``MOTCUA_STORAGE_URL=s3://…`` on a real SeaweedFS, ``motcua storage check``
on what it stored, and the two crash windows: the S3 server dying in the middle of a submission, and the
process dying between the object write and the database commit."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dossiers.clock import SimulatedClock
from motcua.app import Runtime, build_runtime, init_state
from motcua.cli import app as cli
from motcua.settings import Settings
from persistence.schema import document, dossier
from services.shop import OneStopShop
from storage.s3 import S3DocumentStore
from tests.conftest import COMMUNE, MONDAY_MORNING, Api
from tests.integration.seaweed import SeaweedServer

pytest_plugins = ["tests.integration.seaweed"]  # the `seaweed` fixtures, one server per session
pytestmark = pytest.mark.integration

RECEPTION, SPECIALIST, LEADER, CLERK = "tiepnhan.xa1", "chuyenvien1.xa1", "lanhdao.xa1", "vanthu.xa1"


def sign_on_device(api: Api, code: str, username: str) -> bool:
    """Personal signatures made on the official's device (two steps), where the process asks for them."""
    r = api.get("/api/signatures/pending", username)
    pending = [p for p in r.json() if p["dossier_code"] == code] if r.status_code == 200 else []
    if not pending:
        return False
    from signing.device import DeviceClient

    rt = api.runtime
    device = DeviceClient(rt.pki.pkcs12_path(f"person:{username}").read_bytes(), rt.settings.key_passphrase)
    for p in pending:
        value = device.sign(base64.b64decode(p["data_to_sign"]), p["digest_algorithm"])
        signed = api.post(
            f"/api/signatures/{p['id']}", username, json={"signature_value": base64.b64encode(value).decode()}
        )
        assert signed.status_code == 200, signed.text
    return True


def approve_through(api: Api, code: str) -> None:
    """Every official step approved (whatever the steps are) until the result is ready for reception."""
    for _ in range(12):
        api.work()
        if api.get(f"/api/dossiers/{code}", RECEPTION).json()["status"] in ("result_ready", "returned"):
            return
        if sign_on_device(api, code, LEADER):
            continue
        for user in (SPECIALIST, LEADER, CLERK):
            r = api.get("/api/tasks", user)
            tasks = [t for t in r.json() if t["dossier_code"] == code] if r.status_code == 200 else []
            if tasks:
                done = api.decide(user, code, "approve")
                if done.status_code != 200:
                    done = api.decide(user, code, None)
                assert done.status_code == 200, done.text
                break
    raise AssertionError(f"dossier {code} did not reach result_ready")


@pytest.fixture
def storage_url(seaweed: SeaweedServer) -> str:
    return seaweed.url(f"flow/{uuid.uuid4().hex[:10]}", retention_days="1")


@pytest.fixture
def s3_runtime(tmp_path: Path, storage_url: str) -> Iterator[Runtime]:
    """The ``runtime`` fixture of ``tests/conftest.py``, with the store chosen by ``MOTCUA_STORAGE_URL``."""
    settings = Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True, storage_url=storage_url)
    init_state(settings)
    rt = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    rt.engine.deploy()
    assert isinstance(rt.store, S3DocumentStore)
    yield rt
    rt.close()


@pytest.fixture
def s3_api(s3_runtime: Runtime) -> Api:
    return Api(s3_runtime)


def storage_check(runtime: Runtime, *args: str) -> Any:
    env = {"MOTCUA_VAR_DIR": str(runtime.settings.var_dir), "MOTCUA_STORAGE_URL": str(runtime.settings.storage_url)}
    return CliRunner().invoke(cli, ["storage", "check", *args], env=env)


def count(runtime: Runtime, table: Any) -> int:
    with runtime.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_household_business_dossier_end_to_end_on_s3(s3_api: Api) -> None:
    api, store = s3_api, s3_api.runtime.store
    r = api.submit()
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    approve_through(api, code)

    view = api.get(f"/api/dossiers/{code}", RECEPTION).json()
    kinds = sorted(d["kind"] for d in view["documents"])
    assert "receipt" in kinds and "result" in kinds, kinds
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    download = api.get(f"/api/dossiers/{code}/documents/{result['id']}", RECEPTION)
    assert download.status_code == 200 and download.content.startswith(b"%PDF")

    with api.runtime.db.connect() as conn:
        rows = conn.execute(select(document).where(document.c.dossier_code == code)).all()
    assert rows and all(row.version_id for row in rows)  # every object's version is recorded
    for row in rows:
        head = store.client.stat_object(store.bucket, store._name(row.storage_key), version_id=row.version_id)
        assert head.metadata["x-amz-meta-sha256"] == row.sha256 and row.storage_key.endswith(row.sha256)
    result_row = next(row for row in rows if row.id == result["id"])
    assert store.stat(result_row.storage_key).write_once  # a signed result: the adapter refuses to delete it

    assert api.decide(RECEPTION, code, None).status_code == 200
    api.work()
    assert api.get(f"/api/dossiers/{code}", RECEPTION).json()["status"] == "returned"

    # an object-locked bucket keeps every version anyway: the papers stay where they were uploaded, referenced
    # there (a copy under the dossier would be kept twice); everything else is under the dossier; no orphan
    uploads = [row for row in rows if row.kind == "upload"]
    assert len(uploads) == 2 and all(row.storage_key.startswith(f"{COMMUNE}/incoming/") for row in uploads)
    assert all(row.storage_key.startswith(f"{COMMUNE}/dossiers/{code}/") for row in rows if row not in uploads)
    run = storage_check(api.runtime, "--orphans")
    assert run.exit_code == 0, run.output
    assert f"checked {len(rows)} document(s): 0 problem(s), 0 orphan(s)" in run.output
    assert "versioning=True" in run.output and "object_lock=True" in run.output

    # Someone writes over the signed result behind the adapter's back: check names it and exits 1;
    # the download still serves the recorded version.
    store.client.put_object(store.bucket, store._name(result_row.storage_key), io.BytesIO(b"forged"), 6)
    run = storage_check(api.runtime)
    assert run.exit_code == 1, run.output
    assert f"PROBLEM newer_version {result_row.storage_key}" in run.output
    assert f"document {result_row.id}" in run.output
    again = api.get(f"/api/dossiers/{code}/documents/{result['id']}", RECEPTION)
    assert again.content == download.content


def test_s3_server_stopped_mid_submission(
    s3_api: Api,
    seaweed: SeaweedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = s3_api
    store = api.runtime.store
    store.retry = type(store.retry)(attempts=2, base_delay=0.05, max_delay=0.1)
    real_put = store.put
    puts: list[str] = []

    def die_after_first_file(*args: Any, **kwargs: Any) -> Any:
        if puts:
            seaweed.kill()
        obj = real_put(*args, **kwargs)
        puts.append(obj.key)
        return obj

    monkeypatch.setattr(store, "put", die_after_first_file)
    try:
        r = api.submit()
        assert r.status_code == 503, r.text
        problem = r.json()
        assert "Không kết nối được kho lưu trữ tài liệu" in str(problem), problem
        assert "did not answer" in str(problem), problem
        assert count(api.runtime, dossier) == 0 and count(api.runtime, document) == 0
    finally:
        seaweed.start()  # same ports and data: the session's other tests go on
    monkeypatch.undo()

    run = storage_check(api.runtime, "--orphans")  # the first file is an orphan until the retry
    assert run.exit_code == 1 and f"ORPHAN  {puts[0]}" in run.output, run.output

    r = api.submit()  # the same operation, now that the server is back
    assert r.status_code == 201, r.text
    assert count(api.runtime, document) == 2
    run = storage_check(api.runtime, "--orphans")  # each upload has a key of its own: the first try's stays orphan
    assert run.exit_code == 1 and f"ORPHAN  {puts[0]}" in run.output and "1 orphan(s)" in run.output, run.output
    run = storage_check(api.runtime, "--orphans", "--clean", "--grace-minutes", "0")
    assert run.exit_code == 0 and "1 removed" in run.output, run.output


def test_crash_between_object_write_and_commit_leaves_only_an_orphan(
    s3_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = s3_api

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated crash before the commit")

    monkeypatch.setattr(OneStopShop, "insert_document", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        api.submit()
    monkeypatch.undo()
    assert count(api.runtime, dossier) == 0 and count(api.runtime, document) == 0
    keys = list(api.runtime.store.iter_keys())
    assert len(keys) == 2  # both files were stored before the transaction

    run = storage_check(api.runtime)
    assert run.exit_code == 0, run.output  # no row points at anything missing
    run = storage_check(api.runtime, "--orphans")
    assert run.exit_code == 1, run.output
    assert all(f"ORPHAN  {k}" in run.output for k in keys) and "2 orphan(s)" in run.output
    run = storage_check(api.runtime, "--clean")  # too young: an upload may still be committing
    assert run.exit_code == 1 and "younger than the grace period" in run.output, run.output
    run = storage_check(api.runtime, "--clean", "--grace-minutes", "0")
    assert run.exit_code == 0, run.output
    assert "2 removed" in run.output
    assert list(api.runtime.store.iter_keys()) == []
    assert storage_check(api.runtime, "--orphans").exit_code == 0
