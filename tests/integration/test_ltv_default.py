"""Every signature the server makes can be validated with nothing but the file and the trust root (issue 19 point 1).

Two installations issue a receipt (seal), a result (the leader's certification signature, then the seal) and a
Mẫu 05 stop notice (the head's signature, then the seal): one without a TSA (B-B with the chain and revocation data
in the DSS), one with the live certomancer TSA (seals B-LT, results B-LTA, the leader's signature timestamped).
Each document is validated by ``signing.ades.validate_ades`` given only the development root (and the TSA's root),
with no network and none of the installation's CRLs; pdfsig agrees; ``motcua verify --trust`` uses only what it is
given; an evidence package of the B-LT/B-LTA documents passes its offline check. Last, a certificate issued by a
server started with ``MOTCUA_PKI_PUBLIC_URL`` names a CRL address that ``motcua serve`` answers.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore
from typer.testing import CliRunner

from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from motcua.app import Runtime, build_runtime, init_state
from motcua.cli import app as cli
from motcua.settings import Settings
from signing.ades import DOCUMENT_TIMESTAMP, SIGNATURE, AdesReport, format_report, validate_ades
from signing.certs import to_crypto
from signing.ltv import sign_pades
from signing.pades import PadesSigner
from tests.conftest import MONDAY_MORNING, Api, minimal_pdf
from tests.integration.certomancer_pki import TSA_NAME, LivePki
from tests.integration.server import ServerFactory
from tests.pdftools import nss_db_trusting, pdfsig

pytestmark = pytest.mark.integration

LEADER = "lanhdao.xa1"
RECEPTION = "tiepnhan.xa1"
SEAL = "agency:000.00.31.H99"  # Ủy ban nhân dân xã Demo 1


@dataclass
class Issued:
    runtime: Runtime
    root: x509.Certificate
    documents: dict[str, bytes]  # receipt, result, stop_notice
    codes: dict[str, str]  # the dossier of each


def _document(api: Api, code: str, kind: str) -> bytes:
    documents = api.get(f"/api/dossiers/{code}", RECEPTION).json()["documents"]
    [found] = [d for d in documents if d["kind"] == kind]
    r = api.get(f"/api/dossiers/{code}/documents/{found['id']}", RECEPTION)
    assert r.status_code == 200, r.text
    return bytes(r.content)


def _issue(settings: Settings, start: dt.datetime = MONDAY_MORNING) -> Iterator[Issued]:
    """A receipt, a result (leader + seal) and a Mẫu 05 (head + seal), issued the way the desk issues them."""
    init_state(settings)
    runtime = build_runtime(settings, clock=SimulatedClock(start))
    runtime.engine.deploy()
    try:
        api = Api(runtime)
        code = api.received()  # the receipt, sealed
        assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
        assert api.decide(LEADER, code, "approve").status_code == 200
        api.issue_result(code)
        stopped = api.received()
        stop = {"requested_by_applicant": False, "reason": "Hồ sơ thuộc thẩm quyền cơ quan khác."}
        assert api.post(f"/api/dossiers/{stopped}/stop", RECEPTION, json=stop).status_code == 200
        assert api.sign_on_device(LEADER, stopped).status_code == 200  # the head signs, the seal follows
        yield Issued(
            runtime,
            runtime.pki.trust_roots()[0],
            {
                "receipt": _document(api, code, "receipt"),
                "result": _document(api, code, "result"),
                "stop_notice": _document(api, stopped, "stop_notice"),
            },
            {"receipt": code, "result": code, "stop_notice": stopped},
        )
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def without_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issued]:
    yield from _issue(Settings(var_dir=tmp_path_factory.mktemp("ltv-plain") / "var", demo_clock=True))


@pytest.fixture(scope="module")
def with_tsa(live_pki: LivePki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issued]:
    directory = tmp_path_factory.mktemp("ltv-tsa")
    tsa_root = live_pki.pem_file("tsa-root.pem", "root")
    settings = Settings(var_dir=directory / "var", demo_clock=True, tsa_url=live_pki.tsa_url, trust_roots=str(tsa_root))
    # the desk's clock at the real time: the TSA's times and CRLs are real, and an evidence export validates "as of" it
    yield from _issue(settings, dt.datetime.now(VN_TZ))


def _offline(pdf: bytes, *roots: x509.Certificate) -> AdesReport:
    """What anyone holding the file and the roots gets: no network, no CRL of the installation."""
    return validate_ades(pdf, list(roots), allow_fetching=False)


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _dss_crl_issuers(pdf: bytes) -> set[x509.Name]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf), strict=False))
    return {x509.load_der_x509_crl(ref.get_object().data).issuer for ref in dss.crls}


# ---------------------------------------------------------------------- without a TSA: B-B + revocation data


@pytest.mark.parametrize("kind", ["receipt", "result", "stop_notice"])
def test_without_a_tsa_each_document_validates_with_only_the_root(without_tsa: Issued, kind: str) -> None:
    pdf = without_tsa.documents[kind]
    report = _offline(pdf, without_tsa.root)
    assert report.indication == "TOTAL-PASSED", format_report(report)
    assert report.has_dss and not report.revocation_fetching
    expected = 1 if kind == "receipt" else 2  # the seal; or the personal signature and the seal
    assert [r.kind for r in report.signatures] == [SIGNATURE] * expected
    for result in report.signatures:
        assert result.level == "B-B" and result.signature_timestamp is None
        assert result.revocation.status == "GOOD" and result.revocation.crls >= 1, format_report(report)
    # the revocation data found is the agency CA's CRL (leaves) and the root's (the agency CA), both in the file
    pki = without_tsa.runtime.pki
    agency_ca = x509.load_pem_x509_certificate(pki.agency_ca_cert_path.read_bytes())
    assert _dss_crl_issuers(pdf) == {agency_ca.subject, without_tsa.root.subject}


def test_pdfsig_agrees(without_tsa: Issued, tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(without_tsa.runtime.pki.root_cert_path.read_bytes())
    nss_db = nss_db_trusting(root, _directory(tmp_path / "nss"))
    for kind, pdf in without_tsa.documents.items():
        blocks = pdfsig(pdf, nss_db, tmp_path)
        assert len(blocks) == (1 if kind == "receipt" else 2), blocks
        for block in blocks:
            assert block["Signature Validation"] == "Signature is Valid.", (kind, block)
            assert block["Certificate Validation"] == "Certificate is Trusted.", (kind, block)


def test_verify_with_trust_uses_only_the_roots_and_the_file(without_tsa: Issued, tmp_path: Path) -> None:
    """`motcua verify --trust ROOT` run where no installation exists: the embedded data is enough. A bare B-B seal
    (no DSS), which passed before only because the installation's own CRLs were added silently, does not."""
    root = tmp_path / "root.pem"
    root.write_bytes(without_tsa.runtime.pki.root_cert_path.read_bytes())
    elsewhere = {"MOTCUA_VAR_DIR": str(tmp_path / "nothing-here")}
    result = tmp_path / "result.pdf"
    result.write_bytes(without_tsa.documents["result"])
    run = CliRunner().invoke(cli, ["verify", str(result), "--trust", str(root)], env=elsewhere)
    assert run.exit_code == 0, run.output
    assert "TOTAL-PASSED" in run.output and "(OCSP: 0, CRL: " in run.output

    keys = without_tsa.runtime.keys
    bare = tmp_path / "bare.pdf"
    bare.write_bytes(sign_pades(minimal_pdf("Biên nhận"), keys.signer_for(SEAL), "ConDau"))
    run = CliRunner().invoke(cli, ["verify", str(bare), "--trust", str(root)], env=elsewhere)
    assert run.exit_code == 1 and "INDETERMINATE" in run.output, run.output
    # without --trust the installation's trust (and its CRLs) is used, as the help says
    here = {"MOTCUA_VAR_DIR": str(without_tsa.runtime.settings.var_dir)}
    run = CliRunner().invoke(cli, ["verify", str(bare)], env=here)
    assert run.exit_code == 0, run.output


# ---------------------------------------------------------------------- with a TSA: B-LT seals, B-LTA results


def test_with_a_tsa_the_seal_is_b_lt_and_the_result_b_lta(with_tsa: Issued, live_pki: LivePki) -> None:
    tsa_root = to_crypto(live_pki.root)
    receipt = _offline(with_tsa.documents["receipt"], with_tsa.root, tsa_root)
    assert receipt.indication == "TOTAL-PASSED", format_report(receipt)
    [seal] = receipt.signatures
    assert seal.level == "B-LT" and seal.signature_timestamp is not None
    assert TSA_NAME in seal.signature_timestamp.tsa_subject
    assert seal.revocation.status == "GOOD"

    for kind in ("result", "stop_notice"):
        report = _offline(with_tsa.documents[kind], with_tsa.root, tsa_root)
        assert report.indication == "TOTAL-PASSED", format_report(report)
        assert [r.kind for r in report.signatures] == [SIGNATURE, SIGNATURE, DOCUMENT_TIMESTAMP], format_report(report)
        leader, seal, archive = report.signatures
        assert leader.level == "B-LTA" and seal.level == "B-LTA", format_report(report)
        # the leader's signature got its signature timestamp when the server finished it
        assert leader.signature_timestamp is not None and TSA_NAME in leader.signature_timestamp.tsa_subject
        assert archive.passed and TSA_NAME in archive.signer_subject
        assert leader.proven_time is not None and leader.proven_time <= seal.proven_time  # type: ignore[operator]


def test_a_tsa_whose_root_is_not_configured_is_named_in_the_refusal(with_tsa: Issued, live_pki: LivePki) -> None:
    """The TSA's chain is validated to collect its revocation data, so its root must be among MOTCUA_TRUST_ROOTS."""
    runtime = with_tsa.runtime
    signer = PadesSigner(runtime.pki, keys=runtime.keys, timestamper_url=live_pki.tsa_url)  # no configured roots
    with pytest.raises(InvalidInput) as refused:
        signer.sign(minimal_pdf(), SignatureRequest(SEAL, "ConDau", "Đóng dấu"))
    assert (
        "MOTCUA_TRUST_ROOTS" in refused.value.message_vi and refused.value.details["reason"] == "certificate_untrusted"
    )


def test_with_a_tsa_pdfsig_agrees(with_tsa: Issued, live_pki: LivePki, tmp_path: Path) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(with_tsa.runtime.pki.root_cert_path.read_bytes())
    nss_db = nss_db_trusting(roots, _directory(tmp_path / "nss"))
    blocks = pdfsig(with_tsa.documents["result"], nss_db, tmp_path)
    signers = [b for b in blocks if b.get("Signature Type") == "ETSI.CAdES.detached"]
    assert len(signers) == 2, blocks  # poppler does not judge the document timestamp (ETSI.RFC3161)
    for block in signers:
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block["Certificate Validation"] == "Certificate is Trusted.", block


# ---------------------------------------------------------------------- the CRL address answers


def test_the_crl_address_of_a_new_certificate_is_served(motcua_server_factory: ServerFactory) -> None:
    server = motcua_server_factory("pki-url", start=False)
    server.extra_env["MOTCUA_PKI_PUBLIC_URL"] = f"{server.base_url}/pki/"
    server.init()
    server.start()
    pki_dir = server.var_dir / "pki"
    leaf = x509.load_pem_x509_certificate(next((pki_dir / "agency").glob("*.pem")).read_bytes())
    agency_ca = x509.load_pem_x509_certificate((pki_dir / "ca" / "agency-ca.pem").read_bytes())
    root = x509.load_pem_x509_certificate((pki_dir / "ca" / "root.pem").read_bytes())
    for cert, issuer in ((leaf, agency_ca), (agency_ca, root)):
        points = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
        [url] = [name.value for point in points for name in point.full_name or ()]
        assert url.startswith(f"{server.base_url}/pki/"), url
        r = httpx.get(url, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pkix-crl", r.text
        crl = x509.load_der_x509_crl(r.content)
        assert crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC)
    assert httpx.get(f"{server.base_url}/pki/other.crl", timeout=10).status_code == 404


# ---------------------------------------------------------------------- evidence packages (point 4)


def test_an_evidence_package_of_b_lt_and_b_lta_documents_verifies_offline(with_tsa: Issued, live_pki: LivePki) -> None:
    from services.evidence import export_evidence
    from services.evidence_verify import verify_package

    runtime = with_tsa.runtime
    package = export_evidence(runtime, with_tsa.codes["result"], "thanhtra.tinh", channel="test")
    checked = verify_package(package.data, [with_tsa.root, to_crypto(live_pki.root)])
    failed = [(v.item, v.message) for v in checked.verdicts if not v.ok]
    assert failed == [], failed
