"""The certomancer test PKI as a live service for the whole test session (OCSP, CRL, RFC 3161 TSA).

The configuration is ``tests/integration/certomancer/``: root → issuing CA → signers (good, revoked since
2025-01-01, expired in 2022), a TSA, an OCSP responder and CRLs. The session fixture ``live_pki`` (registered in
``tests/integration/conftest.py``) generates the keys, serves certomancer's Animator WSGI app with werkzeug on
127.0.0.1 (a port the OS picks, then written into every certificate's OCSP/CRL URLs) in a thread of the test
process, checks that OCSP, CRL and TSA answer, and always shuts it down. With ``CI=true`` a PKI that cannot
start (or certomancer missing) fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl, ocsp, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.certs import pem, to_crypto
from tests.services import service_missing

try:
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, KeyLabel
    from werkzeug.serving import WSGIRequestHandler, make_server

    CERTOMANCER_MISSING: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the installation
    CERTOMANCER_MISSING = f"certomancer[web-api] is not installed (pip install -e '.[dev]'): {exc}"
    WSGIRequestHandler = object

CONFIG = Path(__file__).parent / "certomancer" / "motcua-test-pki.yml"
ARCH = "motcua-test"
KEY_LABELS = ("root", "interm", "ocsp", "tsa", "signer-good", "signer-revoked", "signer-expired", "signer-seal")
TSA_NAME = "Motcua Test Time-Stamping Authority"


def _fail_or_skip(reason: str) -> None:
    service_missing(f"the certomancer test PKI: {reason}")


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        pass


@dataclass
class LivePki:
    base_url: str
    arch: Any  # certomancer.registry.PKIArchitecture
    directory: Path

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    def cert(self, label: str) -> asn1_x509.Certificate:
        return self.arch.get_cert(CertLabel(label))

    @property
    def root(self) -> asn1_x509.Certificate:
        return self.cert("root")

    def signer(self, label: str) -> signers.SimpleSigner:
        return signers.SimpleSigner(
            signing_cert=self.cert(label),
            signing_key=self.arch.key_set.get_private_key(KeyLabel(label)),
            cert_registry=SimpleCertificateStore.from_certs([self.cert("interm"), self.root]),
        )

    def pem_file(self, name: str, *labels: str) -> Path:
        path = self.directory / name
        path.write_bytes(b"".join(pem(to_crypto(self.cert(label))) for label in labels))
        return path


def _write_keys(directory: Path) -> None:
    for label in KEY_LABELS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (directory / f"{label}.key.pem").write_bytes(pem)


def _post(url: str, body: bytes, content_type: str) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
        return bytes(response.read())


def _health_check(pki: LivePki) -> None:
    """OCSP says the revoked signer is revoked, the issuing CA's CRL lists it, the TSA grants a token."""
    with urllib.request.urlopen(f"{pki.base_url}/{ARCH}/crls/interm/latest.crl", timeout=10) as response:  # noqa: S310
        crl_data = response.read()
    entries = crl.CertificateList.load(crl_data)["tbs_cert_list"]["revoked_certificates"]
    revoked = {entry["user_certificate"].native for entry in entries}
    assert pki.cert("signer-revoked").serial_number in revoked

    cert, issuer = pki.cert("signer-revoked"), pki.cert("interm")
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": issuer.subject.sha1,
            "issuer_key_hash": issuer.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )
    request = ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})
    answer = ocsp.OCSPResponse.load(
        _post(f"{pki.base_url}/{ARCH}/ocsp/interm", request.dump(), "application/ocsp-request")
    )
    single = answer["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "revoked"

    query = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x00" * 32},
            "cert_req": True,
        }
    )
    reply = tsp.TimeStampResp.load(_post(pki.tsa_url, query.dump(), "application/timestamp-query"))
    assert reply["status"]["status"].native == "granted"


@pytest.fixture(scope="session")
def live_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePki]:
    """certomancer's Animator on 127.0.0.1:<free port> for the whole session (OCSP, CRL, TSA)."""
    if CERTOMANCER_MISSING:
        _fail_or_skip(CERTOMANCER_MISSING)
    directory = tmp_path_factory.mktemp("certomancer")
    _write_keys(directory)
    holder: dict[str, Callable[..., Any]] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return holder["animator"](environ, start_response)

    try:
        # Bind first (port 0: the OS picks a free one, no race), then build the PKI with that port in its URLs.
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    except OSError as exc:
        _fail_or_skip(f"cannot bind 127.0.0.1: {exc}")
    thread = threading.Thread(target=server.serve_forever, name="certomancer", daemon=True)
    try:
        base_url = f"http://127.0.0.1:{server.server_port}"
        config = CertomancerConfig.from_file(str(CONFIG), key_search_dir=str(directory), external_url_prefix=base_url)
        arch = config.get_pki_arch(ArchLabel(ARCH))
        holder["animator"] = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
        thread.start()
        pki = LivePki(base_url=base_url, arch=arch, directory=directory)
        try:
            _health_check(pki)
        except Exception as exc:  # noqa: BLE001
            _fail_or_skip(f"the certomancer PKI at {base_url} does not answer: {exc!r}")
        yield pki
    finally:
        server.shutdown()
        server.server_close()
        if thread.is_alive():
            thread.join(timeout=10)
