"""In-memory adapter of the ``DocumentStore`` port, for unit tests.

Behaves like :class:`storage.local.LocalDocumentStore`: same key rules, content addressing, size limit,
write-once refusals and verified reads; keys are treated as paths, so an object cannot sit where
another key needs a "directory". :meth:`MemoryDocumentStore.corrupt` damages an object for tests.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import BinaryIO

from dossiers.ports import StoredObject
from storage.api import (
    CHUNK_SIZE,
    BaseStore,
    ObjectInfo,
    VerifiedStream,
    check_deletable,
    check_existing,
    check_integrity,
    is_write_once,
    object_key,
    spool,
    validate_content_type,
    validate_key,
    validate_key_prefix,
    validate_record,
)
from storage.errors import ObjectExists, ObjectMissing


class MemoryDocumentStore(BaseStore):
    def __init__(self, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__(max_bytes, chunk_size)
        self._objects: dict[str, bytes] = {}
        self._modified: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    # -- port

    def put(self, key_prefix: str, stream: BinaryIO, content_type: str) -> StoredObject:
        """See :meth:`storage.local.LocalDocumentStore.put`."""
        prefix = validate_key_prefix(key_prefix)
        content_type = validate_content_type(content_type)
        buffer = bytearray()
        sha256, size = spool(stream, buffer.extend, max_bytes=self.max_bytes, chunk_size=self.chunk_size)
        obj = StoredObject(key=object_key(prefix, sha256), sha256=sha256, size=size, content_type=content_type)
        with self._lock:
            existing = self._objects.get(obj.key)
            if existing is not None:
                check_existing(obj, ObjectInfo(obj.key, len(existing)), lambda: [existing])
                return obj
            self._check_path_free(obj.key)
            self._objects[obj.key] = bytes(buffer)
            self._modified[obj.key] = dt.datetime.now(dt.UTC)
        return obj

    def open(self, obj: StoredObject) -> VerifiedStream:
        """See :meth:`storage.local.LocalDocumentStore.open`."""
        validate_record(obj)
        with self._lock:
            data = self._objects.get(obj.key)
        if data is None:
            raise ObjectMissing(obj.key)
        check_integrity(obj, len(data))
        step = self.chunk_size
        return VerifiedStream(obj, (data[i : i + step] for i in range(0, len(data), step)))

    def check_writable(self) -> None:
        """Memory can always take a new object (see :meth:`storage.local.LocalDocumentStore.check_writable`)."""

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._objects

    # -- conveniences

    def iter_keys(self) -> Iterator[str]:
        with self._lock:
            keys = sorted(self._objects)
        yield from keys

    def list_keys(self, prefix: str, start_after: str | None = None) -> list[str]:
        """See :meth:`storage.local.LocalDocumentStore.list_keys`."""
        validate_key(prefix)
        with self._lock:
            keys = sorted(self._objects)
        return [k for k in keys if k.startswith(prefix + "/") and (not start_after or k > start_after)]

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        validate_key(key)
        with self._lock:
            data = self._objects.get(key)
            modified = self._modified.get(key)
        if data is None or version_id is not None:
            raise ObjectMissing(key)
        return ObjectInfo(key=key, size=len(data), last_modified=modified, write_once=is_write_once(key))

    def delete(self, key: str) -> None:
        """See :meth:`storage.local.LocalDocumentStore.delete`."""
        check_deletable(key)
        with self._lock:
            if self._objects.pop(key, None) is None:
                raise ObjectMissing(key)
            self._modified.pop(key, None)

    # -- test helpers

    def corrupt(self, key: str, *, offset: int = 0, truncate: bool = False) -> None:
        """Damage an object in place: flip the byte at ``offset`` (same size), or drop the last byte.

        An empty object gains a byte instead (there is nothing to flip or drop).
        """
        with self._lock:
            if key not in self._objects:
                raise ObjectMissing(key)
            data = bytearray(self._objects[key])
            if not data:
                data.append(0)
            elif truncate:
                del data[-1]
            else:
                data[offset] ^= 0xFF
            self._objects[key] = bytes(data)

    # -- internals

    def _check_path_free(self, key: str) -> None:
        """Mirror the filesystem: no object may be a "directory" of another key, or vice versa."""
        segments = key.split("/")
        for i in range(1, len(segments)):
            ancestor = "/".join(segments[:i])
            if ancestor in self._objects:
                raise ObjectExists(ancestor)
        below = key + "/"
        if any(k.startswith(below) for k in self._objects):
            raise ObjectExists(key)
