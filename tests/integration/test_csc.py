"""Remote signing through the CSC API: pyHanko's CSCSigner (signing.keys.csc.sign_with_csc) against
``certomancer-csc-dummy`` running as a subprocess on loopback, with the test PKI in ``csc/certomancer.yml``.

The service's keys are generated per run in a temporary directory (none is kept in the repository). The service
is part of the ``dev`` extra: when it cannot be imported or does not start, the tests fail (with ``CI=true`` they
can never skip); the process is always stopped.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign.signers.csc_signer import CSCCredentialInfo, CSCServiceSessionInfo

from dossiers.errors import InvalidInput, Unavailable
from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator, create_signature_fields
from signing.keys.csc import fetch_csc_credential, sign_with_csc
from tests.integration.server import free_port
from tests.pdftools import nss_db_trusting, pdfsig
from tests.unit.test_signing import sample_pdf

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).parent / "csc" / "certomancer.yml"
ARCH = "motcua-csc"
LEADER_CREDENTIAL = f"{ARCH}/leader"
KEYS = ("root", "signing-ca", "leader")
START_TIMEOUT = 30.0

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER_CERTIFIES = SignatureRequest("person:lanhdao.xa1", "LanhDao", "Phê duyệt", "Xã Demo 1", certify=True)
SEAL = SignatureRequest(f"agency:{COMMUNE}", "DauMoi", "Đóng dấu", "Xã Demo 1")


@dataclass
class CscService:
    url: str
    directory: Path
    log: Path

    def session(self, credential: str = LEADER_CREDENTIAL) -> CSCServiceSessionInfo:
        return CSCServiceSessionInfo(service_url=self.url, credential_id=credential)

    def certificate(self, label: str) -> asn1_x509.Certificate:
        """The certificate as the test computes it from the same config and keys, independently of the service."""
        from certomancer.registry import CertomancerConfig

        config = CertomancerConfig.from_file(str(self.directory / "certomancer.yml"))
        return config.get_pki_arch(ARCH).get_cert(label)


def _write_config(directory: Path) -> None:
    shutil.copy(CONFIG, directory / "certomancer.yml")
    keys = directory / "keys"
    keys.mkdir(mode=0o700)
    for label in KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = keys / f"{label}.key.pem"
        path.write_bytes(pem)
        path.chmod(0o600)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/info", timeout=2) as response:  # noqa: S310 - loopback test service
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def csc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CscService]:
    """``certomancer-csc`` (SCAL 2: the SAD is bound to the hashes) on localhost and a free port."""
    if importlib.util.find_spec("csc_dummy") is None:
        # part of the dev extra; never a skip: a missing remote-signing test must not pass silently
        pytest.fail("certomancer-csc-dummy is not installed (it is in the dev extra: pip install -e '.[dev]')")
    directory = tmp_path_factory.mktemp("csc")
    _write_config(directory)
    log = directory / "csc.log"
    for attempt in range(1, 4):
        port = free_port()
        url = f"http://localhost:{port}"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "csc_dummy", str(directory / "certomancer.yml"), str(port), "2"],
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline and not _ready(url):
                time.sleep(0.1)
            if process.poll() is None and _ready(url):
                yield CscService(url=url, directory=directory, log=log)
                return
            text = log.read_text(errors="replace")
            if process.poll() is not None and "address already in use" in text.lower() and attempt < 3:
                continue  # another process took the port between our probe and the bind
            pytest.fail(f"the CSC dummy service did not start on {url}:\n{text[-4000:]}")
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def credential(csc: CscService) -> CSCCredentialInfo:
    return fetch_csc_credential(csc.session())


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [], dt.datetime.now(dt.UTC))
    return pki


def test_the_credential_is_the_leader_under_the_test_root(csc: CscService, credential: CSCCredentialInfo) -> None:
    assert credential.signing_cert.dump() == csc.certificate("leader").dump()
    assert csc.certificate("root").dump() in {cert.dump() for cert in credential.chain}
    assert credential.hash_pinning_required  # SCAL 2
    assert "sha256_rsa" in credential.supported_mechanisms


def test_a_pdf_signed_through_csc_validates(csc: CscService, credential: CSCCredentialInfo) -> None:
    signed = sign_with_csc(sample_pdf(), LEADER_CERTIFIES, csc.session(), credential)
    report = PadesValidator([csc.certificate("root")]).validate(signed)
    assert report.indication == "TOTAL-PASSED", report
    (check,) = report.signatures
    assert check.field_name == "LanhDao" and "CN=Phạm Văn Hùng" in check.signer_subject
    assert check.intact and check.valid and check.trusted and check.covers_whole_document


def test_trust_roots_are_configuration(csc: CscService, credential: CSCCredentialInfo, dev_pki: DevelopmentPki) -> None:
    signed = sign_with_csc(sample_pdf(), LEADER_CERTIFIES, csc.session(), credential)
    report = PadesValidator(dev_pki.trust_roots()).validate(signed)
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_decree30_order_remote_leader_then_server_seal(
    csc: CscService, credential: CSCCredentialInfo, dev_pki: DevelopmentPki
) -> None:
    form = create_signature_fields(sample_pdf(), ["LanhDao", "DauMoi"])
    certified = sign_with_csc(form, LEADER_CERTIFIES, csc.session(), credential)
    sealed = PadesSigner(dev_pki).sign(certified, SEAL)
    report = PadesValidator([csc.certificate("root"), *dev_pki.trust_roots()]).validate(sealed)
    assert report.indication == "TOTAL-PASSED", report
    assert [check.field_name for check in report.signatures] == ["LanhDao", "DauMoi"]
    assert report.signatures[0].modification_level == "FORM_FILLING"


def test_pdfsig_agrees(csc: CscService, credential: CSCCredentialInfo, tmp_path: Path) -> None:
    signed = sign_with_csc(sample_pdf(), LEADER_CERTIFIES, csc.session(), credential)
    root_pem = tmp_path / "csc-root.pem"
    root_pem.write_bytes(
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(csc.certificate("root").dump())
        + b"-----END CERTIFICATE-----\n"
    )
    nss = tmp_path / "nss"
    nss.mkdir()
    (block,) = pdfsig(signed, nss_db_trusting(root_pem, nss), tmp_path)
    assert block["Signature Validation"] == "Signature is Valid.", block
    assert block["Certificate Validation"] == "Certificate is Trusted.", block


def test_a_value_from_another_key_is_refused(csc: CscService, credential: CSCCredentialInfo) -> None:
    # the service signs with the signing CA's key while the document names the leader's certificate
    with pytest.raises(InvalidInput, match="does not match the digest"):
        sign_with_csc(sample_pdf(), LEADER_CERTIFIES, csc.session(f"{ARCH}/signing-ca"), credential)


def test_bad_credential_and_unreachable_service(csc: CscService, credential: CSCCredentialInfo) -> None:
    with pytest.raises(InvalidInput, match="refused"):
        fetch_csc_credential(csc.session(f"{ARCH}/nobody"))
    closed = CSCServiceSessionInfo(service_url=f"http://127.0.0.1:{free_port()}", credential_id=LEADER_CREDENTIAL)
    with pytest.raises(Unavailable):
        fetch_csc_credential(closed)
    with pytest.raises(Unavailable):
        sign_with_csc(sample_pdf(), LEADER_CERTIFIES, closed, credential)


def test_expired_credential_certificate_is_refused(csc: CscService, credential: CSCCredentialInfo) -> None:
    later = dt.datetime(2081, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput, match="expired"):
        sign_with_csc(sample_pdf(), LEADER_CERTIFIES, csc.session(), credential, now=later)
