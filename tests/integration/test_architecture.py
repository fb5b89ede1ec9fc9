"""Architecture rules (DESIGN §3): the import-linter contracts in ``pyproject.toml``, which also see indirect imports
through the installed packages, hold (``lint-imports`` run as a process). The plain AST checks that need nothing but
the source files are in tests/unit/test_architecture.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_architecture import ROOT

pytestmark = pytest.mark.integration


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
