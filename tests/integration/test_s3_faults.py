"""Faults between the S3 adapter and a real SeaweedFS: dropped connections (retried, boundedly) and the
server killed in the middle of a multipart upload (a clear error, nothing partial visible, the same
operation succeeding once the server is back). Tests that kill the session's server start it again."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.check import check_store
from storage.errors import StorageError
from storage.s3 import MIN_PART_SIZE, S3DocumentStore
from storage.url import open_s3, parse_s3_url
from tests.integration.seaweed import HOST, SeaweedServer
from tests.unit.test_storage_contract import GeneratedStream

pytest_plugins = ["tests.integration.seaweed"]  # the `seaweed` fixtures, one server per session
pytestmark = pytest.mark.integration

PDF = "application/pdf"


class FlakyProxy:
    """A loopback TCP proxy in front of the S3 port that can drop connections on demand.

    ``fail_next(n)`` closes every open connection and then refuses the next ``n`` new ones (accepted and
    closed at once: the client sees a reset or an empty reply), like a load balancer restarting."""

    def __init__(self, target_port: int) -> None:
        self.target = (HOST, target_port)
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.to_drop = 0
        self.dropped = 0
        self.accepted = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="flaky-proxy", daemon=True)
        self._thread.start()

    def fail_next(self, n: int) -> None:
        with self._lock:
            self.to_drop = n
            for s in list(self._open):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                if self.to_drop > 0:
                    self.to_drop -= 1
                    self.dropped += 1
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    client.close()  # RST
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self.fail_next(0)
        self._thread.join(timeout=5)


@pytest.fixture
def proxy(seaweed: SeaweedServer) -> Iterator[FlakyProxy]:
    p = FlakyProxy(seaweed.ports["s3"])
    try:
        yield p
    finally:
        p.close()


def via_proxy(server: SeaweedServer, proxy: FlakyProxy, tmp_path: Path, sleeps: list[float]) -> S3DocumentStore:
    url = server.url(f"faults/{uuid.uuid4().hex[:10]}", versioning="false").replace(
        f":{server.ports['s3']}/", f":{proxy.port}/"
    )
    store = open_s3(parse_s3_url(url), spool_dir=tmp_path)
    real_sleep = store._sleep

    def record(delay: float) -> None:
        sleeps.append(delay)
        real_sleep(delay)

    store._sleep = record
    store.capabilities  # noqa: B018 - set up through a healthy proxy
    return store


def test_dropped_connections_are_retried_with_backoff(
    seaweed: SeaweedServer,
    proxy: FlakyProxy,
    tmp_path: Path,
) -> None:
    sleeps: list[float] = []
    store = via_proxy(seaweed, proxy, tmp_path, sleeps)
    proxy.fail_next(2)
    obj = store.put_bytes("agency/incoming/20260302", b"scan after a blip", PDF)
    assert proxy.dropped == 2
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.1  # exponential backoff (with jitter)
    proxy.fail_next(1)
    assert b"".join(store.open(obj)) == b"scan after a blip"
    assert len(sleeps) == 3


def test_retries_are_bounded_and_end_in_a_clear_error(
    seaweed: SeaweedServer,
    proxy: FlakyProxy,
    tmp_path: Path,
) -> None:
    sleeps: list[float] = []
    store = via_proxy(seaweed, proxy, tmp_path, sleeps)
    proxy.fail_next(1000)
    began = time.monotonic()
    with pytest.raises(StorageError) as info:
        store.put_bytes("agency/incoming/20260302", b"never stored", PDF)
    elapsed = time.monotonic() - began
    err = info.value
    assert err.details["attempts"] == store.retry.attempts == 4 and len(sleeps) == 3
    assert proxy.dropped == 4
    assert elapsed < 5, elapsed  # 0.2 + 0.4 + 0.8 s of backoff (±25 %), no hidden retries below us
    assert "did not answer" in err.message_en and "Không kết nối được kho lưu trữ" in err.message_vi
    assert err.kind == "unavailable"  # the API answers 503
    proxy.fail_next(0)
    assert list(store.iter_keys()) == []


def test_server_killed_mid_upload_then_back(
    seaweed: SeaweedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = seaweed
    spool = tmp_path / "spool"
    spool.mkdir()
    url = server.url(f"faults-locked/{uuid.uuid4().hex[:10]}", retention_days="1", part_size_mb="5", retries="3")
    store = open_s3(parse_s3_url(url), spool_dir=spool)
    store.retry = type(store.retry)(attempts=3, base_delay=0.1, max_delay=0.3)
    total = 3 * MIN_PART_SIZE + 1000
    parts_sent: list[int] = []
    real_upload_part = store._upload_part

    def crash_after_first_part(*args: Any) -> str:
        if parts_sent:
            server.kill()  # SIGKILL: the server is gone in the middle of the multipart upload
        etag = real_upload_part(*args)
        parts_sent.append(args[3])
        return etag

    monkeypatch.setattr(store, "_upload_part", crash_after_first_part)
    stream = GeneratedStream(total)
    try:
        with pytest.raises(StorageError) as info:
            store.put("agency/incoming/20260302", stream.as_binary(), PDF)
        err = info.value
        assert parts_sent == [1]
        assert err.details["operation"] == "upload part 2" and err.details["attempts"] == 3
        assert err.message_vi.startswith("Không kết nối được kho lưu trữ tài liệu")
        assert list(spool.iterdir()) == []  # the spooled copy is gone too

        # The same operation while the server is still down: the same clear error, quickly.
        monkeypatch.undo()
        with pytest.raises(StorageError):
            store.put("agency/incoming/20260302", GeneratedStream(total).as_binary(), PDF)
    finally:
        server.start()  # same ports, same data (the session's other tests go on with it)
    assert list(store.iter_keys()) == []  # nothing partial is visible
    leftovers = store.incomplete_uploads()  # the abort could not reach a dead server
    obj = store.put("agency/incoming/20260302", GeneratedStream(total).as_binary(), PDF)
    assert obj.size == total and obj.sha256 == stream.digest.hexdigest()
    assert sum(len(c) for c in store.open(obj)) == total
    import datetime as dt

    from storage.check import Record

    report = check_store(store, [Record(obj, "doc")], clean=True, grace=dt.timedelta(0))
    assert report.problems == []
    assert {o.upload_id for o in report.removed} == {u.upload_id for u in leftovers}
    assert store.incomplete_uploads() == [] and report.ok
