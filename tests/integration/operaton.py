"""The Operaton engine of ``deploy/operaton`` for the integration tests: build once, run, always stop.

``built_jar()`` builds the Spring Boot jar with Maven (``-o`` offline once ``~/.m2`` has everything, online
otherwise) and caches it under ``~/.cache/motcua/operaton/<hash of pom.xml + src>.jar``, so later sessions
skip the build. ``OperatonServer`` starts ``java -jar`` on 127.0.0.1 on a free port against a JDBC URL,
waits (bounded) for ``GET /engine-rest/engine`` with Basic auth, and always stops it (SIGTERM, then SIGKILL).
``unavailable()`` fails under ``CI=true`` and skips elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from tests.integration.maven_jar import MavenJar
from tests.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "deploy" / "operaton"
CACHE = Path(os.environ.get("MOTCUA_OPERATON_CACHE", Path.home() / ".cache" / "motcua" / "operaton"))
START_SECONDS = 180
STOP_SECONDS = 20
HOST = "127.0.0.1"


class OperatonUnavailable(RuntimeError):
    """Java/Maven missing, the build failed or the engine did not come up."""


def unavailable(reason: str) -> None:
    """Fail under CI (Operaton is part of the suite there), skip elsewhere."""
    service_missing(f"Operaton unavailable: {reason}")


JAR = MavenJar(PROJECT, CACHE, "motcua-operaton", "motcua-operaton.jar", OperatonUnavailable)


def built_jar() -> Path:
    """The engine jar for the current sources, built at most once per source hash (tests/integration/maven_jar.py)."""
    return JAR.built()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Jdbc:
    url: str
    username: str = ""
    password: str = ""

    @classmethod
    def h2_memory(cls, name: str = "operaton") -> Jdbc:
        return cls(f"jdbc:h2:mem:{name};DB_CLOSE_DELAY=-1;DB_CLOSE_ON_EXIT=FALSE", "sa", "")

    @classmethod
    def from_sqlalchemy(cls, url: str) -> Jdbc:
        """``postgresql+psycopg://user:pw@host:port/db`` (tests/integration/postgres.py) as a JDBC URL."""
        u = urlsplit(url)
        return cls(
            f"jdbc:postgresql://{u.hostname}:{u.port or 5432}{u.path}",
            unquote(u.username or ""),
            unquote(u.password or ""),
        )


@dataclass
class OperatonServer:
    jar: Path
    jdbc: Jdbc
    log_dir: Path
    user: str = "motcuaadmin"  # Operaton ids: letters and digits only
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/engine-rest"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "operaton.log"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def client(self, auth: bool = True) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.user, self.password) if auth else None, timeout=30)

    def start(self) -> None:
        """Start on a free port, or on the same port again after ``stop()`` (a restart)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        env = dict(
            os.environ,
            SERVER_ADDRESS=HOST,
            SERVER_PORT=str(self.port),
            SPRING_DATASOURCE_URL=self.jdbc.url,
            SPRING_DATASOURCE_USERNAME=self.jdbc.username,
            SPRING_DATASOURCE_PASSWORD=self.jdbc.password,
            OPERATON_ADMIN_USER=self.user,
            OPERATON_ADMIN_PASSWORD=self.password,
        )
        env.pop("SPRING_PROFILES_ACTIVE", None)
        env.update(self.extra_env)
        began = time.monotonic()
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                ["java", "-XX:+UseSerialGC", "-Xss512k", "-jar", str(self.jar)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.log_dir,
                start_new_session=True,
            )
        deadline = began + START_SECONDS
        with httpx.Client(auth=(self.user, self.password), timeout=5) as http:
            while True:
                if self.proc.poll() is not None:
                    raise OperatonUnavailable(f"Operaton exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/engine").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise OperatonUnavailable(f"Operaton did not answer in {START_SECONDS}s:\n{self.log_tail()}")
                time.sleep(0.5)
        self.started_in = time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL the JVM's process group (a crash: no shutdown hook runs); ``start()`` brings it back on the
        same port and database."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        """Always safe to call: SIGTERM to the process group, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_SECONDS)


def start_operaton(jdbc: Jdbc, log_dir: Path, *, job_executor: bool = True) -> OperatonServer:
    """Build (cached) and start; raises OperatonUnavailable. The caller must call ``stop()``.

    ``job_executor=False``: timers fire only through ``fire_due_timers`` (tests run on a simulated clock that
    lies months before the real one, where the job executor would fire every timer at once)."""
    extra = {} if job_executor else {"OPERATON_BPM_JOBEXECUTION_ENABLED": "false"}
    server = OperatonServer(jar=built_jar(), jdbc=jdbc, log_dir=log_dir, extra_env=extra)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
