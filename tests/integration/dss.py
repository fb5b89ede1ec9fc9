"""The EU DSS validator of ``tools/dss-validator`` for the integration tests: an independent ETSI EN 319 102-1
validation of the PDFs the system signs (issue 19 point 2).

``built_jar()`` builds the shaded jar with Maven (``-o`` offline once ``~/.m2`` has everything, online
otherwise) and caches it under ``~/.cache/motcua/dss/<hash of pom.xml + src>.jar``, built under a file lock so
parallel test processes build it once. The session fixture ``dss`` gives a :class:`DssValidator`:
``dss.validate(pdf, trust=[root, ...])`` runs ``java -jar`` with only those roots as trust anchors and, by default,
``--offline`` (no CRL/OCSP/AIA fetching: only what the file carries), and parses its JSON lines into a
:class:`DssReport`. Java or Maven missing, or a failed build, fails under ``CI=true`` and skips elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.ades import AdesReport
from tests.integration.maven_jar import MavenJar
from tests.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tools" / "dss-validator"
CACHE = Path(os.environ.get("MOTCUA_DSS_CACHE", Path.home() / ".cache" / "motcua" / "dss"))
VALIDATE_SECONDS = 300
# a short-lived JVM: the C1 compiler only and the serial collector start fastest on 2 shared cores
JAVA = ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar"]

TOTAL_PASSED = "TOTAL_PASSED"
TOTAL_FAILED = "TOTAL_FAILED"
INDETERMINATE = "INDETERMINATE"

Trust = Path | bytes | x509.Certificate | asn1_x509.Certificate


class DssUnavailable(RuntimeError):
    """Java/Maven missing or the build failed."""


JAR = MavenJar(PROJECT, CACHE, "dss-validator", "dss-validator.jar", DssUnavailable)


def built_jar() -> Path:
    """The validator jar for the current sources, built once per source hash (tests/integration/maven_jar.py)."""
    return JAR.built()


# ---------------------------------------------------------------------- parsed results


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _keys(messages: list[dict[str, str]] | None) -> tuple[str, ...]:
    return tuple(m["key"] for m in messages or [])


@dataclass(frozen=True)
class DssToken:
    """One signature or timestamp as DSS judged it. ``level`` is DSS's signature format (``PAdES_BASELINE_LT``)
    for a signature and the timestamp type (``SIGNATURE_TIMESTAMP``, ``DOCUMENT_TIMESTAMP``…) for a timestamp;
    ``errors``/``warnings`` are DSS's message keys (``BBB_XCV_IRDPFC_ANS``), ``messages`` the full texts."""

    kind: str
    id: str
    field: str | None
    indication: str
    sub_indication: str | None
    level: str | None
    time: dt.datetime | None  # best signature time, or a timestamp's production time
    signer: str | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    messages: tuple[str, ...]

    @classmethod
    def parse(cls, line: Mapping[str, Any]) -> DssToken:
        signature = line["kind"] == "signature"
        every = [*(line.get("errors") or []), *(line.get("warnings") or [])]
        return cls(
            kind=line["kind"],
            id=line["id"],
            field=line.get("field"),
            indication=line["indication"],
            sub_indication=line.get("sub_indication"),
            level=line.get("level") if signature else line.get("type"),
            time=_time(line.get("best_signature_time") if signature else line.get("production_time")),
            signer=line.get("signer"),
            errors=_keys(line.get("errors")),
            warnings=_keys(line.get("warnings")),
            messages=tuple(f"{m['key']}: {m['message']}" for m in every),
        )


@dataclass(frozen=True)
class DssReport:
    signatures: tuple[DssToken, ...]
    timestamps: tuple[DssToken, ...]
    validation_time: dt.datetime | None
    passed: bool  # what the jar's exit code says per file: a signature, and every signature and timestamp passed

    def field(self, name: str) -> DssToken:
        [found] = [s for s in self.signatures if s.field == name]
        return found

    def __str__(self) -> str:
        lines = []
        for token in (*self.signatures, *self.timestamps):
            lines.append(f"{token.kind} {token.field}: {token.indication}/{token.sub_indication} [{token.level}]")
            lines += [f"    {m}" for m in token.messages]
        return "\n".join(lines) or "no signature"


# ---------------------------------------------------------------------- the validator


def _pem(item: Trust) -> bytes:
    if isinstance(item, Path):
        return item.read_bytes()
    if isinstance(item, bytes):
        return item
    if isinstance(item, asn1_x509.Certificate):
        item = x509.load_der_x509_certificate(item.dump())
    return item.public_bytes(Encoding.PEM)


@dataclass
class DssValidator:
    jar: Path
    built_in: float = 0.0  # seconds this session spent building (0 when the cached jar was used)

    def run(
        self, files: Sequence[Path], trust: Sequence[Path], *, offline: bool = True, extra: Sequence[str] = ()
    ) -> tuple[int, str, str]:
        """The jar as a command: exit code, stdout (JSON lines), stderr."""
        args = [*JAVA, str(self.jar), *map(str, files), *extra]
        for root in trust:
            args += ["--trust", str(root)]
        if offline:
            args.append("--offline")
        done = subprocess.run(args, capture_output=True, text=True, timeout=VALIDATE_SECONDS, check=False)
        return done.returncode, done.stdout, done.stderr

    def validate_many(
        self, pdfs: Mapping[str, bytes], trust: Sequence[Trust], *, offline: bool = True
    ) -> dict[str, DssReport]:
        """Validate several PDFs in one JVM (DSS takes seconds to start), each against the same ``trust``.
        Exit 2 (usage, unreadable file) raises; exit 1 just means something did not pass."""
        with tempfile.TemporaryDirectory(prefix="dss-") as tmp:
            directory = Path(tmp)
            roots = []
            for i, item in enumerate(trust):
                roots.append(directory / f"root-{i}.pem")
                roots[-1].write_bytes(_pem(item))
            paths = {}
            for i, (name, pdf) in enumerate(pdfs.items()):
                paths[name] = directory / f"{i}.pdf"
                paths[name].write_bytes(pdf)
            code, out, err = self.run(list(paths.values()), roots, offline=offline)
        if code not in (0, 1):
            raise AssertionError(f"dss-validator exited {code}:\n{err}\n{out}")
        by_file: dict[str, list[dict[str, Any]]] = {}
        for line in out.splitlines():
            item = json.loads(line)
            by_file.setdefault(Path(item["file"]).name, []).append(item)
        reports = {}
        for name, path in paths.items():
            lines = by_file.get(path.name, [])
            [document] = [line for line in lines if line["kind"] == "document"]
            signatures = tuple(DssToken.parse(line) for line in lines if line["kind"] == "signature")
            timestamps = tuple(DssToken.parse(line) for line in lines if line["kind"] == "timestamp")
            passed = bool(signatures) and all(
                t.indication in (TOTAL_PASSED, "PASSED") for t in (*signatures, *timestamps)
            )
            reports[name] = DssReport(signatures, timestamps, _time(document["validation_time"]), passed)
        return reports

    def validate(self, pdf: bytes, trust: Sequence[Trust], *, offline: bool = True) -> DssReport:
        return self.validate_many({"document": pdf}, trust, offline=offline)["document"]


# ---------------------------------------------------------------------- DSS's verdicts beside ours

Verdict = tuple[str, str | None, str]  # indication (DSS's spelling), sub-indication, level (B-B … B-LTA; "" a DocTS)


def dss_verdicts(report: DssReport) -> dict[str, Verdict]:
    """Per signature field: DSS's verdict; document timestamps too (DSS says PASSED where a signature is
    TOTAL_PASSED). Signature timestamps live inside their signature and have no field of their own."""
    view: dict[str, Verdict] = {}
    for s in report.signatures:
        view[str(s.field)] = (s.indication, s.sub_indication, str(s.level).replace("PAdES_BASELINE_", "B-"))
    for t in report.timestamps:
        if t.level == "DOCUMENT_TIMESTAMP":
            view[str(t.field)] = (TOTAL_PASSED if t.indication == "PASSED" else t.indication, t.sub_indication, "")
    return view


def our_verdicts(report: AdesReport) -> dict[str, Verdict]:
    """Per signature field: ours (``motcua verify``), spelled as DSS spells it (``TOTAL-PASSED`` → ``TOTAL_PASSED``)."""
    return {s.field_name: (s.indication.replace("-", "_"), s.sub_indication, s.level) for s in report.signatures}


def dss_unavailable(reason: str) -> None:
    """Fail under CI (DSS is part of the suite there), skip elsewhere."""
    service_missing(f"the EU DSS validator (tools/dss-validator) is unavailable: {reason}")


@pytest.fixture(scope="session")
def dss() -> Iterator[DssValidator]:
    """The DSS validator, built once (cached across sessions by source hash)."""
    began = time.monotonic()
    cached = CACHE / f"dss-validator-{JAR.source_hash()}.jar"
    was_cached = cached.exists()
    try:
        jar = built_jar()
    except (DssUnavailable, subprocess.TimeoutExpired, OSError) as exc:
        dss_unavailable(str(exc))
    yield DssValidator(jar, 0.0 if was_cached else time.monotonic() - began)
