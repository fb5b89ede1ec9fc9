"""``MOTCUA_STORAGE_URL`` parsing and the S3 adapter's retry policy (no server needed). Selecting a store over a state
directory is tested in tests/integration/test_storage_url.py."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3
from minio.error import S3Error

from dossiers.errors import InvalidInput
from storage.errors import ObjectMissing, StorageError
from storage.s3 import RetryPolicy, S3DocumentStore
from storage.url import parse_s3_url, redact


def test_s3_url_defaults() -> None:
    loc = parse_s3_url("s3://key:secret@s3.example.org/bucket")
    assert (loc.endpoint, loc.secure, loc.versioning, loc.retention_days, loc.conditional) == (
        "s3.example.org",
        True,
        True,
        None,
        None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "s3://host:9000/bucket",  # no credentials
        "s3://key:secret@host:9000",  # no bucket
        "s3://key:secret@host:9000/b?secure=maybe",
        "s3://key:secret@host:9000/b?part_size_mb=1",
        "s3://key:secret@host:9000/b?retention_days=0",
        "s3://key:secret@host:9000/b?retention_mode=forever",
        "s3://key:secret@host:9000/b?colour=blue",
        "s3://key:secret@host:notaport/b",
    ],
)
def test_bad_s3_urls_are_refused_without_showing_the_secret(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_s3_url(url)
    assert "secret" not in info.value.message_en.replace("secret key", "")
    assert info.value.message_vi.startswith("MOTCUA_STORAGE_URL không hợp lệ")


def test_redact() -> None:
    assert redact("s3://key:secret@h:1/b?x=1") == "s3://key:***@h:1/b?x=1"
    assert redact("file:///srv/objects") == "file:///srv/objects"


# ---------------------------------------------------------------- retries (a fake client, no server)


class FlakyClient:
    """Fails ``failures`` times with ``error``, then answers."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def bucket_exists(self, bucket: str) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return True


def s3_error(code: str, status: int) -> S3Error:
    response: Any = urllib3.HTTPResponse(status=status)
    return S3Error(code, code, "b", "req", "host", response)


def store_with(client: Any, sleeps: list[float], attempts: int = 4) -> S3DocumentStore:
    return S3DocumentStore(client, "bucket", retry=RetryPolicy(attempts=attempts), sleep=sleeps.append)


@pytest.mark.parametrize(
    "error",
    [
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        s3_error("SlowDown", 503),
        s3_error("InternalError", 500),
    ],
)
def test_transient_errors_are_retried_with_growing_delays(error: BaseException) -> None:
    sleeps: list[float] = []
    client = FlakyClient(3, error)
    assert store_with(client, sleeps)._call("check bucket", "b", lambda: client.bucket_exists("b")) is True
    assert client.calls == 4 and len(sleeps) == 3
    assert 0.15 <= sleeps[0] <= 0.25 and 0.3 <= sleeps[1] <= 0.5 and 0.6 <= sleeps[2] <= 1.0


def test_retries_are_bounded() -> None:
    sleeps: list[float] = []
    client = FlakyClient(100, urllib3.exceptions.ProtocolError("reset"))
    with pytest.raises(StorageError) as info:
        store_with(client, sleeps, attempts=5)._call("upload", "k", lambda: client.bucket_exists("b"))
    assert client.calls == 5 and len(sleeps) == 4
    assert max(sleeps) <= 2.0 * 1.25  # capped
    assert info.value.details["attempts"] == 5 and info.value.kind == "unavailable"


@pytest.mark.parametrize("code", ["AccessDenied", "SignatureDoesNotMatch", "NoSuchBucket", "InvalidArgument"])
def test_refusals_are_not_retried(code: str) -> None:
    sleeps: list[float] = []
    client = FlakyClient(1, s3_error(code, 403 if code != "NoSuchBucket" else 404))
    with pytest.raises(StorageError) as info:
        store_with(client, sleeps)._call("check bucket", "b", lambda: client.bucket_exists("b"))
    assert client.calls == 1 and sleeps == [] and info.value.details["code"] == code


def test_missing_objects_are_not_retried() -> None:
    sleeps: list[float] = []
    client = FlakyClient(1, s3_error("NoSuchKey", 404))
    with pytest.raises(ObjectMissing):
        store_with(client, sleeps)._call("stat", "a/b", lambda: client.bucket_exists("b"))
    assert client.calls == 1 and sleeps == []
