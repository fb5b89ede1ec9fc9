"""What every document-store adapter shares: keys, limits, the records the stores describe, and the one integrity check.

The port is :class:`dossiers.ports.DocumentStore` (the domain owns it): ``put`` hashes first and stores under
``<key_prefix>/<sha256>``, never overwriting; ``open`` streams the bytes checked against the
:class:`~dossiers.ports.StoredObject` the database keeps; ``exists``; ``check_writable``. This module is what the
implementations beside it — :mod:`storage.local` (a directory), :mod:`storage.s3` (an S3 bucket) and
:mod:`storage.memory` (unit tests) — have in common, whatever holds the bytes:

* the key layout: which keys are valid (:func:`validate_key`), how an object's key is made
  (:func:`object_key`), which keys are write-once (:func:`is_write_once`);
* :class:`ObjectInfo` and :class:`ObjectVersion`, what a store says about what it holds;
* the integrity check (:func:`check_integrity`): a stored object is matched against its record — its size and
  the SHA-256 in its metadata before a byte is read, its content as it streams (:class:`VerifiedStream`),
  and an object already at the key of a new upload (:func:`check_existing`); any difference is an
  :class:`~storage.errors.IntegrityError` and the object is not served;
* :class:`BaseStore`, the conveniences beyond the port that every adapter offers the same way.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO

from dossiers.errors import InvalidInput
from dossiers.ports import StoredObject
from storage.errors import IntegrityError, InvalidKey, ObjectMissing, UploadTooLarge, WriteOnceViolation

CHUNK_SIZE = 1024 * 1024  # 1 MiB: read, hash and write in pieces of this size
MAX_KEY_LENGTH = 500  # ``document.storage_key`` is a VARCHAR(500)
MAX_SEGMENT_LENGTH = 255  # NAME_MAX on common filesystems
MAX_CONTENT_TYPE_LENGTH = 100  # ``document.content_type`` is a VARCHAR(100)
SHA256_HEX_LENGTH = 64

# Documents the system issues and signs (``motcua/issuing.py``): ``<agency>/dossiers/<dossier>/<kind>/<sha256>``,
# and the audit log's head anchors (``motcua/audit.py``): ``audit/anchors/<bucket>/<seq>/<sha256>``.
# Every adapter refuses to overwrite or delete them, whatever the server or filesystem would allow.
AUDIT_ANCHOR_KEY = re.compile(r"audit/anchors/[0-9]{8}/[0-9]{12}/[0-9a-f]{64}")
WRITE_ONCE_KEY = re.compile(rf"[^/]+/dossiers/[^/]+/[^/]+/[0-9a-f]{{64}}|{AUDIT_ANCHOR_KEY.pattern}")

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?: *;[ -~]*)?")  # printable ASCII only: no CR/LF


# ---------------------------------------------------------------- what a store describes


@dataclass(frozen=True)
class ObjectInfo:
    """What a store says about one stored object (for ``storage check`` and the write-once guards)."""

    key: str
    size: int
    last_modified: dt.datetime | None = None
    sha256: str | None = None  # from the object's metadata where the store keeps one (S3), else None
    version_id: str | None = None
    write_once: bool = False


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key, newest first in :meth:`versions` lists; unversioned stores have one, id None."""

    version_id: str | None
    is_latest: bool
    is_delete_marker: bool = False
    last_modified: dt.datetime | None = None


# ---------------------------------------------------------------- keys


def is_write_once(key: str) -> bool:
    """A signed result: never overwritten, never deleted (see :data:`WRITE_ONCE_KEY`)."""
    return WRITE_ONCE_KEY.fullmatch(key) is not None


def check_deletable(key: str) -> None:
    """Raise :class:`InvalidKey` for an invalid key and :class:`WriteOnceViolation` for a signed result."""
    validate_key(key)
    if is_write_once(key):
        raise WriteOnceViolation(key, "delete")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`InvalidKey`.

    A key is one or more ``/``-separated segments of ``[A-Za-z0-9._-]``; a segment may not start with
    ``.`` (no ``.``/``..``, and ``.tmp`` stays private), and there are no empty segments, so absolute
    paths, ``a//b`` and trailing slashes are refused.
    """
    if not isinstance(key, str):
        raise InvalidKey(repr(key), "a key must be a string")
    if not key:
        raise InvalidKey(key, "empty key")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(key[:40] + "…", f"longer than {MAX_KEY_LENGTH} characters")
    if key.startswith("/"):
        raise InvalidKey(key, "absolute paths are not allowed")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey(key, "empty path segment (leading, trailing or doubled '/')")
        if segment in (".", ".."):
            raise InvalidKey(key, f"'{segment}' segments are not allowed")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKey(key, "only A-Z, a-z, 0-9, '.', '_', '-' and '/' are allowed")
        if segment.startswith("."):
            raise InvalidKey(key, "a path segment may not start with '.'")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(key, f"a path segment is longer than {MAX_SEGMENT_LENGTH} characters")
    return key


def validate_key_prefix(key_prefix: str) -> str:
    """A prefix follows the key rules and leaves room for ``/<sha256>`` within :data:`MAX_KEY_LENGTH`."""
    validate_key(key_prefix)
    if len(key_prefix) + 1 + SHA256_HEX_LENGTH > MAX_KEY_LENGTH:
        raise InvalidKey(
            key_prefix[:40] + "…",
            f"prefix longer than {MAX_KEY_LENGTH - 1 - SHA256_HEX_LENGTH} characters",
        )
    return key_prefix


def validate_content_type(content_type: str) -> str:
    """``type/subtype[; params]`` in printable ASCII (it ends up in HTTP headers), at most 100 characters."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidInput(
            f"Kiểu nội dung (content type) không hợp lệ: {content_type!r}.",
            f"Invalid content type: {content_type!r}.",
            content_type=repr(content_type),
        )
    return content_type


def object_key(key_prefix: str, sha256: str) -> str:
    """The content address of an object: ``<key_prefix>/<sha256>``."""
    return f"{key_prefix}/{sha256}"


def validate_record(obj: StoredObject) -> None:
    """Refuse a :class:`StoredObject` whose key, hash and size cannot describe a stored object."""
    validate_key(obj.key)
    if not _SHA256.fullmatch(obj.sha256) or obj.key.rsplit("/", 1)[-1] != obj.sha256 or obj.size < 0:
        raise IntegrityError(
            obj.key,
            "the record is inconsistent: the key must end with its lowercase SHA-256 and the size be >= 0",
            expected_sha256=obj.sha256,
            expected_size=obj.size,
        )


# ---------------------------------------------------------------- the integrity check


def check_integrity(
    obj: StoredObject,
    size: int,
    sha256: str | None = None,
    *,
    read: bool = False,
    existing: bool = False,
) -> None:
    """Match what was found against the record ``obj``; :class:`IntegrityError` names the first difference.

    ``size`` and ``sha256`` are what the store describes before a byte is read (its size; the SHA-256 in its
    metadata where it keeps one, else None: nothing to compare) or, with ``read``, what the content read
    amounts to. ``existing``: the object was found at the key of a new upload, and is not overwritten.
    """
    details: dict[str, Any]
    if size != obj.size:
        what, details = "size", {"expected_size": obj.size, "actual_size": size}
        if read:
            reason = f"the stored content is {'larger' if size > obj.size else 'shorter'} than recorded"
        else:
            reason = "stored size differs from the record"
    elif sha256 is not None and sha256 != obj.sha256:
        details = {"expected_sha256": obj.sha256, "actual_sha256": sha256}
        if read:
            what, reason = "SHA-256", "SHA-256 mismatch"
        else:
            what, reason = "SHA-256 in its metadata", "the SHA-256 in the object's metadata differs from the record"
    else:
        return
    if existing:
        reason = f"an existing object with this key is corrupted ({what} differs); it is not overwritten"
    raise IntegrityError(obj.key, reason, version_id=obj.version_id, **details)


def check_existing(obj: StoredObject, found: ObjectInfo, content: Callable[[], Iterable[bytes]]) -> None:
    """An upload's key is taken by ``found``: it must be this very content (described, then read in full and
    hashed), or :class:`IntegrityError` — the object there is corrupted, and is not overwritten."""
    check_integrity(obj, found.size, found.sha256, existing=True)
    size, sha256 = digest(content())
    check_integrity(obj, size, sha256, read=True, existing=True)


def digest(chunks: Iterable[bytes]) -> tuple[int, str]:
    """``(size, sha256 hex)`` of the bytes ``chunks`` yields; the iterator is closed whatever happens."""
    sha256 = hashlib.sha256()
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            sha256.update(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    return size, sha256.hexdigest()


def spool(
    stream: BinaryIO,
    write: Callable[[bytes], object],
    *,
    max_bytes: int | None,
    chunk_size: int,
) -> tuple[str, int]:
    """Copy ``stream`` to ``write`` chunk by chunk; return ``(sha256 hex, size)``.

    Never reads more than ``max_bytes + 1`` bytes: the upload is refused with :class:`UploadTooLarge`
    as soon as the limit is exceeded, before the excess is written anywhere.
    """
    sha256 = hashlib.sha256()
    size = 0
    while True:
        want = chunk_size if max_bytes is None else min(chunk_size, max_bytes - size + 1)
        chunk = stream.read(want)
        if chunk is None:
            raise ValueError("stream.read() returned None: non-blocking streams are not supported")
        if not chunk:
            return sha256.hexdigest(), size
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise UploadTooLarge(max_bytes)
        sha256.update(chunk)
        write(chunk)


class VerifiedStream(Iterator[bytes]):
    """Iterate over an object's chunks while checking them against the :class:`StoredObject`.

    The size is checked as the bytes arrive; the **last** chunk is only released once the whole content
    has been hashed and matched, so a consumer never receives the complete bytes of a corrupted object:
    :class:`IntegrityError` is raised instead (a streamed HTTP response is cut short, never completed).
    Closes the underlying source when exhausted, on error, on :meth:`close` or when used as a context
    manager.
    """

    def __init__(
        self,
        obj: StoredObject,
        chunks: Iterator[bytes],
        on_close: Callable[[], object] | None = None,
    ) -> None:
        self.obj = obj
        self._chunks = chunks
        self._on_close = on_close
        self._digest = hashlib.sha256()
        self._size = 0
        self._closed = False

    def __iter__(self) -> VerifiedStream:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            chunk = self._pull()
            if chunk is not None:
                self._take(chunk)
                if self._size < self.obj.size:
                    return chunk
                # Last chunk: hold it back until the source is confirmed exhausted and the hash matches.
                extra = self._pull()
                if extra is not None:
                    self._take(extra)
            check_integrity(self.obj, self._size, self._digest.hexdigest(), read=True)
        except BaseException:
            self.close()
            raise
        self.close()
        if chunk is None:
            raise StopIteration
        return chunk

    def _pull(self) -> bytes | None:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return None

    def _take(self, chunk: bytes) -> None:
        """Count and hash ``chunk``; more bytes than recorded fail at once."""
        self._size += len(chunk)
        if self._size > self.obj.size:
            check_integrity(self.obj, self._size, read=True)
        self._digest.update(chunk)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close_chunks = getattr(self._chunks, "close", None)
        if callable(close_chunks):
            close_chunks()
        if self._on_close is not None:
            with contextlib.suppress(OSError):
                self._on_close()

    def __enter__(self) -> VerifiedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.close()


class ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (stream one object into a :meth:`BaseStore.put`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


# ---------------------------------------------------------------- the adapters' common base


class BaseStore(abc.ABC):
    """The limits every adapter takes, and what it offers beyond the port the same way: :meth:`put_bytes`, and
    for a store that keeps no versions nor signs URLs, :meth:`list_objects`, :meth:`versions` and
    :meth:`presigned_url`."""

    def __init__(self, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be > 0")
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size

    @abc.abstractmethod
    def put(self, key_prefix: str, stream: BinaryIO, content_type: str) -> StoredObject: ...

    @abc.abstractmethod
    def open(self, obj: StoredObject) -> VerifiedStream: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo: ...

    @abc.abstractmethod
    def iter_keys(self) -> Iterator[str]: ...

    def put_bytes(self, key_prefix: str, data: bytes, content_type: str) -> StoredObject:
        return self.put(key_prefix, io.BytesIO(data), content_type)

    def copy(self, source: StoredObject, key_prefix: str) -> StoredObject:
        """Store ``source``'s bytes also as ``<key_prefix>/<sha256>`` (idempotent like :meth:`put`); the source
        stays until :meth:`discard`. Here the bytes stream through (verified as they are read); the local and S3
        stores override this so they never leave the store (a hard link, a server-side copy)."""
        copied = self.put(key_prefix, ChunkReader(self.open(source)), source.content_type)
        if copied.sha256 != source.sha256:  # cannot happen: open() verified the bytes against the record
            raise IntegrityError(copied.key, "the copy differs from its source", expected_sha256=source.sha256)
        return copied

    def discard(self, obj: StoredObject) -> None:
        """Remove an object that was copied elsewhere (:meth:`copy`) and is referenced no more, for good; gone
        already is fine. Signed results are refused (:func:`check_deletable`)."""
        with contextlib.suppress(ObjectMissing):
            self.delete(obj.key)

    @property
    def keeps_every_version(self) -> bool:
        """True when the store keeps every version of every object for a retention period (an object-locked S3
        bucket): removing an object there frees nothing, so a copy would be kept twice."""
        return False

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every stored object with its size and modification time, sorted by key."""
        for key in self.iter_keys():
            try:
                yield self.stat(key)
            except ObjectMissing:  # deleted while listing
                continue

    def versions(self, key: str) -> list[ObjectVersion]:
        """The one "version" an unversioned store keeps (id None), or none."""
        try:
            info = self.stat(key)
        except ObjectMissing:
            return []
        return [ObjectVersion(version_id=None, is_latest=True, last_modified=info.last_modified)]

    def presigned_url(self, obj: StoredObject, expires: dt.timedelta, filename: str | None = None) -> str | None:
        """This store cannot sign URLs: None, and the caller streams :meth:`open` instead."""
        return None
