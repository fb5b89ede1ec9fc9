"""Local-directory adapter of the ``DocumentStore`` port (what every adapter shares: :mod:`storage.api`).

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
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
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
from storage.errors import ObjectExists, ObjectMissing, StorageError

TMP_DIR = ".tmp"
OBJECT_MODE = 0o440
DIR_MODE = 0o750
TMP_DIR_MODE = 0o700


# ---------------------------------------------------------------- helpers


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


class LocalDocumentStore(BaseStore):
    """Write-once, content-addressed objects in a local directory (see the module docstring)."""

    def __init__(self, root: Path, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__(max_bytes, chunk_size)
        self.root = Path(root).absolute()

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
            self._make_parents(prefix)
            return self._link_into_place(tmp, obj)
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
            check_integrity(obj, st.st_size)
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

    def copy(self, source: StoredObject, key_prefix: str) -> StoredObject:
        """A hard link: the object gets its second key without a byte being written (and once the source is
        discarded, the same inode holds it under the new key only). The source's size must match its record;
        its content is verified on every read as always. Idempotent like :meth:`put`."""
        validate_record(source)
        prefix = validate_key_prefix(key_prefix)
        obj = StoredObject(
            key=object_key(prefix, source.sha256),
            sha256=source.sha256,
            size=source.size,
            content_type=source.content_type,
        )
        origin = self._path(source.key)
        try:
            st = os.lstat(origin)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(source.key) from None
        except OSError as exc:
            raise StorageError.io_failure("stat", source.key, exc) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectMissing(source.key)
        check_integrity(source, st.st_size)
        self._prepare_root(prefix)
        self._make_parents(prefix)
        return self._link_into_place(origin, obj)

    def _link_into_place(self, source: Path, obj: StoredObject) -> StoredObject:
        """``source`` becomes ``obj``'s file: a hard link (atomic, and it refuses an existing target: write-once;
        the same bytes there already are the same object), then the directory is synced."""
        target = self._path(obj.key)
        try:
            os.link(source, target)
        except FileExistsError:
            return self._existing(obj)
        except OSError as exc:
            raise StorageError.io_failure("store object", obj.key, exc) from exc
        with _io("sync directory", obj.key):
            _fsync_dir(target.parent)
        return obj

    def delete(self, key: str) -> None:
        """Remove an object (``storage check --clean`` of orphans). Signed results are refused."""
        check_deletable(key)
        self.stat(key)  # ObjectMissing if there is nothing to delete
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        except OSError as exc:
            raise StorageError.io_failure("delete", key, exc) from exc
        with _io("sync directory", key):
            _fsync_dir(self._path(key).parent)

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

        def content() -> Iterator[bytes]:
            with _io("read", obj.key):
                file = io.FileIO(path, "rb")
            return self._read_chunks(file, obj.key)

        check_existing(obj, ObjectInfo(obj.key, st.st_size), content)
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
