"""A throw-away PostgreSQL cluster for the integration tests (Debian's ``postgresql`` package).

``PostgresCluster`` runs ``initdb`` in a temporary directory owned by the ``postgres`` system user (initdb
refuses root), starts the server on 127.0.0.1 on a free port with its unix socket in that directory,
creates the role and database ``motcua`` with a password and always stops it again (``pg_ctl stop -m fast``,
then a kill). Every wait is bounded. ``fresh_database()`` gives each test its own empty database.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
ROLE = "motcua"
START_SECONDS = 60
COMMAND_SECONDS = 120


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed or started here."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` that has ``initdb`` and ``pg_ctl``."""
    if not PG_ROOT.is_dir():
        return None
    candidates = []
    for d in PG_ROOT.iterdir():
        b = d / "bin"
        if d.name.isdigit() and (b / "initdb").exists() and (b / "pg_ctl").exists():
            candidates.append((int(d.name), b))
    return max(candidates)[1] if candidates else None


def ensure_installed() -> Path:
    """The PostgreSQL binaries, installing Debian's ``postgresql`` (as root) when they are missing."""
    found = pg_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable("PostgreSQL is not installed and cannot be installed here (needs root and apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    found = pg_bin_dir()
    if found is None:
        raise PostgresUnavailable("installed postgresql but found no initdb under /usr/lib/postgresql/*/bin")
    return found


class PostgresCluster:
    def __init__(self, bin_dir: Path, base: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="motcua-pg-")) if base is None else base
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.log_file = self.base / "postgres.log"
        self.port = 0
        self.password = secrets.token_urlsafe(16)
        self._as_root = os.geteuid() == 0
        self._pid: int | None = None

    # ------------------------------------------------------------------ commands as the cluster owner

    def _run(self, args: Sequence[str], timeout: float = COMMAND_SECONDS, check: bool = True) -> str:
        cmd = [str(a) for a in args]
        if self._as_root:
            cmd = ["runuser", "-u", SYSTEM_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.base)
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}\n{self.log()}")
        return done.stdout

    def _psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            [
                self.bin_dir / "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.socket_dir,
                "-p",
                self.port,
                "-U",
                SYSTEM_USER,
                "-d",
                database,
                "-c",
                sql,
            ]
        )

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_root:
            owner = pwd.getpwnam(SYSTEM_USER)
            for p in (self.base, self.socket_dir):
                os.chown(p, owner.pw_uid, owner.pw_gid)
            os.chmod(self.base, 0o700)
        self._run(
            [
                self.bin_dir / "initdb",
                "-D",
                self.data_dir,
                "-U",
                SYSTEM_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        for attempt in range(3):
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._run(
                    [
                        self.bin_dir / "pg_ctl",
                        "-D",
                        self.data_dir,
                        "-l",
                        self.log_file,
                        "-o",
                        options,
                        "-w",
                        "-t",
                        START_SECONDS,
                        "start",
                    ],
                    timeout=START_SECONDS + 15,
                )
                break
            except (PostgresUnavailable, subprocess.TimeoutExpired):
                self._kill()
                if attempt == 2 or "already in use" not in self.log():
                    raise
        self._pid = self._postmaster_pid()
        self._wait_ready()
        self._psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{self.password}'")
        self._psql(f"CREATE DATABASE {ROLE} OWNER {ROLE}")

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"PostgreSQL did not accept TCP connections\n{self.log()}") from None
                time.sleep(0.1)

    def url(self, database: str = ROLE) -> str:
        return f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def fresh_database(self, name: str | None = None) -> str:
        """A new empty database owned by ``motcua``; its SQLAlchemy URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        self._psql(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Always safe to call: a fast shutdown, then SIGKILL if it is still there, then the files go."""
        try:
            if self.data_dir.exists() and self._postmaster_pid() is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._run(
                        [self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", "30", "stop"],
                        timeout=45,
                        check=False,
                    )
        finally:
            self._kill()
            shutil.rmtree(self.base, ignore_errors=True)

    def _kill(self) -> None:
        pid = self._postmaster_pid() or self._pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)  # the postmaster we started; its children exit with it
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def start_cluster() -> PostgresCluster:
    cluster = PostgresCluster(ensure_installed())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
