"""One contract for every ``DocumentStore`` adapter: local directory and in-memory."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from dossiers.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable
from dossiers.ports import DocumentStore, StoredObject
from storage import (
    IntegrityError,
    InvalidKey,
    LocalDocumentStore,
    MemoryDocumentStore,
    ObjectExists,
    ObjectMissing,
    UploadTooLarge,
    VerifiedStream,
)

Store = LocalDocumentStore | MemoryDocumentStore
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


def read_all(store: Store, obj: StoredObject) -> bytes:
    return b"".join(store.open(obj))


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if not p.is_dir())


def corrupt(store: Store, key: str, *, truncate: bool = False) -> None:
    """Damage an object behind the store's back: flip the first byte, or drop the last one."""
    if isinstance(store, MemoryDocumentStore):
        store.corrupt(key, truncate=truncate)
        return
    path = store.root.joinpath(*key.split("/"))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    if truncate:
        del data[-1]
    else:
        data[0] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(params=["local", "memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    def make(**kwargs: Any) -> Store:
        if request.param == "local":
            return LocalDocumentStore(tmp_path / "objects", **kwargs)
        return MemoryDocumentStore(**kwargs)

    return make


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


def assert_nothing_stored(store: Store) -> None:
    assert list(store.iter_keys()) == []
    if isinstance(store, LocalDocumentStore):
        assert files_under(store.root) == []  # no object and no temporary file left behind


# ---------------------------------------------------------------- basics


def test_adapters_satisfy_the_port(store: Store) -> None:
    port: DocumentStore = store
    assert port is store


def test_round_trip(store: Store) -> None:
    data = b"%PDF-1.7 don de nghi\n" * 100
    obj = store.put("agency-01/HS-2024-000001/doc-1", io.BytesIO(data), PDF)

    assert obj == StoredObject(
        key=f"agency-01/HS-2024-000001/doc-1/{sha(data)}", sha256=sha(data), size=len(data), content_type=PDF
    )
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


def test_corrupted_single_chunk_object_yields_nothing(store: Store) -> None:
    obj = store.put_bytes("a", b"small document", PDF)
    corrupt(store, obj.key)
    stream = store.open(obj)
    with pytest.raises(IntegrityError):
        next(stream)
    assert list(stream) == []  # closed after the failure


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
    corrupt(store, obj.key)
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


# ---------------------------------------------------------------- local directory specifics


def test_local_layout_and_guarantees(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "objects")
    obj = store.put_bytes("agency/dossier", b"content", PDF)

    path = tmp_path / "objects" / "agency" / "dossier" / obj.sha256
    assert path.read_bytes() == b"content"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444  # read-only: write-once on disk too
    assert files_under(tmp_path / "objects") == [path]  # no temporary file left behind
    assert list(LocalDocumentStore(tmp_path / "objects").iter_keys()) == [obj.key]  # survives a restart


def test_local_open_does_not_follow_missing_or_directory(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    directory_key = f"a/{sha(b'x')}"
    (tmp_path / "a" / sha(b"x")).mkdir(parents=True)
    assert not store.exists(directory_key)
    with pytest.raises(ObjectMissing):
        store.open(StoredObject(directory_key, sha(b"x"), 1, PDF))


def test_local_iter_keys_skips_temporary_files(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    obj = store.put_bytes("a", b"x", PDF)
    (tmp_path / ".tmp" / "upload-crashed.part").write_bytes(b"debris")
    assert list(store.iter_keys()) == [obj.key]


def test_local_store_streams_50_mb_in_constant_memory(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    total = 50 * MiB
    stream = GeneratedStream(total)

    tracemalloc.start()
    try:
        obj = store.put("agency/dossier", stream.as_binary(), PDF)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        size = 0
        for chunk in store.open(obj):
            digest.update(chunk)
            size += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert obj.size == size == total
    assert obj.sha256 == stream.digest.hexdigest() == digest.hexdigest()
    assert put_peak < 10 * MiB, f"put peak {put_peak / MiB:.1f} MiB"
    assert read_peak < 10 * MiB, f"read peak {read_peak / MiB:.1f} MiB"
