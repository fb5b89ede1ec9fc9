"""The document-store contract (``tests/unit/test_storage_contract.py``, run there on the in-memory store) on a
local directory, and what only the local directory guarantees: its layout on disk, file modes, temporary files,
streaming in constant memory."""

from __future__ import annotations

import hashlib
import inspect
import os
import stat
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import tests.unit.test_storage_contract as contract
from dossiers.errors import Unavailable
from dossiers.ports import StoredObject
from storage.errors import ObjectMissing
from storage.local import LocalDocumentStore
from tests.unit.test_storage_contract import PDF, GeneratedStream, MiB, files_under, sha

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local"])
def make_store(tmp_path: Path) -> contract.MakeStore:
    def make(**kwargs: Any) -> LocalDocumentStore:
        return LocalDocumentStore(tmp_path / "objects", **kwargs)

    return make


# Every contract test that takes a store, here on the local directory.
for _name, _test in inspect.getmembers(contract, inspect.isfunction):
    if _name.startswith("test_") and {"store", "make_store"} & set(inspect.signature(_test).parameters):
        globals()[_name] = _test
store = contract.store  # the `store` fixture, built from this module's `make_store`


# ---------------------------------------------------------------- local directory specifics


def test_local_layout_and_guarantees(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "objects")
    obj = store.put_bytes("agency/dossier", b"content", PDF)

    path = tmp_path / "objects" / "agency" / "dossier" / obj.sha256
    assert path.read_bytes() == b"content"
    assert stat.S_IMODE(path.stat().st_mode) == 0o440  # read-only (write-once on disk too), not world-readable
    assert files_under(tmp_path / "objects") == [path]  # no temporary file left behind
    assert list(LocalDocumentStore(tmp_path / "objects").iter_keys()) == [obj.key]  # survives a restart


def test_local_objects_and_directories_are_not_world_readable_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    previous = os.umask(0)  # the most permissive umask a service could run with
    try:
        obj = LocalDocumentStore(root).put_bytes("agency/dossier", b"personal data", PDF)
    finally:
        os.umask(previous)
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert modes == {
        ".": 0o750,
        ".tmp": 0o700,
        "agency": 0o750,
        "agency/dossier": 0o750,
        f"agency/dossier/{obj.sha256}": 0o440,
    }


def test_local_store_takes_world_access_off_an_existing_root(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    root.mkdir()
    root.chmod(0o755)  # as `mkdir` under the usual umask leaves it
    LocalDocumentStore(root).put_bytes("a", b"x", PDF)
    assert stat.S_IMODE(root.stat().st_mode) == 0o750


def test_local_write_probe_fails_when_nothing_can_be_written(tmp_path: Path) -> None:
    """Tests run as root, where a read-only mode stops nothing: the store's root is a file, or lies under one."""
    (tmp_path / "a-file").write_bytes(b"not a directory")
    for root in (tmp_path / "a-file", tmp_path / "a-file" / "objects"):
        store = LocalDocumentStore(root)
        with pytest.raises(Unavailable) as failed:
            store.check_writable()
        assert "document store" in failed.value.message_en
    assert (tmp_path / "a-file").read_bytes() == b"not a directory"


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
