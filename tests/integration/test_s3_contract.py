"""The document-store contract (``tests/unit/test_storage_contract.py``) against a real S3 server.

Two buckets on one SeaweedFS: ``contract-plain`` (no versioning) and ``contract-locked`` (object lock:
versioning and a one-day GOVERNANCE retention). Every test gets its own key namespace in the bucket.
"""

from __future__ import annotations

import inspect
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

import tests.unit.test_storage_contract as contract
from storage.s3 import S3DocumentStore
from storage.url import open_s3, parse_s3_url
from tests.integration.seaweed import SeaweedServer

pytest_plugins = ["tests.integration.seaweed"]  # the `seaweed` fixtures, one server per session
pytestmark = pytest.mark.integration

VARIANTS = {
    "s3": {"bucket": "contract-plain", "versioning": "false"},
    "s3-locked": {"bucket": "contract-locked", "retention_days": "1", "retention_mode": "GOVERNANCE"},
}
_counter = itertools.count()


def s3_store(server: SeaweedServer, variant: str, tmp_path: Path, **kwargs: Any) -> S3DocumentStore:
    params = dict(VARIANTS[variant])
    bucket = params.pop("bucket")
    namespace = f"t{next(_counter):04d}-{uuid.uuid4().hex[:8]}"
    location = parse_s3_url(server.url(f"{bucket}/{namespace}", **params))
    store = open_s3(location, max_bytes=kwargs.pop("max_bytes", None), spool_dir=tmp_path)
    if "chunk_size" in kwargs:
        store.chunk_size = kwargs.pop("chunk_size")
    assert not kwargs, kwargs
    return store


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every variant for every contract test, except the versioned bucket for a test that damages an object in
    place (a tampering write there is a new version: tests/integration/test_s3.py covers what happens)."""
    if "make_store" not in metafunc.fixturenames:
        return
    in_place = metafunc.definition.get_closest_marker("overwrites_in_place") is not None
    variants = [v for v in VARIANTS if not (in_place and "retention_days" in VARIANTS[v])]
    metafunc.parametrize("make_store", variants, indirect=True)


@pytest.fixture
def make_store(request: pytest.FixtureRequest, seaweed: SeaweedServer, tmp_path: Path) -> Any:
    made: list[S3DocumentStore] = []

    def make(**kwargs: Any) -> S3DocumentStore:
        store = s3_store(seaweed, request.param, tmp_path, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    assert list(tmp_path.iterdir()) == [], "a spooled upload was left behind"


# Every contract test that takes a store; the local-directory specifics are in test_storage_local.py.
for _name, _test in inspect.getmembers(contract, inspect.isfunction):
    if _name.startswith("test_") and {"store", "make_store"} & set(inspect.signature(_test).parameters):
        globals()[_name] = _test
store = contract.store  # the `store` fixture, built from this module's `make_store`
