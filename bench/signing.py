"""Signing benchmark: PAdES B-B signatures and validations per second, against the raw signature operations.

Measures, in one warm process on one core (the issue's conditions; ``--all-cores`` to lift the pinning):

* invisible B-B signatures on a 1-page and a 50-page PDF with the development PKI's agency seal (ECDSA P-256):
  ``PadesSigner`` as it is, pyHanko's ``SimpleSigner`` loaded from the PKCS#12 file for every document, the
  same ``SimpleSigner`` kept between documents, and ``signing.keys.pkcs12.Pkcs12Keys`` (key parsed once, kept);
* the same with an RSA-2048 key (``SimpleSigner`` kept vs. ``LoadedKeySigner``), the issue's reference key;
* a co-signature (a second signature on an already signed PDF);
* each also with ``bytes_reserved`` given (``signing.pdf.bytes_reserved_for``), which spares pyHanko building
  the CMS container a second time only to measure it;
* validations with ``PadesValidator`` (one and two signatures);
* raw RSA-2048 (PKCS#1 v1.5, SHA-256) and ECDSA P-256 signatures with ``cryptography`` — the limit; each row
  shows how many raw signatures of its key type one document costs.

The rows above involve no TSA, OCSP or CRL round trips (B-B only, no revocation checking). The LTV part that
follows in the same run (:mod:`bench.signing_ltv`, issue 19 point 6) measures the B-B seal as the server makes it
(DSS, no TSA), the B-LT seal and the B-LTA result (leader's signature finished by the server + seal + document
timestamp) with a TSA and CRLs served locally, their ratios, and offline validations of a B-LTA result; it prints
its own table and one JSON line.

Run: ``python bench/signing.py`` (``--quick`` for a short run, ``--ltv`` for the LTV part alone). Every loop is
bounded by a count and a time.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    # `python bench/signing.py`: the script's folder comes first on the path, and its statistics.py would hide the
    # standard library's module; the repository root takes its place
    sys.path[0] = str(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from pyhanko.keys import load_private_key_from_pemder_data  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from dossiers.ports import SignatureRequest  # noqa: E402
from signing.certs import to_asn1  # noqa: E402
from signing.keys.pkcs12 import LoadedKeySigner, Pkcs12Keys  # noqa: E402
from signing.pades import PadesSigner  # noqa: E402
from signing.pdf import bytes_reserved_for  # noqa: E402
from signing.pki import DevelopmentPki  # noqa: E402
from signing.validate import PadesValidator  # noqa: E402

AGENCY = "000.00.31.H99"
AGENCY_NAME = "Ủy ban nhân dân xã Demo 1"
OTHER = "000.00.32.H99"
OTHER_NAME = "Ủy ban nhân dân xã Demo 2"
SEAL = f"agency:{AGENCY}"


@dataclass(frozen=True)
class Budget:
    iterations: int  # at most this many timed runs …
    seconds: float  # … and stop starting new ones after this long
    warmup: int = 2


@dataclass(frozen=True)
class Result:
    name: str
    runs: int
    median_ms: float
    p90_ms: float
    key: str  # "ec" | "rsa" | "" — which raw operation the row is compared with

    @property
    def per_second(self) -> float:
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")


def measure(name: str, action: Callable[[], object], budget: Budget, key: str = "") -> Result:
    for _ in range(budget.warmup):
        action()
    times: list[float] = []
    deadline = time.perf_counter() + budget.seconds
    while len(times) < budget.iterations and (len(times) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    return Result(name, len(times), statistics.median(times), p90, key)


# ---------------------------------------------------------------------- inputs


def make_pdf(pages: int) -> bytes:
    """A text document of ``pages`` A4 pages (reportlab, compressed content streams)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica", 11)
        for line in range(45):
            pdf.drawString(56, 800 - 16 * line, f"Page {number}, line {line + 1}: Motcua signing benchmark text.")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def rsa_material() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Motcua benchmark RSA-2048 seal")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def simple_signer_for(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> signers.SimpleSigner:
    """pyHanko's in-memory signer over ``key`` (it keeps the key as DER and parses it for every signature)."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return signers.SimpleSigner(
        signing_cert=to_asn1(cert),
        signing_key=load_private_key_from_pemder_data(pem, passphrase=None),
        cert_registry=SimpleCertificateStore(),
    )


def sign_with(pdf: bytes, signer: signers.Signer, field: str = "Seal", reserved: int | None = None) -> bytes:
    """An invisible B-B signature through pyHanko's public API; ``reserved`` skips pyHanko's size estimate."""
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out, bytes_reserved=reserved
    )
    return out.getvalue()


def reloaded_simple_signer(pki: DevelopmentPki) -> signers.SimpleSigner:
    material = pki.key_material(SEAL)
    return signers.SimpleSigner.load_pkcs12_data(
        material.pkcs12_data, other_certs=[to_asn1(cert) for cert in material.chain], passphrase=material.passphrase
    )


# ---------------------------------------------------------------------- the run


def run(budget: Budget, pdf_budget: Budget) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        pki = DevelopmentPki(Path(tmp) / "pki")
        pki.ensure([(AGENCY, AGENCY_NAME), (OTHER, OTHER_NAME)], [], dt.datetime.now(dt.UTC))
        one_page, fifty_pages = make_pdf(1), make_pdf(50)
        keys = Pkcs12Keys(pki)
        pades = PadesSigner(pki)
        kept_simple = reloaded_simple_signer(pki)
        request = SignatureRequest(signer=SEAL, field_name="Seal", reason="benchmark")
        reserved = bytes_reserved_for(keys.chain_for(SEAL))

        for pages, pdf, b in (("1 page", one_page, budget), ("50 pages", fifty_pages, pdf_budget)):
            rows: list[tuple[str, Callable[[], object]]] = [
                ("PadesSigner as is", lambda p=pdf: pades.sign(p, request)),
                ("SimpleSigner reloaded each time", lambda p=pdf: sign_with(p, reloaded_simple_signer(pki))),
                ("SimpleSigner kept", lambda p=pdf: sign_with(p, kept_simple)),
                ("Pkcs12Keys cached", lambda p=pdf: sign_with(p, keys.signer_for(SEAL))),
                (
                    "Pkcs12Keys cached + bytes_reserved",
                    lambda p=pdf: sign_with(p, keys.signer_for(SEAL), reserved=reserved),
                ),
            ]
            results += [measure(f"invisible, {pages}, {what} (P-256)", action, b, "ec") for what, action in rows]

        rsa_key, rsa_cert = rsa_material()
        rsa_simple = simple_signer_for(rsa_key, rsa_cert)
        rsa_loaded = LoadedKeySigner(rsa_key, rsa_cert)
        rsa_reserved = bytes_reserved_for([rsa_cert])
        rsa_rows: list[tuple[str, Callable[[], object]]] = [
            ("SimpleSigner kept", lambda: sign_with(one_page, rsa_simple)),
            ("LoadedKeySigner", lambda: sign_with(one_page, rsa_loaded)),
            ("LoadedKeySigner + bytes_reserved", lambda: sign_with(one_page, rsa_loaded, reserved=rsa_reserved)),
        ]
        results += [
            measure(f"invisible, 1 page, {what} (RSA-2048)", action, budget, "rsa") for what, action in rsa_rows
        ]

        other = f"agency:{OTHER}"
        other_reserved = bytes_reserved_for(keys.chain_for(other))
        sealed_once = sign_with(one_page, keys.signer_for(SEAL), reserved=reserved)
        cosign_rows: list[tuple[str, Callable[[], object]]] = [
            ("Pkcs12Keys cached", lambda: sign_with(sealed_once, keys.signer_for(other), field="Seal2")),
            (
                "Pkcs12Keys cached + bytes_reserved",
                lambda: sign_with(sealed_once, keys.signer_for(other), field="Seal2", reserved=other_reserved),
            ),
        ]
        results += [
            measure(f"co-signature, 1 page, {what} (P-256)", action, budget, "ec") for what, action in cosign_rows
        ]

        # the product path: a Decree 30 visible seal (red seal image, agency name, +07:00 time, Noto Serif)
        from documents.layout import SIGNATURE_BOX
        from signing.appearance import development_seal_png, seal_style, warm_up
        from signing.pades import create_signature_fields

        warm_up()
        style = seal_style(development_seal_png(AGENCY_NAME), AGENCY_NAME)
        visible = PadesSigner(pki, styles=lambda r: style)
        with_field = {
            n: create_signature_fields(p, ["agency_seal"], boxes={"agency_seal": (0, SIGNATURE_BOX.box)})
            for n, p in (("1 page", one_page), ("50 pages", fifty_pages))
        }
        seal_request = SignatureRequest(signer=SEAL, field_name="agency_seal", reason="benchmark")
        for pages, b in (("1 page", budget), ("50 pages", pdf_budget)):
            results.append(
                measure(
                    f"visible Decree 30 seal, {pages}, PadesSigner (P-256)",
                    lambda p=with_field[pages]: visible.sign(p, seal_request),
                    b,
                    "ec",
                )
            )
        results.append(
            measure(
                "invisible, 1 page, PadesSigner (cached keys, P-256)",
                lambda: pades.sign(one_page, request),
                budget,
                "ec",
            )
        )

        sealed_twice = sign_with(sealed_once, keys.signer_for(other), field="Seal2")
        sealed_fifty = sign_with(fifty_pages, keys.signer_for(SEAL))
        validator = PadesValidator(pki.trust_roots())
        for pdf, what in (
            (sealed_once, "1 page, 1 signature"),
            (sealed_fifty, "50 pages, 1 signature"),
            (sealed_twice, "1 page, 2 signatures"),
        ):
            report = validator.validate(pdf)
            assert report.indication == "TOTAL-PASSED", report
            results.append(measure(f"validation, {what}", lambda p=pdf: validator.validate(p), budget))
        from signing.ades import AdesValidator

        ades = AdesValidator(pki.trust_roots(), allow_fetching=False, crls=pki.crls())
        assert ades.report(sealed_once).passed
        results.append(
            measure(
                "AdES validation (offline, local CRLs), 1 page, 1 signature", lambda: ades.report(sealed_once), budget
            )
        )

    digest_input = os.urandom(1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    raw_budget = Budget(iterations=budget.iterations * 20, seconds=budget.seconds, warmup=10)
    results += [
        measure(
            "raw RSA-2048 signature (PKCS#1 v1.5, SHA-256)",
            lambda: rsa_key.sign(digest_input, padding.PKCS1v15(), hashes.SHA256()),
            raw_budget,
            "raw-rsa",
        ),
        measure(
            "raw ECDSA P-256 signature (SHA-256)",
            lambda: ec_key.sign(digest_input, ec.ECDSA(hashes.SHA256())),
            raw_budget,
            "raw-ec",
        ),
    ]
    return results


def print_table(results: list[Result]) -> None:
    raw = {r.key[4:]: r for r in results if r.key.startswith("raw-")}
    name_width = max(len(r.name) for r in results)
    header = (
        f"{'measurement':<{name_width}}  {'per s':>9}  {'median ms':>9}  {'p90 ms':>8}  {'runs':>5}  {'× raw op':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        limit = raw.get(r.key)
        ratio = f"{r.median_ms / limit.median_ms:8.0f}" if limit is not None else f"{'':>8}"
        print(f"{r.name:<{name_width}}  {r.per_second:9.1f}  {r.median_ms:9.2f}  {r.p90_ms:8.2f}  {r.runs:5d}  {ratio}")
    print(
        "\n× raw op: the document's median time in raw signature operations of its key type "
        "(how far a signature is from the cryptographic limit)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (fewer iterations, ≈ 40 s with the LTV part)")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--ltv", action="store_true", help="only the LTV part (B-B/B-LT seal, B-LTA result)")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.quick:
        budget, pdf_budget = Budget(iterations=15, seconds=1.0, warmup=1), Budget(iterations=5, seconds=1.0, warmup=1)
    else:
        budget, pdf_budget = Budget(iterations=200, seconds=6.0), Budget(iterations=50, seconds=8.0)
    from importlib.metadata import version

    cores = "one core" if not args.all_cores else f"{os.cpu_count()} cores"
    print(
        f"signing benchmark, pyHanko {version('pyhanko')}, Python {sys.version.split()[0]}, {cores}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}{' (quick)' if args.quick else ''}\n"
    )
    if not args.ltv:
        print_table(run(budget, pdf_budget))
        print()
    if args.quick:  # a signature with a TSA takes ~50-100 times a B-B one: fewer runs, same time bound
        ltv_budget = Budget(iterations=5, seconds=2.0, warmup=1)
    else:
        ltv_budget = Budget(iterations=40, seconds=10.0, warmup=2)
    run_ltv(ltv_budget, quick=args.quick, cores=cores)


def run_ltv(budget: Budget, *, quick: bool = False, cores: str = "", only: tuple[str, ...] | None = None) -> str:
    """The LTV part (:mod:`bench.signing_ltv`): print its table and JSON line; return the JSON line."""
    from importlib.metadata import version

    from bench import signing_ltv

    def timed(name: str, action: Callable[[], object]) -> tuple[int, float, float]:
        result = measure(name, action, budget)
        return result.runs, result.median_ms, result.p90_ms

    results = signing_ltv.run(timed, only=only)
    print("\n".join(signing_ltv.table(results)))
    print(
        "\nper s: from the median wall time; CPU ms: the process's CPU time per operation (the in-process TSA and "
        "CRL server included); HTTP/op: requests to the local TSA (tsa) and CRL server (crls) per operation; "
        "TSA CPU: the CPU ms that server spent answering them; "
        "levels: what signing.ades finds offline with only the development root and the TSA's root."
    )
    line = signing_ltv.json_line(
        results,
        date=f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%MZ}",
        pyhanko=version("pyhanko"),
        python=sys.version.split()[0],
        cores=cores,
        quick=quick,
        load_average=[round(x, 2) for x in os.getloadavg()],
    )
    print(line)
    return line


if __name__ == "__main__":
    main()
