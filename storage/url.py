"""``MOTCUA_STORAGE_URL`` → a document store.

* unset: the embedded default, a local directory (``<var_dir>/objects``); nothing to configure;
* ``file:///absolute/path``: a local directory there;
* ``s3://ACCESS:SECRET@host:port/bucket[/namespace]?secure=false&…``: an S3 server through the MinIO SDK.
  Access key and secret are URL-encoded. Query options (all optional):

  ==================  ==========  ===============================================================
  ``secure``          ``true``    HTTPS (``false`` for a plain-HTTP server such as a local MinIO)
  ``region``          us-east-1   signing region
  ``part_size_mb``    16          multipart part size (uploads above it go up in parts), ≥ 5
  ``versioning``      ``true``    enable bucket versioning (version ids recorded, reads by version)
  ``retention_days``  (none)      create the bucket with object lock and this default retention
  ``retention_mode``  GOVERNANCE  or COMPLIANCE
  ``conditional``     ``auto``    ``If-None-Match: *`` on writes: ``auto`` probes the server, ``on``/``off``
  ``retries``         4           attempts per request (bounded exponential backoff)
  ``create_bucket``   ``true``    create the bucket when missing
  ==================  ==========  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from dossiers.errors import InvalidInput
from storage.local import LocalDocumentStore, private_dir

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OPTIONS = {
    "secure",
    "region",
    "part_size_mb",
    "versioning",
    "retention_days",
    "retention_mode",
    "conditional",
    "retries",
    "create_bucket",
}


class StoreSettings(Protocol):
    """The part of :class:`motcua.settings.Settings` the store needs."""

    @property
    def storage_url(self) -> str | None: ...

    @property
    def objects_dir(self) -> Path: ...

    @property
    def max_upload_bytes(self) -> int: ...

    @property
    def var_dir(self) -> Path: ...


@dataclass(frozen=True)
class S3Location:
    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    bucket: str
    namespace: str = ""
    secure: bool = True
    region: str = "us-east-1"
    part_size: int = 16 * 1024 * 1024
    versioning: bool = True
    retention_days: int | None = None
    retention_mode: str = "GOVERNANCE"
    conditional: bool | None = None
    retries: int = 4
    create_bucket: bool = True

    @property
    def display(self) -> str:
        """The URL without credentials (for logs and messages)."""
        scheme = "https" if self.secure else "http"
        path = f"{self.bucket}/{self.namespace}" if self.namespace else self.bucket
        return f"{scheme}://{self.endpoint}/{path}"


def _bad(url: str, reason_vi: str, reason_en: str) -> InvalidInput:
    shown = redact(url)
    return InvalidInput(
        f"MOTCUA_STORAGE_URL không hợp lệ ({shown}): {reason_vi}.",
        f"Invalid MOTCUA_STORAGE_URL ({shown}): {reason_en}.",
        storage_url=shown,
    )


def redact(url: str) -> str:
    """``s3://key:secret@host/b`` → ``s3://key:***@host/b``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def _flag(url: str, name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _bad(url, f"{name} phải là true hoặc false", f"{name} must be true or false")


def _int(url: str, name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise _bad(url, f"{name} phải là số nguyên ≥ {minimum}", f"{name} must be an integer >= {minimum}")
    return number


def parse_s3_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise _bad(url, "cần dạng s3://…", "expected s3://…")
    if not parts.hostname:
        raise _bad(url, "thiếu máy chủ", "the host is missing")
    if parts.username is None or parts.password is None:
        raise _bad(url, "thiếu access key hoặc secret key", "the access key or secret key is missing")
    try:
        port = parts.port
    except ValueError:
        raise _bad(url, "cổng không hợp lệ", "invalid port") from None
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path:
        raise _bad(url, "thiếu tên bucket", "the bucket name is missing")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _OPTIONS)
    if unknown:
        raise _bad(url, f"tùy chọn không hỗ trợ: {', '.join(unknown)}", f"unknown options: {', '.join(unknown)}")
    options = {name: values[-1] for name, values in query.items()}
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    kwargs: dict[str, Any] = {
        "endpoint": f"{host}:{port}" if port else host,
        "access_key": unquote(parts.username),
        "secret_key": unquote(parts.password),
        "bucket": path[0],
        "namespace": "/".join(path[1:]),
    }
    if "secure" in options:
        kwargs["secure"] = _flag(url, "secure", options["secure"])
    if "region" in options:
        kwargs["region"] = options["region"]
    if "part_size_mb" in options:
        kwargs["part_size"] = _int(url, "part_size_mb", options["part_size_mb"], 5) * 1024 * 1024
    if "versioning" in options:
        kwargs["versioning"] = _flag(url, "versioning", options["versioning"])
    if options.get("retention_days"):
        kwargs["retention_days"] = _int(url, "retention_days", options["retention_days"], 1)
    if "retention_mode" in options:
        mode = options["retention_mode"].upper()
        if mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise _bad(
                url, "retention_mode là GOVERNANCE hoặc COMPLIANCE", "retention_mode is GOVERNANCE or COMPLIANCE"
            )
        kwargs["retention_mode"] = mode
    if "conditional" in options:
        value = options["conditional"].lower()
        kwargs["conditional"] = None if value == "auto" else _flag(url, "conditional", value)
    if "retries" in options:
        kwargs["retries"] = _int(url, "retries", options["retries"], 1)
    if "create_bucket" in options:
        kwargs["create_bucket"] = _flag(url, "create_bucket", options["create_bucket"])
    return S3Location(**kwargs)


def file_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _bad(url, "file:// chỉ dùng đường dẫn cục bộ", "file:// takes a local path (file:///path)")
    path = Path(unquote(parts.path))
    if not path.is_absolute():
        raise _bad(url, "cần đường dẫn tuyệt đối (file:///…)", "an absolute path is required (file:///…)")
    return path


def open_s3(location: S3Location, *, max_bytes: int | None = None, spool_dir: Path | None = None) -> Any:
    from storage.s3 import RetryPolicy, S3DocumentStore, make_client

    client = make_client(
        location.endpoint,
        location.access_key,
        location.secret_key,
        secure=location.secure,
        region=location.region,
    )
    return S3DocumentStore(
        client,
        location.bucket,
        namespace=location.namespace,
        endpoint=location.display,
        max_bytes=max_bytes,
        part_size=location.part_size,
        spool_dir=spool_dir,
        versioning=location.versioning,
        retention_days=location.retention_days,
        retention_mode=location.retention_mode,
        conditional_writes=location.conditional,
        create_bucket=location.create_bucket,
        retry=RetryPolicy(attempts=location.retries),
    )


def open_store(settings: StoreSettings) -> Any:
    """The document store ``settings.storage_url`` names (the local default when it is unset)."""
    url = (settings.storage_url or "").strip()
    if not url:
        return LocalDocumentStore(settings.objects_dir, max_bytes=settings.max_upload_bytes)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalDocumentStore(file_path(url), max_bytes=settings.max_upload_bytes)
    if scheme == "s3":
        spool_dir = settings.var_dir / "spool"
        private_dir(spool_dir, 0o700, parents=True)  # uploads on their way to S3: personal data
        return open_s3(parse_s3_url(url), max_bytes=settings.max_upload_bytes, spool_dir=spool_dir)
    raise _bad(url, "chỉ hỗ trợ file:// và s3://", "only file:// and s3:// are supported")
