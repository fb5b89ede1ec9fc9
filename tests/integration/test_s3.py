"""The S3 adapter against a real SeaweedFS: credentials, conditional writes, versions and object lock,
multipart streaming and memory, presigned URLs. Faults are in ``test_s3_faults.py``; the dossier flow in
``test_s3_flow.py``; the port contract in ``test_s3_contract.py``."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio.error import S3Error

from dossiers.ports import StoredObject
from storage.check import Record, check_store
from storage.errors import IntegrityError, StorageError, WriteOnceViolation
from storage.s3 import MIN_PART_SIZE, PROBE_KEY, S3DocumentStore
from storage.url import open_s3, parse_s3_url
from tests.integration.seaweed import SeaweedServer
from tests.unit.test_storage_contract import SIGNED_PREFIX, corrupt_s3, sha

pytest_plugins = ["tests.integration.seaweed"]  # the `seaweed` fixtures, one server per session
pytestmark = pytest.mark.integration

PDF = "application/pdf"
MiB = 1024 * 1024


def make(server: SeaweedServer, bucket: str, tmp_path: Path, **params: Any) -> S3DocumentStore:
    namespace = uuid.uuid4().hex[:10]
    return open_s3(parse_s3_url(server.url(f"{bucket}/{namespace}", **params)), spool_dir=tmp_path)


@pytest.fixture
def plain(seaweed: SeaweedServer, tmp_path: Path) -> S3DocumentStore:
    return make(seaweed, "adapter-plain", tmp_path, versioning="false")


@pytest.fixture
def locked(seaweed: SeaweedServer, tmp_path: Path) -> S3DocumentStore:
    return make(seaweed, "adapter-locked", tmp_path, retention_days="1")


def raw_put(store: S3DocumentStore, key: str, data: bytes, **metadata: str) -> Any:
    """A write behind the adapter's back (another program holding the bucket's keys)."""
    return store.client.put_object(store.bucket, store._name(key), io.BytesIO(data), len(data), metadata=metadata)


# ---------------------------------------------------------------- credentials and set-up


def test_a_wrong_secret_key_fails_clearly(seaweed: SeaweedServer, tmp_path: Path) -> None:
    store = open_s3(parse_s3_url(seaweed.url("adapter-plain", secret_key="not-the-secret")), spool_dir=tmp_path)
    with pytest.raises(StorageError) as info:
        store.put_bytes("a", b"x", PDF)
    err = info.value
    assert err.details["code"] in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")
    assert "access key or secret key is wrong" in err.message_en
    assert "Khóa truy cập S3" in err.message_vi
    assert "not-the-secret" not in err.message_en + err.message_vi + json.dumps(err.details, default=str)


def test_a_wrong_access_key_fails_clearly(seaweed: SeaweedServer, tmp_path: Path) -> None:
    url = seaweed.url("adapter-plain", access_key="nobody")
    with pytest.raises(StorageError) as info:
        open_s3(parse_s3_url(url), spool_dir=tmp_path).exists(f"a/{sha(b'x')}")
    assert info.value.details["code"] in ("InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch")


def test_seaweedfs_capabilities(plain: S3DocumentStore, locked: S3DocumentStore) -> None:
    """SeaweedFS 4.x honours If-None-Match: * (probed), versioning and object lock with default retention."""
    assert plain.capabilities.conditional_writes and not plain.capabilities.versioning
    caps = locked.capabilities
    assert caps.conditional_writes and caps.versioning and caps.object_lock
    assert (caps.retention_days, caps.retention_mode) == (1, "GOVERNANCE")
    config = locked.client.get_object_lock_config(locked.bucket)
    assert (config.mode, config.duration) == ("GOVERNANCE", 1)
    assert PROBE_KEY not in [o.key for o in locked.list_objects()]  # internal keys never show


# ---------------------------------------------------------------- hash first, metadata, verified reads


def test_hash_in_key_and_metadata_and_write_once_flag(locked: S3DocumentStore) -> None:
    upload = locked.put_bytes("000.00.31.H99/incoming/20260302", b"scan", PDF)
    signed = locked.put_bytes(SIGNED_PREFIX, b"%PDF signed", PDF)
    for obj in (upload, signed):
        head = locked.client.stat_object(locked.bucket, locked._name(obj.key), version_id=obj.version_id)
        assert obj.key.endswith("/" + obj.sha256)
        assert head.metadata["x-amz-meta-sha256"] == obj.sha256
        assert head.content_type == PDF
    assert locked.stat(signed.key).write_once and not locked.stat(upload.key).write_once


def test_a_record_that_disagrees_with_the_metadata_is_refused_before_any_byte(plain: S3DocumentStore) -> None:
    obj = plain.put_bytes("a", b"content", PDF)
    raw_put(plain, obj.key, b"CONTENT", sha256=sha(b"CONTENT"))  # same size, other content and metadata
    with pytest.raises(IntegrityError) as info:
        plain.open(obj)
    assert "metadata" in info.value.details["reason"]


# ---------------------------------------------------------------- write once: the adapter's own refusals


def test_the_server_refuses_the_conditional_write_and_the_adapter_does_not_overwrite(
    plain: S3DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HEAD before the write misses a concurrent writer: ``If-None-Match: *`` catches it (412)."""
    obj = plain.put_bytes(SIGNED_PREFIX, b"%PDF original", PDF)
    corrupt_s3(plain, obj.key)  # what sits there now is not what we are about to write
    tampered = plain.client.get_object(plain.bucket, plain._name(obj.key)).read()
    real_stat = plain._stat_or_none
    calls = []

    def blind_first_look(key: str) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real_stat(key)

    monkeypatch.setattr(plain, "_stat_or_none", blind_first_look)
    with pytest.raises(IntegrityError):
        plain.put_bytes(SIGNED_PREFIX, b"%PDF original", PDF)
    assert len(calls) >= 2  # refused by the server, then looked again
    assert plain.client.get_object(plain.bucket, plain._name(obj.key)).read() == tampered  # not overwritten


def test_without_conditional_writes_the_look_before_the_write_refuses(seaweed: SeaweedServer, tmp_path: Path) -> None:
    store = make(seaweed, "adapter-plain", tmp_path, versioning="false", conditional="off")
    assert not store.capabilities.conditional_writes
    obj = store.put_bytes(SIGNED_PREFIX, b"%PDF original", PDF)
    assert store.put_bytes(SIGNED_PREFIX, b"%PDF original", PDF) == obj
    corrupt_s3(store, obj.key)
    with pytest.raises(IntegrityError):
        store.put_bytes(SIGNED_PREFIX, b"%PDF original", PDF)
    with pytest.raises(WriteOnceViolation):
        store.delete(obj.key)


# ---------------------------------------------------------------- versions and object lock


def test_a_plain_put_on_a_versioned_bucket_succeeds_but_never_changes_what_is_served(
    locked: S3DocumentStore,
) -> None:
    signed = locked.put_bytes(SIGNED_PREFIX, b"%PDF the signed certificate", PDF)
    assert signed.version_id

    # The pitfall: S3 accepts a PUT to an existing key on a versioned bucket, as a new version.
    forged = raw_put(locked, signed.key, b"%PDF a forged certificate!!", sha256=signed.sha256)
    assert forged.version_id and forged.version_id != signed.version_id
    assert [v.version_id for v in locked.versions(signed.key)] == [forged.version_id, signed.version_id]

    # Reads ask for the recorded version: the forgery is never served.
    assert b"".join(locked.open(signed)) == b"%PDF the signed certificate"
    # The adapter itself refuses to store over it (the latest version differs) and to delete it.
    with pytest.raises(IntegrityError):
        locked.put_bytes(SIGNED_PREFIX, b"%PDF the signed certificate", PDF)
    with pytest.raises(WriteOnceViolation):
        locked.delete(signed.key)
    # `storage check` names the newer version.
    report = check_store(locked, [Record(signed, "document R")])
    assert [(p.kind, p.key) for p in report.problems] == [("newer_version", signed.key)]
    assert forged.version_id in report.problems[0].detail

    # Object lock: the server refuses to delete the recorded version during the retention period.
    with pytest.raises(S3Error) as info:
        locked.client.remove_object(locked.bucket, locked._name(signed.key), version_id=signed.version_id)
    assert info.value.code == "AccessDenied"
    retention = locked.client.get_object_retention(locked.bucket, locked._name(signed.key), signed.version_id)
    assert retention.mode == "GOVERNANCE"
    assert retention.retain_until_date > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)


def test_a_delete_marker_is_reported_and_the_recorded_version_still_reads(locked: S3DocumentStore) -> None:
    obj = locked.put_bytes("agency/incoming/20260302", b"scan", PDF)
    locked.client.remove_object(locked.bucket, locked._name(obj.key))  # behind the adapter's back
    assert not locked.exists(obj.key)
    assert b"".join(locked.open(obj)) == b"scan"
    report = check_store(locked, [Record(obj, "document U")])
    assert [p.kind for p in report.problems] == ["deleted"]


def test_a_missing_recorded_version_is_reported(locked: S3DocumentStore) -> None:
    obj = locked.put_bytes("a", b"x", PDF)
    ghost = StoredObject(obj.key, obj.sha256, obj.size, PDF, "0000000000000000deadbeef00000000")
    report = check_store(locked, [Record(ghost, "document G")])
    assert [p.kind for p in report.problems] == ["missing"]


# ---------------------------------------------------------------- streaming, multipart, presigned


def test_multipart_round_trip(seaweed: SeaweedServer, tmp_path: Path) -> None:
    store = make(seaweed, "adapter-locked", tmp_path, retention_days="1", part_size_mb="5")
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    obj = store.put("agency/incoming/20260302", io.BytesIO(data), PDF)
    head = store.client.stat_object(store.bucket, store._name(obj.key), version_id=obj.version_id)
    assert head.etag.endswith("-3")  # three parts
    assert head.metadata["x-amz-meta-sha256"] == obj.sha256 == sha(data)
    assert obj.version_id
    assert b"".join(store.open(obj)) == data
    assert store.put("agency/incoming/20260302", io.BytesIO(data), PDF) == obj  # idempotent, no new version
    assert len(store.versions(obj.key)) == 1
    assert store.incomplete_uploads() == []
    assert list(tmp_path.iterdir()) == []  # the spool file is gone


def test_presigned_download(locked: S3DocumentStore) -> None:
    obj = locked.put_bytes(SIGNED_PREFIX, b"%PDF signed result", PDF)
    raw_put(locked, obj.key, b"%PDF newer version", sha256="f" * 64)  # the URL names the recorded version
    url = locked.presigned_url(obj, dt.timedelta(seconds=30), filename="giay-chung-nhan.pdf")
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"%PDF signed result"
    assert r.headers["content-type"] == PDF
    assert 'filename="giay-chung-nhan.pdf"' in r.headers["content-disposition"]

    short = locked.presigned_url(obj, dt.timedelta(seconds=1))
    time.sleep(2.1)
    assert httpx.get(short, timeout=10).status_code == 403  # expired
    tampered_query = url.replace("X-Amz-Expires=30", "X-Amz-Expires=99999")
    assert httpx.get(tampered_query, timeout=10).status_code == 403


def test_no_presigned_url_for_an_object_that_does_not_match_its_record(plain: S3DocumentStore) -> None:
    obj = plain.put_bytes("a", b"content", PDF)
    raw_put(plain, obj.key, b"CONTENT", sha256=sha(b"CONTENT"))
    with pytest.raises(IntegrityError):
        plain.presigned_url(obj, dt.timedelta(minutes=1))


RSS_SCRIPT = textwrap.dedent(
    """
    import hashlib, io, json, resource, sys
    from pathlib import Path
    from storage.url import open_s3, parse_s3_url
    from tests.unit.test_storage_contract import GeneratedStream

    url, spool, total = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    store = open_s3(parse_s3_url(url), spool_dir=spool)
    store.capabilities
    def rss():
        # VmHWM: this process image's peak RSS (getrusage's ru_maxrss also counts what the pytest parent
        # had when it forked us, so it is reported beside it but not relied on)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    base = rss()
    stream = GeneratedStream(total)
    obj = store.put("agency/incoming/20260302", stream.as_binary(), "application/pdf")
    after_put = rss()
    digest, size = hashlib.sha256(), 0
    for chunk in store.open(obj):
        digest.update(chunk)
        size += len(chunk)
    print(json.dumps({"base": base, "after_put": after_put, "peak": rss(), "size": size, "obj_size": obj.size,
                      "ok": digest.hexdigest() == obj.sha256 == stream.digest.hexdigest(),
                      "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
    """
)


def test_a_200_mb_scan_never_sits_whole_in_memory(seaweed: SeaweedServer, tmp_path: Path) -> None:
    """Peak RSS of a fresh process that uploads (multipart, 8 MiB parts) and downloads 200 MB."""
    total = 200 * MiB
    url = seaweed.url(f"adapter-locked/{uuid.uuid4().hex[:10]}", retention_days="1", part_size_mb="8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, url, str(tmp_path), str(total)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    m = json.loads(run.stdout.strip().splitlines()[-1])
    assert m["ok"] and m["size"] == m["obj_size"] == total
    growth = (m["peak"] - m["base"]) / MiB
    print(f"peak RSS {m['peak'] / MiB:.0f} MiB (baseline {m['base'] / MiB:.0f} MiB, +{growth:.0f} MiB) for 200 MB")
    assert growth < 40, m  # one 8 MiB part at a time (and its request), never the 200 MB
    assert m["peak"] < 100 * MiB, m
