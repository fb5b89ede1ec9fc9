"""Signing benchmark, the LTV part (issue 19 point 6): B-B seal, B-LT seal and B-LTA result per second in one run.

Everything runs in one process against the development PKI (agency seal and leader's key, ECDSA P-256) and the
certomancer test PKI's RFC 3161 TSA, served by werkzeug on 127.0.0.1 in a thread of this process (the
configuration of ``tests/integration/certomancer``, the same as the tests' ``live_pki``). The TSA's certificate
names a CRL at that server, so collecting revocation data fetches it over loopback HTTP; the development PKI's own
CRLs come from its files, as the server embeds them (:meth:`signing.pades.PadesSigner.evidence`). The TSA's and
CRL server's own work (an RSA-2048 signature per token, serving the CRL) runs in this process too and is part of
the times — a remote TSA adds its network latency instead.

Rows (1-page PDF, invisible signatures, so appearances are out of the comparison; ``bench/signing.py`` measures
the Decree 30 appearance):

* **B-B seal** — ``PadesSigner`` without a TSA, as the server seals now: the chain and the development CRLs in
  the DSS;
* **B-LT seal** — ``PadesSigner`` with the TSA: signature timestamp, then the signer's and the TSA's chains and
  revocation data in the DSS;
* **B-B result** / **B-LTA result** — what ``services.results`` does for an issued result, at library level: the
  leader's signature and seal fields created, the leader's certification signature prepared
  (``signing.two_step.prepare``, room for a timestamp with a TSA), signed by the leader's key
  (``signing.device.DeviceClient``, standing in for the token), finished by the server (``finish`` with the
  installation's ``Evidence``: signature timestamp and DSS), then the agency seal by ``PadesSigner`` (with a TSA:
  signature timestamp, DSS, document timestamp = B-LTA). Not included: rendering the result, numbering and
  dating it (a form fill) and the database/storage work around the steps;
* the B-LTA seal alone, on a document the leader already signed;
* validations offline with only the roots (the development root and the TSA's): ``signing.ades`` (what
  ``motcua verify --trust`` runs: chain, embedded revocation data, timestamps) and ``signing.validate``
  (integrity, signature value, chain; no revocation).

Each row also shows how many HTTP requests (TSA, CRL) one operation made to the local server and the CPU time
the server spent answering them (part of the row's CPU time).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from dossiers.ports import SignatureRequest
from signing.ades import validate_ades
from signing.certs import to_crypto
from signing.device import DeviceClient
from signing.pades import PadesSigner, create_signature_fields
from signing.pki import DevelopmentPki
from signing.two_step import finish, prepare
from signing.validate import PadesValidator

ROOT = Path(__file__).resolve().parent.parent
CERTOMANCER_CONFIG = ROOT / "tests" / "integration" / "certomancer" / "motcua-test-pki.yml"
CERTOMANCER_ARCH = "motcua-test"
CERTOMANCER_KEYS = ("root", "interm", "ocsp", "tsa", "signer-good", "signer-revoked", "signer-expired", "signer-seal")

AGENCY = "000.00.31.H99"
AGENCY_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER = "lanhdao.xa1"
LEADER_NAME = "Nguyễn Văn Lãnh"
SEAL = f"agency:{AGENCY}"
LEADER_FIELD = "LanhDao"
SEAL_FIELD = "agency_seal"

# row keys, in the printed order; the JSON line uses them
B_B_SEAL = "b_b_seal"
B_LT_SEAL = "b_lt_seal"
B_B_RESULT = "b_b_result"
B_LTA_RESULT = "b_lta_result"
B_LTA_SEAL_ONLY = "b_lta_seal_on_signed"
LEADER_SIGNED = "leader_signed"  # not a row: the input of B_LTA_SEAL_ONLY
VALIDATE_LTA_ADES = "validate_b_lta_result_ades"
VALIDATE_LTA_PLAIN = "validate_b_lta_result_signing_validate"
VALIDATE_BB_ADES = "validate_b_b_seal_ades"
VALIDATE_LT_ADES = "validate_b_lt_seal_ades"
LTV_PART = (B_LT_SEAL,)  # what the smoke test runs


@dataclass(frozen=True)
class LtvResult:
    key: str
    name: str
    runs: int
    median_ms: float
    p90_ms: float
    cpu_ms: float  # median CPU time of the process per operation (this thread, the TSA's and the loop's)
    requests: dict[str, float]  # HTTP requests to the local TSA/CRL server per operation, by kind
    server_cpu_ms: float  # CPU time the local TSA/CRL server spent per operation (included in cpu_ms)
    level: str  # the levels signing.ades finds in the output (validations: in the input)

    @property
    def per_second(self) -> float:
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")


# ---------------------------------------------------------------------- the local TSA and CRL server


@dataclass
class LocalTsa:
    """certomancer's Animator on 127.0.0.1: the TSA at :attr:`url`, CRLs for its certificate; counts requests."""

    url: str
    root: x509.Certificate  # the TSA's trust root
    requests: Counter[str]
    server_cpu_ms: list[float]  # one entry per request: the CPU time spent answering it


@contextmanager
def local_tsa(directory: Path) -> Iterator[LocalTsa]:
    """Start certomancer's TSA, OCSP and CRL services on a free loopback port; always stop them."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
            pass

    for label in CERTOMANCER_KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (directory / f"{label}.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    requests: Counter[str] = Counter()
    server_cpu_ms: list[float] = []
    holder: dict[str, Callable[..., Any]] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        parts = str(environ.get("PATH_INFO", "")).strip("/").split("/")
        requests[parts[1] if len(parts) > 1 else "other"] += 1  # tsa | crls | ocsp
        started = time.thread_time()  # werkzeug answers each request in its own thread
        try:
            return list(holder["animator"](environ, start_response))  # the body is made here, so it is counted
        finally:
            server_cpu_ms.append((time.thread_time() - started) * 1000.0)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, name="bench-tsa", daemon=True)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        config = CertomancerConfig.from_file(
            str(CERTOMANCER_CONFIG), key_search_dir=str(directory), external_url_prefix=base
        )
        arch = config.get_pki_arch(ArchLabel(CERTOMANCER_ARCH))
        holder["animator"] = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
        thread.start()
        yield LocalTsa(
            f"{base}/{CERTOMANCER_ARCH}/tsa/tsa", to_crypto(arch.get_cert(CertLabel("root"))), requests, server_cpu_ms
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---------------------------------------------------------------------- the operations


def one_page_pdf() -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setFont("Helvetica", 11)
    for line in range(45):
        pdf.drawString(56, 800 - 16 * line, f"Line {line + 1}: Motcua signing benchmark, a one-page result.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


@dataclass
class Installation:
    """The development PKI with a seal and a leader, and the seal signer as the server builds it (TSA or not)."""

    pki: DevelopmentPki
    sealer: PadesSigner
    device: DeviceClient
    leader_chain: list[x509.Certificate]

    def seal(self, pdf: bytes) -> bytes:
        return self.sealer.sign(pdf, SignatureRequest(signer=SEAL, field_name=SEAL_FIELD, reason="Đóng dấu"))

    def leader_signed(self, pdf: bytes) -> bytes:
        """Prepare, sign on the 'device', finish with the installation's evidence: the leader's signature."""
        with_fields = create_signature_fields(pdf, [LEADER_FIELD, SEAL_FIELD])
        request = SignatureRequest(signer=f"person:{LEADER}", field_name=LEADER_FIELD, reason="Ký", certify=True)
        evidence = self.sealer.evidence()
        prepared = prepare(with_fields, self.leader_chain, request, timestamp_room=bool(evidence.timestamper_url))
        value = self.device.sign(prepared.data_to_sign, prepared.md_algorithm)
        return finish(prepared, value, evidence=evidence)

    def result(self, pdf: bytes) -> bytes:
        return self.seal(self.leader_signed(pdf))


def installation(pki: DevelopmentPki, tsa: LocalTsa | None) -> Installation:
    material = pki.key_material(f"person:{LEADER}")
    sealer = PadesSigner(pki, timestamper_url=tsa.url, trust_roots=[tsa.root]) if tsa is not None else PadesSigner(pki)
    return Installation(
        pki, sealer, DeviceClient(material.pkcs12_data, material.passphrase), pki.chain_for(f"person:{LEADER}")
    )


def levels(pdf: bytes, roots: list[x509.Certificate]) -> str:
    """The levels signing.ades sees, offline with only ``roots``; raises unless the document passes."""
    report = validate_ades(pdf, roots, allow_fetching=False)
    if not report.passed:
        raise AssertionError(f"the benchmark's document does not validate offline: {report}")
    return " + ".join(r.level or "DocTS" for r in report.signatures)


# ---------------------------------------------------------------------- the run


def run(
    measure: Callable[[str, Callable[[], object]], tuple[int, float, float]],
    *,
    only: tuple[str, ...] | None = None,
) -> list[LtvResult]:
    """Measure every row (or the keys in ``only``). ``measure(name, action)`` returns (runs, median ms, p90 ms);
    request counts are per operation, warm-up included."""
    wanted = set(only) if only is not None else None
    results: list[LtvResult] = []
    with tempfile.TemporaryDirectory() as tmp, local_tsa(Path(tmp)) as tsa:
        pki = DevelopmentPki(Path(tmp) / "pki")
        pki.ensure([(AGENCY, AGENCY_NAME)], [(LEADER, LEADER_NAME, AGENCY)], dt.datetime.now(dt.UTC))
        roots = [pki.trust_roots()[0], tsa.root]
        plain, stamped = installation(pki, None), installation(pki, tsa)
        pdf = one_page_pdf()
        with_fields = create_signature_fields(pdf, [SEAL_FIELD])

        makers: dict[str, Callable[[], bytes]] = {
            B_B_SEAL: lambda: plain.seal(with_fields),
            B_LT_SEAL: lambda: stamped.seal(with_fields),
            B_B_RESULT: lambda: plain.result(pdf),
            B_LTA_RESULT: lambda: stamped.result(pdf),
            LEADER_SIGNED: lambda: stamped.leader_signed(pdf),
            B_LTA_SEAL_ONLY: lambda: stamped.seal(sample(LEADER_SIGNED)),
        }
        made: dict[str, bytes] = {}

        def sample(key: str) -> bytes:
            """One document of the row ``key``, made once (only for the rows that run)."""
            if key not in made:
                made[key] = makers[key]()
            return made[key]

        def level(key: str) -> str:
            return levels(sample(key), roots)

        plain_validator = PadesValidator(roots)

        def validate_plain() -> object:
            report = plain_validator.validate(sample(B_LTA_RESULT))
            if report.indication != "TOTAL-PASSED":
                raise AssertionError(f"signing.validate does not pass the B-LTA result: {report}")
            return report

        # (key, name, action, the document whose levels the row shows)
        rows: list[tuple[str, str, Callable[[], object], str]] = [
            (B_B_SEAL, "B-B seal (DSS, no TSA)", makers[B_B_SEAL], B_B_SEAL),
            (B_LT_SEAL, "B-LT seal (TSA)", makers[B_LT_SEAL], B_LT_SEAL),
            (B_B_RESULT, "B-B result: leader + seal (no TSA)", makers[B_B_RESULT], B_B_RESULT),
            (B_LTA_RESULT, "B-LTA result: leader + seal + DocTS (TSA)", makers[B_LTA_RESULT], B_LTA_RESULT),
            (
                B_LTA_SEAL_ONLY,
                "  of which the B-LTA seal on the leader-signed PDF",
                lambda: stamped.seal(sample(LEADER_SIGNED)),
                B_LTA_SEAL_ONLY,
            ),
            (
                VALIDATE_LTA_ADES,
                "validate B-LTA result, signing.ades offline",
                lambda: validate_ades(sample(B_LTA_RESULT), roots, allow_fetching=False),
                B_LTA_RESULT,
            ),
            (VALIDATE_LTA_PLAIN, "validate B-LTA result, signing.validate", validate_plain, B_LTA_RESULT),
            (
                VALIDATE_BB_ADES,
                "validate B-B seal, signing.ades offline",
                lambda: validate_ades(sample(B_B_SEAL), roots, allow_fetching=False),
                B_B_SEAL,
            ),
            (
                VALIDATE_LT_ADES,
                "validate B-LT seal, signing.ades offline",
                lambda: validate_ades(sample(B_LT_SEAL), roots, allow_fetching=False),
                B_LT_SEAL,
            ),
        ]
        for key, name, action, document in rows:
            if wanted is not None and key not in wanted:
                continue
            found = level(document)  # checks the document passes offline before it is timed
            tsa.requests.clear()
            tsa.server_cpu_ms.clear()
            cpu: list[float] = []
            runs, median, p90 = measure(name, _counting(action, cpu))
            per_operation = {kind: count / len(cpu) for kind, count in sorted(tsa.requests.items())}
            server = sum(tsa.server_cpu_ms) / len(cpu)
            results.append(
                LtvResult(key, name, runs, median, p90, statistics.median(cpu), per_operation, server, found)
            )
    return results


def _counting(action: Callable[[], object], cpu: list[float]) -> Callable[[], object]:
    """``action``, recording the process's CPU milliseconds of every call (warm-up included) in ``cpu``."""

    def counted() -> object:
        started = time.process_time()
        try:
            return action()
        finally:
            cpu.append((time.process_time() - started) * 1000.0)

    return counted


Cost = Literal["wall", "cpu", "signer_cpu"]


def ratios(results: list[LtvResult], cost: Cost = "wall") -> dict[str, float]:
    """How many B-B seals (or B-B results) one B-LT seal or one B-LTA result costs: median wall time over median
    wall time; ``cpu``: CPU time over CPU time (steadier on a loaded machine); ``signer_cpu``: the CPU time without
    what the local TSA/CRL server spent (the server's own share, as with a remote TSA)."""
    by_key = {r.key: r for r in results}
    pairs = {
        "b_lt_seal/b_b_seal": (B_LT_SEAL, B_B_SEAL),
        "b_lta_result/b_b_seal": (B_LTA_RESULT, B_B_SEAL),
        "b_lta_result/b_b_result": (B_LTA_RESULT, B_B_RESULT),
    }
    return {
        name: round(_cost(by_key[a], cost) / _cost(by_key[b], cost), 2)
        for name, (a, b) in pairs.items()
        if a in by_key and b in by_key
    }


def _cost(result: LtvResult, cost: Cost) -> float:
    if cost == "cpu":
        return result.cpu_ms
    if cost == "signer_cpu":
        return max(result.cpu_ms - result.server_cpu_ms, 1e-6)
    return result.median_ms


def table(results: list[LtvResult]) -> list[str]:
    width = max(len(r.name) for r in results)
    header = (
        f"{'LTV measurement':<{width}}  {'per s':>7}  {'median ms':>9}  {'p90 ms':>8}  {'CPU ms':>8}  {'runs':>4}  "
        f"{'HTTP/op':<16}  {'TSA CPU':>7}  levels"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        http = " ".join(f"{kind}={count:g}" for kind, count in r.requests.items()) or "-"
        lines.append(
            f"{r.name:<{width}}  {r.per_second:7.1f}  {r.median_ms:9.1f}  {r.p90_ms:8.1f}  {r.cpu_ms:8.1f}  "
            f"{r.runs:4d}  {http:<16}  {r.server_cpu_ms:7.1f}  {r.level}"
        )
    by_cpu, by_signer = ratios(results, "cpu"), ratios(results, "signer_cpu")
    lines.append("")
    for name, value in ratios(results).items():
        lines.append(
            f"ratio {name}: {value:.2f} (wall time), {by_cpu[name]:.2f} (CPU time), "
            f"{by_signer[name]:.2f} (CPU time without the TSA server's)"
        )
    return lines


def json_line(results: list[LtvResult], **context: object) -> str:
    """One JSON object: context, per row per-second/median/p90/requests/levels, and the ratios."""
    return json.dumps(
        {
            "bench": "signing-ltv",
            **context,
            "rows": {
                r.key: {
                    "per_second": round(r.per_second, 2),
                    "median_ms": round(r.median_ms, 2),
                    "p90_ms": round(r.p90_ms, 2),
                    "cpu_ms": round(r.cpu_ms, 2),
                    "runs": r.runs,
                    "http_per_operation": r.requests,
                    "server_cpu_ms": round(r.server_cpu_ms, 2),
                    "levels": r.level,
                }
                for r in results
            },
            "ratios": ratios(results),
            "cpu_ratios": ratios(results, "cpu"),
            "signer_cpu_ratios": ratios(results, "signer_cpu"),
        },
        ensure_ascii=False,
    )
