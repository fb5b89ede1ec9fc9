"""Architecture rules (DESIGN §3): the domain core ``dossiers/`` does no I/O and knows no adapter, and the unit tests
build no runtime and do no I/O.

Two independent checks of the domain: the import-linter contracts in ``pyproject.toml`` (which also see indirect
imports through the installed packages; run as a process in tests/integration/test_architecture.py), and a plain
AST walk over ``dossiers/`` that needs nothing but the source files. The same kind of walk over ``tests/unit``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "dossiers"

IO_LIBRARIES = frozenset(
    {
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "minio",
        "pyhanko",
        "httpx",
        "requests",
        "SpiffWorkflow",
        "camunda",
        "uvicorn",
        "typer",
    }
)
ADAPTER_PACKAGES = frozenset(
    {
        "documents",
        "persistence",
        "storage",
        "signing",
        "workflows",
        "integrations",
        "services",
        "workers",
        "api",
        "motcua",
    }
)
FORBIDDEN = IO_LIBRARIES | ADAPTER_PACKAGES

DOMAIN_FILES = sorted(DOMAIN.rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import, including importlib/__import__ with a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_domain_has_sources() -> None:
    assert DOMAIN_FILES, f"no Python file under {DOMAIN}"


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_imports_no_io_library(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offending = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for line, module in imported_modules(tree)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert not offending, "the domain core must stay free of I/O and adapters:\n" + "\n".join(offending)


def test_the_ast_check_catches_forbidden_imports() -> None:
    source = (
        "import os\n"
        "from . import model\n"
        "from sqlalchemy.orm import Session\n"
        "import workflows.lint\n"
        "import importlib\n"
        "importlib.import_module('httpx')\n"
    )
    modules = [m for _, m in imported_modules(ast.parse(source)) if m.split(".")[0] in FORBIDDEN]
    assert modules == ["sqlalchemy.orm", "workflows.lint", "httpx"]


# ------------------------------------------------------------------------------------------- unit tests stay unit tests

TESTS = ROOT / "tests"
UNIT_TEST_FILES = sorted((TESTS / "unit").glob("*.py"))
# What a unit test may not use: pytest's directories to write in, and every shared fixture (they build a runtime with
# its database and state directory, start PostgreSQL, Operaton or a server). Tests that need one are in
# tests/integration. Reading the repository's own files (BPMN, catalogue, fonts, sources) is allowed.
WRITABLE_DIRECTORIES = frozenset({"tmp_path", "tmp_path_factory", "tmpdir", "tmpdir_factory"})
UNIT_FORBIDDEN_MODULES = frozenset(
    {"subprocess", "socket", "sqlite3", "tempfile", "shutil", "multiprocessing", "http.server", "tests.integration"}
)
UNIT_FORBIDDEN_NAMES = frozenset({"build_runtime", "init_state", "make_engine", "create_engine", "DevelopmentPki"})


def fixtures_of(path: Path) -> set[str]:
    """Names of the ``@pytest.fixture`` functions a conftest defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
    }


def unit_test_problems(tree: ast.AST, forbidden_fixtures: frozenset[str]) -> list[str]:
    """What in a unit test module builds state, writes files, opens a database or starts a process."""
    problems = [
        f"{line}: imports {module}"
        for line, module in imported_modules(tree)
        if any(module == m or module.startswith(f"{m}.") for m in UNIT_FORBIDDEN_MODULES)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            problems.extend(
                f"{node.lineno}: imports {alias.name}" for alias in node.names if alias.name in UNIT_FORBIDDEN_NAMES
            )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            problems.extend(
                f"{node.lineno}: {node.name} uses the fixture {a.arg}" for a in arguments if a.arg in forbidden_fixtures
            )
    return problems


def test_the_shared_fixtures_are_found() -> None:
    shared = fixtures_of(TESTS / "conftest.py")
    assert {"runtime", "api", "settings"} <= shared


@pytest.mark.parametrize("path", UNIT_TEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_unit_tests_build_no_runtime_and_do_no_io(path: Path) -> None:
    forbidden = (
        WRITABLE_DIRECTORIES | fixtures_of(TESTS / "conftest.py") | fixtures_of(TESTS / "integration/conftest.py")
    )
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = [f"{path.relative_to(ROOT)}:{p}" for p in unit_test_problems(tree, forbidden)]
    assert not problems, "a unit test builds no runtime and does no I/O: move it to tests/integration:\n" + "\n".join(
        problems
    )


def test_the_unit_test_check_catches_io() -> None:
    source = (
        "import subprocess\n"
        "from motcua.app import build_runtime\n"
        "from tests.integration.server import free_port\n"
        "def test_a(tmp_path): ...\n"
        "def test_b(runtime, capsys): ...\n"
        "def test_c(monkeypatch): ...\n"
    )
    problems = unit_test_problems(ast.parse(source), frozenset({"tmp_path", "runtime"}))
    assert problems == [
        "1: imports subprocess",
        "3: imports tests.integration.server",
        "2: imports build_runtime",
        "4: test_a uses the fixture tmp_path",
        "5: test_b uses the fixture runtime",
    ]
