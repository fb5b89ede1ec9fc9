"""Fixtures of the browser journeys: a real ``motcua serve`` started by the tests (tests/integration/server.py),
Debian's chromium driven by Playwright (sync API), one browser context per person, screenshots of every page.

Chromium or Playwright missing: skipped on a developer's machine, a failure under CI=true (tests/services.py).
Screenshots go to ``build/screenshots/<test>/<NN>-<person>-<step>.png`` (``MOTCUA_SCREENSHOTS`` moves them);
a test's folder is emptied when it starts, so what is there is what the last run saw.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import _init_and_start, _make_server
from tests.integration.conftest import pytest_runtest_makereport as pytest_runtest_makereport  # server logs
from tests.integration.conftest import pytest_runtest_setup as pytest_runtest_setup
from tests.integration.server import MotcuaServer
from tests.services import in_ci, service_missing

if importlib.util.find_spec("playwright") is None and not in_ci():
    # `pip install -e '.[dev]'` brings it; without it the journeys cannot even be imported (under CI they fail)
    collect_ignore_glob = ["test_*.py"]

BROWSER_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.integration)


# ---------------------------------------------------------------------- the browser


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, launched once for this package (each person gets a context of their own).
    Package scope, not session: Playwright's sync API keeps an event loop running in the main thread while it
    is started, and the rest of the suite calls ``asyncio.run`` (pyHanko) — so it must stop when the browser
    tests end."""
    from playwright.sync_api import Error, sync_playwright

    from tests.browser.kit import CHROMIUM, CHROMIUM_ARGS

    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        service_missing(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium; `make test` does it)")
    driver = sync_playwright().start()
    try:
        try:
            launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Error as exc:
            service_missing(f"chromium at {CHROMIUM} did not start: {exc}")
        try:
            yield launched
        finally:
            launched.close()
    finally:
        driver.stop()


# ---------------------------------------------------------------------- the server


@pytest.fixture(scope="session")
def browser_var_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``motcua init`` once; every server of these tests starts on a copy."""
    template = _make_server(tmp_path_factory.mktemp("browser-template"), "template")
    template.init()
    return template.var_dir


@pytest.fixture(scope="package")
def web_server(tmp_path_factory: pytest.TempPathFactory, browser_var_template: Path) -> Iterator[MotcuaServer]:
    """The ``motcua serve`` the journeys share (demo clock, in-process workers, 127.0.0.1, a free port)."""
    server = _make_server(tmp_path_factory.mktemp("browser-live"), "live")
    try:
        yield _init_and_start(server, browser_var_template)
    finally:
        server.close()


ServerFactory = Callable[[str, Mapping[str, str]], MotcuaServer]


@pytest.fixture
def dedicated_server(tmp_path: Path, browser_var_template: Path) -> Iterator[ServerFactory]:
    """``factory(name, extra_env)``: a server of the test's own (settings the shared one must not have)."""
    made: list[MotcuaServer] = []

    def factory(name: str, extra_env: Mapping[str, str]) -> MotcuaServer:
        server = _make_server(tmp_path, name, extra_env)
        made.append(server)
        return _init_and_start(server, browser_var_template)

    try:
        yield factory
    finally:
        for server in made:
            server.close()


# ---------------------------------------------------------------------- people at browsers


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Any:
    from tests.browser.kit import SCREENSHOTS, Shots

    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    shutil.rmtree(folder, ignore_errors=True)
    return Shots(folder)


@pytest.fixture
def visit(browser: Any, web_server: MotcuaServer, shots: Any) -> Iterator[Callable[..., Any]]:
    """``visit(username=None, *, server=web_server, viewport=(1280, 900))``: a fresh browser context (its own
    cookies) with one page, logged in as ``username`` when one is given. Closed after the test."""
    from tests.browser.kit import TIMEOUT_MS, Visitor, watch

    opened: list[Any] = []

    def open_as(
        username: str | None = None, *, server: MotcuaServer | None = None, viewport: tuple[int, int] = (1280, 900)
    ) -> Visitor:
        context = browser.new_context(
            base_url=(server or web_server).base_url,
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            viewport={"width": viewport[0], "height": viewport[1]},
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        visitor = watch(Visitor(context, context.new_page(), shots, username or "public"))
        if username:
            visitor.login(username)
        return visitor

    try:
        yield open_as
    finally:
        for context in opened:
            context.close()
