"""A real OpenID Provider for the tests: deploy/oidc-dev/server.mjs (panva/oidc-provider on Node.js).

``npm ci`` installs the locked packages once into ``~/.cache/motcua/oidc-dev/<hash of package-lock.json>``
(``MOTCUA_OIDC_DEV_CACHE`` moves it); later sessions need no network. Each :func:`start_provider` copies
server.mjs into its own directory next to a link to that ``node_modules``, starts ``node`` on a free loopback
port with the issuer ``http://127.0.0.1:<port>``, waits for the discovery document, and
:meth:`OidcProvider.stop` always ends it (SIGTERM, then SIGKILL).

Node, npm or the packages missing: under CI=true the test fails, elsewhere it is skipped (tests/services.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.services import service_missing

HOST = "127.0.0.1"
SOURCE = Path(__file__).resolve().parents[2] / "deploy" / "oidc-dev"
CACHE = Path(os.environ.get("MOTCUA_OIDC_DEV_CACHE", Path.home() / ".cache" / "motcua" / "oidc-dev"))
START_TIMEOUT = 30.0
NPM_TIMEOUT = 300.0
STOP_TIMEOUT = 5.0


class OidcProviderUnavailable(RuntimeError):
    pass


def lock_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((SOURCE / name).read_bytes())
    return digest.hexdigest()[:16]


def installed_packages() -> Path:
    """``node_modules`` of deploy/oidc-dev's lockfile, installed once with ``npm ci`` (atomically)."""
    target = CACHE / lock_hash()
    modules = target / "node_modules"
    if (target / ".complete").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise OidcProviderUnavailable("npm is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".install-", dir=CACHE))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(SOURCE / name, work / name)
        try:
            done = subprocess.run(
                [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise OidcProviderUnavailable(f"npm ci took more than {NPM_TIMEOUT:.0f} s") from exc
        if done.returncode != 0:
            raise OidcProviderUnavailable(f"npm ci failed: {done.stderr.strip()[-2000:]}")
        (work / ".complete").write_text("ok\n")
        try:
            work.rename(target)  # another session may have won the race: then use its copy
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return modules


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class OidcProvider:
    """One running provider; ``accounts`` is what the accounts file holds (username → claims and password)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    accounts: dict[str, dict[str, Any]]
    base_dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.base_dir / "oidc-dev.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def start_provider(
    base_dir: Path,
    *,
    accounts: dict[str, dict[str, Any]],
    redirect_uris: list[str],
    client_id: str = "motcua",
    client_secret: str | None = None,
) -> OidcProvider:
    """Start deploy/oidc-dev/server.mjs; :class:`OidcProviderUnavailable` when it cannot run here."""
    node = shutil.which("node")
    if node is None:
        raise OidcProviderUnavailable("node is not installed")
    modules = installed_packages()
    base_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SOURCE / "server.mjs", base_dir / "server.mjs")
    link = base_dir / "node_modules"
    if not link.exists():
        link.symlink_to(modules, target_is_directory=True)
    accounts_file = base_dir / "accounts.json"
    accounts_file.write_text(json.dumps(accounts, ensure_ascii=False))
    port = free_port()
    provider = OidcProvider(
        issuer=f"http://{HOST}:{port}",
        client_id=client_id,
        client_secret=client_secret or os.urandom(24).hex(),
        redirect_uris=redirect_uris,
        accounts=accounts,
        base_dir=base_dir,
    )
    env = {
        **os.environ,
        "OIDC_DEV_PORT": str(port),
        "OIDC_DEV_CLIENT_ID": provider.client_id,
        "OIDC_DEV_CLIENT_SECRET": provider.client_secret,
        "OIDC_DEV_REDIRECT_URIS": " ".join(redirect_uris),
        "OIDC_DEV_ACCOUNTS": str(accounts_file),
        "NODE_ENV": "development",
    }
    with provider.log_path.open("wb") as log:
        provider.proc = subprocess.Popen(
            [node, "server.mjs"], cwd=base_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(provider)
    except BaseException:
        provider.stop()
        raise
    return provider


def _wait_ready(provider: OidcProvider) -> None:
    url = provider.issuer + "/.well-known/openid-configuration"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert provider.proc is not None
        if provider.proc.poll() is not None:
            raise OidcProviderUnavailable(f"node exited with {provider.proc.returncode}: {provider.log()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200 and response.json().get("issuer") == provider.issuer:
                return
        time.sleep(0.1)
    raise OidcProviderUnavailable(
        f"no discovery document at {url} after {START_TIMEOUT:.0f} s: {provider.log()[-2000:]}"
    )


@contextlib.contextmanager
def running_provider(base_dir: Path, **kwargs: Any) -> Iterator[OidcProvider]:
    """The provider for a fixture: skipped (failed under CI=true) when it cannot start; always stopped."""
    try:
        provider = start_provider(base_dir, **kwargs)
    except (OidcProviderUnavailable, OSError, subprocess.SubprocessError) as exc:
        service_missing(f"OpenID Provider (deploy/oidc-dev) did not start: {exc}")
    try:
        yield provider
    finally:
        provider.stop()
