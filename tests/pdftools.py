"""Independent PDF checkers for tests: poppler's pdfsig (with an NSS database trusting one root) and pdftotext.

Without the Debian packages (poppler-utils, libnss3-tools) a test skips locally and fails with CI=true
(DESIGN §11); `make test` installs them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.services import service_missing


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        service_missing(f"{name} is not installed (Debian package {package}; `make system-deps` installs it)")
    return found


def nss_db_trusting(root_pem: Path, directory: Path) -> str:
    """A throw-away NSS database that trusts only ``root_pem``."""
    certutil = tool("certutil", "libnss3-tools")
    db = f"sql:{directory}"
    subprocess.run([certutil, "-N", "--empty-password", "-d", db], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [certutil, "-A", "-n", "motcua-dev-root", "-t", "CT,C,C", "-i", str(root_pem), "-d", db],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return db


def pdfsig(pdf: bytes, nss_db: str, tmp_path: Path) -> list[dict[str, str]]:
    """Run ``pdfsig -nssdir <db> -no-ocsp`` and parse its per-signature blocks into dictionaries."""
    binary = tool("pdfsig", "poppler-utils")
    path = tmp_path / "checked-by-pdfsig.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [binary, "-nssdir", nss_db, "-no-ocsp", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},  # never pick up a developer's browser profile
    )
    blocks: list[dict[str, str]] = []
    for line in done.stdout.splitlines():
        if re.match(r"^Signature #\d+:$", line):
            blocks.append({})
        elif blocks and (match := re.match(r"^\s+- ([^:]+): ?(.*)$", line)):
            blocks[-1][match.group(1)] = match.group(2)
        elif blocks and line.strip().startswith("- "):
            blocks[-1][line.strip()[2:]] = ""
    assert blocks, f"pdfsig printed no signature (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return blocks


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    binary = tool("pdftotext", "poppler-utils")
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([binary, "-layout", str(path), "-"], capture_output=True, timeout=60, check=True)
    return done.stdout.decode("utf-8")
