"""``MOTCUA_STORAGE_URL`` selecting a store over a state directory (the local directory, S3 with its spool next to
the state). Parsing and the S3 adapter's retry policy are tested in tests/unit/test_storage_url.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from dossiers.errors import InvalidInput
from motcua.settings import Settings
from storage.local import LocalDocumentStore
from storage.s3 import S3DocumentStore
from storage.url import open_store, parse_s3_url

pytestmark = pytest.mark.integration


def test_the_embedded_default_needs_no_url(tmp_path: Path) -> None:
    store = open_store(Settings(var_dir=tmp_path / "var"))
    assert isinstance(store, LocalDocumentStore) and store.root == (tmp_path / "var" / "objects").absolute()
    assert store.max_bytes == 50 * 1024 * 1024


def test_file_url(tmp_path: Path) -> None:
    store = open_store(Settings(var_dir=tmp_path / "var", storage_url=f"file://{tmp_path}/elsewhere"))
    assert isinstance(store, LocalDocumentStore) and store.root == tmp_path / "elsewhere"
    with pytest.raises(InvalidInput):
        open_store(Settings(var_dir=tmp_path, storage_url="file://relative/path"))


def test_s3_url_with_every_option(tmp_path: Path) -> None:
    url = (
        "s3://AK%2Fx:s3cr%40t@minio.internal:9000/motcua/tinh-demo?secure=false&region=ap-southeast-1"
        "&part_size_mb=32&retention_days=3650&retention_mode=compliance&conditional=off&retries=6"
        "&create_bucket=false&versioning=true"
    )
    loc = parse_s3_url(url)
    assert (loc.endpoint, loc.access_key, loc.secret_key) == ("minio.internal:9000", "AK/x", "s3cr@t")
    assert (loc.bucket, loc.namespace, loc.secure, loc.region) == ("motcua", "tinh-demo", False, "ap-southeast-1")
    assert (loc.part_size, loc.retention_days, loc.retention_mode) == (32 * 1024 * 1024, 3650, "COMPLIANCE")
    assert (loc.conditional, loc.retries, loc.create_bucket, loc.versioning) == (False, 6, False, True)
    assert "s3cr" not in repr(loc) and loc.display == "http://minio.internal:9000/motcua/tinh-demo"

    store = open_store(Settings(var_dir=tmp_path / "var", storage_url=url))
    assert isinstance(store, S3DocumentStore)
    assert (store.bucket, store.namespace, store.part_size, store.retry.attempts) == (
        "motcua",
        "tinh-demo",
        32 << 20,
        6,
    )
    assert (tmp_path / "var" / "spool").is_dir()  # uploads are spooled next to the state, not in memory


def test_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_store(Settings(var_dir=tmp_path, storage_url="ftp://example.org/x"))
