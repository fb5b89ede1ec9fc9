"""PAdES B-T / B-LT / B-LTA against a live test PKI, AdES validation, and independent checks (DESIGN §7, issue 4).

The PKI is ``certomancer`` (``dev`` extra) with the configuration in ``tests/integration/certomancer/``: root →
issuing CA → signers (good, revoked since 2025-01-01, expired in 2022), a TSA, an OCSP responder and CRLs. The
session fixture generates the keys, serves certomancer's Animator WSGI app with werkzeug on 127.0.0.1 (a port the
OS picks, then written into every certificate's OCSP/CRL URLs) in a thread of the test process, checks that OCSP,
CRL and TSA answer, and always shuts it down. With ``CI=true`` a PKI that cannot start (or certomancer missing)
fails the tests; elsewhere they are skipped with the reason.

Independent checks: poppler's ``pdfsig`` (NSS trusting only the test root, ``-no-ocsp``) on every signer signature;
the document timestamp (``ETSI.RFC3161``, which poppler does not understand) is cut out of the PDF and verified
with ``openssl ts -verify`` against the signed byte range.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESSubIndic
from pyhanko.sign.validation import DocumentSecurityStore

from dossiers.errors import InvalidInput, Unavailable
from signing.ades import (
    AdesValidator,
    format_report,
    indication_of,
    report_to_dict,
    report_to_json,
    validate_ades,
)
from signing.ltv import add_archival_timestamp, sign_pades, validation_context_for_signing
from tests.conftest import minimal_pdf
from tests.pdftools import nss_db_trusting, pdfsig
from tests.services import service_missing

try:
    import certomancer  # noqa: F401 - the live PKI below needs it
except ImportError as exc:  # pragma: no cover - depends on the installation
    service_missing(f"certomancer[web-api] is not installed (pip install -e '.[dev]'): {exc}", module_level=True)

from tests.integration.certomancer_pki import TSA_NAME, LivePki, _fail_or_skip

pytestmark = pytest.mark.integration

REVOKED_SINCE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
EXPIRED_ON = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
WHILE_EXPIRED_WAS_VALID = dt.datetime(2021, 6, 1, tzinfo=dt.UTC)
GOOD_NAME = "Phạm Văn Hùng"

SIGNATURE_TIMESTAMP_OID = "1.2.840.113549.1.9.16.2.14"  # id-aa-signatureTimeStampToken
CONTENT_TIMESTAMP_OID = "1.2.840.113549.1.9.16.2.20"  # id-aa-ets-contentTimestamp


@pytest.fixture(scope="session")
def nss_db(live_pki: LivePki, tmp_path_factory: pytest.TempPathFactory) -> str:
    return nss_db_trusting(live_pki.pem_file("root.pem", "root"), tmp_path_factory.mktemp("nssdb-ltv"))


def _sign(pki: LivePki, pdf: bytes, level: str, *, label: str = "signer-good", field: str = "Sig1", **kw: Any) -> bytes:
    if level in ("B-LT", "B-LTA") and "validation_context" not in kw:
        kw["validation_context"] = validation_context_for_signing([pki.root])
    return sign_pades(pdf, pki.signer(label), field, level=level, timestamper_url=pki.tsa_url, **kw)  # type: ignore[arg-type]


def _signer_info(pdf: bytes, index: int = 0) -> cms.SignerInfo:
    return PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[index].signer_info


def _unsigned_attr_types(signer_info: cms.SignerInfo) -> set[str]:
    attrs = signer_info["unsigned_attrs"]
    return {attr["type"].dotted for attr in attrs} if attrs.native else set()


def _assert_pdfsig_valid(pdf: bytes, nss_db: str, tmp_path: Path, signer_fields: list[str]) -> None:
    blocks = {block.get("Signature Field Name"): block for block in pdfsig(pdf, nss_db, tmp_path)}
    for name in signer_fields:
        block = blocks[name]
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block["Certificate Validation"] == "Certificate is Trusted.", block
        assert block["Signature Type"] == "ETSI.CAdES.detached", block


# ---------------------------------------------------------------------- the levels


def test_live_pki_is_served(live_pki: LivePki) -> None:
    signer = live_pki.cert("signer-good")
    assert live_pki.base_url.startswith("http://127.0.0.1:")
    assert any(live_pki.base_url in url for url in _urls(signer)), _urls(signer)


def _urls(cert: asn1_x509.Certificate) -> list[str]:
    urls = [point["distribution_point"].native[0] for point in cert.crl_distribution_points_value or []]
    urls += [desc["access_location"].native for desc in cert.authority_information_access_value or []]
    return urls


def test_b_b_has_no_timestamp_and_passes_online(live_pki: LivePki, nss_db: str, tmp_path: Path) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-B")
    assert SIGNATURE_TIMESTAMP_OID not in _unsigned_attr_types(_signer_info(pdf))

    report = validate_ades(pdf, [live_pki.root])
    assert report.indication == "TOTAL-PASSED", format_report(report)
    (result,) = report.signatures
    assert result.level == "B-B" and result.signature_timestamp is None
    assert result.revocation.status == "GOOD" and result.revocation.ocsp_responses >= 1
    assert result.chain[0].startswith(f"CN={GOOD_NAME}") and "Motcua Test Root CA" in result.chain[-1]

    offline = validate_ades(pdf, [live_pki.root], allow_fetching=False)
    assert offline.indication == "INDETERMINATE", "no revocation data in the file and no fetching: not provable"
    _assert_pdfsig_valid(pdf, nss_db, tmp_path, ["Sig1"])


def test_b_t_carries_a_signature_timestamp(live_pki: LivePki, nss_db: str, tmp_path: Path) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    pdf = _sign(live_pki, minimal_pdf(), "B-T")
    assert SIGNATURE_TIMESTAMP_OID in _unsigned_attr_types(_signer_info(pdf))

    report = validate_ades(pdf, [live_pki.root])
    assert report.indication == "TOTAL-PASSED", format_report(report)
    (result,) = report.signatures
    assert result.level == "B-T"
    timestamp = result.signature_timestamp
    assert timestamp is not None and timestamp.passed is True
    assert TSA_NAME in timestamp.tsa_subject and timestamp.time >= before
    assert result.proven_time == timestamp.time
    _assert_pdfsig_valid(pdf, nss_db, tmp_path, ["Sig1"])


def test_b_lt_embeds_revocation_data_and_validates_offline(live_pki: LivePki, nss_db: str, tmp_path: Path) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-LT")
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
    assert dss.ocsps, "the signer's OCSP response is in the DSS"
    assert dss.crls, "the CRLs for the CA certificates are in the DSS"
    assert len(list(dss.load_certs())) >= 3

    report = validate_ades(pdf, [live_pki.root], allow_fetching=False)
    assert report.indication == "TOTAL-PASSED", format_report(report)
    assert report.signatures[0].level == "B-LT" and report.has_dss
    _assert_pdfsig_valid(pdf, nss_db, tmp_path, ["Sig1"])


def test_b_lta_adds_a_document_timestamp_that_openssl_verifies(live_pki: LivePki, nss_db: str, tmp_path: Path) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-LTA")
    reader = PdfFileReader(io.BytesIO(pdf))
    (doc_ts,) = reader.embedded_timestamp_signatures
    assert doc_ts.sig_object["/Type"] == "/DocTimeStamp"
    assert doc_ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    assert doc_ts.signed_revision > reader.embedded_regular_signatures[0].signed_revision

    report = validate_ades(pdf, [live_pki.root], allow_fetching=False)
    assert report.indication == "TOTAL-PASSED", format_report(report)
    signature, timestamp = report.signatures
    assert signature.level == "B-LTA" and signature.modification_level == "LTA_UPDATES"
    assert timestamp.kind == "document-timestamp" and TSA_NAME in timestamp.signer_subject

    _assert_pdfsig_valid(pdf, nss_db, tmp_path, ["Sig1"])
    _openssl_verify_document_timestamp(live_pki, pdf, tmp_path)


def _openssl_verify_document_timestamp(pki: LivePki, pdf: bytes, tmp_path: Path) -> None:
    """Cut the last DocTimeStamp's token and signed bytes out of the file and let OpenSSL verify them."""
    openssl = shutil.which("openssl")
    if openssl is None:
        _fail_or_skip("openssl is not installed (Debian package openssl)")
    reader = PdfFileReader(io.BytesIO(pdf))
    sig_dict = reader.embedded_timestamp_signatures[-1].sig_object
    start1, length1, start2, length2 = (int(value) for value in sig_dict["/ByteRange"])
    # The token covers its whole revision but its own /Contents; pyHanko then appends one more DSS update with the
    # timestamp's own validation data (covered by the next archival timestamp, see add_archival_timestamp).
    assert start1 == 0 and start2 + length2 <= len(pdf) and pdf[start1 + length1 : start1 + length1 + 1] == b"<"
    signed = pdf[start1 : start1 + length1] + pdf[start2 : start2 + length2]
    hex_contents = pdf[start1 + length1 : start2].strip(b"<>")
    token = _der_prefix(bytes.fromhex(hex_contents.decode("ascii")))  # drop the zero padding after the DER value
    (tmp_path / "signed.bin").write_bytes(signed)
    (tmp_path / "token.tsr").write_bytes(token)
    ca_file = pki.pem_file("root+interm.pem", "root", "interm")
    done = subprocess.run(
        [
            openssl,
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "token.tsr"),
            "-token_in",
            "-data",
            str(tmp_path / "signed.bin"),
            "-CAfile",
            str(ca_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr

    # and a changed byte in the covered range is caught by OpenSSL too
    tampered = bytearray(signed)
    tampered[len(tampered) // 2] ^= 0x01
    (tmp_path / "tampered.bin").write_bytes(bytes(tampered))
    bad = subprocess.run(
        [openssl, "ts", "-verify", "-in", str(tmp_path / "token.tsr"), "-token_in"]
        + ["-data", str(tmp_path / "tampered.bin"), "-CAfile", str(ca_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0 and "Verification: OK" not in bad.stdout


def _der_prefix(data: bytes) -> bytes:
    """The first DER value in ``data`` (a SEQUENCE with a definite length), without what follows it."""
    assert data[0] == 0x30, "a CMS ContentInfo starts with a SEQUENCE"
    first = data[1]
    if first < 0x80:
        return data[: 2 + first]
    count = first & 0x7F
    length = int.from_bytes(data[2 : 2 + count], "big")
    return data[: 2 + count + length]


def test_archival_timestamp_extends_the_chain(live_pki: LivePki) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-LTA")
    renewed = add_archival_timestamp(
        pdf, timestamper_url=live_pki.tsa_url, validation_context=validation_context_for_signing([live_pki.root])
    )
    assert renewed.startswith(pdf), "an incremental update"
    assert len(PdfFileReader(io.BytesIO(renewed)).embedded_timestamp_signatures) == 2
    report = validate_ades(renewed, [live_pki.root], allow_fetching=False)
    assert report.indication == "TOTAL-PASSED", format_report(report)


def test_certified_then_cosigned_reports_docmdp(live_pki: LivePki, nss_db: str, tmp_path: Path) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-LT", field="LanhDao", certify=True)
    # (the seal is another certificate: pdfsig 22.12 reports "Unknown issue with Certificate" for the second of two
    # signatures made with the same certificate — a poppler quirk, the same file checks out with two certificates)
    pdf = _sign(live_pki, pdf, "B-LTA", label="signer-seal", field="ConDau")
    report = validate_ades(pdf, [live_pki.root], allow_fetching=False)
    assert report.indication == "TOTAL-PASSED", format_report(report)
    leader, seal, _ = report.signatures
    assert leader.docmdp.certification and leader.docmdp.permission == 2 and leader.docmdp.ok is True
    assert leader.coverage == "ENTIRE_REVISION" and leader.modification_level == "FORM_FILLING"
    assert not seal.docmdp.certification
    _assert_pdfsig_valid(pdf, nss_db, tmp_path, ["LanhDao", "ConDau"])

    # a page added after the certification (P=2) is not a permitted change
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.insert_page(PageObject(contents=writer.add_object(_empty_stream()), media_box=[0, 0, 595, 842]))
    out = io.BytesIO()
    writer.write(out)
    changed = validate_ades(out.getvalue(), [live_pki.root], allow_fetching=False)
    assert changed.indication == "TOTAL-FAILED" and changed.sub_indication == "NOT_ALLOWED_MODIFICATIONS"
    assert changed.signatures[0].docmdp.ok is False


def _empty_stream() -> generic.StreamObject:
    return generic.StreamObject(stream_data=b"")


# ---------------------------------------------------------------------- validation outcomes


def test_changed_byte_in_signed_range_is_hash_failure(live_pki: LivePki) -> None:
    pdf = _sign(live_pki, minimal_pdf("Motcua original"), "B-T")
    assert pdf.count(b"Motcua original") == 1
    tampered = pdf.replace(b"Motcua original", b"Motcua 0riginal")  # same length: offsets and xref stay right
    report = validate_ades(tampered, [live_pki.root])
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE"), format_report(report)
    assert report.signatures[0].intact is False


def test_unknown_root_is_no_certificate_chain_found(live_pki: LivePki) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-T")
    report = validate_ades(pdf, [_other_root()])
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert report.signatures[0].trusted is False
    assert AdesValidator([_other_root()]).validate(pdf).sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def _other_root() -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other Root")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_revoked_before_a_proven_signing_time_is_revoked(live_pki: LivePki) -> None:
    """The content timestamp (a signed attribute) proves the signature was made after it — after the revocation."""
    pdf = _sign(live_pki, minimal_pdf(), "B-T", label="signer-revoked", content_timestamp=True)
    signed_attrs = {attr["type"].dotted for attr in _signer_info(pdf)["signed_attrs"]}
    assert CONTENT_TIMESTAMP_OID in signed_attrs

    report = validate_ades(pdf, [live_pki.root])
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "REVOKED"), format_report(report)
    (result,) = report.signatures
    assert result.content_timestamp is not None and result.content_timestamp.time > REVOKED_SINCE
    assert result.revocation.status == "REVOKED" and result.revocation.revocation_date == REVOKED_SINCE
    assert result.revocation.reason == "key_compromise"


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_revoked_without_proof_is_revoked_no_poe(live_pki: LivePki, level: str) -> None:
    """No content timestamp: the signature may have been made before the revocation (a signature timestamp only
    proves it existed *before* its time), so ETSI says INDETERMINATE/REVOKED_NO_POE."""
    pdf = _sign(live_pki, minimal_pdf(), level, label="signer-revoked")
    report = validate_ades(pdf, [live_pki.root])
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "REVOKED_NO_POE"), format_report(report)
    assert report.signatures[0].revocation.status == "REVOKED"


@pytest.mark.parametrize(
    ("level", "content_timestamp", "expected"),
    [
        ("B-B", False, "OUT_OF_BOUNDS_NO_POE"),  # pyHanko's basic validation
        ("B-T", False, "OUT_OF_BOUNDS_NO_POE"),  # signature timestamp after expiry: our guard (see signing.ades)
        ("B-T", True, "EXPIRED"),  # content timestamp proves signing after expiry: pyHanko's basic validation
    ],
)
def test_expired_signer_is_not_passed(live_pki: LivePki, level: str, content_timestamp: bool, expected: str) -> None:
    # sign_pades refuses an expired certificate; ``now`` moves its local check to when the certificate was valid
    pdf = _sign(
        live_pki,
        minimal_pdf(),
        level,
        label="signer-expired",
        content_timestamp=content_timestamp,
        now=WHILE_EXPIRED_WAS_VALID,
    )
    report = validate_ades(pdf, [live_pki.root])
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", expected), format_report(report)
    assert not report.passed


# ---------------------------------------------------------------------- errors at signing


def test_signing_with_a_revoked_certificate_is_refused(live_pki: LivePki) -> None:
    for level in ("B-B", "B-LT"):
        with pytest.raises(InvalidInput) as caught:
            _sign(live_pki, minimal_pdf(), level, label="signer-revoked", trust_roots=[live_pki.root])
        assert caught.value.details["reason"] == "certificate_revoked", caught.value.message_en
        assert "revoked" in caught.value.message_en and "thu hồi" in caught.value.message_vi


def test_signing_with_an_expired_certificate_is_refused(live_pki: LivePki) -> None:
    with pytest.raises(InvalidInput) as caught:
        _sign(live_pki, minimal_pdf(), "B-T", label="signer-expired")
    assert caught.value.details["reason"] == "certificate_expired"
    assert EXPIRED_ON.date().isoformat() in caught.value.message_en


def test_signing_with_a_certificate_outside_the_trust_roots_is_refused(live_pki: LivePki) -> None:
    with pytest.raises(InvalidInput) as caught:
        _sign(live_pki, minimal_pdf(), "B-LT", validation_context=validation_context_for_signing([_other_root()]))
    assert caught.value.details["reason"] == "certificate_untrusted", caught.value.message_en


def test_unreachable_tsa_is_unavailable(live_pki: LivePki) -> None:
    pdf = minimal_pdf()
    with pytest.raises(Unavailable) as caught:
        sign_pades(pdf, live_pki.signer("signer-good"), "Sig1", level="B-T", timestamper_url=_closed_port_url())
    assert caught.value.details["service"] == "tsa"
    with pytest.raises(InvalidInput):
        sign_pades(pdf, live_pki.signer("signer-good"), "Sig1", level="B-T")  # no TSA configured
    with pytest.raises(InvalidInput):
        sign_pades(pdf, live_pki.signer("signer-good"), "Sig1", level="B-LT", timestamper_url=live_pki.tsa_url)


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"  # nothing listens there any more


# ---------------------------------------------------------------------- report output


def test_report_as_json_and_text(live_pki: LivePki) -> None:
    pdf = _sign(live_pki, minimal_pdf(), "B-LTA", reason="Phê duyệt")
    report = validate_ades(pdf, [live_pki.root])
    data = json.loads(report_to_json(report))
    assert data == json.loads(json.dumps(report_to_dict(report)))
    assert data["indication"] == "TOTAL-PASSED" and data["sub_indication"] is None
    signature = data["signatures"][0]
    assert signature["signer_subject"].startswith(f"CN={GOOD_NAME}")
    assert signature["signature_timestamp"]["tsa"].startswith(f"CN={TSA_NAME}")
    assert signature["signature_timestamp"]["time"].endswith("+07:00")
    assert signature["revocation"]["status"] == "GOOD" and signature["level"] == "B-LTA"
    assert data["signatures"][1]["kind"] == "document-timestamp"

    text = format_report(report)
    assert "TOTAL-PASSED" in text and GOOD_NAME in text and TSA_NAME in text
    assert "Dấu thời gian chữ ký / Signature timestamp" in text and "[B-LTA]" in text

    port_view = report.to_validation_report()
    assert port_view.passed and [check.field_name for check in port_view.signatures] == ["Sig1", "DocTimeStamp1"]


# ---------------------------------------------------------------------- mapping and bad input (no PKI needed)


@pytest.mark.parametrize(
    "subindic", [*AdESPassed, *AdESFailure, *AdESIndeterminate], ids=lambda s: f"{type(s).__name__}.{s.name}"
)
def test_every_pyhanko_sub_indication_maps_to_an_etsi_indication(subindic: AdESSubIndic) -> None:
    indication, sub = indication_of(subindic)
    if isinstance(subindic, AdESPassed):
        assert (indication, sub) == ("TOTAL-PASSED", None)
    elif isinstance(subindic, AdESFailure):
        assert (indication, sub) == ("TOTAL-FAILED", subindic.name)
    else:
        assert (indication, sub) == ("INDETERMINATE", subindic.name)


def test_unsigned_and_unreadable_input() -> None:
    report = validate_ades(minimal_pdf(), [_other_root()])
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "NO_SIGNATURE")
    assert "NO_SIGNATURE" in format_report(report)
    for junk in (b"not a pdf", minimal_pdf()[:200]):
        with pytest.raises(InvalidInput):
            validate_ades(junk, [_other_root()])
    with pytest.raises(InvalidInput):
        validate_ades(minimal_pdf(), [_other_root()], moment=dt.datetime(2026, 1, 1))  # naive time


def test_the_servers_agency_seal_is_b_lt_when_a_tsa_is_configured(live_pki: LivePki, tmp_path: Path) -> None:
    """MOTCUA_TSA_URL turns the server's seal (PadesSigner) into PAdES B-LT through the live TSA (its root among the
    configured roots): the signature timestamp, and the revocation data of both chains in the file."""
    from dossiers.ports import SignatureRequest
    from signing.ades import validate_ades
    from signing.pades import PadesSigner
    from signing.pki import DevelopmentPki
    from tests.conftest import minimal_pdf

    pki = DevelopmentPki(tmp_path / "pki")
    pki.ensure([("000.00.31.H99", "Ủy ban nhân dân xã Hòa An")], [], dt.datetime.now(dt.UTC))
    signer = PadesSigner(pki, timestamper_url=live_pki.tsa_url, trust_roots=[live_pki.root])
    pdf = signer.sign(minimal_pdf(), SignatureRequest("agency:000.00.31.H99", "agency_seal", "Đóng dấu"))
    unsigned = _unsigned_attr_types(_signer_info(pdf))
    assert unsigned & {"signature_time_stamp_token", "1.2.840.113549.1.9.16.2.14"}, (
        unsigned
    )  # id-aa-signatureTimeStampToken
    report = validate_ades(pdf, [*pki.trust_roots(), live_pki.root], allow_fetching=False)  # only the file's data
    assert report.indication == "TOTAL-PASSED", report
    assert report.signatures[0].level == "B-LT"
