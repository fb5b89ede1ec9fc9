"""An independent verifier agrees with ours: poppler's ``pdfsig`` (NSS) on PDFs signed by ``signing.PadesSigner``.

Needs the Debian packages ``poppler-utils`` (pdfsig) and ``libnss3-tools`` (certutil). Without them the tests
skip, except with ``CI=true``, where a missing tool fails the run (DESIGN §11). Written against pdfsig 22.12
(Debian 12), whose wording is "Signature is Valid." and "Certificate is Trusted.".
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator, create_signature_fields, format_report
from signing.device import DeviceClient
from signing.pki import DEVELOPMENT_PASSPHRASE
from signing.two_step import finish, prepare
from tests.pdftools import nss_db_trusting, pdfsig

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER = "lanhdao.xa1"
LEADER_NAME = "Phạm Văn Hùng"


def _pdf() -> bytes:
    writer = PdfFileWriter(stream_xrefs=False)
    content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (Motcua pdfsig) Tj ET"))
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): writer.add_object(font)})}
    )
    writer.insert_page(PageObject(contents=content, media_box=[0, 0, 595, 842], resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, LEADER_NAME, COMMUNE)], dt.datetime.now(dt.UTC))
    return pki


@pytest.fixture(scope="module")
def nss_db(pki: DevelopmentPki, tmp_path_factory: pytest.TempPathFactory) -> str:
    return nss_db_trusting(pki.root_cert_path, tmp_path_factory.mktemp("nssdb"))


def test_pdfsig_agrees_on_decree30_signatures(pki: DevelopmentPki, nss_db: str, tmp_path: Path) -> None:
    signer = PadesSigner(pki)
    pdf = create_signature_fields(_pdf(), ["LanhDao", "ConDau"], boxes={"LanhDao": (0, (300, 100, 520, 160))})
    # the leader signs on their own device (two steps); the server then seals
    device = DeviceClient(pki.pkcs12_path(f"person:{LEADER}").read_bytes(), DEVELOPMENT_PASSPHRASE)
    request = SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", certify=True)
    prepared = prepare(pdf, pki.public_chain(f"person:{LEADER}"), request)
    pdf = finish(prepared, device.sign(prepared.data_to_sign, prepared.md_algorithm))
    pdf = signer.sign(pdf, SignatureRequest(f"agency:{COMMUNE}", "ConDau", "Đóng dấu"))
    ours = PadesValidator(pki.trust_roots()).validate(pdf)
    assert ours.passed, format_report(ours)

    leader, seal = pdfsig(pdf, nss_db, tmp_path)
    for block in (leader, seal):
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block["Certificate Validation"] == "Certificate is Trusted.", block
        assert block["Signature Type"] == "ETSI.CAdES.detached"
        assert block["Signing Hash Algorithm"] == "SHA-256"
    assert leader["Signature Field Name"] == "LanhDao" and seal["Signature Field Name"] == "ConDau"
    assert leader["Signer Certificate Common Name"] == LEADER_NAME
    assert seal["Signer Certificate Common Name"] == COMMUNE_NAME
    # the seal's chain and revocation data (DSS) follow it in a revision of their own
    assert "Not total document signed" in leader and "Not total document signed" in seal


def test_pdfsig_also_rejects_what_we_reject(pki: DevelopmentPki, nss_db: str, tmp_path: Path) -> None:
    signed = PadesSigner(pki).sign(_pdf(), SignatureRequest(f"agency:{COMMUNE}", "ConDau", "Đóng dấu"))
    start = signed.index(b"(Motcua pdfsig)")
    tampered = signed[: start + 1] + b"N" + signed[start + 2 :]
    ours = PadesValidator(pki.trust_roots()).validate(tampered)
    assert (ours.indication, ours.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    (block,) = pdfsig(tampered, nss_db, tmp_path)
    assert block["Signature Validation"] != "Signature is Valid.", block

    foreign = DevelopmentPki(tmp_path / "foreign")
    foreign.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, LEADER_NAME, COMMUNE)], dt.datetime.now(dt.UTC))
    untrusted = PadesSigner(foreign).sign(_pdf(), SignatureRequest(f"agency:{COMMUNE}", "ConDau", "Đóng dấu"))
    assert PadesValidator(pki.trust_roots()).validate(untrusted).indication == "INDETERMINATE"
    (block,) = pdfsig(untrusted, nss_db, tmp_path)
    assert block["Signature Validation"] == "Signature is Valid."
    assert block["Certificate Validation"] != "Certificate is Trusted.", block
