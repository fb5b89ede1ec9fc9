"""Offline verification of a dossier's evidence package (*gói chứng cứ*, DESIGN §10): ``motcua evidence verify``.

An auditor, a court or an inspector checks the ZIP that :mod:`services.evidence` writes with nothing but this
module: no database, no settings, no server, no network. It imports nothing from ``motcua.app``, ``persistence``
or ``motcua.settings`` (a test checks it), only the pure audit rules (:mod:`dossiers.audit`) and the signature
checks (:mod:`signing.cms`, :mod:`signing.ades`), which never fetch anything here.

What is checked, one verdict per item:

* ``manifest.json`` is signed by the exporting agency's seal (``manifest.p7s``, detached CMS, timestamped when the
  agency has a TSA); every certificate that signature carries is one of the package's own (so a changed byte
  anywhere in ``manifest.p7s`` is seen);
* every file's SHA-256 matches the manifest, none is missing, none was added;
* every signed PDF: its signatures, validated as of the export time written in the signed manifest (point-in-time,
  with the revocation data in the package), and that the audit trail recorded exactly these bytes
  (``document.stored`` with the same SHA-256);
* every validation report equals a fresh validation of its PDF;
* the checkpoint statement is signed by the agency (and timestamped: the TSA and its time are printed);
* the dossier's audit entries chain, with the other entries' hashes only, up to the head hash the checkpoint signed.

Trust: the roots given with ``--trust``; without them, the roots inside the package — which proves only that the
package is consistent with itself, so the output says so and prints their SHA-256 fingerprints to compare with
an independent copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dossiers.audit import ChainProof, ProofStep, parse_checkpoint_statement, verify_proof
from dossiers.calendar import VN_TZ
from dossiers.errors import MotcuaError
from dossiers.ports import AuditEntry, AuditEvent
from signing.ades import report_to_dict, validate_ades
from signing.certs import common_name, der, subject_of, to_crypto
from signing.cms import CmsInvalid, agency_code_of, verify_detached

PACKAGE_TYPE = "motcua.evidence/1"
PROOF_TYPE = "motcua.audit.proof/1"

# ZIP layout
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.p7s"
README = "README.txt"
DOCUMENTS_DIR = "documents/"
REPORTS_DIR = "reports/"
PROOF = "audit/proof.json"
CHECKPOINT = "audit/checkpoint.json"
CHECKPOINT_STATEMENT = "audit/checkpoint.statement"
CHECKPOINT_SIGNATURE = "audit/checkpoint.p7s"
CERTIFICATES_DIR = "certificates/"
ROOTS_DIR = "certificates/roots/"
REVOCATION_DIR = "revocation/"
UNSIGNED = frozenset({MANIFEST, MANIFEST_SIGNATURE})  # the manifest lists every other file

TOTAL_PASSED = "TOTAL-PASSED"


@dataclass(frozen=True)
class Verdict:
    """One checked item: a file of the package (or a group of them) and what was found."""

    item: str
    ok: bool
    message: str


@dataclass
class PackageVerification:
    verdicts: list[Verdict] = field(default_factory=list)
    anchors: list[x509.Certificate] = field(default_factory=list)
    anchors_from_package: bool = False
    dossier_code: str | None = None
    exported_at: str | None = None
    exported_by: str | None = None
    agency: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v.ok for v in self.verdicts)

    def add(self, item: str, ok: bool, message: str) -> None:
        self.verdicts.append(Verdict(item, ok, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dossier_code": self.dossier_code,
            "exported_at": self.exported_at,
            "exported_by": self.exported_by,
            "agency": self.agency,
            "trust_anchors": {
                "source": "package" if self.anchors_from_package else "given",
                "certificates": [{"subject": subject_of(c), "sha256": fingerprint(c)} for c in self.anchors],
            },
            "items": [{"item": v.item, "ok": v.ok, "message": v.message} for v in self.verdicts],
        }


# ---------------------------------------------------------------------- helpers shared with the export


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``openssl x509 -noout -fingerprint -sha256`` prints it."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def names_agency(cert: x509.Certificate, agency_code: str) -> bool:
    """The certificate belongs to the agency: its subject's serialNumber is the agency code (the same rule as the
    audit checkpoints and the exchange use, :func:`signing.cms.agency_code_of`)."""
    return agency_code_of(cert) == agency_code


def timestamp_tokens(signed_data: cms.SignedData) -> list[cms.ContentInfo]:
    """The RFC 3161 signature timestamp tokens in the signer infos' unsigned attributes."""
    tokens: list[cms.ContentInfo] = []
    for signer_info in signed_data["signer_infos"]:
        attrs = signer_info["unsigned_attrs"]
        if attrs.native is None:
            continue
        for attr in attrs:
            if attr["type"].native == "signature_time_stamp_token":
                tokens.extend(attr["values"])
    return tokens


def cms_certificates(signed_data: cms.SignedData, *, with_tokens: bool = True) -> list[asn1_x509.Certificate]:
    """Every certificate a CMS ``SignedData`` carries, and (``with_tokens``) those of its timestamp tokens."""
    found = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
    if with_tokens:
        for token in timestamp_tokens(signed_data):
            found += cms_certificates(token["content"], with_tokens=False)
    return found


def cms_structure_problem(signature: bytes) -> str | None:
    """What is odd in a detached CMS signature outside what its signature covers, or None.

    A signature verifier ignores parts of the structure that nothing signs (the ``digestAlgorithms`` set, version
    numbers); a package must not change unnoticed, so those parts must be what the signature uses, in the signature
    and in its timestamp tokens."""
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            return "not a CMS SignedData"
        return _signed_data_problem(info["content"], detached=True)
    except Exception as exc:  # noqa: BLE001 - any parse error of untrusted DER
        return f"not a readable CMS signature ({type(exc).__name__})"


def _signed_data_problem(signed_data: cms.SignedData, *, detached: bool) -> str | None:
    signer_infos = list(signed_data["signer_infos"])
    if len(signer_infos) != 1:
        return f"{len(signer_infos)} signer infos instead of one"
    signer_info = signer_infos[0]
    used = {signer_info["digest_algorithm"]["algorithm"].dotted}
    declared = {algo["algorithm"].dotted for algo in signed_data["digest_algorithms"]}
    if declared != used:
        return "the declared digest algorithms are not the one the signature uses"
    content = signed_data["encap_content_info"]
    signer_version = 1 if signer_info["sid"].name == "issuer_and_serial_number" else 3
    data_version = 1 if signer_version == 1 and content["content_type"].native == "data" else 3
    versions = (signed_data["version"].native, signer_info["version"].native)
    if versions != (f"v{data_version}", f"v{signer_version}"):
        return f"unexpected CMS versions {versions}"
    if detached and (content["content_type"].native != "data" or content["content"].native is not None):
        return "not a detached signature over data"
    if detached and signed_data["crls"].native:
        return "carries revocation lists"
    attrs = signer_info["unsigned_attrs"]
    for attr in attrs if attrs.native is not None else ():
        if attr["type"].native != "signature_time_stamp_token":
            return f"an unexpected unsigned attribute ({attr['type'].dotted})"
        for token in attr["values"]:
            if token["content_type"].native != "signed_data":
                return "a timestamp token that is not a CMS SignedData"
            problem = _signed_data_problem(token["content"], detached=False)
            if problem:
                return "timestamp token: " + problem
    return None


def token_signer(token: cms.ContentInfo) -> x509.Certificate | None:
    """The TSA certificate of a timestamp token (matched by issuer and serial number, else by key identifier)."""
    signed_data = token["content"]
    certs = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
    for signer_info in signed_data["signer_infos"]:
        sid = signer_info["sid"]
        for cert in certs:
            if sid.name == "issuer_and_serial_number":
                wanted = sid.chosen
                if cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native:
                    return to_crypto(cert)
            elif cert.key_identifier == sid.chosen.native:
                return to_crypto(cert)
    return None


def pem_certificates(data: bytes) -> list[x509.Certificate]:
    return list(x509.load_pem_x509_certificates(data))


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def entry_to_json(entry: AuditEntry) -> dict[str, Any]:
    """A full audit entry as the proof carries it (time in UTC, as the chain hashes it)."""
    return {
        "seq": entry.seq,
        "kind": entry.event.kind,
        "actor": entry.event.actor,
        "at": entry.event.at.astimezone(dt.UTC).isoformat(),
        "dossier_code": entry.event.dossier_code,
        "details": dict(entry.event.details),
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def proof_to_json(proof: ChainProof) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for step in proof.steps:
        item: dict[str, Any] = {"seq": step.seq, "inner_hash": step.inner_hash}
        if step.entry is not None:
            item["entry"] = entry_to_json(step.entry)
        steps.append(item)
    return {
        "type": PROOF_TYPE,
        "dossier_code": proof.dossier_code,
        "start_prev_hash": proof.start_prev_hash,
        "checkpoint_seq": proof.checkpoint_seq,
        "steps": steps,
    }


def proof_from_json(body: Any) -> ChainProof:
    """ValueError when ``body`` is not a proof as :func:`proof_to_json` writes it."""
    if not isinstance(body, dict) or body.get("type") != PROOF_TYPE:
        raise ValueError("not an audit proof")
    steps = []
    for raw in body["steps"]:
        entry = None
        if raw.get("entry") is not None:
            e = raw["entry"]
            event = AuditEvent(
                kind=str(e["kind"]),
                actor=str(e["actor"]),
                at=dt.datetime.fromisoformat(str(e["at"])),
                dossier_code=e["dossier_code"],
                details=dict(e["details"]),
            )
            entry = AuditEntry(
                seq=int(e["seq"]), event=event, prev_hash=str(e["prev_hash"]), entry_hash=str(e["entry_hash"])
            )
            if entry.seq != int(raw["seq"]):
                raise ValueError(f"step {raw['seq']} carries entry {entry.seq}")
        steps.append(ProofStep(int(raw["seq"]), str(raw["inner_hash"]), entry))
    return ChainProof(
        str(body["dossier_code"]), str(body["start_prev_hash"]), tuple(steps), int(body["checkpoint_seq"])
    )


def _cn_of_subject(subject: str) -> str:
    found = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)+)", subject or "")
    return found.group(1).replace("\\", "") if found else (subject or "?")


def _time_text(moment: dt.datetime | None) -> str:
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds") if moment is not None else "?"


# ---------------------------------------------------------------------- verification


class _Package:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def certificates(self) -> list[x509.Certificate]:
        found: list[x509.Certificate] = []
        for name, data in sorted(self.files.items()):
            if name.startswith(CERTIFICATES_DIR) and name.endswith(".pem"):
                try:
                    found += pem_certificates(data)
                except ValueError:
                    continue
        return found

    def roots(self) -> list[x509.Certificate]:
        found: list[x509.Certificate] = []
        for name, data in sorted(self.files.items()):
            if name.startswith(ROOTS_DIR) and name.endswith(".pem"):
                try:
                    found += pem_certificates(data)
                except ValueError:
                    continue
        return found

    def crls(self) -> list[bytes]:
        return [data for name, data in sorted(self.files.items()) if name.startswith(REVOCATION_DIR)]


def verify_package(data: bytes, trust_roots: Sequence[x509.Certificate] | None = None) -> PackageVerification:
    """Check an evidence package offline; ``trust_roots`` None means: the package's own roots (said in the result)."""
    result = PackageVerification()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        result.add("package", False, f"not a readable ZIP archive ({exc})")
        return result
    files: dict[str, bytes] = {}
    with archive:
        names = archive.namelist()
        seen: set[str] = set()
        for name in names:
            if name in seen:
                result.add(name, False, "appears twice in the archive (a second copy was added)")
                continue
            seen.add(name)
            try:
                files[name] = archive.read(name)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                result.add(name, False, f"cannot be read from the archive (damaged: {exc})")
    package = _Package(files)

    if trust_roots is None:
        result.anchors = package.roots()
        result.anchors_from_package = True
    else:
        result.anchors = list(trust_roots)
    crls = package.crls()

    manifest = _check_manifest(result, files)
    try:
        _check_manifest_signature(result, package, manifest, crls)
        if manifest is None:
            return result
        _check_files(result, files, manifest)
        checkpoint = _check_checkpoint(result, files, manifest, crls)
        entries = _check_proof(result, files, manifest, checkpoint)
        _check_documents(result, files, manifest, crls, entries)
    except Exception as exc:  # noqa: BLE001 - whatever a crafted package does, the answer is a failed check
        result.add("package", False, f"cannot be checked to the end ({type(exc).__name__}: {exc})")
    return result


def _check_manifest(result: PackageVerification, files: Mapping[str, bytes]) -> dict[str, Any] | None:
    raw = files.get(MANIFEST)
    if raw is None:
        result.add(MANIFEST, False, "missing: the package has no manifest")
        return None
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or manifest.get("type") != PACKAGE_TYPE:
            raise ValueError(f"not an evidence package manifest ({PACKAGE_TYPE})")
        for key in ("dossier_code", "exported_at", "agency", "checkpoint_seq", "files", "documents"):
            if key not in manifest:
                raise ValueError(f"no '{key}'")
        moment = dt.datetime.fromisoformat(str(manifest["exported_at"]))
        if moment.tzinfo is None:
            raise ValueError("the export time has no time zone")
        for key in ("files", "documents"):
            if not isinstance(manifest[key], list) or not all(isinstance(item, dict) for item in manifest[key]):
                raise ValueError(f"'{key}' is not a list of objects")
    except ValueError as exc:
        result.add(MANIFEST, False, f"not a readable manifest: {exc}")
        return None
    result.dossier_code = str(manifest["dossier_code"])
    result.exported_at = str(manifest["exported_at"])
    result.exported_by = str(manifest.get("exported_by") or "")
    result.agency = str(manifest["agency"])
    result.add(
        MANIFEST,
        True,
        f"dossier {manifest['dossier_code']}, {len(manifest['files'])} files listed, exported at "
        f"{manifest['exported_at']} by {manifest.get('exported_by') or '?'} for agency {manifest['agency']}",
    )
    return manifest


def _signature_check(
    statement: bytes,
    signature: bytes,
    anchors: list[x509.Certificate],
    crls: list[bytes],
    agency: str | None,
) -> tuple[bool, str, Any]:
    """(ok, text, CmsReport or None) for a detached CMS signature by ``agency``'s seal, timestamp included."""
    problem = cms_structure_problem(signature)
    if problem is not None:
        return False, f"the signature is malformed: {problem}", None
    tokens = timestamp_tokens(cms.ContentInfo.load(signature)["content"])
    if not anchors:
        return False, "no trust anchors: nothing to check the signature against", None
    try:
        report = verify_detached(statement, signature, anchors, crls=crls)
    except CmsInvalid as exc:
        return False, f"the signature does not hold: {exc}", None
    except Exception as exc:  # noqa: BLE001 - a malformed certificate inside untrusted DER, for one
        return False, f"the signature cannot be checked ({type(exc).__name__}: {exc})", None
    signer = report.signer_certificate
    who = f"{common_name(signer, subject_of(signer))}"
    if agency is not None:
        if not names_agency(signer, agency):
            return False, f"signed by {subject_of(signer)}, which is not a certificate of agency {agency}", report
        who += f" ({agency})"
    text = f"signed by {who}"
    if report.signing_time is not None:
        text += f" at {_time_text(report.signing_time)}"
    if tokens:
        tsa = token_signer(tokens[0])
        tsa_name = common_name(tsa, subject_of(tsa)) if tsa is not None else "?"
        if not report.timestamp_valid:
            return False, text + f"; the timestamp by {tsa_name} does NOT verify", report
        text += f"; timestamp by {tsa_name} at {_time_text(report.timestamp_time)} valid"
    else:
        text += "; not timestamped"
    return True, text, report


def _check_manifest_signature(
    result: PackageVerification, package: _Package, manifest: Mapping[str, Any] | None, crls: list[bytes]
) -> None:
    raw = package.files.get(MANIFEST)
    signature = package.files.get(MANIFEST_SIGNATURE)
    if signature is None:
        result.add(MANIFEST_SIGNATURE, False, "missing: the manifest is not signed")
        return
    if raw is None:
        result.add(MANIFEST_SIGNATURE, False, "nothing to check: manifest.json is missing")
        return
    agency = str(manifest["agency"]) if manifest is not None else None
    ok, text, _ = _signature_check(raw, signature, result.anchors, crls, agency)
    if ok:
        # every certificate the signature carries must be one the manifest lists (a changed byte in one of them
        # would otherwise go unnoticed when the chain is built from the trust anchors instead)
        known = {der(c) for c in package.certificates()}
        try:
            carried = cms_certificates(cms.ContentInfo.load(signature)["content"])
        except Exception:  # noqa: BLE001
            carried = []
        foreign = [c for c in carried if c.dump() not in known]
        if foreign:
            names = ", ".join(subject_of(to_crypto(c)) for c in foreign)
            result.add(MANIFEST_SIGNATURE, False, f"carries certificates that are not in the package: {names}")
            return
        result.add(MANIFEST_SIGNATURE, True, f"{MANIFEST} {text}")
    else:
        result.add(MANIFEST_SIGNATURE, False, f"the signature over {MANIFEST} fails: {text}")


def _check_files(result: PackageVerification, files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> None:
    listed: dict[str, str] = {}
    problems = 0
    for item in manifest["files"]:
        try:
            path, digest = str(item["path"]), str(item["sha256"])
        except (KeyError, TypeError):
            result.add(MANIFEST, False, f"a file entry is malformed: {item!r}")
            problems += 1
            continue
        listed[path] = digest
        if path not in files:
            result.add(path, False, "listed in the manifest but missing from the package")
            problems += 1
        elif sha256_hex(files[path]) != digest:
            result.add(path, False, "changed: its SHA-256 does not match the manifest")
            problems += 1
    for path in sorted(files):
        if path not in listed and path not in UNSIGNED:
            result.add(path, False, "extra file: not listed in the manifest")
            problems += 1
    if not problems:
        result.add(
            "files", True, f"all {len(listed)} files match their SHA-256 in the manifest; none missing, none extra"
        )


@dataclass(frozen=True)
class _Checkpoint:
    agency: str
    seq: int
    head_hash: str
    at: dt.datetime


def _check_checkpoint(
    result: PackageVerification, files: Mapping[str, bytes], manifest: Mapping[str, Any], crls: list[bytes]
) -> _Checkpoint | None:
    statement = files.get(CHECKPOINT_STATEMENT)
    signature = files.get(CHECKPOINT_SIGNATURE)
    if statement is None or signature is None:
        missing = CHECKPOINT_STATEMENT if statement is None else CHECKPOINT_SIGNATURE
        result.add(missing, False, "missing: no signed checkpoint of the audit log")
        return None
    try:
        agency, seq, head, at = parse_checkpoint_statement(statement)
    except (ValueError, KeyError, TypeError) as exc:
        result.add(CHECKPOINT_STATEMENT, False, f"not a readable checkpoint statement: {exc}")
        return None
    checkpoint = _Checkpoint(agency, seq, head, at)
    problems: list[str] = []
    if seq != manifest.get("checkpoint_seq"):
        problems.append(f"the manifest names checkpoint {manifest.get('checkpoint_seq')}, the statement {seq}")
    described: dict[str, Any] = {}
    try:
        described = json.loads(files.get(CHECKPOINT, b"{}"))
        if not isinstance(described, dict):
            raise ValueError("not an object")
    except ValueError:
        described = {}
        problems.append(f"{CHECKPOINT} is not a readable description of the checkpoint")
    if described and (described.get("seq"), described.get("head_hash"), described.get("agency")) != (seq, head, agency):
        problems.append(f"{CHECKPOINT} does not describe the signed statement")
    ok, text, report = _signature_check(statement, signature, result.anchors, crls, agency)
    if ok and described.get("timestamped") and report is not None and report.timestamp_time is None:
        ok, text = False, text + f", but {CHECKPOINT} says it was timestamped"
    if not ok:
        result.add(CHECKPOINT_SIGNATURE, False, f"checkpoint of the audit log at entry {seq}: {text}")
        return None
    if problems:
        result.add(CHECKPOINT, False, "; ".join(problems))
        return None
    result.add(
        CHECKPOINT_SIGNATURE,
        True,
        f"checkpoint of the audit log at entry {seq} (head {head[:16]}…, {_time_text(at)}) {text}",
    )
    return checkpoint


def _check_proof(
    result: PackageVerification, files: Mapping[str, bytes], manifest: Mapping[str, Any], checkpoint: _Checkpoint | None
) -> list[AuditEntry] | None:
    raw = files.get(PROOF)
    if raw is None:
        result.add(PROOF, False, "missing: no audit entries")
        return None
    try:
        proof = proof_from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        result.add(PROOF, False, f"not a readable audit proof: {exc}")
        return None
    entries = [s.entry for s in proof.steps if s.entry is not None]
    if proof.dossier_code != manifest["dossier_code"]:
        result.add(PROOF, False, f"the proof is for dossier {proof.dossier_code}, not {manifest['dossier_code']}")
        return None
    if checkpoint is None:
        result.add(PROOF, False, "cannot be checked without a valid signed checkpoint")
        return None
    if proof.checkpoint_seq != checkpoint.seq:
        result.add(
            PROOF, False, f"the proof ends at checkpoint {proof.checkpoint_seq}, the signed one is {checkpoint.seq}"
        )
        return None
    if not entries:
        result.add(PROOF, False, "the proof holds no entry of the dossier")
        return None
    broken = verify_proof(proof, checkpoint.head_hash)
    if broken is not None:
        result.add(PROOF, False, f"the chain does not hold: {broken}")
        return None
    others = len(proof.steps) - len(entries)
    result.add(
        PROOF,
        True,
        f"{len(entries)} entries of dossier {proof.dossier_code} (seq {entries[0].seq}–{entries[-1].seq}) chain up to "
        f"the checkpoint at seq {proof.checkpoint_seq}; {others} entries of others appear as hashes only",
    )
    return entries


def _stored_in(entries: Iterable[AuditEntry], document_id: str, digest: str) -> int | None:
    for entry in entries:
        details = entry.event.details
        if (
            entry.event.kind == "document.stored"
            and details.get("document_id") == document_id
            and details.get("sha256") == digest
        ):
            return entry.seq
    return None


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _differences(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [path or "(whole report)"]


def _check_documents(
    result: PackageVerification,
    files: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    crls: list[bytes],
    entries: list[AuditEntry] | None,
) -> None:
    moment = dt.datetime.fromisoformat(str(manifest["exported_at"]))
    for doc in manifest["documents"]:
        path, report_path = str(doc.get("path")), str(doc.get("report"))
        pdf = files.get(path)
        if pdf is None:
            result.add(path, False, "missing: the signed document is not in the package")
            continue
        try:
            fresh = report_to_dict(validate_ades(pdf, result.anchors, allow_fetching=False, moment=moment, crls=crls))
        except MotcuaError as exc:
            result.add(path, False, f"not a readable PDF: {exc.message_en}")
            result.add(report_path, False, "cannot be compared: its PDF cannot be validated")
            continue
        signatures = fresh.get("signatures") or []
        parts = []
        for sig in signatures if isinstance(signatures, list) else []:
            assert isinstance(sig, dict)
            state = "valid" if sig.get("passed") else f"INVALID ({sig.get('indication')}/{sig.get('sub_indication')})"
            who = "TSA " if sig.get("kind") == "document-timestamp" else ""
            parts.append(f"{sig.get('field_name')}: {who}{_cn_of_subject(str(sig.get('signer_subject')))} — {state}")
        passed = fresh.get("indication") == TOTAL_PASSED
        text = f"{len(parts)} signature(s): " + "; ".join(parts) if parts else "no signature"
        text += f" — {fresh.get('indication')}" + (
            f"/{fresh.get('sub_indication')}" if fresh.get("sub_indication") else ""
        )
        text += f" (as of {manifest['exported_at']})"
        recorded = _stored_in(entries or [], str(doc.get("id")), sha256_hex(pdf))
        if recorded is None:
            passed = False
            text += "; NOT recorded with these bytes in the audit entries" + ("" if entries else " (no valid proof)")
        else:
            text += f"; recorded in audit entry {recorded}"
        result.add(path, passed, text)

        raw = files.get(report_path)
        if raw is None:
            result.add(report_path, False, "missing: no validation report for " + path)
            continue
        try:
            stored = json.loads(raw)["report"]
        except (ValueError, KeyError, TypeError) as exc:
            result.add(report_path, False, f"not a readable validation report: {exc}")
            continue
        differ = _differences(stored, fresh)
        if differ:
            shown = ", ".join(differ[:5]) + (" …" if len(differ) > 5 else "")
            result.add(report_path, False, f"does not match a fresh validation of {path}: {shown} differ")
        else:
            result.add(report_path, True, f"matches a fresh validation of {path} ({fresh.get('indication')})")


# ---------------------------------------------------------------------- output and the command


def format_verification(result: PackageVerification, source: str) -> str:
    lines = [f"Gói chứng cứ / Evidence package: {source}"]
    if result.dossier_code:
        lines.append(
            f"Hồ sơ / Dossier: {result.dossier_code} — exported at {result.exported_at} by {result.exported_by or '?'}"
            f" (agency {result.agency})"
        )
    if result.anchors_from_package:
        lines.append(
            "CẢNH BÁO / WARNING: trust anchors taken from the package itself: compare their fingerprints below with "
            "your own copy of these roots (or give them with --trust ROOT.pem). / Chứng thư gốc lấy từ chính gói: "
            "hãy so dấu vân tay với bản bạn giữ."
        )
    else:
        lines.append("Chứng thư gốc tin cậy / Trust anchors: given with --trust")
    for cert in result.anchors:
        lines.append(f"  SHA-256 {fingerprint(cert)}  {subject_of(cert)}")
    if not result.anchors:
        lines.append("  (none)")
    for verdict in result.verdicts:
        mark = "[ĐẠT / OK]  " if verdict.ok else "[LỖI / FAIL]"
        lines.append(f"{mark} {verdict.item}: {verdict.message}")
    failed = sum(not v.ok for v in result.verdicts)
    if result.ok:
        lines.append(f"KẾT LUẬN / VERDICT: ĐẠT / PASSED — all {len(result.verdicts)} checks hold")
    else:
        lines.append(f"KẾT LUẬN / VERDICT: KHÔNG ĐẠT / FAILED — {failed} of {len(result.verdicts)} checks failed")
    return "\n".join(lines)


def load_trust(paths: Sequence[Path]) -> list[x509.Certificate]:
    """The PEM roots an auditor gives; ValueError naming the file that cannot be read."""
    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            roots += pem_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read trusted root '{path}': {exc}") from exc
    return roots


def main(
    package: Path, trust: Sequence[Path] = (), *, as_json: bool = False, echo: Callable[[str], Any] = print
) -> int:
    """What ``motcua evidence verify`` does: 0 when every check holds, 1 when one fails, 2 on bad input."""
    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        roots = load_trust(trust) if trust else None
        data = Path(package).read_bytes()
    except (OSError, ValueError) as exc:
        echo(f"lỗi / error: {exc}")
        return 2
    result = verify_package(data, roots)
    if as_json:
        echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        echo(format_verification(result, str(package)))
    return 0 if result.ok else 1
