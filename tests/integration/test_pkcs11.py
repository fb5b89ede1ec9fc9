"""The agency seal on a real PKCS#11 token: SoftHSM2, initialised by the fixture, through ``signing.keys.pkcs11``.

Needs the Debian package ``softhsm2`` (``softhsm2-util`` and the module ``libsofthsm2.so``) and python-pkcs11
(``pyHanko[pkcs11]``). A missing ``softhsm2`` is installed with apt-get when running as root; if it is still
missing the tests skip, except with ``CI=true``, where they fail (DESIGN §11).

The fixture gives SoftHSM2 a private configuration (``SOFTHSM2_CONF``) and token directory under a temporary
directory, creates the token ``motcua-test`` (user PIN 1234, SO PIN 5678), and imports — with python-pkcs11,
so the private key is never written unencrypted to disk — the agency seal's private key (sensitive, not
extractable) and certificate under one label, plus the agency CA and root certificates. Afterwards it closes
every session, finalises the module and deletes the directory.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from dossiers.errors import Forbidden, NotFound
from signing.api import KeyNotOnToken, KeyProvider, TokenAbsent, TokenLoginFailed
from signing.certs import der
from signing.keys.loader import load_key_provider
from signing.keys.pkcs11 import Pkcs11Keys
from signing.pki import DevelopmentPki
from signing.validate import PadesValidator
from tests.services import service_missing

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
OTHER = "000.00.32.H99"
OTHER_NAME = "Ủy ban nhân dân xã Demo 2"
LEADER = "lanhdao.xa1"

TOKEN = "motcua-test"
USER_PIN = "1234"
SO_PIN = "5678"
SEAL_LABEL = "seal-000.00.31.H99"
MISMATCHED_LABEL = "mismatched"  # the commune's certificate next to the other agency's private key
CERT_ONLY_LABEL = "cert-only"  # a certificate without a private key

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def _missing(message: str) -> None:
    service_missing(message)


def _find_module() -> str | None:
    return next((path for path in MODULE_CANDIDATES if Path(path).exists()), None)


def _softhsm() -> tuple[str, str]:
    """``softhsm2-util`` and the PKCS#11 module, installing Debian's ``softhsm2`` as root if they are missing."""
    util, module = shutil.which("softhsm2-util"), _find_module()
    if (util is None or module is None) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "softhsm2"]
        if subprocess.run(install, env=env, capture_output=True, timeout=600, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=False)
            subprocess.run(install, env=env, capture_output=True, timeout=600, check=False)
        util, module = shutil.which("softhsm2-util"), _find_module()
    if util is None or module is None:
        _missing("SoftHSM2 is not installed (Debian package softhsm2; `make system-deps` installs it)")
    assert util is not None and module is not None
    return util, module


def _pdf(pages: int = 1) -> bytes:
    writer = PdfFileWriter(stream_xrefs=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
    )
    resources = generic.DictionaryObject({generic.pdf_name("/Font"): generic.DictionaryObject({"/F1": font})})
    for number in range(pages):
        content = writer.add_object(
            generic.StreamObject(stream_data=f"BT /F1 12 Tf 72 720 Td (PKCS11 page {number + 1}) Tj ET".encode())
        )
        writer.insert_page(PageObject(contents=content, media_box=[0, 0, 595, 842], resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _seal(pdf: bytes, provider: KeyProvider, key_id: str, field: str = "AgencySeal") -> bytes:
    """An invisible PAdES B-B signature straight through pyHanko's PdfSigner."""
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=provider.signer_for(key_id)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out
    )
    return out.getvalue()


class SoftHsm:
    def __init__(self, module: str, pki: DevelopmentPki) -> None:
        self.module = module
        self.pki = pki

    def keys(self, **overrides: object) -> Pkcs11Keys:
        args: dict[str, object] = {
            "module_path": self.module,
            "token_label": TOKEN,
            "pin": USER_PIN,
            "key_labels": {COMMUNE: SEAL_LABEL},
        }
        args.update(overrides)
        return Pkcs11Keys(**args)  # type: ignore[arg-type]


def _import_objects(module: str, pki: DevelopmentPki) -> None:
    """Put the seal's key and certificate, and the issuers, on the token (python-pkcs11, read-write session)."""
    pkcs11 = pytest.importorskip("pkcs11")
    from pkcs11 import Attribute
    from pkcs11.util.ec import decode_ec_private_key
    from pkcs11.util.x509 import decode_x509_certificate

    def private_key(key_id: str, label: str, object_id: bytes) -> dict[Attribute, object]:
        material = pki.key_material(key_id)
        key, _, _ = pkcs12.load_key_and_certificates(material.pkcs12_data, material.passphrase)
        assert key is not None
        der = key.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        attrs = decode_ec_private_key(der)
        attrs.update(
            {
                Attribute.LABEL: label,
                Attribute.ID: object_id,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            }
        )
        return attrs

    def certificate(cert_der: bytes, label: str, object_id: bytes) -> dict[Attribute, object]:
        attrs = decode_x509_certificate(cert_der)
        attrs.update({Attribute.LABEL: label, Attribute.ID: object_id, Attribute.TOKEN: True})
        return attrs

    seal_chain = pki.chain_for(f"agency:{COMMUNE}")
    objects = [
        private_key(f"agency:{COMMUNE}", SEAL_LABEL, b"\x01"),
        certificate(der(seal_chain[0]), SEAL_LABEL, b"\x01"),
        certificate(der(seal_chain[1]), "agency-ca", b"\x10"),
        certificate(der(seal_chain[2]), "root", b"\x11"),
        private_key(f"agency:{OTHER}", MISMATCHED_LABEL, b"\x02"),
        certificate(der(seal_chain[0]), MISMATCHED_LABEL, b"\x02"),
        certificate(der(pki.certificate(f"agency:{OTHER}")), CERT_ONLY_LABEL, b"\x03"),
    ]
    lib = pkcs11.lib(module)
    lib.reinitialize()  # SoftHSM2 reads SOFTHSM2_CONF and its token directory in C_Initialize
    token = lib.get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=USER_PIN) as session:
        for attrs in objects:
            session.create_object(attrs)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    util, module = _softhsm()
    try:
        import pkcs11
    except ImportError:
        _missing("python-pkcs11 is not installed (pip install 'pyHanko[pkcs11]')")
    base = tmp_path_factory.mktemp("softhsm")
    try:
        tokens = base / "tokens"
        tokens.mkdir(mode=0o700)
        conf = base / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SOFTHSM2_CONF", str(conf))
            subprocess.run(
                [util, "--init-token", "--free", "--label", TOKEN, "--pin", USER_PIN, "--so-pin", SO_PIN],
                check=True,
                capture_output=True,
                timeout=60,
            )
            pki = DevelopmentPki(base / "pki")
            pki.ensure(
                [(COMMUNE, COMMUNE_NAME), (OTHER, OTHER_NAME)],
                [(LEADER, "Phạm Văn Hùng", COMMUNE)],
                dt.datetime.now(dt.UTC),
            )
            try:
                _import_objects(module, pki)
                yield SoftHsm(module, pki)
            finally:
                pkcs11.lib(module).finalize()  # a later pkcs11.lib() call initialises it again
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def seal_keys(softhsm: SoftHsm) -> Iterator[Pkcs11Keys]:
    with softhsm.keys() as keys:
        yield keys


def test_agency_seal_signed_on_the_token_validates(softhsm: SoftHsm, seal_keys: Pkcs11Keys) -> None:
    key_id = f"agency:{COMMUNE}"
    chain = seal_keys.chain_for(key_id)
    assert [cert.subject for cert in chain] == [cert.subject for cert in softhsm.pki.chain_for(key_id)]

    signed = _seal(_pdf(), seal_keys, key_id)
    report = PadesValidator(softhsm.pki.trust_roots()).validate(signed)
    assert report.indication == "TOTAL-PASSED", report
    assert "Ủy ban nhân dân xã Demo 1" in report.signatures[0].signer_subject

    # a co-signature on the already signed PDF, with the same session
    twice = _seal(signed, seal_keys, key_id, field="AgencySeal2")
    report = PadesValidator(softhsm.pki.trust_roots()).validate(twice)
    assert report.indication == "TOTAL-PASSED", report
    assert len(report.signatures) == 2
    assert seal_keys.signer_for(key_id) is seal_keys.signer_for(key_id)
    assert seal_keys.sessions_opened == 1


def test_one_session_serves_concurrent_signatures(softhsm: SoftHsm, seal_keys: Pkcs11Keys) -> None:
    pdf = _pdf()
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(_seal(pdf, seal_keys, f"agency:{COMMUNE}"))
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 12
    validator = PadesValidator(softhsm.pki.trust_roots())
    assert {validator.validate(pdf).indication for pdf in results} == {"TOTAL-PASSED"}
    assert seal_keys.sessions_opened == 1


def test_wrong_pin_is_a_clear_error_and_not_retried(softhsm: SoftHsm) -> None:
    with softhsm.keys(pin="0000") as keys:
        with pytest.raises(TokenLoginFailed) as first:
            keys.signer_for(f"agency:{COMMUNE}")
        assert "wrong PIN" in first.value.message_en
        assert "sai mã PIN" in first.value.message_vi
        assert first.value.kind == "unavailable"
        assert "0000" not in first.value.message_en and "0000" not in repr(keys)
        with pytest.raises(TokenLoginFailed) as second:
            keys.signer_for(f"agency:{COMMUNE}")
        assert second.value is first.value  # remembered, the token is not asked again
        assert keys.sessions_opened == 0


def test_token_absent_is_a_clear_error(softhsm: SoftHsm) -> None:
    with softhsm.keys(token_label="no-such-token") as keys, pytest.raises(TokenAbsent) as raised:
        keys.signer_for(f"agency:{COMMUNE}")
    assert "No PKCS#11 token labelled 'no-such-token'" in raised.value.message_en
    assert TOKEN in raised.value.message_en  # names the tokens that are present
    assert "Không thấy thiết bị ký" in raised.value.message_vi


def test_unknown_agency_is_not_found(seal_keys: Pkcs11Keys) -> None:
    with pytest.raises(NotFound) as raised:
        seal_keys.signer_for(f"agency:{OTHER}")
    assert "MOTCUA_PKCS11_KEYS" in raised.value.message_en
    assert seal_keys.sessions_opened == 0  # refused before touching the token


def test_person_key_is_refused(seal_keys: Pkcs11Keys) -> None:
    with pytest.raises(Forbidden) as raised:
        seal_keys.signer_for(f"person:{LEADER}")
    assert "a person's key never enters the server" in raised.value.message_en
    with pytest.raises(Forbidden):
        seal_keys.chain_for(f"person:{LEADER}")
    assert seal_keys.sessions_opened == 0


def test_missing_labels_and_mismatched_key_are_clear_errors(softhsm: SoftHsm) -> None:
    labels = {COMMUNE: "no-such-label", OTHER: CERT_ONLY_LABEL, "000.00.33.H99": MISMATCHED_LABEL}
    with softhsm.keys(key_labels=labels) as keys:
        with pytest.raises(KeyNotOnToken) as raised:
            keys.signer_for(f"agency:{COMMUNE}")
        assert "has no certificate labelled 'no-such-label'" in raised.value.message_en
        with pytest.raises(KeyNotOnToken) as raised:
            keys.signer_for(f"agency:{OTHER}")
        assert "has no private key labelled 'cert-only'" in raised.value.message_en
        with pytest.raises(KeyNotOnToken) as raised:
            keys.signer_for("agency:000.00.33.H99")
        assert "does not match the certificate" in raised.value.message_en


def test_load_key_provider_picks_the_token(softhsm: SoftHsm) -> None:
    env = {
        "MOTCUA_PKCS11_MODULE": softhsm.module,
        "MOTCUA_PKCS11_TOKEN": TOKEN,
        "MOTCUA_PKCS11_PIN": USER_PIN,
        "MOTCUA_PKCS11_KEYS": f'{{"{COMMUNE}": "{SEAL_LABEL}"}}',
    }
    provider = load_key_provider(env, pki=softhsm.pki)
    assert isinstance(provider, Pkcs11Keys)
    try:
        signed = _seal(_pdf(), provider, f"agency:{COMMUNE}")
        assert PadesValidator(softhsm.pki.trust_roots()).validate(signed).indication == "TOTAL-PASSED"
    finally:
        provider.close()
