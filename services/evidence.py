"""A dossier's evidence package for auditors (*gói chứng cứ*, DESIGN §10): ``motcua evidence export`` and the
auditor's desk write one ZIP that :mod:`services.evidence_verify` checks offline.

The ZIP holds::

    manifest.json               dossier code, export time, who exported, agency, checkpoint seq, every file's SHA-256
    manifest.p7s                detached CMS over manifest.json by the agency's seal (timestamped with a TSA)
    README.txt                  what the package holds and how to verify it (Vietnamese, English)
    documents/<id>-<file>.pdf   the dossier's signed documents as stored (the citizen's unsigned uploads are left out)
    reports/<id>.json           the AdES validation report of each, as of the export time
    audit/proof.json            the dossier's audit entries in full and the other entries between them as hashes only
    audit/checkpoint.json       the signed checkpoint the proof reaches (seq, head hash, time, agency)
    audit/checkpoint.statement  the exact bytes the agency signed, and audit/checkpoint.p7s its signature
    certificates/roots/*.pem    the trust roots the validation used
    certificates/*.pem          the agency seal's chain and the TSA certificates found in the timestamps
    revocation/*.crl            the CRLs the validation used (local ones, and those fetched when fetching is allowed)

Personal data: only this dossier's own entries and documents; every other entry on the path to the checkpoint is
reduced to its inner hash (:func:`dossiers.audit.chain_proof`). The export itself is a read of personal data and is
recorded first (``evidence.exported``), so the package's own proof shows who exported it and when.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from dossiers.audit import chain_proof
from dossiers.calendar import VN_TZ
from dossiers.errors import NotFound
from persistence.dossier_records import find_document
from persistence.uow import transaction
from services import evidence_verify as layout
from services.shop import stored_object
from services.verification import validator_for
from signing.ades import AdesValidator, report_to_dict
from signing.certs import der, pem, to_crypto
from signing.cms import sign_detached
from signing.pdf import embedded_signed_data

if TYPE_CHECKING:
    from dossiers.ports import Clock, DocumentStore
    from persistence.audit_log import AuditCheckpoints, SqlAuditLog
    from persistence.uow import Database
    from services.ports import DossierDesk
    from signing.api import KeyProvider


class Runtime(Protocol):
    """What an export reads: the composition root's runtime (``motcua.app.Runtime``) has all of it."""

    shop: DossierDesk
    clock: Clock
    settings: Any
    db: Database
    store: DocumentStore
    audit: SqlAuditLog
    checkpoints: AuditCheckpoints
    keys: KeyProvider


log = logging.getLogger(__name__)

PDF = "application/pdf"
ZIP = "application/zip"
CRL_FETCH_TIMEOUT_SECONDS = 10
MAX_CRL_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class EvidencePackage:
    dossier_code: str
    data: bytes
    filename: str
    checkpoint_seq: int
    documents: int
    timestamped: bool

    @property
    def sha256(self) -> str:
        return layout.sha256_hex(self.data)


def package_filename(code: str) -> str:
    return f"{code}-goi-chung-cu.zip"


def export_evidence(runtime: Runtime, code: str, actor: str, *, channel: str) -> EvidencePackage:
    """Build the evidence package of dossier ``code`` for ``actor`` (whose right to it the caller checked)."""
    shop = runtime.shop
    view = shop.dossier_view(code)  # NotFound for an unknown dossier
    candidates = [d for d in view["documents"] if d["content_type"] == PDF and d["kind"] != "upload"]
    # Decree 13/2023: the export reads personal data; recorded before anything is read, and so part of the proof
    shop.record("evidence.exported", actor, code, channel=channel, documents=[d["id"] for d in candidates])
    now = runtime.clock.now()

    validator = validator_for(runtime.settings)
    roots = [to_crypto(c) for c in validator.trust_roots]
    crls = list(validator.crls)

    pdfs = [(doc, _read_document(runtime, code, doc["id"])) for doc in candidates]

    # a signed checkpoint that covers the dossier's last entry (the export's own record): made now if the latest
    # one is older
    mine = runtime.audit.for_dossier(code)
    checkpoint = runtime.checkpoints.latest()
    if checkpoint is None or checkpoint.seq < mine[-1].seq:
        checkpoint = runtime.checkpoints.make(now)
    if checkpoint is None:  # pragma: no cover - the log holds at least the export's entry
        raise NotFound("Nhật ký kiểm tra trống.", "The audit log is empty.")
    proof = chain_proof(runtime.audit.between(mine[0].seq, checkpoint.seq), code, checkpoint.seq)
    checkpoint_certs = layout.cms_certificates(cms.ContentInfo.load(checkpoint.signature)["content"])

    seal_key = f"agency:{runtime.settings.audit_agency}"
    signer = runtime.keys.signer_for(seal_key)
    seal_chain = [*runtime.keys.chain_for(seal_key), *(to_crypto(c) for c in checkpoint_certs)]
    pdf_certs = [c for _, pdf in pdfs for c in _pdf_certificates(pdf)]
    tsa_certs = [c for _, pdf in pdfs for c in _pdf_timestamp_certificates(pdf)]
    fetch = bool(runtime.settings.verify_allow_fetching)
    crls += fetch_crls([*seal_chain, *(to_crypto(c) for c in pdf_certs)], crls, allow=fetch)

    ades = AdesValidator(validator.trust_roots, allow_fetching=False, moment=now, crls=crls)
    files: dict[str, bytes] = {}
    documents: list[dict[str, Any]] = []
    for doc, pdf in pdfs:
        report = report_to_dict(ades.report(pdf))
        if not report.get("signatures"):
            continue  # not a signed document
        path = f"{layout.DOCUMENTS_DIR}{doc['id']}-{_safe_name(doc['filename'])}"
        report_path = f"{layout.REPORTS_DIR}{doc['id']}.json"
        files[path] = pdf
        files[report_path] = _json(
            {"document_id": doc["id"], "path": path, "sha256": doc["sha256"], "kind": doc["kind"], "report": report}
        )
        documents.append(
            {"id": doc["id"], "kind": doc["kind"], "filename": doc["filename"], "path": path, "report": report_path}
        )

    files[layout.PROOF] = _json(layout.proof_to_json(proof))
    files[layout.CHECKPOINT] = _json(
        {
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "created_at": checkpoint.created_at.isoformat(),
            "agency": checkpoint.agency_code,
            "timestamped": checkpoint.timestamped,
            "trigger": checkpoint.trigger,
        }
    )
    files[layout.CHECKPOINT_STATEMENT] = checkpoint.statement
    files[layout.CHECKPOINT_SIGNATURE] = checkpoint.signature
    files[layout.README] = _readme(code, now, runtime.settings.audit_agency, checkpoint.seq).encode()

    others = [*seal_chain, *(to_crypto(c) for c in tsa_certs)]
    manifest: dict[str, Any] = {}
    signature = b""
    for _ in range(3):  # the manifest's own timestamp may bring a TSA certificate not seen yet: list it and sign again
        _put_certificates(files, roots, others)
        _put_crls(files, crls)
        manifest = {
            "type": layout.PACKAGE_TYPE,
            "dossier_code": code,
            "exported_at": now.isoformat(),
            "exported_by": actor,
            "agency": runtime.settings.audit_agency,
            "checkpoint_seq": checkpoint.seq,
            "documents": documents,
            "files": [
                {"path": path, "sha256": layout.sha256_hex(data), "size": len(data)}
                for path, data in sorted(files.items())
            ],
        }
        body = layout.manifest_bytes(manifest)
        signature = sign_detached(body, signer, timestamper_url=runtime.settings.tsa_url)
        carried = layout.cms_certificates(cms.ContentInfo.load(signature)["content"])
        known = {der(c) for c in [*roots, *others]}
        new = [to_crypto(c) for c in carried if c.dump() not in known]
        if not new:
            break
        others += new
        crls += fetch_crls(new, crls, allow=fetch)
    files[layout.MANIFEST] = layout.manifest_bytes(manifest)
    files[layout.MANIFEST_SIGNATURE] = signature
    return EvidencePackage(
        dossier_code=code,
        data=_zip(files, now),
        filename=package_filename(code),
        checkpoint_seq=checkpoint.seq,
        documents=len(documents),
        timestamped=checkpoint.timestamped,
    )


# ---------------------------------------------------------------------- pieces


def _read_document(runtime: Runtime, code: str, doc_id: str) -> bytes:
    """The stored bytes (the store checks size and SHA-256 on every read); no ``document.read`` per file: the one
    ``evidence.exported`` record lists them."""
    with transaction(runtime.db) as conn:
        row = find_document(conn, code, doc_id)
    if row is None:  # pragma: no cover - listed by the dossier's view a moment ago, and documents are never deleted
        raise NotFound("Không tìm thấy tài liệu của hồ sơ.", "No such document of the dossier.", document_id=doc_id)
    return b"".join(runtime.store.open(stored_object(row)))


def _pdf_certificates(pdf: bytes) -> list[asn1_x509.Certificate]:
    return [c for signed_data in embedded_signed_data(pdf) for c in layout.cms_certificates(signed_data)]


def _pdf_timestamp_certificates(pdf: bytes) -> list[asn1_x509.Certificate]:
    """Certificates of the TSAs: in signature timestamps and in document timestamps."""
    found: list[asn1_x509.Certificate] = []
    for signed_data in embedded_signed_data(pdf):
        if signed_data["encap_content_info"]["content_type"].native == "tst_info":
            found += layout.cms_certificates(signed_data, with_tokens=False)
        for token in layout.timestamp_tokens(signed_data):
            found += layout.cms_certificates(token["content"], with_tokens=False)
    return found


def fetch_crls(certs: Iterable[x509.Certificate], have: Sequence[bytes], *, allow: bool) -> list[bytes]:
    """CRLs for the certificates whose issuer has none in ``have``, from their CRL distribution points (HTTP), so
    the package can be validated offline (a TSA's certificate, typically). Only with ``allow`` (the setting
    ``verify_allow_fetching``); a CRL that cannot be fetched is left out and the report says what is missing."""
    if not allow:
        return []
    covered = set()
    for data in have:
        try:
            covered.add(x509.load_der_x509_crl(data).issuer.public_bytes())
        except ValueError:
            continue
    fetched: list[bytes] = []
    tried: set[str] = set()
    for cert in certs:
        if cert.issuer == cert.subject or cert.issuer.public_bytes() in covered:
            continue
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            continue
        urls = [
            name.value
            for point in points
            for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("http://", "https://"))
        ]
        for url in urls:
            if url in tried:
                continue
            tried.add(url)
            crl = _download_crl(url)
            if crl is not None and crl.issuer == cert.issuer:
                fetched.append(crl.public_bytes(Encoding.DER))
                covered.add(crl.issuer.public_bytes())
                break
    return fetched


def _download_crl(url: str) -> x509.CertificateRevocationList | None:
    try:
        with urllib.request.urlopen(url, timeout=CRL_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
            data = response.read(MAX_CRL_BYTES + 1)
        if len(data) > MAX_CRL_BYTES:
            return None
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (OSError, ValueError) as exc:
        log.warning("evidence: no CRL from %s: %s", url, exc)
        return None


def _put_certificates(
    files: dict[str, bytes], roots: Sequence[x509.Certificate], others: Sequence[x509.Certificate]
) -> None:
    root_ders = {der(c) for c in roots}
    for cert in roots:
        files[f"{layout.ROOTS_DIR}{layout.sha256_hex(der(cert))[:16]}.pem"] = pem(cert)
    for cert in others:
        if der(cert) in root_ders:
            continue
        files[f"{layout.CERTIFICATES_DIR}{layout.sha256_hex(der(cert))[:16]}.pem"] = pem(cert)


def _put_crls(files: dict[str, bytes], crls: Sequence[bytes]) -> None:
    for data in crls:
        files[f"{layout.REVOCATION_DIR}{layout.sha256_hex(data)[:16]}.crl"] = data


def _safe_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-.") or "document"
    return name if name.lower().endswith(".pdf") else name + ".pdf"


def _json(body: Any) -> bytes:
    return (json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _zip(files: dict[str, bytes], now: dt.datetime) -> bytes:
    stamp = now.astimezone(VN_TZ).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in [layout.MANIFEST, layout.MANIFEST_SIGNATURE, layout.README]:
            archive.writestr(zipfile.ZipInfo(name, stamp), files[name], zipfile.ZIP_DEFLATED)
        for name in sorted(set(files) - {layout.MANIFEST, layout.MANIFEST_SIGNATURE, layout.README}):
            archive.writestr(zipfile.ZipInfo(name, stamp), files[name], zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _readme(code: str, now: dt.datetime, agency: str, checkpoint_seq: int) -> str:
    when = now.astimezone(VN_TZ).isoformat(timespec="seconds")
    return f"""GÓI CHỨNG CỨ HỒ SƠ {code}
(Evidence package of dossier {code})

Xuất lúc / exported at: {when}; cơ quan ký / signing agency: {agency}; điểm chốt nhật ký / checkpoint: {checkpoint_seq}

Gói gồm / Contents
  manifest.json            danh mục mọi tệp kèm mã băm SHA-256, mã hồ sơ, thời điểm xuất, người xuất, cơ quan
                           (every file with its SHA-256, the dossier code, export time, who exported, agency)
  manifest.p7s             chữ ký số của cơ quan (CMS tách rời) trên manifest.json, có dấu thời gian nếu có TSA
                           (the agency seal's detached CMS signature over manifest.json, timestamped with a TSA)
  documents/*.pdf          các văn bản đã ký số của hồ sơ, nguyên trạng như đã lưu
                           (the dossier's signed documents, as stored)
  reports/*.json           báo cáo kiểm tra chữ ký số (AdES) của từng văn bản, tại thời điểm xuất
                           (the AdES validation report of each document, as of the export time)
  audit/proof.json         các mục nhật ký của hồ sơ này (đầy đủ) và mã băm của các mục khác nằm giữa
                           (this dossier's audit entries in full; other entries only as hashes: no one else's data)
  audit/checkpoint.*       điểm chốt đầu chuỗi nhật ký do cơ quan ký và đóng dấu thời gian
                           (the checkpoint of the log's head signed by the agency, with its timestamp)
  certificates/            chứng thư số gốc tin cậy (roots/), chuỗi chứng thư của con dấu, của đơn vị cấp dấu thời gian
                           (trust roots, the seal's chain, the time-stamping authorities' certificates)
  revocation/              danh sách thu hồi chứng thư (CRL) đã dùng khi kiểm tra
                           (the CRLs the validation used)

Cách kiểm tra (không cần mạng, không cần máy chủ) / How to verify (offline):
  motcua evidence verify {package_filename(code)} --trust GOC-TIN-CAY.pem
  Không có --trust thì dùng chứng thư gốc trong gói: khi đó phải so dấu vân tay SHA-256 được in ra với bản
  chứng thư gốc bạn tự có.
  (Without --trust the roots inside the package are used: compare the SHA-256 fingerprints it prints with
  your own copy of the roots.)

  Lệnh kiểm tra: chữ ký trên manifest.json; mã băm của mọi tệp, không thiếu, không thừa; chữ ký số của từng
  văn bản tại thời điểm xuất; báo cáo khớp với lần kiểm tra lại; các mục nhật ký nối chuỗi tới điểm chốt đã
  ký; chữ ký và dấu thời gian của điểm chốt. Mã thoát 0 khi mọi mục đạt, 1 khi có mục không đạt.
  (It checks the manifest's signature, every file's SHA-256 with nothing missing or added, every document's
  signatures as of the export time, that each report matches a fresh validation, that the audit entries
  chain to the signed checkpoint, and the checkpoint's signature and timestamp; exit 0 only when all hold.)

Kiểm tra thủ công bằng OpenSSL / By hand with OpenSSL:
  openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json -CAfile GOC-TIN-CAY.pem \\
      -purpose any -out /dev/null
  sha256sum <tệp / file>    (so với manifest.json / compare with manifest.json)
"""
