"""One contract for every ``DocumentStore`` adapter: the in-memory one here; the local directory
(``tests/integration/test_storage_local.py``) and S3 on a real SeaweedFS (``tests/integration/test_s3_contract.py``)
run the same tests with their own ``make_store``."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from dossiers.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable
from dossiers.ports import DocumentStore, StoredObject
from storage.api import VerifiedStream
from storage.check import Record, check_store, render
from storage.errors import (
    IntegrityError,
    InvalidKey,
    ObjectExists,
    ObjectMissing,
    UploadTooLarge,
    WriteOnceViolation,
)
from storage.local import LocalDocumentStore
from storage.memory import MemoryDocumentStore
from storage.s3 import S3DocumentStore

Store = LocalDocumentStore | MemoryDocumentStore | S3DocumentStore
MakeStore = Callable[..., Store]

PDF = "application/pdf"
MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GeneratedStream(io.RawIOBase):
    """``total`` bytes of a repeating pattern, produced on demand and never materialized."""

    def __init__(self, total: int, fail_after: int | None = None) -> None:
        self.remaining = total
        self.bytes_read = 0
        self.digest = hashlib.sha256()
        self.fail_after = fail_after
        self._pattern = bytes(range(256)) * (MiB // 256 + 1)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.fail_after is not None and self.bytes_read >= self.fail_after:
            raise ConnectionResetError("client went away")
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.remaining, MiB)
        start = self.bytes_read % 256
        chunk = self._pattern[start : start + n]
        view[:n] = chunk
        self.digest.update(chunk)
        self.remaining -= n
        self.bytes_read += n
        return n

    def as_binary(self) -> BinaryIO:
        return cast(BinaryIO, self)


# A test that damages the object at its key behind the store's back: on a versioned bucket that write is a new
# version and the recorded one stays intact, so the S3 contract module runs these on unversioned buckets only.
OVERWRITES_IN_PLACE = pytest.mark.overwrites_in_place


def read_all(store: Store, obj: StoredObject) -> bytes:
    return b"".join(store.open(obj))


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if not p.is_dir())


def corrupt(store: Store, key: str, *, truncate: bool = False, latest_only: bool = False) -> None:
    """Damage an object behind the store's back: flip the first byte, or drop the last one.

    ``latest_only``: the test only needs what is now *at the key* to differ (on a versioned bucket that is a
    new version, and the recorded one stays intact)."""
    if isinstance(store, MemoryDocumentStore):
        store.corrupt(key, truncate=truncate)
        return
    if isinstance(store, S3DocumentStore):
        corrupt_s3(store, key, truncate=truncate, latest_only=latest_only)
        return
    path = store.root.joinpath(*key.split("/"))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    if truncate:
        del data[-1]
    else:
        data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_s3(store: S3DocumentStore, key: str, *, truncate: bool = False, latest_only: bool = False) -> None:
    """Rewrite the object with a raw client, keeping its metadata: possible on an unversioned bucket only.

    On a versioned bucket the write would be a *new* version and the recorded one stays intact (reads ask
    for it): what the corruption tests check cannot happen there, so they are marked ``overwrites_in_place``
    and not run on one (the versioned behaviour has tests of its own in ``tests/integration/test_s3.py``)."""
    assert latest_only or not store.capabilities.versioning, "an overwrite in place needs an unversioned bucket"
    name = store._name(key)
    response = store.client.get_object(store.bucket, name)
    try:
        data = bytearray(response.read())
    finally:
        response.close()
        response.release_conn()
    metadata = {"sha256": store.stat(key).sha256 or ""}
    if not data:
        data.append(0)
    elif truncate:
        del data[-1]
    else:
        data[0] ^= 0xFF
    store.client.put_object(store.bucket, name, io.BytesIO(bytes(data)), len(data), metadata=metadata)


@pytest.fixture(params=["memory"])
def make_store() -> MakeStore:
    def make(**kwargs: Any) -> Store:
        return MemoryDocumentStore(**kwargs)

    return make


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


def versioned(store: Store) -> bool:
    return isinstance(store, S3DocumentStore) and store.capabilities.versioning


def assert_nothing_stored(store: Store) -> None:
    assert list(store.iter_keys()) == []
    if isinstance(store, LocalDocumentStore):
        assert files_under(store.root) == []  # no object and no temporary file left behind
    if isinstance(store, S3DocumentStore):
        assert store.incomplete_uploads() == []  # no multipart upload left behind either


# ---------------------------------------------------------------- basics


def test_adapters_satisfy_the_port(store: Store) -> None:
    port: DocumentStore = store
    assert port is store


def test_round_trip(store: Store) -> None:
    data = b"%PDF-1.7 don de nghi\n" * 100
    obj = store.put("agency-01/HS-2024-000001/doc-1", io.BytesIO(data), PDF)

    assert obj == StoredObject(
        key=f"agency-01/HS-2024-000001/doc-1/{sha(data)}",
        sha256=sha(data),
        size=len(data),
        content_type=PDF,
        version_id=obj.version_id,
    )
    assert (obj.version_id is not None) == versioned(store)  # a versioned store records the version written
    assert store.exists(obj.key)
    assert read_all(store, obj) == data
    assert list(store.iter_keys()) == [obj.key]


def test_key_ends_with_sha256(store: Store) -> None:
    obj = store.put_bytes("a/b", b"hello", "text/plain; charset=utf-8")
    assert obj.key == f"a/b/{sha(b'hello')}"
    assert obj.key.rsplit("/", 1)[1] == obj.sha256 == sha(b"hello")


def test_empty_object(store: Store) -> None:
    obj = store.put_bytes("a", b"", PDF)
    assert obj.size == 0 and obj.sha256 == sha(b"")
    assert read_all(store, obj) == b""


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 10_000, 10_500])
def test_multi_chunk_round_trip(make_store: MakeStore, size: int) -> None:
    store = make_store(chunk_size=1000)
    data = os.urandom(size)
    obj = store.put("a", io.BytesIO(data), PDF)
    chunks = list(store.open(obj))
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= 1000 for c in chunks)


def test_same_content_twice_is_the_same_object(store: Store) -> None:
    first = store.put_bytes("a/b", b"same", PDF)
    second = store.put("a/b", io.BytesIO(b"same"), PDF)
    assert second == first
    assert list(store.iter_keys()) == [first.key]
    assert read_all(store, second) == b"same"


def test_same_content_other_content_type_keeps_the_key(store: Store) -> None:
    first = store.put_bytes("a", b"same", PDF)
    second = store.put_bytes("a", b"same", "application/octet-stream")
    assert second.key == first.key and second.sha256 == first.sha256
    assert second.content_type == "application/octet-stream"  # the content type lives in the database


def test_different_prefix_is_a_different_object(store: Store) -> None:
    one = store.put_bytes("agency-01/d1", b"same", PDF)
    two = store.put_bytes("agency-02/d1", b"same", PDF)
    assert one.sha256 == two.sha256 and one.key != two.key
    assert list(store.iter_keys()) == [one.key, two.key]
    assert read_all(store, one) == read_all(store, two) == b"same"


def test_different_content_same_prefix(store: Store) -> None:
    one = store.put_bytes("a", b"one", PDF)
    two = store.put_bytes("a", b"two", PDF)
    assert one.key != two.key
    assert (read_all(store, one), read_all(store, two)) == (b"one", b"two")


def test_concurrent_identical_uploads_agree(store: Store) -> None:
    data = os.urandom(100_000)
    barrier = threading.Barrier(8)
    results: list[StoredObject] = []
    errors: list[BaseException] = []

    def upload() -> None:
        barrier.wait()
        try:
            results.append(store.put_bytes("agency/dossier", data, PDF))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    assert read_all(store, results[0]) == data


# ---------------------------------------------------------------- listing a folder after a key


def test_list_keys_under_a_folder_after_a_key(store: Store) -> None:
    """What the audit anchors need: the keys under one folder that sort after a given one, sorted."""
    stored = {
        (folder, data): store.put_bytes(folder, data, "application/json").key
        for folder in ("audit/anchors/00000000/000000000007", "audit/anchors/00000001/000000010003")
        for data in (b"one", b"two")
    }
    store.put_bytes("audit/other", b"x", "application/json")
    store.put_bytes("0.0/dossiers/D1/result", b"not an anchor", "application/pdf")
    everything = sorted(stored.values())
    assert store.list_keys("audit/anchors") == everything
    assert store.list_keys("audit/anchors", "audit/anchors/00000001") == everything[2:]
    assert store.list_keys("audit/anchors", everything[2]) == everything[3:]
    assert store.list_keys("audit/anchors", "audit/anchors/00000002") == []
    assert store.list_keys("audit/nothing-here") == []


# ---------------------------------------------------------------- missing and exists


def test_exists(store: Store) -> None:
    obj = store.put_bytes("a/b", b"x", PDF)
    assert store.exists(obj.key)
    assert not store.exists(f"a/b/{sha(b'y')}")
    assert not store.exists("a/b")  # a prefix is not an object
    assert not store.exists("nowhere/at/all")


def test_open_missing_object(store: Store) -> None:
    missing = StoredObject(key=f"a/{sha(b'x')}", sha256=sha(b"x"), size=1, content_type=PDF)
    with pytest.raises(ObjectMissing) as info:
        store.open(missing)
    assert isinstance(info.value, NotFound)
    assert info.value.message_vi and info.value.message_en


# ---------------------------------------------------------------- integrity


@OVERWRITES_IN_PLACE
def test_corrupted_object_is_never_served(make_store: MakeStore) -> None:
    store = make_store(chunk_size=1000)
    data = os.urandom(5000)
    obj = store.put_bytes("a", data, PDF)
    corrupt(store, obj.key)

    received = bytearray()
    with pytest.raises(IntegrityError) as info:
        for chunk in store.open(obj):
            received += chunk
    assert isinstance(info.value, Unavailable)
    assert info.value.details["actual_sha256"] != obj.sha256
    assert len(received) < len(data)  # the last chunk is held back until the hash has been checked


@OVERWRITES_IN_PLACE
def test_corrupted_single_chunk_object_yields_nothing(store: Store) -> None:
    obj = store.put_bytes("a", b"small document", PDF)
    corrupt(store, obj.key)
    stream = store.open(obj)
    with pytest.raises(IntegrityError):
        next(stream)
    assert list(stream) == []  # closed after the failure


@OVERWRITES_IN_PLACE
def test_size_change_is_detected_before_the_first_chunk(store: Store) -> None:
    obj = store.put_bytes("a", b"some content", PDF)
    corrupt(store, obj.key, truncate=True)
    with pytest.raises(IntegrityError) as info:
        store.open(obj)
    assert info.value.details["expected_size"] == obj.size


def test_record_that_does_not_match_the_object(store: Store) -> None:
    obj = store.put_bytes("a", b"content", PDF)
    with pytest.raises(IntegrityError):
        read_all(store, StoredObject(obj.key, obj.sha256, obj.size + 1, PDF))
    with pytest.raises(IntegrityError):  # key and hash disagree
        read_all(store, StoredObject(obj.key, sha(b"other"), obj.size, PDF))
    with pytest.raises(IntegrityError):
        read_all(store, StoredObject(obj.key, obj.sha256.upper(), obj.size, PDF))


def test_reupload_over_a_corrupted_object_is_refused(store: Store) -> None:
    obj = store.put_bytes("a", b"original", PDF)
    corrupt(store, obj.key, latest_only=True)
    with pytest.raises(IntegrityError):
        store.put_bytes("a", b"original", PDF)


def test_verified_stream_can_be_closed_early(make_store: MakeStore) -> None:
    store = make_store(chunk_size=10)
    obj = store.put_bytes("a", b"x" * 100, PDF)
    with store.open(obj) as stream:
        assert isinstance(stream, VerifiedStream)
        assert next(stream) == b"x" * 10
    assert list(stream) == []


# ---------------------------------------------------------------- write-once


def test_object_cannot_become_a_prefix(store: Store) -> None:
    obj = store.put_bytes("a", b"first", PDF)
    with pytest.raises(ObjectExists) as info:
        store.put_bytes(obj.key, b"second", PDF)
    assert isinstance(info.value, Conflict)
    assert read_all(store, obj) == b"first"


def test_prefix_cannot_become_an_object(store: Store) -> None:
    store.put_bytes(f"a/{sha(b'y')}", b"z", PDF)
    with pytest.raises(ObjectExists):
        store.put_bytes("a", b"y", PDF)
    assert not store.exists(f"a/{sha(b'y')}")


# ---------------------------------------------------------------- write-once signed results

SIGNED_PREFIX = "000.00.31.H99/dossiers/000.00.31.H99-260302-0001/result"


def test_signed_results_are_refused_deletion(store: Store) -> None:
    signed = store.put_bytes(SIGNED_PREFIX, b"%PDF signed result", PDF)
    assert store.stat(signed.key).write_once
    with pytest.raises(WriteOnceViolation) as info:
        store.delete(signed.key)
    assert isinstance(info.value, Conflict)
    assert info.value.message_vi and "signed result" in info.value.message_en
    assert read_all(store, signed) == b"%PDF signed result"


def test_signed_result_put_again_is_the_same_object_not_a_new_one(store: Store) -> None:
    first = store.put_bytes(SIGNED_PREFIX, b"%PDF signed", PDF)
    again = store.put_bytes(SIGNED_PREFIX, b"%PDF signed", PDF)
    assert again == first  # same key, same version: nothing was written over it
    assert len(store.versions(first.key)) == 1


def test_tampered_signed_result_is_refused_not_overwritten(store: Store) -> None:
    signed = store.put_bytes(SIGNED_PREFIX, b"%PDF signed result", PDF)
    corrupt(store, signed.key, latest_only=True)
    before = store.versions(signed.key)
    with pytest.raises(IntegrityError):
        store.put_bytes(SIGNED_PREFIX, b"%PDF signed result", PDF)
    assert store.versions(signed.key) == before  # the refused write made no new version
    if versioned(store):
        assert read_all(store, signed) == b"%PDF signed result"  # the recorded version is read, intact
    else:
        with pytest.raises(IntegrityError):
            read_all(store, signed)


def test_ordinary_objects_can_be_deleted(store: Store) -> None:
    obj = store.put_bytes("agency/incoming/20260302", b"scan", PDF)
    assert not store.stat(obj.key).write_once
    store.delete(obj.key)
    assert not store.exists(obj.key)
    assert list(store.iter_keys()) == []
    with pytest.raises(ObjectMissing):
        store.delete(obj.key)


# ---------------------------------------------------------------- filing an upload: copy, then discard


def test_a_filed_upload_is_stored_once(store: Store) -> None:
    """Filing copies an upload to its write-once home inside the store, then discards the staging object: one
    object remains, read back intact under the new key; doing it again changes nothing."""
    upload = store.put_bytes("agency/incoming/20260302/" + "ab" * 16, b"%PDF citizen scan", PDF)
    filed = store.copy(upload, SIGNED_PREFIX)
    assert filed.key == f"{SIGNED_PREFIX}/{upload.sha256}" and (filed.sha256, filed.size) == (
        upload.sha256,
        upload.size,
    )
    assert filed.content_type == PDF and store.stat(filed.key).write_once
    if isinstance(store, S3DocumentStore):  # the copy carries its own metadata, the hash every read checks
        assert store.stat(filed.key).sha256 == upload.sha256
    assert read_all(store, filed) == b"%PDF citizen scan" and read_all(store, upload) == b"%PDF citizen scan"
    assert store.copy(upload, SIGNED_PREFIX) == filed  # idempotent: a retried filing finds its copy
    if store.keeps_every_version:
        return  # object lock: the server keeps the staging version anyway (the dossier references it instead)
    store.discard(upload)
    store.discard(upload)  # gone already: fine
    assert list(store.iter_keys()) == [filed.key]
    assert store.versions(upload.key) == []  # no version kept behind a delete marker either
    assert read_all(store, filed) == b"%PDF citizen scan"
    with pytest.raises(WriteOnceViolation):
        store.discard(filed)
    assert read_all(store, filed) == b"%PDF citizen scan"


def test_copying_refuses_a_missing_or_changed_source(store: Store) -> None:
    upload = store.put_bytes("agency/incoming/20260302", b"%PDF scan", PDF)
    with pytest.raises(ObjectMissing):
        store.copy(StoredObject("agency/incoming/20260302/" + "0" * 64, "0" * 64, 3, PDF), SIGNED_PREFIX)
    with pytest.raises(IntegrityError):
        store.copy(StoredObject(upload.key, upload.sha256, upload.size + 1, PDF), SIGNED_PREFIX)
    assert list(store.iter_keys()) == [upload.key]


def test_stat_and_listing(store: Store) -> None:
    one = store.put_bytes("a", b"one", PDF)
    two = store.put_bytes("b/c", b"three", PDF)
    info = store.stat(two.key)
    assert (info.key, info.size) == (two.key, 5)
    assert info.last_modified is not None
    assert info.version_id == two.version_id
    assert [(i.key, i.size) for i in store.list_objects()] == [(one.key, 3), (two.key, 5)]
    with pytest.raises(ObjectMissing):
        store.stat(f"a/{sha(b'none')}")
    assert store.versions(f"a/{sha(b'none')}") == []
    assert [v.version_id for v in store.versions(one.key)] == [one.version_id]


def test_presigned_url_only_where_the_store_can_sign(store: Store) -> None:
    obj = store.put_bytes("a", b"x", PDF)
    url = store.presigned_url(obj, dt.timedelta(minutes=5), filename="giay-chung-nhan.pdf")
    if isinstance(store, S3DocumentStore):
        assert url is not None and "X-Amz-Signature=" in url
    else:
        assert url is None  # the caller streams store.open() instead


# ---------------------------------------------------------------- storage check


def test_check_a_healthy_store(store: Store) -> None:
    a = store.put_bytes("x/incoming", b"upload", PDF)
    b = store.put_bytes(SIGNED_PREFIX, b"signed", PDF)
    report = check_store(store, [Record(a, "doc a"), Record(b, "doc b")], orphans=True)
    assert report.ok and report.checked == 2 and report.problems == [] and report.orphans == []


@OVERWRITES_IN_PLACE
def test_check_names_every_problem(store: Store) -> None:
    good = store.put_bytes("x", b"good", PDF)
    damaged = store.put_bytes("y", b"will be damaged", PDF)
    missing = StoredObject(f"z/{sha(b'gone')}", sha(b"gone"), 4, PDF)
    wrong_size = StoredObject(good.key, good.sha256, good.size + 1, PDF, good.version_id)
    corrupt(store, damaged.key)
    records = [
        Record(good, "doc good"),
        Record(damaged, "doc damaged"),
        Record(missing, "doc missing"),
        Record(wrong_size, "doc size"),
    ]
    report = check_store(store, records)
    assert not report.ok
    assert {(p.ref, p.kind) for p in report.problems} == {
        ("doc damaged", "sha256"),
        ("doc missing", "missing"),
        ("doc size", "size"),
    }
    lines = render(report, orphans=False, clean=False)
    assert any(damaged.key in line and "sha256" in line for line in lines)


def test_check_orphans_and_clean(store: Store) -> None:
    kept = store.put_bytes("x", b"referenced", PDF)
    orphan = store.put_bytes("agency/incoming/20260302", b"orphan upload", PDF)
    signed_orphan = store.put_bytes(SIGNED_PREFIX, b"orphan signed", PDF)
    records = [Record(kept, "doc")]

    listed = check_store(store, records, orphans=True)
    assert sorted(o.key for o in listed.orphans) == sorted([orphan.key, signed_orphan.key])
    assert not listed.ok  # an unreferenced upload is a problem until cleaned

    young = check_store(store, records, clean=True)  # default grace: an hour
    assert young.removed == [] and store.exists(orphan.key)

    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    cleaned = check_store(store, records, clean=True, now=later)
    assert [o.key for o in cleaned.removed] == [orphan.key]
    assert [(o.key, why) for o, why in cleaned.kept] == [(signed_orphan.key, "signed result, write-once")]
    assert cleaned.ok
    assert not store.exists(orphan.key)
    assert store.exists(signed_orphan.key) and store.exists(kept.key)
    assert check_store(store, records, orphans=True).ok  # only the signed orphan is left: reported, kept


# ---------------------------------------------------------------- limits


def test_too_large_upload_is_refused_and_leaves_nothing(make_store: MakeStore) -> None:
    store = make_store(max_bytes=1000, chunk_size=256)
    with pytest.raises(UploadTooLarge) as info:
        store.put_bytes("a", b"x" * 1001, PDF)
    assert isinstance(info.value, TooLarge)
    assert info.value.details == {"max_bytes": 1000}
    assert_nothing_stored(store)


def test_upload_of_exactly_max_bytes_is_accepted(make_store: MakeStore) -> None:
    store = make_store(max_bytes=1000, chunk_size=256)
    obj = store.put_bytes("a", b"x" * 1000, PDF)
    assert obj.size == 1000


def test_too_large_stream_is_abandoned_early(make_store: MakeStore) -> None:
    store = make_store(max_bytes=MiB)
    stream = GeneratedStream(50 * MiB)
    with pytest.raises(UploadTooLarge):
        store.put("a", stream.as_binary(), PDF)
    assert stream.bytes_read <= MiB + 1  # reads at most one byte past the limit
    assert_nothing_stored(store)


def test_failing_stream_leaves_nothing(make_store: MakeStore) -> None:
    store = make_store(chunk_size=1000)
    with pytest.raises(ConnectionResetError):
        store.put("a", GeneratedStream(10_000, fail_after=5000).as_binary(), PDF)
    assert_nothing_stored(store)


# ---------------------------------------------------------------- validation


BAD_KEYS = [
    "",
    "/abs/path",
    "../escape",
    "a/../b",
    "a/./b",
    "..",
    "a//b",
    "a/",
    ".tmp",
    "a/.hidden",
    "with space",
    "back\\slash",
    "tiếng-việt",
    "nul\x00byte",
    "x" * 436,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(store: Store, key: str) -> None:
    with pytest.raises(InvalidKey) as info:
        store.put_bytes(key, b"data", PDF)
    assert isinstance(info.value, InvalidInput)
    with pytest.raises(InvalidKey):
        store.exists(key)
    with pytest.raises(InvalidKey):
        store.open(StoredObject(f"{key}/{sha(b'data')}", sha(b"data"), 4, PDF))
    assert_nothing_stored(store)


def test_longest_prefix_is_accepted(store: Store) -> None:
    obj = store.put_bytes("p" * 200 + "/" + "q" * 234, b"data", PDF)
    assert len(obj.key) == 500


@pytest.mark.parametrize("content_type", ["", "pdf", "text/plain\r\nX-Injected: 1", "a/" + "b" * 100])
def test_bad_content_types_are_refused(store: Store, content_type: str) -> None:
    with pytest.raises(InvalidInput):
        store.put_bytes("a", b"data", content_type)
    assert_nothing_stored(store)


def test_a_writable_store_passes_the_write_probe_and_keeps_nothing(store: Store) -> None:
    store.check_writable()
    store.check_writable()
    assert_nothing_stored(store)
