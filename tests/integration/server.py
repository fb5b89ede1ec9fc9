"""The real ``motcua`` command as subprocesses (init, serve, worker, audit-verify) and an HTTP client for it.

Every process started here writes its output to a log file; the integration ``conftest`` attaches those
logs to the report of a failing test. Every wait is bounded in iterations and in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from motcua.app import DEMO_PASSWORD
from tests.conftest import HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, minimal_pdf

HOST = "127.0.0.1"
STOP_TIMEOUT = 15.0  # SIGTERM → this many seconds → SIGKILL
START_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0
LOG_TAIL_CHARS = 12_000

RECEPTION = "tiepnhan.xa1"
SPECIALIST = "chuyenvien1.xa1"
LEADER = "lanhdao.xa1"
ADMIN = "quantri.tinh"
FINAL_STATUSES = ("returned", "refused")


def motcua_command() -> list[str]:
    """The console script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).parent / "motcua"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from motcua.cli import app; app()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# Every log file written by a process of this module, for the failure report (conftest).
_LOGS: list[Path] = []
_LOGS_LOCK = threading.Lock()


def all_logs() -> list[Path]:
    with _LOGS_LOCK:
        return list(_LOGS)


def _register_log(path: Path) -> None:
    with _LOGS_LOCK:
        if path not in _LOGS:
            _LOGS.append(path)


def log_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return text if len(text) <= chars else "…" + text[-chars:]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> tuple[int, float, bool]:
    """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns (exit code, seconds it took, killed?)."""
    began = time.monotonic()
    if proc.poll() is not None:
        return proc.returncode, 0.0, False
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
        return code, time.monotonic() - began, False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        code = proc.wait(timeout=timeout)
        return code, time.monotonic() - began, True


@dataclass
class MotcuaServer:
    """One var dir served by ``motcua serve``; can be killed and restarted on the same state."""

    var_dir: Path
    log_dir: Path
    port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    codes: list[str] = field(default_factory=list)  # dossiers registered through an Api on this server
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _log_files: list[Any] = field(default_factory=list)
    tls_ca: Path | None = None  # set with MOTCUA_TLS_CERT_FILE/KEY_FILE in extra_env: the server speaks HTTPS

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://{HOST}:{self.port}"

    @property
    def verify(self) -> Any:
        """What httpx needs to trust this server (its CA when it speaks HTTPS)."""
        import ssl

        return ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(
            MOTCUA_VAR_DIR=str(self.var_dir),
            MOTCUA_PORT=str(self.port),
            MOTCUA_HOST=HOST,
            MOTCUA_DEMO_CLOCK="true",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ commands

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run one ``motcua`` command to completion with this server's environment."""
        log = self.log_dir / f"cli-{args[0]}.log"
        _register_log(log)
        result = subprocess.run(
            [*motcua_command(), *args],
            env=self.env,
            cwd=self.log_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with log.open("a", encoding="utf-8") as f:
            f.write(f"$ motcua {' '.join(args)}  → exit {result.returncode}\n{result.stdout}{result.stderr}\n")
        return result

    def init(self, *, samples: bool = False) -> subprocess.CompletedProcess[str]:
        """``motcua init``; without the first run's sample dossiers unless asked (a test brings its own)."""
        result = self.cli("init", "--samples" if samples else "--no-samples")
        assert result.returncode == 0, f"motcua init failed:\n{result.stdout}\n{result.stderr}"
        return result

    def spawn(self, name: str, *args: str, extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running ``motcua`` command (its output goes to ``<name>.log``)."""
        log = self.log_dir / f"{name}.log"
        _register_log(log)
        out = log.open("ab")
        self._log_files.append(out)
        out.write(f"\n===== motcua {' '.join(args)} ({time.strftime('%H:%M:%S')}) =====\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [*motcua_command(), *args],
            env=self.env | dict(extra_env or {}),
            cwd=self.log_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of pytest does not reach it; we stop it ourselves
        )
        self.children.append(proc)
        return proc

    # ------------------------------------------------------------------ serve

    def start(self, timeout: float = START_TIMEOUT) -> None:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        self.proc = self.spawn("serve", "serve")
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last: str = "no answer yet"
        for _ in range(int(timeout / 0.05) + 1):
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"motcua serve exited with {self.proc.returncode} before it was healthy:\n"
                    + log_tail(self.log_dir / "serve.log")
                )
            try:
                r = httpx.get(f"{self.base_url}/api/health", timeout=2.0, verify=self.verify)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        raise AssertionError(f"motcua serve not healthy after {timeout} s ({last})")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a power cut as far as the process is concerned)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> tuple[int, float, bool] | None:
        if self.proc is None:
            return None
        return stop_process(self.proc, timeout)

    def close(self) -> None:
        """Stop every process this object started (serve, workers) and close the log files."""
        for proc in reversed(self.children):
            stop_process(proc)
        for f in self._log_files:
            with contextlib.suppress(OSError):
                f.close()
        self._log_files.clear()


ServerFactory = Callable[..., MotcuaServer]  # the ``motcua_server_factory`` fixture: (name, extra_env, start)


# ---------------------------------------------------------------------- HTTP


class Api:
    """httpx against a running server, logged in as demo people (tokens live in the database)."""

    def __init__(self, server: MotcuaServer, timeout: float = 30.0) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=40, max_keepalive_connections=20),
            verify=server.verify,
        )
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def reconnect(self) -> None:
        """New connection pool (after a restart the old keep-alive connections are dead)."""
        self.http.close()
        self.http = httpx.Client(
            base_url=self.server.base_url,
            timeout=self.http.timeout,
            limits=httpx.Limits(max_connections=40, max_keepalive_connections=20),
            verify=self.server.verify,
        )

    def token(self, username: str) -> str:
        with self._lock:
            known = self._tokens.get(username)
        if known is not None:
            return known
        r = self.http.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        token = str(r.json()["access_token"])
        with self._lock:
            self._tokens[username] = token
        return token

    def login_all(self, usernames: Iterable[str]) -> None:
        for username in usernames:
            self.token(username)

    def get(self, path: str, as_user: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, headers={"Authorization": f"Bearer {self.token(as_user)}"}, **kw)

    def post(self, path: str, as_user: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, headers={"Authorization": f"Bearer {self.token(as_user)}"}, **kw)

    def submit(self, as_user: str = RECEPTION, name: str = "Nguyễn Văn An") -> httpx.Response:
        data = {
            "procedure_code": HOUSEHOLD_BUSINESS,
            "applicant_name": name,
            "applicant_id_number": "001090012345",
            "details": json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False),  # the application form
        }
        files = {
            "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
            "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
        }
        r = self.post("/api/dossiers", as_user, data=data, files=files)
        if r.status_code == 201:
            with self._lock:
                self.server.codes.append(str(r.json()["code"]))
        return r

    def supplement(self, code: str, as_user: str = RECEPTION) -> httpx.Response:
        files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", minimal_pdf("bo sung"), "application/pdf")}
        return self.post(f"/api/dossiers/{code}/supplement", as_user, files=files)

    def tasks(self, as_user: str) -> list[dict[str, Any]]:
        r = self.get("/api/tasks", as_user)
        assert r.status_code == 200, r.text
        return list(r.json())

    def complete(self, task_id: str, as_user: str, decision: str | None) -> httpx.Response:
        return self.post(f"/api/tasks/{task_id}/complete", as_user, json={"decision": decision})

    def sign_on_device(self, code: str, as_user: str = LEADER) -> httpx.Response:
        """What the leader's PC does: fetch what to sign, sign it with the key only the device holds, send it."""
        import base64

        from signing.device import DeviceClient
        from signing.pki import DEVELOPMENT_PASSPHRASE

        pending = [p for p in self.get("/api/signatures/pending", as_user).json() if p["dossier_code"] == code]
        assert len(pending) == 1, pending
        key_file = self.server.var_dir / "pki" / "person" / f"{as_user}.p12"
        device = DeviceClient(key_file.read_bytes(), DEVELOPMENT_PASSPHRASE)
        value = device.sign(base64.b64decode(pending[0]["data_to_sign"]), pending[0]["digest_algorithm"])
        return self.post(
            f"/api/signatures/{pending[0]['id']}", as_user, json={"signature_value": base64.b64encode(value).decode()}
        )

    def dossier(self, code: str, as_user: str = RECEPTION) -> dict[str, Any]:
        r = self.get(f"/api/dossiers/{code}", as_user)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def history(self, code: str, as_user: str = SPECIALIST) -> list[dict[str, Any]]:
        r = self.get(f"/api/dossiers/{code}/history", as_user)
        assert r.status_code == 200, r.text
        return list(r.json())

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.http.get("/api/health").json()["now"])

    def advance_clock(self, hours: float = 0, days: int = 0) -> dt.datetime:
        """Move the demo clock (the API takes only ``hours`` and ``days``) and check that it moved."""
        before = self.now()
        r = self.post("/api/admin/clock/advance", ADMIN, json={"hours": hours, "days": days})
        assert r.status_code == 200, r.text
        now = dt.datetime.fromisoformat(r.json()["now"])
        assert now - before == dt.timedelta(days=days, hours=hours), (before, now)
        return now


def locked_external_tasks(var_dir: Path) -> list[tuple[str, str, str]]:
    """(business key, topic, lock owner) of every external task that a worker holds a lock on."""
    from sqlalchemy import select

    from motcua.settings import Settings
    from persistence.schema import wf_external_task
    from persistence.uow import make_engine, transaction

    t = wf_external_task
    db = make_engine(Settings(var_dir=var_dir).resolved_database_url)
    try:
        with transaction(db) as conn:
            rows = conn.execute(select(t.c.business_key, t.c.topic, t.c.worker_id).where(t.c.worker_id.is_not(None)))
            return [(r.business_key, r.topic, r.worker_id) for r in rows]
    finally:
        db.dispose()


def kill_when_a_worker_holds_a_lock(server: MotcuaServer, within: float = 2.0) -> bool:
    """SIGKILL the server as soon as one of its workers holds an external-task lock (a service task
    is being handled), or after ``within`` seconds. True when the kill hit a held lock."""
    import sqlite3

    db = sqlite3.connect(str(server.var_dir / "motcua.sqlite3"), timeout=5, isolation_level=None)
    query = "SELECT count(*) FROM wf_external_task WHERE worker_id IS NOT NULL"
    try:
        deadline = time.monotonic() + within
        for _ in range(int(within / 0.0005) + 1):
            if db.execute(query).fetchone()[0] > 0:
                server.kill()
                return True
            if time.monotonic() > deadline:
                break
            time.sleep(0.0005)
    finally:
        db.close()
    server.kill()
    return False


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float = 15.0,
    every: float = 0.1,
) -> Any:
    """Call ``probe`` until it returns something truthy; bounded in time and in calls."""
    deadline = time.monotonic() + timeout
    last: Any = None
    for _ in range(int(timeout / every) + 2):
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            break
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
