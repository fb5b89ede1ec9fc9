"""S3 adapter of the ``DocumentStore`` port, through the MinIO SDK (MinIO, SeaweedFS, Ceph RGW, AWS S3).

Same guarantees as the local directory (DESIGN §8):

* **Hash first.** An upload is spooled to an anonymous temporary file while its SHA-256 is computed (never
  held whole in memory), then stored as ``<key_prefix>/<sha256>`` with the hash in the object's metadata
  (``x-amz-meta-sha256``); the database keeps it too. Every read checks size, metadata and content
  (:class:`storage.api.VerifiedStream`): a corrupted object is reported, never served as good.
* **Write once.** The adapter never overwrites a key: it looks first (HEAD) and then writes with
  ``If-None-Match: *``, which the server refuses (412) if anything appeared meanwhile. Whether the server
  honours the condition is probed once per process on a fixed key (``.motcua/conditional-write-probe``);
  where it does not, the HEAD before the write is the only guard (a race between two writers of the same
  key remains possible there: both write identical bytes). Signed results
  (:func:`storage.api.is_write_once`) are also refused to :meth:`S3DocumentStore.delete`.
* **Versions.** On a versioned bucket each write records its version id (``StoredObject.version_id``, kept
  in the database) and reads ask for that version, so a later PUT to the same key — which a versioned
  bucket *accepts* as a new version — can never change what is served; ``storage check`` reports it.
  With ``retention_days`` the bucket is created with object lock and a default retention (GOVERNANCE or
  COMPLIANCE) as an extra safeguard: the server then refuses to delete old versions as well.
* **Streaming.** Uploads above ``part_size`` go up as multipart uploads one part at a time (one part in
  memory); downloads stream in ``chunk_size`` pieces. :meth:`S3DocumentStore.presigned_url` gives a
  short-lived URL for an authorized download, after checking the object against its record.
* **Faults.** Transient failures (connection refused or reset, timeouts, 5xx, ``SlowDown``) are retried
  with bounded exponential backoff; then :class:`storage.errors.StorageError` (Vietnamese and English)
  is raised. A multipart upload that fails is aborted; an object only becomes visible when complete.

The SDK's public ``put_object`` cannot send ``If-None-Match``, so uploads use its request layer
(``_put_object``, ``_create_multipart_upload``, ``_upload_part``, ``_execute``); the version is pinned in
``pyproject.toml`` for that reason. Everything else is the public API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

import structlog
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE, CopySource
from minio.datatypes import Part
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import md5sum_hash
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.versioningconfig import VersioningConfig
from minio.xml import Element, SubElement, getbytes

from dossiers.ports import StoredObject
from storage.api import (
    CHUNK_SIZE,
    BaseStore,
    ObjectInfo,
    ObjectVersion,
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
from storage.errors import ObjectExists, ObjectMissing, StorageError, WriteOnceViolation

log = structlog.get_logger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's smallest part (all but the last)
MAX_PART_SIZE = 5 * 1024 * MiB
DEFAULT_PART_SIZE = 16 * MiB
META_SHA256 = "x-amz-meta-sha256"
META_WRITE_ONCE = "x-amz-meta-motcua-write-once"
PROBE_KEY = ".motcua/conditional-write-probe"
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject", "ResourceNotFound"})
TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "OperationAborted", "Throttling"}
)
NOT_SUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "InvalidRequest",
        "InvalidBucketState",
        "ObjectLockConfigurationNotFoundError",
        "MethodNotAllowed",
    }
)
RETENTION_MODES = {"GOVERNANCE": GOVERNANCE, "COMPLIANCE": COMPLIANCE}

T = TypeVar("T")
Headers = dict[str, str | list[str] | tuple[str]]  # the SDK's header mapping


class _PreconditionFailed(Exception):
    """The server refused a conditional write (``If-None-Match: *``): the key exists now."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` tries in all, sleeping ``base_delay·2ⁿ`` (at most ``max_delay``) ±25 %."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("attempts must be >= 1 and delays >= 0")

    def delay(self, failures: int) -> float:
        base = min(self.max_delay, self.base_delay * (2 ** (failures - 1)))
        return float(base * random.uniform(0.75, 1.25))


@dataclass(frozen=True)
class Capabilities:
    """What the bucket turned out to offer (decided once, on first use)."""

    versioning: bool
    object_lock: bool
    conditional_writes: bool
    retention_days: int | None = None
    retention_mode: str | None = None


@dataclass(frozen=True)
class IncompleteUpload:
    key: str
    upload_id: str
    initiated: dt.datetime | None


def make_client(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    secure: bool = False,
    region: str = "us-east-1",
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_connections: int = 10,
) -> Minio:
    """A MinIO client whose HTTP layer does **not** retry: :class:`S3DocumentStore` retries, boundedly."""
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        retries=False,
        maxsize=max_connections,
        block=False,
    )
    return Minio(endpoint, access_key, secret_key, secure=secure, region=region, http_client=http)


class S3DocumentStore(BaseStore):
    """Write-once, content-addressed, verified objects in one S3 bucket (see the module docstring).

    ``namespace`` (optional) puts every key under ``<namespace>/`` in the bucket, so several stores can share
    a bucket; keys given to and returned by the store never include it.
    """

    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        namespace: str = "",
        endpoint: str | None = None,
        max_bytes: int | None = None,
        chunk_size: int = CHUNK_SIZE,
        part_size: int = DEFAULT_PART_SIZE,
        spool_dir: Path | None = None,
        versioning: bool = True,
        retention_days: int | None = None,
        retention_mode: str = "GOVERNANCE",
        conditional_writes: bool | None = None,
        create_bucket: bool = True,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(max_bytes, chunk_size)
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if retention_days is not None and retention_days < 1:
            raise ValueError("retention_days must be >= 1")
        if retention_mode not in RETENTION_MODES:
            raise ValueError(f"retention_mode must be one of {sorted(RETENTION_MODES)}")
        if namespace:
            validate_key(namespace)
        self.client = client
        self.bucket = bucket
        self.namespace = namespace
        self.endpoint = endpoint or "S3"
        self.part_size = part_size
        self.spool_dir = spool_dir
        self.want_versioning = versioning or retention_days is not None
        self.retention_days = retention_days
        self.retention_mode = retention_mode
        self.want_conditional = conditional_writes
        self.create_bucket = create_bucket
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._capabilities: Capabilities | None = None
        self._ready_lock = threading.Lock()

    # ------------------------------------------------------------------ set-up

    @property
    def capabilities(self) -> Capabilities:
        """Bucket created or checked, versioning and object lock set up, conditional writes probed."""
        if self._capabilities is None:
            with self._ready_lock:
                if self._capabilities is None:
                    self._capabilities = self._prepare()
        return self._capabilities

    def _prepare(self) -> Capabilities:
        bucket = self.bucket
        exists = self._call("check bucket", bucket, lambda: self.client.bucket_exists(bucket))
        lock = self.retention_days is not None
        if not exists:
            if not self.create_bucket:
                raise StorageError.rejected("check bucket", bucket, self.endpoint, "NoSuchBucket", "bucket missing")
            try:
                self._call("create bucket", bucket, lambda: self.client.make_bucket(bucket, object_lock=lock))
            except StorageError as exc:
                code = exc.details.get("code")
                if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    pass
                elif lock and code in NOT_SUPPORTED_CODES:
                    log.warning("storage.object_lock_unsupported", bucket=bucket, code=code)
                    self._call("create bucket", bucket, lambda: self.client.make_bucket(bucket))
                else:
                    raise
        versioning = False
        if self.want_versioning:
            versioning = self._enable_versioning()
        object_lock = False
        if lock and versioning:
            object_lock = self._set_retention()
        conditional = self.want_conditional
        if conditional is None:
            conditional = self._probe_conditional_writes()
        caps = Capabilities(
            versioning=versioning,
            object_lock=object_lock,
            conditional_writes=conditional,
            retention_days=self.retention_days if object_lock else None,
            retention_mode=self.retention_mode if object_lock else None,
        )
        log.info("storage.s3_ready", bucket=bucket, endpoint=self.endpoint, **dataclasses.asdict(caps))
        return caps

    def _enable_versioning(self) -> bool:
        bucket = self.bucket
        status = self._call("read versioning", bucket, lambda: self.client.get_bucket_versioning(bucket)).status
        if status == ENABLED:
            return True
        config = VersioningConfig(ENABLED)
        return self._configure(
            "enable versioning", "versioning", lambda: self.client.set_bucket_versioning(bucket, config)
        )

    def _set_retention(self) -> bool:
        """Default retention on the bucket (every new version is locked for ``retention_days``)."""
        bucket = self.bucket
        config = ObjectLockConfig(RETENTION_MODES[self.retention_mode], self.retention_days, DAYS)
        return self._configure(
            "set object lock", "object_lock", lambda: self.client.set_object_lock_config(bucket, config)
        )

    def _configure(self, operation: str, feature: str, request: Callable[[], object]) -> bool:
        """Apply one bucket setting; False (and a warning ``storage.<feature>_unsupported``) where the server does
        not offer it."""
        try:
            self._call(operation, self.bucket, request)
        except StorageError as exc:
            if exc.details.get("code") in NOT_SUPPORTED_CODES:
                log.warning(f"storage.{feature}_unsupported", bucket=self.bucket, code=exc.details.get("code"))
                return False
            raise
        return True

    def _probe_conditional_writes(self) -> bool:
        """Does the server refuse ``If-None-Match: *`` on an existing key? One fixed probe key, ≤ 2 writes."""

        def attempt() -> bool:
            try:
                self._put_single(PROBE_KEY, b"probe", {"Content-Type": "text/plain", "If-None-Match": "*"}, raw=True)
            except _PreconditionFailed:
                return True
            return False

        if attempt():  # the probe object already existed and the write was refused
            return True
        honoured = attempt()  # we just created it: a second conditional write must be refused
        if not honoured:
            log.warning("storage.conditional_writes_ignored", bucket=self.bucket, endpoint=self.endpoint)
        return honoured

    # ------------------------------------------------------------------ port

    def put(self, key_prefix: str, stream: BinaryIO, content_type: str) -> StoredObject:
        """Spool and hash ``stream``, then store it as ``<key_prefix>/<sha256>`` unless that key exists.

        Storing the same content under the same prefix again returns the existing object (and its version);
        anything else found at that key (size, metadata or content differ) is refused with
        :class:`IntegrityError` and left as it is.
        """
        prefix = validate_key_prefix(key_prefix)
        content_type = validate_content_type(content_type)
        caps = self.capabilities
        try:
            spool_file = tempfile.TemporaryFile(prefix="motcua-upload-", dir=self.spool_dir)  # noqa: SIM115
        except OSError as exc:
            raise StorageError.io_failure("create temporary file", prefix, exc) from exc
        with spool_file as tmp:

            def write(chunk: bytes) -> None:
                try:
                    tmp.write(chunk)
                except OSError as exc:
                    raise StorageError.io_failure("write temporary file", prefix, exc) from exc

            sha256, size = spool(stream, write, max_bytes=self.max_bytes, chunk_size=self.chunk_size)
            obj = StoredObject(key=object_key(prefix, sha256), sha256=sha256, size=size, content_type=content_type)
            existing = self._stat_or_none(obj.key)
            if existing is not None:
                return self._existing(obj, existing)
            self._check_path_free(obj.key)
            try:
                version_id = self._upload(tmp, obj, conditional=caps.conditional_writes)
            except _PreconditionFailed:
                existing = self._stat_or_none(obj.key)
                if existing is None:  # refused, yet gone again: someone deleted it in between
                    raise ObjectExists(obj.key) from None
                return self._existing(obj, existing)
        return dataclasses.replace(obj, version_id=version_id)

    def open(self, obj: StoredObject) -> VerifiedStream:
        """Stream the recorded version of the object, verified against ``obj``.

        Raises :class:`ObjectMissing`, or :class:`IntegrityError` before any chunk when the stored size or
        the SHA-256 in the object's metadata differs from the record.
        """
        validate_record(obj)
        self.capabilities  # noqa: B018 - set up the bucket on first use
        info = self.stat(obj.key, obj.version_id)
        check_integrity(obj, info.size, info.sha256)
        name = self._name(obj.key)
        response = self._call(
            "read",
            obj.key,
            lambda: self.client.get_object(self.bucket, name, version_id=_api_version(obj.version_id)),
        )
        return VerifiedStream(obj, self._chunks(response, obj.key), on_close=lambda: _release(response))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self.capabilities  # noqa: B018
        return self._stat_or_none(key) is not None

    def check_writable(self) -> None:
        """Raise :class:`StorageError` unless uploads can be spooled locally and the server answers with the bucket
        there (one HEAD request, for health checks). Write permission on the bucket itself is not probed: an
        object-locked bucket would keep every probe object for its retention period."""
        try:
            with tempfile.TemporaryFile(prefix="motcua-probe-", dir=self.spool_dir) as probe:
                probe.write(b"probe")
                probe.flush()
        except OSError as exc:
            raise StorageError.io_failure("probe spool directory", "(probe)", exc) from exc
        self.capabilities  # noqa: B018
        bucket = self.bucket
        if not self._call("check bucket", bucket, lambda: self.client.bucket_exists(bucket)):
            raise StorageError.rejected("check bucket", bucket, self.endpoint, "NoSuchBucket", "bucket missing")

    # ------------------------------------------------------------------ beyond the port

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """HEAD of ``key`` (latest version, or ``version_id``); :class:`ObjectMissing` if there is none."""
        validate_key(key)
        self.capabilities  # noqa: B018
        name = self._name(key)
        try:
            result = self._call(
                "stat", key, lambda: self.client.stat_object(self.bucket, name, version_id=_api_version(version_id))
            )
        except StorageError as exc:
            if exc.details.get("code") == "MethodNotAllowed":  # the version asked for is a delete marker
                raise ObjectMissing(key) from None
            raise
        metadata = result.metadata or {}
        return ObjectInfo(
            key=key,
            size=int(result.size or 0),
            last_modified=result.last_modified,
            sha256=metadata.get(META_SHA256),
            version_id=_version(result.version_id),
            write_once=is_write_once(key) or metadata.get(META_WRITE_ONCE) == "true",
        )

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of ``key``, newest first, delete markers included (``[]``: never stored)."""
        validate_key(key)
        self.capabilities  # noqa: B018
        name = self._name(key)

        def listing() -> list[ObjectVersion]:
            found = [
                ObjectVersion(
                    version_id=_version(o.version_id),
                    is_latest=str(o.is_latest).lower() == "true",
                    is_delete_marker=bool(o.is_delete_marker),
                    last_modified=o.last_modified,
                )
                for o in self.client.list_objects(self.bucket, prefix=name, include_version=True)
                if o.object_name == name
            ]
            epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
            found.sort(key=lambda v: (v.is_latest, v.last_modified or epoch), reverse=True)
            return found

        return self._call("list versions", key, listing)

    def iter_keys(self) -> Iterator[str]:
        for info in self.list_objects():
            yield info.key

    def list_keys(self, prefix: str, start_after: str | None = None) -> list[str]:
        """The keys under the folder ``prefix`` that sort after ``start_after``, sorted. One listing of the
        folder's direct children (with a delimiter), then one recursive listing of each child folder whose keys
        do not all sort before ``start_after``: the anchors of old buckets are never listed. (``StartAfter`` is
        not used: servers with a directory-based namespace, SeaweedFS among them, skip a whole folder named like
        it.)"""
        validate_key(prefix)
        self.capabilities  # noqa: B018
        strip = len(self.namespace) + 1 if self.namespace else 0

        def listing() -> list[str]:
            found: list[str] = []

            def add(name: str) -> None:
                key = name[strip:]
                if key and (not start_after or key > start_after):
                    found.append(key)

            for child in self.client.list_objects(self.bucket, prefix=self._name(prefix) + "/", recursive=False):
                name = child.object_name or ""
                if not child.is_dir:
                    add(name)
                    continue
                folder = name[strip:]
                if start_after and folder < start_after and not start_after.startswith(folder):
                    continue  # every key in it sorts before start_after
                for o in self.client.list_objects(self.bucket, prefix=name, recursive=True):
                    if not o.is_dir:
                        add(o.object_name or "")
            return sorted(found)

        return self._call("list", prefix, listing)

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every current object (no delete markers, no ``.``-internal keys), sorted by key."""
        self.capabilities  # noqa: B018
        prefix = f"{self.namespace}/" if self.namespace else None

        def listing() -> list[ObjectInfo]:
            out = []
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                name = o.object_name or ""
                key = name[len(prefix) :] if prefix else name
                if not key or o.is_dir or any(segment.startswith(".") for segment in key.split("/")):
                    continue
                out.append(
                    ObjectInfo(
                        key=key,
                        size=int(o.size or 0),
                        last_modified=o.last_modified,
                        version_id=_version(o.version_id),
                        write_once=is_write_once(key),
                    )
                )
            return sorted(out, key=lambda i: i.key)

        yield from self._call("list", self.namespace or "/", listing)

    def delete(self, key: str) -> None:
        """Remove an object (``storage check --clean`` of orphans); signed results are refused.

        On a versioned bucket this adds a delete marker: earlier versions stay (and are locked where the
        bucket has a retention period).
        """
        check_deletable(key)
        info = self.stat(key)
        if info.write_once:
            raise WriteOnceViolation(key, "delete")
        name = self._name(key)
        self._call("delete", key, lambda: self.client.remove_object(self.bucket, name))

    def copy(self, source: StoredObject, key_prefix: str) -> StoredObject:
        """A server-side copy (CopyObject) of the recorded version: the bytes never pass through this process.
        The source's size and metadata SHA-256 are checked against its record first (HEAD); the copy gets its
        own metadata (hash, content type, write-once mark) and is checked the same way after. A key already
        holding this content is returned as it is (idempotent like :meth:`put`); objects over 5 GiB (more than
        any upload is allowed) stream through :meth:`put` instead."""
        validate_record(source)
        prefix = validate_key_prefix(key_prefix)
        self.capabilities  # noqa: B018
        info = self.stat(source.key, source.version_id)
        check_integrity(source, info.size, info.sha256)
        if source.size > MAX_PART_SIZE:
            return super().copy(source, key_prefix)
        obj = StoredObject(
            key=object_key(prefix, source.sha256),
            sha256=source.sha256,
            size=source.size,
            content_type=source.content_type,
        )
        existing = self._stat_or_none(obj.key)
        if existing is not None:
            return self._existing(obj, existing)
        self._check_path_free(obj.key)
        headers: Headers = {
            **self._headers(obj, conditional=False),
            "x-amz-metadata-directive": "REPLACE",
            **CopySource(
                self.bucket, self._name(source.key), version_id=_api_version(source.version_id)
            ).gen_copy_headers(),
        }
        name = self._name(obj.key)
        response = self._call("copy", obj.key, lambda: self.client._execute("PUT", self.bucket, name, headers=headers))
        copied = dataclasses.replace(obj, version_id=_version(response.headers.get("x-amz-version-id")))
        made = self.stat(copied.key, copied.version_id)
        check_integrity(copied, made.size, made.sha256)
        return copied

    def discard(self, obj: StoredObject) -> None:
        """Remove the recorded version for good (on a versioned bucket a plain delete would only hide it behind a
        delete marker, its bytes kept); gone already is fine. Signed results are refused."""
        check_deletable(obj.key)
        self.capabilities  # noqa: B018
        name = self._name(obj.key)
        version = _api_version(obj.version_id)
        try:
            info = self.stat(obj.key, obj.version_id)
        except ObjectMissing:
            return
        if info.write_once:
            raise WriteOnceViolation(obj.key, "delete")
        with contextlib.suppress(ObjectMissing):
            self._call("delete", obj.key, lambda: self.client.remove_object(self.bucket, name, version_id=version))

    @property
    def keeps_every_version(self) -> bool:
        """An object-locked bucket keeps every version for its retention period: nothing removed frees space."""
        return self.capabilities.object_lock

    def presigned_url(
        self, obj: StoredObject, expires: dt.timedelta = dt.timedelta(minutes=5), filename: str | None = None
    ) -> str:
        """A short-lived GET URL for the recorded version, after checking size and metadata hash.

        The caller has authorized the download; the URL bypasses the streaming hash check, so the object's
        record is checked here and the client gets the SHA-256 to compare (the API exposes it).
        """
        validate_record(obj)
        if not dt.timedelta(seconds=1) <= expires <= dt.timedelta(days=7):
            raise ValueError("expires must be between 1 second and 7 days")
        info = self.stat(obj.key, obj.version_id)
        check_integrity(obj, info.size, info.sha256)
        headers: Headers = {"response-content-type": obj.content_type}
        if filename:
            safe = "".join(c for c in filename if c.isalnum() or c in "._- ")[:120] or "document"
            headers["response-content-disposition"] = f'attachment; filename="{safe}"'
        name = self._name(obj.key)
        return self._call(
            "presign",
            obj.key,
            lambda: self.client.presigned_get_object(
                self.bucket, name, expires=expires, response_headers=headers, version_id=_api_version(obj.version_id)
            ),
        )

    def incomplete_uploads(self) -> list[IncompleteUpload]:
        """Multipart uploads started and never completed nor aborted (a crash, a lost connection)."""
        self.capabilities  # noqa: B018
        prefix = f"{self.namespace}/" if self.namespace else ""

        def listing() -> list[IncompleteUpload]:
            result = self.client._list_multipart_uploads(self.bucket, prefix=prefix)
            return [
                IncompleteUpload(
                    key=(u.object_name or "")[len(prefix) :], upload_id=u.upload_id or "", initiated=u.initiated_time
                )
                for u in result.uploads
            ]

        return self._call("list uploads", self.namespace or "/", listing)

    def abort_upload(self, upload: IncompleteUpload) -> None:
        name = self._name(upload.key)
        self._call(
            "abort upload",
            upload.key,
            lambda: self.client._abort_multipart_upload(self.bucket, name, upload.upload_id),
        )

    def close(self) -> None:
        http = getattr(self.client, "_http", None)
        if http is not None:
            http.clear()

    # ------------------------------------------------------------------ internals

    def _name(self, key: str) -> str:
        return f"{self.namespace}/{key}" if self.namespace else key

    def _stat_or_none(self, key: str) -> ObjectInfo | None:
        try:
            return self.stat(key)
        except ObjectMissing:
            return None

    def _existing(self, obj: StoredObject, info: ObjectInfo) -> StoredObject:
        """The key is taken: the same content → the existing object (and version); anything else is refused."""
        name = self._name(obj.key)

        def content() -> Iterator[bytes]:
            version = _api_version(info.version_id)
            response = self._call(
                "read", obj.key, lambda: self.client.get_object(self.bucket, name, version_id=version)
            )
            return self._chunks(response, obj.key)

        check_existing(obj, info, content)
        return dataclasses.replace(obj, version_id=info.version_id)

    def _check_path_free(self, key: str) -> None:
        """Keys behave like paths on every adapter: no object is a "directory" of another, or vice versa.

        Only an ancestor whose last segment is a SHA-256 can be an object (every key ends in one)."""
        segments = key.split("/")
        for i in range(1, len(segments)):
            ancestor = "/".join(segments[:i])
            if len(segments[i - 1]) == 64 and self._stat_or_none(ancestor) is not None:
                raise ObjectExists(ancestor)
        below = self._name(key) + "/"

        def anything_below() -> bool:
            return any(True for _ in self.client.list_objects(self.bucket, prefix=below))

        if self._call("list", key, anything_below):
            raise ObjectExists(key)

    def _headers(self, obj: StoredObject, conditional: bool) -> dict[str, str]:
        headers = {"Content-Type": obj.content_type, META_SHA256: obj.sha256}
        if is_write_once(obj.key):
            headers[META_WRITE_ONCE] = "true"
        if conditional:
            headers["If-None-Match"] = "*"
        return headers

    def _upload(self, tmp: IO[bytes], obj: StoredObject, *, conditional: bool) -> str | None:
        headers = self._headers(obj, conditional)
        if obj.size <= self.part_size:
            tmp.seek(0)
            data = _read(tmp, obj.size, obj.key)
            return self._put_single(obj.key, data, headers)
        return self._put_multipart(tmp, obj, headers)

    def _put_single(self, key: str, data: bytes, headers: dict[str, str], *, raw: bool = False) -> str | None:
        name = key if raw else self._name(key)
        result = self._call("upload", key, lambda: self.client._put_object(self.bucket, name, data, dict(headers)))
        return _version(result.version_id)

    def _put_multipart(self, tmp: IO[bytes], obj: StoredObject, headers: dict[str, str]) -> str | None:
        name = self._name(obj.key)
        create_headers: Headers = {k: v for k, v in headers.items() if k != "If-None-Match"}
        upload_id: str = self._call(
            "start upload", obj.key, lambda: self.client._create_multipart_upload(self.bucket, name, create_headers)
        )
        try:
            parts: list[Part] = []
            offset, number = 0, 0
            while offset < obj.size:
                number += 1
                tmp.seek(offset)
                data = _read(tmp, min(self.part_size, obj.size - offset), obj.key)
                parts.append(Part(number, self._upload_part(obj.key, name, upload_id, number, data)))
                offset += len(data)
                del data
            return self._complete(obj.key, name, upload_id, parts, conditional="If-None-Match" in headers)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: `storage check --orphans` lists leftovers
                self.client._abort_multipart_upload(self.bucket, name, upload_id)
            raise

    def _upload_part(self, key: str, name: str, upload_id: str, number: int, data: bytes) -> str:
        return str(
            self._call(
                f"upload part {number}",
                key,
                lambda: self.client._upload_part(self.bucket, name, data, None, upload_id, number),
            )
        )

    def _complete(self, key: str, name: str, upload_id: str, parts: list[Part], *, conditional: bool) -> str | None:
        element = Element("CompleteMultipartUpload")
        for part in parts:
            tag = SubElement(element, "Part")
            SubElement(tag, "PartNumber", str(part.part_number))
            SubElement(tag, "ETag", '"' + part.etag + '"')
        body = getbytes(element)
        headers: Headers = {"Content-Type": "application/xml", "Content-MD5": str(md5sum_hash(body))}
        if conditional:
            headers["If-None-Match"] = "*"

        def complete() -> Any:
            return self.client._execute(
                "POST", self.bucket, name, body=body, headers=headers, query_params={"uploadId": upload_id}
            )

        response = self._call("complete upload", key, complete)
        return _version(response.headers.get("x-amz-version-id"))

    def _chunks(self, response: Any, key: str) -> Iterator[bytes]:
        try:
            yield from response.stream(self.chunk_size)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError.unreachable("read", key, self.endpoint, repr(exc), 1) from exc
        finally:
            _release(response)

    def _call(self, operation: str, key: str, fn: Callable[[], T]) -> T:
        """Run one S3 request with bounded retries; map failures to the store's errors."""
        last: BaseException | None = None
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return fn()
            except S3Error as exc:
                if exc.code in MISSING_CODES:
                    raise ObjectMissing(key) from None
                if exc.code == "PreconditionFailed" or _status(exc) == 412:
                    raise _PreconditionFailed(key) from None
                if exc.code not in TRANSIENT_CODES and _status(exc) < 500:
                    raise StorageError.rejected(
                        operation, key, self.endpoint, exc.code or "error", exc.message or ""
                    ) from exc
                last = exc
            except (ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, OSError) as exc:
                if isinstance(exc, InvalidResponseError) and _status(exc) in (404,):
                    raise ObjectMissing(key) from None
                last = exc
            if attempt < self.retry.attempts:
                delay = self.retry.delay(attempt)
                log.info("storage.retry", operation=operation, key=key, attempt=attempt, delay=round(delay, 3))
                self._sleep(delay)
        assert last is not None
        raise StorageError.unreachable(operation, key, self.endpoint, _reason(last), self.retry.attempts) from last


def _version(version_id: str | None) -> str | None:
    """Unversioned objects have no id: S3 says ``null`` (or nothing)."""
    return None if not version_id or version_id == "null" else str(version_id)


def _api_version(version_id: str | None) -> str | None:
    return version_id or None


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    status = getattr(response, "status", None)
    if status is None:
        status = getattr(exc, "_code", None) or getattr(exc, "status_code", None)
    try:
        return int(status) if status is not None else 0
    except (TypeError, ValueError):
        return 0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, S3Error):
        return f"{exc.code}: {exc.message}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _read(tmp: IO[bytes], n: int, key: str) -> bytes:
    try:
        data = tmp.read(n)
    except OSError as exc:
        raise StorageError.io_failure("read temporary file", key, exc) from exc
    if len(data) != n:
        raise StorageError(
            "Tệp tạm của bản tải lên bị thiếu dữ liệu.",
            "The upload's temporary file is shorter than what was spooled.",
            key=key,
        )
    return data


def _release(response: Any) -> None:
    with contextlib.suppress(Exception):
        response.close()
    with contextlib.suppress(Exception):
        response.release_conn()
