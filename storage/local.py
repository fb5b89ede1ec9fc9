"""Local-directory adapter of the ``DocumentStore`` port, plus the helpers every adapter shares.

Layout under ``root``::

    <root>/<key_prefix>/<sha256>     one file per object, read-only (0440), never overwritten or deleted
    <root>/.tmp/upload-*.part        uploads being spooled; anything left here is debris from a crash

Dossiers hold personal data: nothing is world-readable. Modes are set explicitly, whatever the process's umask:
objects 0440, directories 0750 (the owner and a backup group), ``.tmp`` 0700; an existing root loses its
world access on the first write.

An upload is spooled to ``.tmp`` while it is hashed (never held in memory), flushed and fsynced, then
hard-linked to its content-addressed key: ``os.link`` refuses an existing target atomically, so two
writers can never replace each other's object, and a crash leaves either no object or a complete one.
The directory holding the new entry is fsynced too, so the name survives a power failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from dossiers.errors import InvalidInput
from dossiers.ports import StoredObject
from storage.errors import (
    IntegrityError,
    InvalidKey,
    ObjectExists,
    ObjectMissing,
    StorageError,
    UploadTooLarge,
    WriteOnceViolation,
)

CHUNK_SIZE = 1024 * 1024  # 1 MiB: read, hash and write in pieces of this size
MAX_KEY_LENGTH = 500  # ``document.storage_key`` is a VARCHAR(500)
MAX_SEGMENT_LENGTH = 255  # NAME_MAX on common filesystems
MAX_CONTENT_TYPE_LENGTH = 100  # ``document.content_type`` is a VARCHAR(100)
SHA256_HEX_LENGTH = 64
TMP_DIR = ".tmp"
OBJECT_MODE = 0o440
DIR_MODE = 0o750
TMP_DIR_MODE = 0o700

# Documents the system issues and signs (``motcua/issuing.py``): ``<agency>/dossiers/<dossier>/<kind>/<sha256>``,
# and the audit log's head anchors (``motcua/audit.py``): ``audit/anchors/<bucket>/<seq>/<sha256>``.
# Every adapter refuses to overwrite or delete them, whatever the server or filesystem would allow.
AUDIT_ANCHOR_KEY = re.compile(r"audit/anchors/[0-9]{8}/[0-9]{12}/[0-9a-f]{64}")
WRITE_ONCE_KEY = re.compile(rf"[^/]+/dossiers/[^/]+/[^/]+/[0-9a-f]{{64}}|{AUDIT_ANCHOR_KEY.pattern}")

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?: *;[ -~]*)?")  # printable ASCII only: no CR/LF


# ---------------------------------------------------------------- shared helpers


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


def is_write_once(key: str) -> bool:
    """A signed result: never overwritten, never deleted (see :data:`WRITE_ONCE_KEY`)."""
    return WRITE_ONCE_KEY.fullmatch(key) is not None


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
    digest = hashlib.sha256()
    size = 0
    while True:
        want = chunk_size if max_bytes is None else min(chunk_size, max_bytes - size + 1)
        chunk = stream.read(want)
        if chunk is None:
            raise ValueError("stream.read() returned None: non-blocking streams are not supported")
        if not chunk:
            return digest.hexdigest(), size
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise UploadTooLarge(max_bytes)
        digest.update(chunk)
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
                self._size += len(chunk)
                self._check_not_larger()
                self._digest.update(chunk)
                if self._size < self.obj.size:
                    return chunk
                # Last chunk: hold it back until the source is confirmed exhausted and the hash matches.
                extra = self._pull()
                if extra is not None:
                    self._size += len(extra)
                    self._check_not_larger()
            self._verify_complete()
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

    def _check_not_larger(self) -> None:
        if self._size > self.obj.size:
            raise IntegrityError(
                self.obj.key,
                "the stored content is larger than recorded",
                expected_size=self.obj.size,
                read_size=self._size,
            )

    def _verify_complete(self) -> None:
        if self._size != self.obj.size:
            raise IntegrityError(
                self.obj.key,
                "the stored content is shorter than recorded",
                expected_size=self.obj.size,
                actual_size=self._size,
            )
        actual = self._digest.hexdigest()
        if actual != self.obj.sha256:
            raise IntegrityError(
                self.obj.key,
                "SHA-256 mismatch",
                expected_sha256=self.obj.sha256,
                actual_sha256=actual,
            )

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


@contextlib.contextmanager
def _io(operation: str, key: str) -> Iterator[None]:
    """Turn filesystem failures into :class:`StorageError` (an *unavailable*, not a crash)."""
    try:
        yield
    except OSError as exc:
        raise StorageError.io_failure(operation, key, exc) from exc


def private_dir(path: Path, mode: int, *, parents: bool = False) -> None:
    """``path`` as a directory of exactly ``mode`` when made now (whatever the umask); an existing one loses its
    world access (an operator's group bits are kept). Raises ``OSError`` (a file is in the way, …)."""
    try:
        path.mkdir(mode=mode, parents=parents)
    except FileExistsError:
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
        if st.st_mode & 0o007:
            with contextlib.suppress(PermissionError):  # another user's directory: not ours to change
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o007)
        return
    os.chmod(path, mode)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- adapter


class LocalDocumentStore:
    """Write-once, content-addressed objects in a local directory (see the module docstring)."""

    def __init__(self, root: Path, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be > 0")
        self.root = Path(root).absolute()
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size

    # -- port

    def put(self, key_prefix: str, stream: BinaryIO, content_type: str) -> StoredObject:
        """Spool and hash ``stream``, then store it as ``<key_prefix>/<sha256>``.

        Storing the same content under the same prefix again returns the same object (idempotent);
        anything else already at that key is refused (:class:`ObjectExists`, or :class:`IntegrityError`
        if an existing object there is corrupted). ``content_type`` is not persisted by this adapter:
        the returned record carries the one given, and the database keeps it.
        """
        prefix = validate_key_prefix(key_prefix)
        content_type = validate_content_type(content_type)
        tmp_dir = self._prepare_root(prefix)
        with _io("create temporary file", prefix):
            fd, tmp_name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
        tmp = Path(tmp_name)
        try:
            try:
                out = os.fdopen(fd, "wb")
            except OSError as exc:
                os.close(fd)
                raise StorageError.io_failure("write temporary file", prefix, exc) from exc
            with out:

                def write(chunk: bytes) -> None:
                    with _io("write temporary file", prefix):
                        out.write(chunk)

                sha256, size = spool(stream, write, max_bytes=self.max_bytes, chunk_size=self.chunk_size)
                with _io("flush temporary file", prefix):
                    out.flush()
                    os.fchmod(out.fileno(), OBJECT_MODE)
                    os.fsync(out.fileno())
            obj = StoredObject(key=object_key(prefix, sha256), sha256=sha256, size=size, content_type=content_type)
            target = self._path(obj.key)
            self._make_parents(prefix)
            try:
                os.link(tmp, target)  # atomic, and refuses an existing target: write-once
            except FileExistsError:
                return self._existing(obj)
            except OSError as exc:
                raise StorageError.io_failure("store object", obj.key, exc) from exc
            with _io("sync directory", obj.key):
                _fsync_dir(target.parent)
            return obj
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def open(self, obj: StoredObject) -> VerifiedStream:
        """Stream the object, verified against ``obj`` (see :class:`VerifiedStream`).

        Raises :class:`ObjectMissing` or, when the size on disk differs from the record,
        :class:`IntegrityError` right away, before any chunk is produced.
        """
        validate_record(obj)
        path = self._path(obj.key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(obj.key) from None
        except OSError as exc:
            raise StorageError.io_failure("open", obj.key, exc) from exc
        try:
            with _io("open", obj.key):
                st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ObjectMissing(obj.key)
            if st.st_size != obj.size:
                raise IntegrityError(
                    obj.key,
                    "size on disk differs from the record",
                    expected_size=obj.size,
                    actual_size=st.st_size,
                )
            file = io.FileIO(fd, "rb", closefd=True)
        except BaseException:
            os.close(fd)
            raise
        return VerifiedStream(obj, self._read_chunks(file, obj.key), on_close=file.close)

    def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            st = os.lstat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise StorageError.io_failure("stat", key, exc) from exc
        return stat.S_ISREG(st.st_mode)

    def check_writable(self) -> None:
        """Raise :class:`StorageError` unless a new object could be stored now: the directories are there (or can
        be made) and a small file can be created, synced and removed in ``.tmp`` — what :meth:`put` does first.
        Cheap enough for a health check; nothing is left behind."""
        tmp_dir = self._prepare_root("(probe)")
        with _io("probe write", "(probe)"):
            fd, name = tempfile.mkstemp(prefix="probe-", suffix=".part", dir=tmp_dir)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(name)

    # -- conveniences

    def put_bytes(self, key_prefix: str, data: bytes, content_type: str) -> StoredObject:
        return self.put(key_prefix, io.BytesIO(data), content_type)

    def iter_keys(self) -> Iterator[str]:
        """Every stored key, sorted, skipping ``.tmp`` (for orphan checks against the database)."""
        yield from self._walk(self.root, "")

    def list_keys(self, prefix: str, start_after: str | None = None) -> list[str]:
        """The keys under the folder ``prefix`` that sort after ``start_after``, sorted. Folders whose keys all
        sort before it are not read: the newest audit anchors are found without listing years of them."""
        validate_key(prefix)
        found: list[str] = []

        def walk(directory: Path, key_prefix: str) -> None:
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                return
            except OSError as exc:
                raise StorageError.io_failure("list", key_prefix, exc) from exc
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                key = key_prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folder = key + "/"
                    if start_after and folder < start_after and not start_after.startswith(folder):
                        continue  # every key in it sorts before start_after
                    walk(Path(entry.path), folder)
                elif entry.is_file(follow_symlinks=False) and (not start_after or key > start_after):
                    found.append(key)

        walk(self._path(prefix), prefix + "/")
        return sorted(found)

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every stored object with its size and modification time, sorted by key."""
        for key in self.iter_keys():
            try:
                yield self.stat(key)
            except ObjectMissing:  # deleted while listing
                continue

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Size and modification time of ``key`` (there are no versions: ``version_id`` must be None)."""
        validate_key(key)
        if version_id is not None:
            raise ObjectMissing(key)
        try:
            st = os.lstat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(key) from None
        except OSError as exc:
            raise StorageError.io_failure("stat", key, exc) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectMissing(key)
        modified = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
        return ObjectInfo(key=key, size=st.st_size, last_modified=modified, write_once=is_write_once(key))

    def versions(self, key: str) -> list[ObjectVersion]:
        """The one "version" a directory keeps (id None), or none."""
        try:
            info = self.stat(key)
        except ObjectMissing:
            return []
        return [ObjectVersion(version_id=None, is_latest=True, last_modified=info.last_modified)]

    def delete(self, key: str) -> None:
        """Remove an object (``storage check --clean`` of orphans). Signed results are refused."""
        validate_key(key)
        if is_write_once(key):
            raise WriteOnceViolation(key, "delete")
        self.stat(key)  # ObjectMissing if there is nothing to delete
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        except OSError as exc:
            raise StorageError.io_failure("delete", key, exc) from exc
        with _io("sync directory", key):
            _fsync_dir(self._path(key).parent)

    def presigned_url(self, obj: StoredObject, expires: dt.timedelta, filename: str | None = None) -> str | None:
        """A directory cannot sign URLs: None, and the caller streams :meth:`open` instead."""
        return None

    # -- internals

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def _prepare_root(self, key: str) -> Path:
        """The root (0750) and its ``.tmp`` (0700), made when missing; returns ``.tmp``."""
        tmp_dir = self.root / TMP_DIR
        with _io("create directory", key):
            private_dir(self.root, DIR_MODE, parents=True)
            private_dir(tmp_dir, TMP_DIR_MODE)
        return tmp_dir

    def _make_parents(self, prefix: str) -> None:
        """Create the prefix directories one by one, fsyncing each parent that gains an entry."""
        current = self.root
        segments = prefix.split("/")
        for i, segment in enumerate(segments):
            parent, current = current, current / segment
            try:
                os.mkdir(current, DIR_MODE)
                os.chmod(current, DIR_MODE)  # the umask may have taken bits off; never more than DIR_MODE
            except FileExistsError:
                if not current.is_dir():  # an object (or a stray file) sits where a directory is needed
                    raise ObjectExists("/".join(segments[: i + 1])) from None
                continue
            except OSError as exc:
                raise StorageError.io_failure("create directory", prefix, exc) from exc
            with _io("sync directory", prefix):
                _fsync_dir(parent)

    def _existing(self, obj: StoredObject) -> StoredObject:
        """The key is taken: same content → the same object again; anything else is refused."""
        path = self._path(obj.key)
        with _io("stat", obj.key):
            st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ObjectExists(obj.key)
        if st.st_size != obj.size:
            raise IntegrityError(
                obj.key,
                "an existing object with this key is corrupted (size differs); it is not overwritten",
                expected_size=obj.size,
                actual_size=st.st_size,
            )
        digest = hashlib.sha256()
        with _io("read", obj.key), open(path, "rb", buffering=0) as f:
            while chunk := f.read(self.chunk_size):
                digest.update(chunk)
        if digest.hexdigest() != obj.sha256:
            raise IntegrityError(
                obj.key,
                "an existing object with this key is corrupted (SHA-256 differs); it is not overwritten",
                expected_sha256=obj.sha256,
                actual_sha256=digest.hexdigest(),
            )
        with _io("sync directory", obj.key):  # the first writer may not have synced the entry yet
            _fsync_dir(path.parent)
        return obj

    def _read_chunks(self, file: io.FileIO, key: str) -> Iterator[bytes]:
        try:
            while True:
                with _io("read", key):
                    chunk = file.read(self.chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            file.close()

    def _walk(self, directory: Path, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError.io_failure("list", prefix or "/", exc) from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key + "/")
            elif entry.is_file(follow_symlinks=False):
                yield key
