"""Validation of the PAdES signatures in a PDF, with an overall indication in ETSI EN 319 102-1 terms.

For every signature (and document timestamp) the report says: which field, who signed (subject with
diacritics), when (the ``signingTime`` signed attribute, else the dictionary's ``/M``), whether the signed bytes
are intact, whether the signature value is cryptographically valid, whether the signer's certificate chains to one
of the configured trust roots, what the signature covers and how the document changed afterwards (pyHanko's
difference analysis: ``NONE``, ``LTA_UPDATES``, ``FORM_FILLING``, ``ANNOTATIONS``, ``OTHER``).

**Revocation is not checked yet.** The validation context never fetches anything (``allow_fetching=False``) and
uses a revocation policy of ``nocheck`` for end-entity and CA certificates, so missing CRL/OCSP data neither fails
nor downgrades a signature. A later issue adds B-LT/B-LTA validation with embedded revocation data.

Overall indication:

* ``TOTAL-PASSED`` — at least one signature and every one passed;
* ``TOTAL-FAILED`` — some signature is broken: ``HASH_FAILURE`` (signed bytes changed), ``SIG_CRYPTO_FAILURE``
  (signature value wrong), ``REVOKED``, ``NOT_ALLOWED_MODIFICATIONS`` (changes after signing beyond what the
  certification allows, e.g. an added page), ``FORMAT_FAILURE`` (unreadable signature, odd byte range);
* ``INDETERMINATE`` — nothing is broken but something cannot be established: ``NO_CERTIFICATE_CHAIN_FOUND``
  (not issued under a configured root), ``OUT_OF_BOUNDS_NO_POE`` / ``EXPIRED`` / ``NOT_YET_VALID`` (certificate
  not valid now and no proof of existence), ``CHAIN_CONSTRAINTS_FAILURE`` (e.g. key usage), …
* a PDF without signatures is ``INDETERMINATE`` with sub-indication ``NO_SIGNATURE``: nothing is broken, but
  nothing is proven either (and ``motcua verify`` exits non-zero).

The sub-indication is the first problem in signing order, failures before indeterminate results.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import DocumentTimestampStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

from dossiers.calendar import VN_TZ
from dossiers.errors import InvalidInput
from dossiers.ports import JsonValue, SignatureCheck, ValidationReport
from signing._async import run_sync
from signing.certs import TrustRoot, subject_text, to_asn1

TOTAL_PASSED = "TOTAL-PASSED"
TOTAL_FAILED = "TOTAL-FAILED"
INDETERMINATE = "INDETERMINATE"
NO_SIGNATURE = "NO_SIGNATURE"

HASH_FAILURE = "HASH_FAILURE"
SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
REVOKED = "REVOKED"
NOT_ALLOWED_MODIFICATIONS = "NOT_ALLOWED_MODIFICATIONS"
FORMAT_FAILURE = "FORMAT_FAILURE"
NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"

# Problems that make the overall indication TOTAL-FAILED; every other problem code is INDETERMINATE.
FAILURES = frozenset({HASH_FAILURE, SIG_CRYPTO_FAILURE, REVOKED, NOT_ALLOWED_MODIFICATIONS, FORMAT_FAILURE}) | {
    member.name for member in AdESFailure
}

NO_REVOCATION_CHECK = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.NO_CHECK,
        intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
    )
)
REVOCATION_CHECKING = "none"  # reported in the JSON so an auditor sees what was not checked


class PadesValidator:
    """:class:`~dossiers.ports.SignatureValidator` adapter built on pyHanko's validation.

    ``trust_roots`` are the only anchors (never the operating system's list); ``moment`` validates at a fixed
    time instead of now (tests, or re-checking an old report). See the module docstring on revocation.
    """

    def __init__(self, trust_roots: Iterable[TrustRoot], *, moment: dt.datetime | None = None) -> None:
        self.trust_roots = tuple(to_asn1(cert) for cert in trust_roots)
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("Thời điểm phải có múi giờ.", "The time must be timezone-aware.")
        self.moment = moment

    def _context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=list(self.trust_roots),  # a list, even when empty: None would mean "the OS trust store"
            allow_fetching=False,
            revinfo_policy=NO_REVOCATION_CHECK,
            moment=self.moment,
        )

    def validate(self, pdf: bytes) -> ValidationReport:
        """Check every signature in ``pdf``; :class:`~dossiers.errors.InvalidInput` if it is not a readable PDF."""
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            if reader.encrypted:
                raise InvalidInput(
                    "Không hỗ trợ kiểm tra tệp PDF được mã hóa.",
                    "Encrypted PDF files cannot be verified.",
                )
            found = list(enumerate_sig_fields(reader, filled_status=True))
        except InvalidInput:
            raise
        except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise InvalidInput(
                "Tệp không phải là PDF hợp lệ hoặc bị hỏng.",
                f"The file is not a valid PDF or is damaged: {exc}",
            ) from exc

        ordered: list[tuple[int, str, EmbeddedPdfSignature | Exception]] = []
        for name, _, field_ref in found:
            try:
                embedded = EmbeddedPdfSignature(reader, field_ref, name)
                ordered.append((embedded.signed_revision, name, embedded))
            except Exception as exc:  # noqa: BLE001 - any unreadable signature is a format failure, reported
                ordered.append((1 << 30, name, exc))
        ordered.sort(key=lambda item: item[0])
        checks = tuple(self._check(name, item) for _, name, item in ordered)
        return summarize(checks)

    def _check(self, name: str, item: EmbeddedPdfSignature | Exception) -> SignatureCheck:
        if isinstance(item, Exception):
            return _broken(name, "", f"{FORMAT_FAILURE}: {item}")
        embedded = item
        try:
            signer = subject_text(embedded.signer_cert)
        except Exception:  # noqa: BLE001
            signer = ""
        try:
            if embedded.sig_object_type == "/DocTimeStamp":
                ts_status = run_sync(lambda: async_validate_pdf_timestamp(embedded, validation_context=self._context()))
                return _from_status(name, ts_status, ts_status.timestamp)
            status = run_sync(lambda: async_validate_pdf_signature(embedded, signer_validation_context=self._context()))
        except Exception as exc:  # noqa: BLE001 - malformed CMS, unsupported algorithms, …: reported, not raised
            return _broken(name, signer, f"{FORMAT_FAILURE}: {exc}")
        return _from_status(name, status, status.signer_reported_dt)


def _broken(name: str, signer: str, problem: str) -> SignatureCheck:
    return SignatureCheck(
        field_name=name,
        signer_subject=signer,
        signing_time=None,
        intact=False,
        valid=False,
        trusted=False,
        covers_whole_document=False,
        modification_level="UNKNOWN",
        problems=(problem,),
    )


def _from_status(
    name: str, status: PdfSignatureStatus | DocumentTimestampStatus, signing_time: dt.datetime | None
) -> SignatureCheck:
    problems: list[str] = []
    if not status.intact:
        problems.append(f"{HASH_FAILURE}: the signed bytes do not match the signed digest")
    elif not status.valid:
        problems.append(f"{SIG_CRYPTO_FAILURE}: the signature value does not verify with the signer's public key")
    if status.revoked:
        problems.append(f"{REVOKED}: the signer's certificate or an issuer is revoked")
    elif status.intact and status.valid and not status.trusted:
        indic = status.trust_problem_indic
        code = str(getattr(indic, "name", indic)) if indic is not None else NO_CERTIFICATE_CHAIN_FOUND
        if code == NO_CERTIFICATE_CHAIN_FOUND:
            problems.append(f"{code}: the certificate is not issued under a configured trust root")
        else:
            problems.append(f"{code}: the certificate path cannot be validated at the validation time")
    coverage = status.coverage
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append(f"{FORMAT_FAILURE}: the signature does not cover a whole revision of the document")
    if status.docmdp_ok is False:
        detail = str(status.diff_result) if isinstance(status.diff_result, SuspiciousModification) else ""
        reason = f" ({detail.splitlines()[0]})" if detail.strip() else ""
        problems.append(f"{NOT_ALLOWED_MODIFICATIONS}: changes after signing are not permitted{reason}")
    if isinstance(status, PdfSignatureStatus) and status.seed_value_constraint_error is not None:
        problems.append(f"{SIG_CONSTRAINTS_FAILURE}: {status.seed_value_constraint_error}")
    level = status.modification_level
    return SignatureCheck(
        field_name=name,
        signer_subject=subject_text(status.signing_cert),
        signing_time=signing_time,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_document=coverage == SignatureCoverageLevel.ENTIRE_FILE,
        modification_level=level.name if level is not None else "UNKNOWN",
        problems=tuple(problems),
    )


def problem_code(problem: str) -> str:
    return problem.split(":", 1)[0].strip()


def summarize(checks: Sequence[SignatureCheck]) -> ValidationReport:
    """The overall indication for ``checks`` (in signing order); see the module docstring."""
    checks = tuple(checks)
    if not checks:
        return ValidationReport(signatures=(), indication=INDETERMINATE, sub_indication=NO_SIGNATURE)
    codes = [problem_code(p) for check in checks for p in check.problems]
    failed = [code for code in codes if code in FAILURES]
    if failed:
        return ValidationReport(signatures=checks, indication=TOTAL_FAILED, sub_indication=failed[0])
    if codes or not all(check.passed for check in checks):
        return ValidationReport(signatures=checks, indication=INDETERMINATE, sub_indication=codes[0] if codes else None)
    return ValidationReport(signatures=checks, indication=TOTAL_PASSED)


# ---------------------------------------------------------------------- output


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(VN_TZ).isoformat() if moment is not None else None


def report_to_dict(report: ValidationReport) -> dict[str, JsonValue]:
    """A JSON-ready form of ``report`` (times in ISO 8601, Vietnam time)."""
    return {
        "indication": report.indication,
        "sub_indication": report.sub_indication,
        "passed": report.passed,
        "revocation_checking": REVOCATION_CHECKING,
        "signatures": [
            {
                "field_name": check.field_name,
                "signer_subject": check.signer_subject,
                "signing_time": _iso(check.signing_time),
                "intact": check.intact,
                "valid": check.valid,
                "trusted": check.trusted,
                "covers_whole_document": check.covers_whole_document,
                "modification_level": check.modification_level,
                "problems": list(check.problems),
                "passed": check.passed,
            }
            for check in report.signatures
        ],
    }


INDICATION_TEXT = {
    TOTAL_PASSED: ("ĐẠT", "passed"),
    TOTAL_FAILED: ("KHÔNG ĐẠT", "failed"),
    INDETERMINATE: ("CHƯA XÁC ĐỊNH", "indeterminate"),
}

PROBLEM_TEXT = {
    HASH_FAILURE: ("Nội dung đã ký bị thay đổi", "the signed content was changed"),
    SIG_CRYPTO_FAILURE: ("Giá trị chữ ký không đúng", "the signature value is wrong"),
    REVOKED: ("Chứng thư số đã bị thu hồi", "the certificate is revoked"),
    NOT_ALLOWED_MODIFICATIONS: ("Tài liệu bị sửa đổi không được phép sau khi ký", "modified after signing"),
    FORMAT_FAILURE: ("Chữ ký sai định dạng hoặc không đọc được", "malformed or unreadable signature"),
    NO_CERTIFICATE_CHAIN_FOUND: (
        "Chứng thư số không thuộc chứng thư gốc tin cậy nào",
        "the certificate does not chain to a trusted root",
    ),
    "OUT_OF_BOUNDS_NO_POE": ("Chứng thư số hết hạn hoặc chưa có hiệu lực", "the certificate is expired or not valid"),
    "EXPIRED": ("Chứng thư số đã hết hạn", "the certificate has expired"),
    "NOT_YET_VALID": ("Chứng thư số chưa có hiệu lực", "the certificate is not yet valid"),
    "CHAIN_CONSTRAINTS_FAILURE": ("Chuỗi chứng thư không thỏa ràng buộc", "the certificate chain violates constraints"),
    SIG_CONSTRAINTS_FAILURE: ("Chữ ký không thỏa ràng buộc của ô ký", "the signature violates the field's constraints"),
    NO_SIGNATURE: ("Tài liệu không có chữ ký số", "the document has no digital signature"),
}


def _yes_no(value: bool) -> str:
    return "có / yes" if value else "KHÔNG / NO"


def _coverage_text(check: SignatureCheck) -> str:
    if check.covers_whole_document:
        return "toàn bộ tài liệu / the whole document"
    if check.passed:
        return "bản đã ký, sau đó có cập nhật được phép / the signed revision, followed by permitted updates"
    return "bản đã ký, sau đó có cập nhật / the signed revision, followed by updates"


def format_report(report: ValidationReport) -> str:
    """A readable Vietnamese/English text report, one block per signature."""
    vi, en = INDICATION_TEXT.get(report.indication, (report.indication, report.indication))
    lines = [f"Kết quả / Result: {report.indication} ({vi} / {en})"]
    if report.sub_indication:
        sub_vi, sub_en = PROBLEM_TEXT.get(report.sub_indication, ("", ""))
        text = f" — {sub_vi} / {sub_en}" if sub_vi else ""
        lines.append(f"Chỉ báo phụ / Sub-indication: {report.sub_indication}{text}")
    lines.append(f"Số chữ ký / Signatures: {len(report.signatures)}")
    lines.append("Lưu ý / Note: chưa kiểm tra thu hồi chứng thư (CRL/OCSP) / revocation (CRL/OCSP) not checked")
    for number, check in enumerate(report.signatures, start=1):
        status = "ĐẠT / passed" if check.passed else "KHÔNG ĐẠT / not passed"
        lines += [
            "",
            f"Chữ ký {number} / Signature {number}: ô / field “{check.field_name}” — {status}",
            f"  Người ký / Signer: {check.signer_subject or '?'}",
            f"  Thời điểm ký / Signing time: {_iso(check.signing_time) or '?'}",
            f"  Toàn vẹn / Intact: {_yes_no(check.intact)}",
            f"  Hợp lệ về mật mã / Cryptographically valid: {_yes_no(check.valid)}",
            f"  Tin cậy / Trusted: {_yes_no(check.trusted)}",
            f"  Phạm vi ký / Covers: {_coverage_text(check)}",
            f"  Thay đổi sau khi ký / Changes after signing: {check.modification_level}",
        ]
        for problem in check.problems:
            code = problem_code(problem)
            p_vi, _ = PROBLEM_TEXT.get(code, ("", ""))
            lines.append(f"  Vấn đề / Problem: {p_vi + ' — ' if p_vi else ''}{problem}")
    return "\n".join(lines) + "\n"
