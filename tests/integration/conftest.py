"""Fixtures that run the real ``motcua`` server as a subprocess, and attach its logs to failing tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.integration.certomancer_pki import live_pki  # noqa: F401 - a session fixture for every module
from tests.integration.server import Api, MotcuaServer, ServerFactory, all_logs, free_port, log_tail


def _make_server(root: Path, name: str, extra_env: Mapping[str, str] | None = None) -> MotcuaServer:
    base = root / name
    (base / "logs").mkdir(parents=True, exist_ok=True)
    return MotcuaServer(var_dir=base / "var", log_dir=base / "logs", port=free_port(), extra_env=dict(extra_env or {}))


def _init_and_start(server: MotcuaServer, template: Path | None = None, start_attempts: int = 3) -> MotcuaServer:
    """``motcua init`` (or a copy of a var dir it made, to save a process start), then ``motcua serve``."""
    if template is None:
        server.init()
    else:
        shutil.copytree(template, server.var_dir)
    for attempt in range(1, start_attempts + 1):
        try:
            server.start()
            return server
        except AssertionError:
            # another process may have taken the free port between our probe and the bind: try another one
            server.stop()
            if attempt == start_attempts or "address already in use" not in log_tail(server.log_dir / "serve.log"):
                raise
            server.port = free_port()
    return server


@pytest.fixture(scope="session")
def initialized_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var dir as ``motcua init`` leaves it (no process holds it open): servers start from copies."""
    template = _make_server(tmp_path_factory.mktemp("motcua-template"), "template")
    template.init()
    return template.var_dir


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotcuaServer]:
    """One ``motcua serve`` for the session (fresh var dir, demo clock, 127.0.0.1, a free port)."""
    server = _make_server(tmp_path_factory.mktemp("motcua-live"), "live")
    try:
        yield _init_and_start(server)
    finally:
        server.close()


@pytest.fixture(scope="session")
def live_api(live_server: MotcuaServer) -> Iterator[Api]:
    api = Api(live_server)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def motcua_server_factory(tmp_path: Path, initialized_var_dir: Path) -> Iterator[ServerFactory]:
    """Fresh servers for one test, each on its own copy of an initialized var dir:
    ``factory(name, extra_env=None, start=True)``; all of them stopped afterwards."""
    made: list[MotcuaServer] = []

    def factory(name: str, extra_env: Mapping[str, str] | None = None, start: bool = True) -> MotcuaServer:
        server = _make_server(tmp_path, name, extra_env)
        made.append(server)
        return _init_and_start(server, initialized_var_dir) if start else server

    try:
        yield factory
    finally:
        for server in made:
            server.close()


_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    item.stash[_STARTED] = time.time()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, add the tail of every server/worker/CLI log written during the test to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    began = item.stash.get(_STARTED, 0.0) - 1.0
    logs = [p for p in all_logs() if p.exists() and p.stat().st_mtime >= began] or all_logs()
    for path in logs:
        report.sections.append((f"{report.when}: {path}", log_tail(path)))
