"""AdES validation of the signatures in a PDF with pyHanko's ETSI EN 319 102-1 engine (pyhanko.sign.validation.ades).

For every signature and document timestamp, in signing order, the report gives: the field, the kind, the PAdES
level found (B-B, B-T, B-LT, B-LTA), the signer and the certificate chain (subjects, leaf first), the signing time
the signer claims, the signature timestamp and content timestamp (time and TSA), the time the signature is proven
to have existed, the revocation status, what the signature covers, the modifications after signing and the DocMDP
(certification) settings, and the AdES indication with its sub-indication.

Which ETSI process runs:

* a signature with a signature timestamp, or followed by a document timestamp (B-T, B-LT, B-LTA):
  :func:`~pyhanko.sign.validation.ades.ades_lta_validation` — validation with time and past-signature validation
  using the document timestamps and the DSS as evidence (§ 5.5, § 5.6);
* a signature without any timestamp (B-B): :func:`~pyhanko.sign.validation.ades.ades_basic_validation` (§ 5.3),
  with the DSS (if any) as local knowledge — ``ades_with_time_validation`` would say SIG_CONSTRAINTS_FAILURE
  ("no signature timestamp") for every B-B signature;
* a document timestamp: :func:`~pyhanko.sign.validation.ades.ades_timestamp_validation` (§ 5.4).

Trust: only the given roots (never the operating system's list). Revocation information is required for every
certificate of every chain (``REQUIRE_REVINFO``): it comes from the DSS and, with ``allow_fetching=True``, from the
OCSP responders and CRL distribution points named in the certificates when validating at the current time.
Certificates themselves are never fetched (no AIA chasing: the chain must be embedded), so a signed file cannot
make the validator contact addresses other than revocation services of certificates it already holds.

Indications: pyHanko's :class:`~pyhanko.sign.ades.report.AdESSubIndic` maps one to one — ``AdESPassed.OK`` →
``TOTAL-PASSED``; ``AdESFailure.X`` → ``TOTAL-FAILED`` / ``X``; ``AdESIndeterminate.X`` → ``INDETERMINATE`` /
``X``. pyHanko's AdES engine does not judge the PDF-level checks, so after it: a signature whose DocMDP rules are
broken by later changes (e.g. an added page after a certification with P=2) becomes ``TOTAL-FAILED`` /
``NOT_ALLOWED_MODIFICATIONS`` (the code :mod:`signing.validate` uses), and one that does not cover a whole revision
``TOTAL-FAILED`` / ``FORMAT_FAILURE``. The document's overall indication is the first failure in signing order,
else the first indeterminate result, else ``TOTAL-PASSED``; a PDF without signatures is ``INDETERMINATE`` /
``NO_SIGNATURE``.

ETSI semantics worth knowing when reading a report: a *signature* timestamp proves the signature existed *before*
its time, so a certificate revoked before that time still gives ``INDETERMINATE`` / ``REVOKED_NO_POE`` (the
signature may have been made before the revocation); only a *content* timestamp (a signed attribute, proving the
signature was made *after* its time) later than the revocation gives ``TOTAL-FAILED`` / ``REVOKED``. A signer
certificate that had expired when the signature was made, with no proof of an earlier existence, gives
``INDETERMINATE`` / ``OUT_OF_BOUNDS_NO_POE`` (pyHanko 0.38), never TOTAL-PASSED.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESStatus, AdESSubIndic
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.general import extract_certificate_info, find_cms_attribute_iter
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature, SignatureCoverageLevel
from pyhanko.sign.validation.ades import (
    AdESBasicValidationResult,
    ades_basic_validation,
    ades_lta_validation,
    ades_timestamp_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import DocumentTimestampStatus, PdfSignatureStatus, SignatureStatus
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.poe import ValidationObjectType
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from dossiers.calendar import VN_TZ
from dossiers.errors import InvalidInput
from dossiers.ports import JsonValue, SignatureCheck, ValidationReport
from signing._async import run_sync
from signing.certs import TrustRoot, subject_text, to_asn1
from signing.validate import (
    FORMAT_FAILURE,
    INDETERMINATE,
    INDICATION_TEXT,
    NO_SIGNATURE,
    NOT_ALLOWED_MODIFICATIONS,
    PROBLEM_TEXT,
    TOTAL_FAILED,
    TOTAL_PASSED,
)

SIGNATURE = "signature"
DOCUMENT_TIMESTAMP = "document-timestamp"

# Revocation status of the signer's certificate (or of the TSA's, for a document timestamp)
REVOCATION_GOOD = "GOOD"  # revocation data found and the chain passed with it
REVOCATION_REVOKED = "REVOKED"  # the signer's certificate (or a CA above it) is revoked
REVOCATION_UNKNOWN = "UNKNOWN"  # not established (no revocation data, or validation stopped earlier)

EXPIRY_TOLERANCE = dt.timedelta(seconds=1)  # pyHanko's default time tolerance

INDICATION_FOR_STATUS = {
    AdESStatus.PASSED: TOTAL_PASSED,
    AdESStatus.FAILED: TOTAL_FAILED,
    AdESStatus.INDETERMINATE: INDETERMINATE,
}


def indication_of(subindic: AdESSubIndic) -> tuple[str, str | None]:
    """pyHanko's sub-indication → (ETSI indication, sub-indication or ``None`` when passed)."""
    indication = INDICATION_FOR_STATUS[subindic.status]
    return indication, None if indication == TOTAL_PASSED else str(subindic.standard_name)


@dataclass(frozen=True)
class TimestampInfo:
    """An RFC 3161 timestamp token: when, by which TSA, and (when validated) whether it passed."""

    time: dt.datetime
    tsa_subject: str
    passed: bool | None = None  # None when the timestamp itself was not validated separately


@dataclass(frozen=True)
class RevocationInfo:
    status: str  # GOOD | REVOKED | UNKNOWN
    revocation_date: dt.datetime | None = None
    reason: str | None = None
    ca_revoked: bool = False  # the revoked certificate is a CA above the signer
    ocsp_responses: int = 0  # OCSP responses / CRLs the engine considered (embedded in the DSS or fetched)
    crls: int = 0


@dataclass(frozen=True)
class DocMdpInfo:
    certification: bool  # a certification signature (DocMDP transform)
    permission: int | None  # P=1 no changes, 2 form filling and signing, 3 also annotations; None when not set
    ok: bool | None  # the changes after signing respect it (None when not evaluated)


@dataclass(frozen=True)
class AdesSignatureResult:
    """The AdES result for one signature or document timestamp (more than :class:`~dossiers.ports.SignatureCheck`)."""

    field_name: str
    kind: str  # signature | document-timestamp
    level: str  # B-B | B-T | B-LT | B-LTA for signatures; "" for document timestamps
    signer_subject: str
    chain: tuple[str, ...]  # subjects, leaf first, ending with the trust root when a path was found
    signing_time: dt.datetime | None  # claimed by the signer (signingTime attribute, else /M); TST time for a DocTS
    proven_time: dt.datetime | None  # best signature time: the earliest time the signature is proven to exist
    signature_timestamp: TimestampInfo | None
    content_timestamp: TimestampInfo | None
    revocation: RevocationInfo
    intact: bool
    valid: bool
    trusted: bool
    coverage: str  # ENTIRE_FILE | ENTIRE_REVISION | CONTIGUOUS_BLOCKS_ONLY | UNCLEAR
    modification_level: str  # NONE | LTA_UPDATES | FORM_FILLING | ANNOTATIONS | OTHER | UNKNOWN
    docmdp: DocMdpInfo
    indication: str
    sub_indication: str | None
    ades_sub_indication: str  # pyHanko's own verdict before the PDF-level checks (OK, HASH_FAILURE, …)
    message: str | None = None

    @property
    def passed(self) -> bool:
        return self.indication == TOTAL_PASSED

    @property
    def covers_whole_document(self) -> bool:
        return self.coverage == SignatureCoverageLevel.ENTIRE_FILE.name

    def to_check(self) -> SignatureCheck:
        """The :class:`~dossiers.ports.SignatureCheck` view (problems as ``CODE: explanation``)."""
        problems: tuple[str, ...] = ()
        if self.sub_indication:
            problems = (f"{self.sub_indication}: {self.message or _explain(self.sub_indication)}",)
        return SignatureCheck(
            field_name=self.field_name,
            signer_subject=self.signer_subject,
            signing_time=self.signing_time,
            intact=self.intact,
            valid=self.valid,
            trusted=self.trusted,
            covers_whole_document=self.covers_whole_document,
            modification_level=self.modification_level,
            problems=problems,
        )


@dataclass(frozen=True)
class AdesReport:
    signatures: tuple[AdesSignatureResult, ...]
    indication: str
    sub_indication: str | None
    validation_time: dt.datetime
    revocation_fetching: bool  # whether OCSP/CRL could be fetched online (else only the DSS was used)
    has_dss: bool

    @property
    def passed(self) -> bool:
        return self.indication == TOTAL_PASSED

    def to_validation_report(self) -> ValidationReport:
        """The :class:`~dossiers.ports.ValidationReport` view, for the ``SignatureValidator`` port."""
        return ValidationReport(
            signatures=tuple(result.to_check() for result in self.signatures),
            indication=self.indication,
            sub_indication=self.sub_indication,
        )


# ---------------------------------------------------------------------- validation


def validation_spec(
    trust_roots: Iterable[TrustRoot], *, allow_fetching: bool = True, local_knowledge: LocalKnowledge | None = None
) -> PdfSignatureValidationSpec:
    """The AdES validation spec used by :func:`validate_ades` (see the module docstring)."""
    roots = [to_asn1(cert) for cert in trust_roots]
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=roots),  # a list, even empty: never the OS store
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=(
            RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH if allow_fetching else RevinfoOnlineFetchingRule.LOCAL_ONLY
        ),
        certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=gathering,
            local_knowledge=local_knowledge or LocalKnowledge(),
        ),
        diff_policy=DEFAULT_DIFF_POLICY,
    )


def validate_ades(
    pdf: bytes,
    trust_roots: Iterable[TrustRoot],
    *,
    allow_fetching: bool = True,
    moment: dt.datetime | None = None,
    crls: Iterable[bytes] = (),
) -> AdesReport:
    """Validate every signature and document timestamp in ``pdf`` with pyHanko's AdES engine.

    ``trust_roots`` are the only anchors. ``allow_fetching`` lets the engine fetch OCSP responses and CRLs when
    validating at the current time (the DSS is always used). ``moment`` validates as of that (timezone-aware) time,
    a point-in-time validation that never fetches. Raises :class:`~dossiers.errors.InvalidInput` for a file that is
    not a readable, unencrypted PDF; problems with a signature are reported, never raised.
    """
    if moment is not None and moment.tzinfo is None:
        raise InvalidInput("Thời điểm phải có múi giờ.", "The time must be timezone-aware.")
    roots = [to_asn1(cert) for cert in trust_roots]
    reader = _read(pdf)
    if moment is None:
        timing = ValidationTimingInfo.now(tz=dt.UTC)
    else:
        timing = ValidationTimingInfo(validation_time=moment, best_signature_time=moment, point_in_time_validation=True)
    knowledge, has_dss = _dss_knowledge(reader)
    extra = [CRLContainer(CertificateList.load(data)) for data in crls]  # revocation data known out of band
    if extra:
        knowledge = dataclasses.replace(knowledge, known_crls=[*knowledge.known_crls, *extra])
    embedded = sorted(reader.embedded_signatures, key=lambda sig: sig.signed_revision)
    doc_ts_revisions = [sig.signed_revision for sig in embedded if sig.sig_object_type == "/DocTimeStamp"]

    async def run() -> list[AdesSignatureResult]:
        results = []
        for sig in embedded:
            results.append(
                await _validate_one(sig, roots, allow_fetching, timing, knowledge, has_dss, doc_ts_revisions)
            )
        return results

    results = tuple(run_sync(run))
    indication, sub = _overall(results)
    return AdesReport(
        signatures=results,
        indication=indication,
        sub_indication=sub,
        validation_time=timing.validation_time,
        revocation_fetching=allow_fetching and moment is None,
        has_dss=has_dss,
    )


class AdesValidator:
    """:class:`~dossiers.ports.SignatureValidator` adapter on :func:`validate_ades` (richer: :meth:`report`)."""

    def __init__(
        self,
        trust_roots: Iterable[TrustRoot],
        *,
        allow_fetching: bool = True,
        moment: dt.datetime | None = None,
        crls: Iterable[bytes] = (),
    ) -> None:
        self.trust_roots = tuple(to_asn1(cert) for cert in trust_roots)
        self.allow_fetching = allow_fetching
        self.moment = moment
        self.crls = tuple(crls)

    def report(self, pdf: bytes) -> AdesReport:
        return validate_ades(
            pdf, self.trust_roots, allow_fetching=self.allow_fetching, moment=self.moment, crls=self.crls
        )

    def validate(self, pdf: bytes) -> ValidationReport:
        return self.report(pdf).to_validation_report()


def _read(pdf: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        if reader.encrypted:
            raise InvalidInput("Không hỗ trợ kiểm tra tệp PDF được mã hóa.", "Encrypted PDF files cannot be verified.")
        reader.embedded_signatures  # noqa: B018 - parse the signature fields now, so a broken file fails here
    except InvalidInput:
        raise
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            "Tệp không phải là PDF hợp lệ hoặc bị hỏng.", f"The file is not a valid PDF or is damaged: {exc}"
        ) from exc
    return reader


def _dss_knowledge(reader: PdfFileReader) -> tuple[LocalKnowledge, bool]:
    """Certificates, OCSP responses and CRLs from the document security store."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return LocalKnowledge(), False
    except (PdfError, ValueError, KeyError, TypeError):
        return LocalKnowledge(), False
    ocsps = [
        container
        for ref in dss.ocsps
        for container in OCSPContainer.load_multi(
            OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        )
    ]
    crls = [CRLContainer(CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))) for ref in dss.crls]
    return LocalKnowledge(known_ocsps=ocsps, known_crls=crls, known_certs=list(dss.load_certs())), True


async def _validate_one(
    sig: EmbeddedPdfSignature,
    roots: list[asn1_x509.Certificate],
    allow_fetching: bool,
    timing: ValidationTimingInfo,
    knowledge: LocalKnowledge,
    has_dss: bool,
    doc_ts_revisions: Sequence[int],
) -> AdesSignatureResult:
    name = sig.field_name or "?"
    is_doc_ts = sig.sig_object_type == "/DocTimeStamp"
    try:
        signer = subject_text(sig.signer_cert)
    except Exception:  # noqa: BLE001 - reported as a format failure below
        signer = ""
    try:
        sig.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # type: ignore[no-untyped-call]
        integrity = sig.summarise_integrity_info()
        sig_ts = _timestamp_info(sig.signer_info, signed=False)
        content_ts = _timestamp_info(sig.signer_info, signed=True)
        later_doc_ts = any(rev > sig.signed_revision for rev in doc_ts_revisions)
        spec = validation_spec(roots, allow_fetching=allow_fetching, local_knowledge=knowledge)
        result: AdESBasicValidationResult[Any]
        if is_doc_ts:
            level = ""
            result = await ades_timestamp_validation(
                sig.signed_data,
                _with_knowledge(spec, knowledge).signature_validation_spec,
                lambda algorithm: sig.compute_digest(algorithm),
                timing_info=timing,
                extra_status_kwargs=integrity,
                status_cls=DocumentTimestampStatus,
            )
        elif later_doc_ts:
            level = "B-LTA" if has_dss else "B-T" if sig_ts is not None else "B-B"
            result = await ades_lta_validation(sig, spec, timing_info=timing)
        elif sig_ts is not None:
            level = "B-LT" if has_dss else "B-T"
            result = await ades_with_time_validation(
                sig.signed_data,
                _with_knowledge(spec, knowledge).signature_validation_spec,
                timing_info=timing,
                raw_digest=sig.compute_digest(),
                extra_status_kwargs=integrity,
                status_cls=PdfSignatureStatus,
            )
        else:
            level = "B-B"
            # (pyHanko 0.38's basic validation builds a plain CMS status, so the PDF integrity data stays separate)
            result = await ades_basic_validation(
                sig.signed_data,
                _with_knowledge(spec, knowledge).signature_validation_spec,
                timing_info=timing,
                raw_digest=sig.compute_digest(),
            )
    except Exception as exc:  # noqa: BLE001 - malformed CMS, unsupported algorithms, …: reported, not raised
        return _broken(name, DOCUMENT_TIMESTAMP if is_doc_ts else SIGNATURE, signer, str(exc))
    return _result(sig, name, is_doc_ts, level, signer, result, sig_ts, content_ts, integrity)


def _with_knowledge(spec: PdfSignatureValidationSpec, knowledge: LocalKnowledge) -> PdfSignatureValidationSpec:
    return dataclasses.replace(
        spec,
        signature_validation_spec=dataclasses.replace(spec.signature_validation_spec, local_knowledge=knowledge),
    )


def _timestamp_info(signer_info: cms.SignerInfo, *, signed: bool) -> TimestampInfo | None:
    attrs = signer_info["signed_attrs" if signed else "unsigned_attrs"]
    try:
        token = next(find_cms_attribute_iter(attrs, "content_time_stamp" if signed else "signature_time_stamp_token"))
    except Exception:  # noqa: BLE001 - no such attribute (NonexistentAttributeError) or no attributes at all
        return None
    return _token_info(token["content"])


def _token_info(signed_data: cms.SignedData) -> TimestampInfo | None:
    try:
        tst_info = signed_data["encap_content_info"]["content"].parsed
        tsa_cert = extract_certificate_info(signed_data).signer_cert
        return TimestampInfo(time=tst_info["gen_time"].native, tsa_subject=subject_text(tsa_cert))
    except Exception:  # noqa: BLE001 - an unreadable token shows as absent; validation reports the failure
        return None


def _result(
    sig: EmbeddedPdfSignature,
    name: str,
    is_doc_ts: bool,
    level: str,
    signer: str,
    result: AdESBasicValidationResult[Any],
    sig_ts: TimestampInfo | None,
    content_ts: TimestampInfo | None,
    integrity: dict[str, object],
) -> AdesSignatureResult:
    status: SignatureStatus | None = result.api_status
    indication, sub = indication_of(result.ades_subindic)
    message = result.failure_msg if indication != TOTAL_PASSED else None
    coverage = integrity.get("coverage")
    coverage_name = coverage.name if isinstance(coverage, SignatureCoverageLevel) else "UNCLEAR"
    diff = integrity.get("diff_result")
    modification = getattr(diff, "modification_level", None)
    if modification is None and diff is not None:
        modification = ModificationLevel.OTHER  # a SuspiciousModification
    docmdp_ok = integrity.get("docmdp_ok")
    docmdp_level = None if is_doc_ts else sig.docmdp_level
    certification = not is_doc_ts and _is_certification(sig)

    proven: dt.datetime | None = getattr(result, "best_signature_time", None)
    if not is_doc_ts and indication == TOTAL_PASSED and proven is not None:
        # pyHanko 0.38's validation with time passes a signature whose only proof of existence (its signature
        # timestamp) is later than the signer certificate's expiry; ETSI EN 319 102-1 § 5.5.4 leaves it at
        # INDETERMINATE/OUT_OF_BOUNDS_NO_POE: nothing proves the signature was made while the certificate was valid.
        expiry = sig.signer_cert.not_valid_after
        if proven > expiry + EXPIRY_TOLERANCE:
            indication, sub = INDETERMINATE, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE.name
            message = (
                f"the signer's certificate expired at {expiry.isoformat()}, before the earliest proof of the "
                f"signature's existence ({proven.isoformat()})"
            )

    # PDF-level checks that pyHanko's AdES verdict does not include (see the module docstring)
    if indication != TOTAL_FAILED:
        if coverage_name not in (SignatureCoverageLevel.ENTIRE_FILE.name, SignatureCoverageLevel.ENTIRE_REVISION.name):
            indication, sub = TOTAL_FAILED, FORMAT_FAILURE
            message = "the signature does not cover a whole revision of the document"
        elif docmdp_ok is False:
            indication, sub = TOTAL_FAILED, NOT_ALLOWED_MODIFICATIONS
            detail = str(diff).strip().splitlines()[0] if diff is not None and str(diff).strip() else ""
            message = "changes after signing are not permitted" + (f" ({detail})" if detail else "")

    if status is not None:
        intact, valid = bool(status.intact), bool(status.valid)
    else:
        intact = result.ades_subindic not in (AdESFailure.HASH_FAILURE, AdESFailure.FORMAT_FAILURE)
        valid = False
    path = getattr(status, "validation_path", None) if status is not None else None
    chain: tuple[str, ...] = (signer,) if signer else ()
    if path is not None:
        with contextlib.suppress(Exception):
            chain = tuple(subject_text(cert) for cert in reversed(list(path.iter_certs(include_root=True))))
    trusted = path is not None and result.ades_subindic not in (
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
        AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    )

    ts_status = getattr(status, "timestamp_validity", None)
    if sig_ts is not None and ts_status is not None:
        sig_ts = dataclasses.replace(sig_ts, passed=_ts_passed(ts_status))
    content_status = getattr(status, "content_timestamp_validity", None)
    if content_ts is not None and content_status is not None:
        content_ts = dataclasses.replace(content_ts, passed=_ts_passed(content_status))

    if is_doc_ts:
        token = _token_info(sig.signed_data)
        signing_time = token.time if token else None
        proven = signing_time
    else:
        signing_time = sig.self_reported_timestamp

    return AdesSignatureResult(
        field_name=name,
        kind=DOCUMENT_TIMESTAMP if is_doc_ts else SIGNATURE,
        level=level,
        signer_subject=signer,
        chain=chain,
        signing_time=signing_time,
        proven_time=proven,
        signature_timestamp=sig_ts,
        content_timestamp=content_ts,
        revocation=_revocation(result, status),
        intact=intact,
        valid=valid,
        trusted=trusted,
        coverage=coverage_name,
        modification_level=modification.name if isinstance(modification, ModificationLevel) else "UNKNOWN",
        docmdp=DocMdpInfo(
            certification=certification,
            permission=int(docmdp_level.value) if docmdp_level is not None else None,
            ok=docmdp_ok if isinstance(docmdp_ok, bool) else None,
        ),
        indication=indication,
        sub_indication=sub,
        ades_sub_indication=str(result.ades_subindic.standard_name),
        message=message,
    )


def _ts_passed(status: SignatureStatus) -> bool:
    return bool(status.intact and status.valid and getattr(status, "trusted", False))


def _is_certification(sig: EmbeddedPdfSignature) -> bool:
    try:
        references = sig.sig_object.get("/Reference", ())
        return any(ref.get_object().get("/TransformMethod") == "/DocMDP" for ref in references)
    except Exception:  # noqa: BLE001
        return False


def _revocation(result: AdESBasicValidationResult[Any], status: SignatureStatus | None) -> RevocationInfo:
    ocsps = crls = 0
    for obj in result.validation_objects:
        if obj.object_type == ValidationObjectType.OCSP_RESPONSE:
            ocsps += 1
        elif obj.object_type == ValidationObjectType.CRL:
            crls += 1
    details = getattr(status, "revocation_details", None) if status is not None else None
    if details is not None or result.ades_subindic in (
        AdESFailure.REVOKED,
        AdESIndeterminate.REVOKED_NO_POE,
        AdESIndeterminate.REVOKED_CA_NO_POE,
    ):
        return RevocationInfo(
            status=REVOCATION_REVOKED,
            revocation_date=getattr(details, "revocation_date", None),
            reason=str(getattr(getattr(details, "revocation_reason", None), "native", "") or "") or None,
            ca_revoked=bool(getattr(details, "ca_revoked", False))
            or result.ades_subindic == AdESIndeterminate.REVOKED_CA_NO_POE,
            ocsp_responses=ocsps,
            crls=crls,
        )
    good = result.ades_subindic == AdESPassed.OK and (ocsps or crls)
    return RevocationInfo(status=REVOCATION_GOOD if good else REVOCATION_UNKNOWN, ocsp_responses=ocsps, crls=crls)


def _broken(name: str, kind: str, signer: str, message: str) -> AdesSignatureResult:
    return AdesSignatureResult(
        field_name=name,
        kind=kind,
        level="",
        signer_subject=signer,
        chain=(signer,) if signer else (),
        signing_time=None,
        proven_time=None,
        signature_timestamp=None,
        content_timestamp=None,
        revocation=RevocationInfo(status=REVOCATION_UNKNOWN),
        intact=False,
        valid=False,
        trusted=False,
        coverage="UNCLEAR",
        modification_level="UNKNOWN",
        docmdp=DocMdpInfo(certification=False, permission=None, ok=None),
        indication=INDETERMINATE,
        sub_indication=FORMAT_FAILURE,
        ades_sub_indication=FORMAT_FAILURE,
        message=message,
    )


def _overall(results: Sequence[AdesSignatureResult]) -> tuple[str, str | None]:
    if not results:
        return INDETERMINATE, NO_SIGNATURE
    for wanted in (TOTAL_FAILED, INDETERMINATE):
        for result in results:
            if result.indication == wanted:
                return wanted, result.sub_indication
    return TOTAL_PASSED, None


# ---------------------------------------------------------------------- output


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(VN_TZ).isoformat() if moment is not None else None


def _timestamp_dict(info: TimestampInfo | None) -> dict[str, JsonValue] | None:
    if info is None:
        return None
    return {"time": _iso(info.time), "tsa": info.tsa_subject, "passed": info.passed}


def report_to_dict(report: AdesReport) -> dict[str, JsonValue]:
    """A JSON-ready form of ``report`` (times in ISO 8601, Vietnam time)."""
    return {
        "indication": report.indication,
        "sub_indication": report.sub_indication,
        "passed": report.passed,
        "validation_time": _iso(report.validation_time),
        "revocation_checking": "ocsp-crl-online-and-dss" if report.revocation_fetching else "dss-only",
        "has_dss": report.has_dss,
        "signatures": [
            {
                "field_name": r.field_name,
                "kind": r.kind,
                "level": r.level or None,
                "signer_subject": r.signer_subject,
                "chain": list(r.chain),
                "signing_time": _iso(r.signing_time),
                "proven_time": _iso(r.proven_time),
                "signature_timestamp": _timestamp_dict(r.signature_timestamp),
                "content_timestamp": _timestamp_dict(r.content_timestamp),
                "revocation": {
                    "status": r.revocation.status,
                    "revocation_date": _iso(r.revocation.revocation_date),
                    "reason": r.revocation.reason,
                    "ca_revoked": r.revocation.ca_revoked,
                    "ocsp_responses": r.revocation.ocsp_responses,
                    "crls": r.revocation.crls,
                },
                "intact": r.intact,
                "valid": r.valid,
                "trusted": r.trusted,
                "coverage": r.coverage,
                "covers_whole_document": r.covers_whole_document,
                "modification_level": r.modification_level,
                "docmdp": {
                    "certification": r.docmdp.certification,
                    "permission": r.docmdp.permission,
                    "ok": r.docmdp.ok,
                },
                "indication": r.indication,
                "sub_indication": r.sub_indication,
                "ades_sub_indication": r.ades_sub_indication,
                "message": r.message,
                "passed": r.passed,
            }
            for r in report.signatures
        ],
    }


def report_to_json(report: AdesReport) -> str:
    return json.dumps(report_to_dict(report), ensure_ascii=False, indent=2)


# Sub-indications that signing.validate.PROBLEM_TEXT does not explain
ADES_TEXT: dict[str, tuple[str, str]] = {
    "REVOKED_NO_POE": (
        "Chứng thư số đã bị thu hồi và không có bằng chứng chữ ký được tạo trước thời điểm thu hồi",
        "the certificate is revoked and there is no proof the signature was made before the revocation",
    ),
    "REVOKED_CA_NO_POE": (
        "Chứng thư CA trong chuỗi đã bị thu hồi, không có bằng chứng thời gian",
        "a CA certificate in the chain is revoked, with no proof of existence before that",
    ),
    "TRY_LATER": (
        "Chưa có thông tin thu hồi (OCSP/CRL) đủ mới; thử lại sau",
        "no sufficiently fresh revocation data (OCSP/CRL); try later",
    ),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": (
        "Thông tin thu hồi nằm ngoài thời hạn hiệu lực, không có bằng chứng thời gian",
        "revocation data outside the validity window, with no proof of existence",
    ),
    "OUT_OF_BOUNDS_NOT_REVOKED": (
        "Chứng thư số hết hạn (không bị thu hồi) trước thời điểm có bằng chứng",
        "the certificate expired (not revoked) before the time of proven existence",
    ),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": (
        "Không kiểm tra được chuỗi chứng thư",
        "the certificate chain cannot be checked",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE": (
        "Thuật toán mật mã không được chấp nhận",
        "the cryptographic algorithm is not accepted",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": (
        "Thuật toán mật mã đã yếu, không có bằng chứng thời gian",
        "the cryptographic algorithm became weak, with no proof of earlier existence",
    ),
    "TIMESTAMP_ORDER_FAILURE": ("Thứ tự các dấu thời gian không hợp lệ", "the timestamps are out of order"),
    "NO_POE": ("Không có bằng chứng tồn tại", "no proof of existence"),
    "NO_SIGNING_CERTIFICATE_FOUND": ("Không tìm thấy chứng thư số của người ký", "the signer's certificate is missing"),
    "GENERIC": ("Không xác định được", "cannot be determined"),
}


def _explain(code: str) -> str:
    return (PROBLEM_TEXT.get(code) or ADES_TEXT.get(code) or ("", code))[1]


def _text(code: str) -> str:
    vi, en = PROBLEM_TEXT.get(code) or ADES_TEXT.get(code) or ("", "")
    return f" — {vi} / {en}" if vi else ""


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else "có / yes" if value else "KHÔNG / NO"


REVOCATION_TEXT = {
    REVOCATION_GOOD: "chưa bị thu hồi / not revoked",
    REVOCATION_REVOKED: "ĐÃ BỊ THU HỒI / REVOKED",
    REVOCATION_UNKNOWN: "chưa xác định / not established",
}

DOCMDP_TEXT = {
    1: "P=1: không cho phép thay đổi / no changes allowed",
    2: "P=2: cho phép điền biểu mẫu và ký tiếp / form filling and signing allowed",
    3: "P=3: cho phép điền biểu mẫu, ký và chú thích / form filling, signing and annotations allowed",
}


def format_report(report: AdesReport) -> str:
    """A readable Vietnamese/English text, one block per signature (as :func:`signing.validate.format_report`)."""
    vi, en = INDICATION_TEXT.get(report.indication, (report.indication, report.indication))
    lines = [f"Kết quả / Result: {report.indication} ({vi} / {en})"]
    if report.sub_indication:
        lines.append(f"Chỉ báo phụ / Sub-indication: {report.sub_indication}{_text(report.sub_indication)}")
    lines.append(f"Thời điểm kiểm tra / Validation time: {_iso(report.validation_time)}")
    if report.revocation_fetching:
        lines.append("Thu hồi / Revocation: OCSP/CRL trực tuyến và DSS / OCSP/CRL online and the DSS")
    else:
        lines.append("Thu hồi / Revocation: chỉ dữ liệu trong tệp (DSS) / only data in the file (DSS)")
    lines.append(f"Số chữ ký / Signatures: {len(report.signatures)}")
    for number, r in enumerate(report.signatures, start=1):
        status = "ĐẠT / passed" if r.passed else "KHÔNG ĐẠT / not passed"
        kind = "Dấu thời gian tài liệu / Document timestamp" if r.kind == DOCUMENT_TIMESTAMP else "Chữ ký / Signature"
        level = f" [{r.level}]" if r.level else ""
        indication = r.indication + (f"/{r.sub_indication}" if r.sub_indication else "")
        lines += [
            "",
            f"{number}. {kind}{level}: ô / field “{r.field_name}” — {status} ({indication})",
            f"  {'TSA' if r.kind == DOCUMENT_TIMESTAMP else 'Người ký / Signer'}: {r.signer_subject or '?'}",
            f"  Chuỗi chứng thư / Chain: {' → '.join(r.chain) or '?'}",
            f"  Thời điểm ký / Signing time: {_iso(r.signing_time) or '?'}",
        ]
        if r.signature_timestamp:
            ts = r.signature_timestamp
            lines.append(f"  Dấu thời gian chữ ký / Signature timestamp: {_iso(ts.time)} ({ts.tsa_subject})")
        if r.content_timestamp:
            ts = r.content_timestamp
            lines.append(f"  Dấu thời gian nội dung / Content timestamp: {_iso(ts.time)} ({ts.tsa_subject})")
        if r.proven_time and r.kind == SIGNATURE:
            lines.append(f"  Tồn tại chậm nhất lúc / Proven to exist at: {_iso(r.proven_time)}")
        revoked = ""
        if r.revocation.revocation_date:
            revoked = f", {_iso(r.revocation.revocation_date)}" + (
                f", {r.revocation.reason}" if r.revocation.reason else ""
            )
        lines += [
            f"  Thu hồi / Revocation: {REVOCATION_TEXT.get(r.revocation.status, r.revocation.status)}{revoked}"
            f" (OCSP: {r.revocation.ocsp_responses}, CRL: {r.revocation.crls})",
            f"  Toàn vẹn / Intact: {_yes_no(r.intact)}",
            f"  Hợp lệ về mật mã / Cryptographically valid: {_yes_no(r.valid)}",
            f"  Tin cậy / Trusted: {_yes_no(r.trusted)}",
            f"  Phạm vi ký / Covers: {r.coverage}",
            f"  Thay đổi sau khi ký / Changes after signing: {r.modification_level}",
        ]
        if r.docmdp.certification or r.docmdp.permission:
            perm = DOCMDP_TEXT.get(r.docmdp.permission or 0, str(r.docmdp.permission))
            lines.append(f"  Chứng nhận (DocMDP) / Certification: {perm}; tuân thủ / respected: {_yes_no(r.docmdp.ok)}")
        if r.sub_indication:
            lines.append(f"  Vấn đề / Problem: {r.sub_indication}{_text(r.sub_indication)}")
            if r.message:
                lines.append(f"  Chi tiết / Detail: {r.message}")
    return "\n".join(lines) + "\n"
