"""Architecture rules (DESIGN §3): the domain core ``dossiers/`` does no I/O and knows no adapter.

Two independent checks: the import-linter contracts in ``pyproject.toml`` (which also see indirect
imports through the installed packages), and a plain AST walk over ``dossiers/`` that needs nothing but
the source files.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
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
ADAPTER_PACKAGES = frozenset({"workflows", "workers", "storage", "signing", "api", "motcua"})
FORBIDDEN = IO_LIBRARIES | ADAPTER_PACKAGES

DOMAIN_FILES = sorted(DOMAIN.rglob("*.py"))


def _lint_imports_command() -> str:
    beside_python = Path(sys.executable).parent / "lint-imports"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    return found


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run(
        [_lint_imports_command(), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"


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
