"""veraPDF (the PDF Association's PDF/A validator, its validation model from Maven Central) for the tests: build
once, validate many.

``built_jar()`` builds ``tools/verapdf`` (a tiny main over ``org.verapdf:validation-model``) with Maven (``-o``
offline once ``~/.m2`` has everything, online otherwise) and caches the shaded jar under
``~/.cache/motcua/verapdf/<hash of pom.xml + src>.jar``, built under a file lock so that parallel test processes
build it once. :func:`validate` runs it on PDF files (one JVM for all of them) and returns one :class:`Report` per
file. The ``verapdf`` session fixture fails under ``CI=true`` when Java/Maven is missing or the build fails, and
skips elsewhere (tests/services.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.maven_jar import MavenJar
from tests.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tools" / "verapdf"
CACHE = Path(os.environ.get("MOTCUA_VERAPDF_CACHE", Path.home() / ".cache" / "motcua" / "verapdf"))
VALIDATE_SECONDS = 300


class VeraPdfUnavailable(RuntimeError):
    """Java/Maven missing or the build failed."""


@dataclass(frozen=True)
class FailedRule:
    """One PDF/A rule the file breaks: ``clause`` and ``test`` number of ISO 19005-2, and how often."""

    clause: str
    test: int
    description: str
    count: int
    context: str

    def __str__(self) -> str:
        return f"{self.clause}-{self.test} (x{self.count}): {self.description} [{self.context}]"


@dataclass(frozen=True)
class Report:
    file: str
    flavour: str
    compliant: bool
    failed: tuple[FailedRule, ...]
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"{self.file}: veraPDF could not read it: {self.error}"
        rules = "\n  ".join(str(rule) for rule in self.failed)
        return f"{self.file}: PDF/A-{self.flavour} {'passed' if self.compliant else 'FAILED'}\n  {rules}"


JAR = MavenJar(PROJECT, CACHE, "motcua-verapdf", "motcua-verapdf.jar", VeraPdfUnavailable)


def built_jar() -> Path:
    """The validator jar for the current sources, built once per source hash (tests/integration/maven_jar.py)."""
    return JAR.built()


def _report(line: dict[str, object]) -> Report:
    failed = line.get("failed") or []
    assert isinstance(failed, list)
    return Report(
        file=str(line["file"]),
        flavour=str(line["flavour"]),
        compliant=bool(line["compliant"]),
        failed=tuple(
            FailedRule(str(r["clause"]), int(r["test"]), str(r["description"]), int(r["count"]), str(r["context"]))
            for r in failed
        ),
        error=str(line.get("error", "")),
    )


def validate(jar: Path, files: Sequence[Path], flavour: str = "2b") -> list[Report]:
    """veraPDF's verdict on each file (in order), against PDF/A ``flavour`` (2b: ISO 19005-2, level B)."""
    done = subprocess.run(
        ["java", "-XX:+UseSerialGC", "-jar", str(jar), "--flavour", flavour, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=VALIDATE_SECONDS,
        check=False,
    )
    if done.returncode not in (0, 1, 2):
        raise AssertionError(f"veraPDF exited with {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}")
    reports = [_report(json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r.file for r in reports] == [str(f) for f in files], done.stderr[-4000:]
    return reports


@dataclass(frozen=True)
class VeraPdf:
    """The built validator, as the tests use it."""

    jar: Path

    def validate(self, files: Sequence[Path], flavour: str = "2b") -> list[Report]:
        return validate(self.jar, files, flavour)


@pytest.fixture(scope="session")
def verapdf() -> Iterator[VeraPdf]:
    try:
        jar = built_jar()
    except (VeraPdfUnavailable, subprocess.TimeoutExpired) as exc:
        service_missing(f"veraPDF unavailable: {exc}")
    yield VeraPdf(jar)
