"""Evidence packages (DESIGN §10): an auditor exports a dossier's signed PDFs, their validation reports, its audit
entries with the chain proof up to a signed checkpoint and the certificates, and verifies the ZIP offline.

One module-scoped installation drives two dossiers of different applicants to signed results (their audit
entries interleave) and exports the first one's package once; the tests verify it with the real command in a
subprocess that has no settings, no database and an empty home; look for the second dossier's personal data in
every file; change, remove and add files one by one; and download it from the auditor's desk. A second
installation with the live certomancer TSA checks that the checkpoint and the manifest are timestamped.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import update
from typer.testing import CliRunner

from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from motcua.app import Runtime, build_runtime, init_state
from motcua.cli import app as cli
from motcua.settings import Settings
from persistence.schema import dossier
from persistence.uow import transaction
from services.evidence import export_evidence
from services.evidence_verify import PackageVerification, fingerprint, verify_package
from signing.certs import to_crypto
from tests.conftest import HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, MONDAY_MORNING, Api
from tests.integration.certomancer_pki import TSA_NAME, LivePki
from tests.web import log_in

AUDITOR = "thanhtra.tinh"
# the second applicant: nothing of this may appear in the first dossier's package
OTHER = {
    "name": "Hoàng Thị Bích Ngọc",
    "id_number": "079185004321",
    "phone": "0912345678",
    "email": "bich.ngoc.hoang@example.vn",
    "address": "Số 12 đường Lê Lợi, phường Bến Thành",
    "business": "Quán cà phê Sông Hàn",
}


@dataclass
class Installation:
    runtime: Runtime
    api: Api
    code: str  # the exported dossier
    other: str  # the second applicant's dossier
    package: bytes
    path: Path


def _start(settings: Settings, clock: SimulatedClock) -> Runtime:
    init_state(settings)
    runtime = build_runtime(settings, clock=clock)
    runtime.engine.deploy()
    return runtime


def _submit(api: Api, **fields: Any) -> str:
    r = api.submit(**fields)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _approve(api: Api, code: str) -> None:
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    root = tmp_path_factory.mktemp("evidence")
    runtime = _start(Settings(var_dir=root / "var", max_upload_mb=2, demo_clock=True), SimulatedClock(MONDAY_MORNING))
    try:
        api = Api(runtime)
        code = _submit(api)
        details = HOUSEHOLD_DETAILS | {"business_name": OTHER["business"], "owner_address": OTHER["address"]}
        other = _submit(
            api,
            applicant_name=OTHER["name"],
            applicant_id_number=OTHER["id_number"],
            applicant_phone=OTHER["phone"],
            details=json.dumps(details, ensure_ascii=False),
        )
        with transaction(runtime.db) as conn:
            conn.execute(update(dossier).where(dossier.c.code == other).values(applicant_email=OTHER["email"]))
        api.work()
        for c in (code, other):  # the two dossiers' entries interleave in the log
            _approve(api, c)
        api.issue_result(code)
        api.issue_result(other)
        package = export_evidence(runtime, code, AUDITOR, channel="test")
        path = root / "package.zip"
        path.write_bytes(package.data)
        yield Installation(runtime, api, code, other, package.data, path)
    finally:
        runtime.close()


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes], extra: list[tuple[str, bytes]] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*files.items(), *(extra or [])]:
            archive.writestr(name, data)
    return out.getvalue()


def _failures(result: PackageVerification) -> str:
    return "\n".join(f"{v.item}: {v.message}" for v in result.verdicts if not v.ok)


def _pdfs(files: dict[str, bytes]) -> list[str]:
    return sorted(name for name in files if name.startswith("documents/"))


# ---------------------------------------------------------------------- what the package holds


def test_the_package_holds_the_signed_documents_reports_proof_checkpoint_and_certificates(
    installation: Installation,
) -> None:
    files = _files(installation.package)
    manifest = json.loads(files["manifest.json"])
    assert manifest["dossier_code"] == installation.code and manifest["exported_by"] == AUDITOR
    kinds = sorted(d["kind"] for d in manifest["documents"])
    assert kinds == ["receipt", "result", "result_draft"]  # the signed ones; the applicant's uploads stay out
    for doc in manifest["documents"]:
        report = json.loads(files[doc["report"]])["report"]
        assert report["indication"] == "TOTAL-PASSED", report
    for name in ("manifest.p7s", "README.txt", "audit/proof.json", "audit/checkpoint.json"):
        assert name in files
    assert any(name.startswith("certificates/roots/") for name in files)
    assert {f["path"] for f in manifest["files"]} == set(files) - {"manifest.json", "manifest.p7s"}
    readme = files["README.txt"].decode()
    assert "motcua evidence verify" in readme and "GÓI CHỨNG CỨ" in readme

    # the export was recorded (Decree 13: a read of personal data) before the checkpoint, so the proof shows it
    exports = [
        e for e in installation.runtime.audit.for_dossier(installation.code) if e.event.kind == "evidence.exported"
    ]
    assert exports and exports[0].event.actor == AUDITOR
    proof = json.loads(files["audit/proof.json"])
    assert proof["steps"][-1]["seq"] == manifest["checkpoint_seq"] >= exports[0].seq
    assert any(s.get("entry", {}).get("kind") == "evidence.exported" for s in proof["steps"])


def test_the_package_holds_no_other_dossiers_personal_data(installation: Installation) -> None:
    files = _files(installation.package)
    needles = [installation.other, *OTHER.values()]
    for name, data in files.items():
        for needle in needles:
            for encoded in (needle.encode(), needle.encode("utf-16-be")):
                assert encoded not in data, (needle, name)
    # the other dossier's entries on the proof's path are there, as inner hashes only
    proof = json.loads(files["audit/proof.json"])
    theirs = {e.seq for e in installation.runtime.audit.for_dossier(installation.other)}
    on_path = [s for s in proof["steps"] if s["seq"] in theirs]
    assert on_path and all("entry" not in s for s in on_path)
    assert all(s["entry"]["dossier_code"] == installation.code for s in proof["steps"] if "entry" in s)


# ---------------------------------------------------------------------- offline verification


def test_the_command_verifies_the_package_offline(installation: Installation, tmp_path: Path) -> None:
    """A subprocess without any MOTCUA_* setting, in an empty directory with an empty home: no database to open."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")} | {"HOME": str(home)}
    motcua = Path(sys.executable).parent / "motcua"
    run = subprocess.run(  # noqa: S603 - our own command
        [str(motcua), "evidence", "verify", str(installation.path)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    files = _files(installation.package)
    manifest = json.loads(files["manifest.json"])
    for item in ("manifest.json", "manifest.p7s", "files", "audit/proof.json", "audit/checkpoint.p7s"):
        assert f"[ĐẠT / OK]   {item}:" in out, (item, out)
    for doc in manifest["documents"]:
        assert f"[ĐẠT / OK]   {doc['path']}:" in out and f"[ĐẠT / OK]   {doc['report']}:" in out
    assert "Phạm Văn Hùng — valid" in out and "Ủy ban nhân dân xã Hòa An — valid" in out  # signer names
    assert "matches a fresh validation" in out
    assert f"chain up to the checkpoint at seq {manifest['checkpoint_seq']}" in out
    assert "signed by Ủy ban nhân dân tỉnh Demo (000.00.00.H99)" in out and "not timestamped" in out
    assert "KẾT LUẬN / VERDICT: ĐẠT / PASSED" in out
    # no --trust: the package's own roots, and the command says so with their fingerprints
    assert "trust anchors taken from the package itself" in out
    for root in installation.runtime.pki.trust_roots():
        assert fingerprint(root) in out
    # nothing was created where it ran: no var/, no database
    assert list(work.iterdir()) == [] and list(home.iterdir()) == []

    # the verifier imports nothing that opens a database or reads settings
    probe = (
        "import sys, services.evidence_verify; "
        "bad = [m for m in sys.modules if m in ('motcua.app', 'persistence.schema', 'motcua.settings')"
        " or m == 'sqlalchemy']; "
        "assert not bad, bad"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert run.returncode == 0, run.stderr


def test_trust_given_with_trust_replaces_the_packages_roots(installation: Installation, tmp_path: Path) -> None:
    root = installation.runtime.pki.root_cert_path
    run = CliRunner().invoke(cli, ["evidence", "verify", str(installation.path), "--trust", str(root)])
    assert run.exit_code == 0, run.output
    assert "given with --trust" in run.output and "taken from the package itself" not in run.output

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(_self_signed_root("Một gốc khác"))
    run = CliRunner().invoke(cli, ["evidence", "verify", str(installation.path), "--trust", str(stranger), "--json"])
    assert run.exit_code == 1, run.output
    body = json.loads(run.output)
    failed = {i["item"] for i in body["items"] if not i["ok"]}
    assert {"manifest.p7s", "audit/checkpoint.p7s"} <= failed


def _self_signed_root(name: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


# ---------------------------------------------------------------------- tampering


def _flip(data: bytes, offset: int | None = None) -> bytes:
    changed = bytearray(data)
    changed[len(data) // 2 if offset is None else offset] ^= 0x01
    return bytes(changed)


def _incremental_update(pdf: bytes) -> bytes:
    """An appended revision that adds a page-level annotation: nothing in the signed bytes changes."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (10, 10, 30, 30)]),
            generic.NameObject("/Contents"): generic.TextStringObject("đã sửa"),
        }
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_one_changed_byte_in_any_file_fails_and_names_the_file(installation: Installation) -> None:
    files = _files(installation.package)
    assert verify_package(installation.package).ok
    for name in files:
        result = verify_package(_zip(files | {name: _flip(files[name])}))
        assert not result.ok, name
        assert name in _failures(result), (name, _failures(result))
    # the signature files: the start, the middle and the end of the DER all matter
    for name in ("manifest.p7s", "audit/checkpoint.p7s"):
        for offset in (40, len(files[name]) // 3, len(files[name]) - 3):
            result = verify_package(_zip(files | {name: _flip(files[name], offset)}))
            assert not result.ok and name in _failures(result), (name, offset)


def test_changed_pdfs_fail_inside_the_signed_range_and_with_an_appended_revision(installation: Installation) -> None:
    files = _files(installation.package)
    for name in _pdfs(files):
        pdf = files[name]
        inside = _flip(pdf, pdf.index(b"/MediaBox") + 2)
        result = verify_package(_zip(files | {name: inside}))
        failures = _failures(result)
        assert not result.ok and f"{name}: changed" in failures, failures
        assert f"{name}: " in failures and "INVALID" in failures  # the signature itself breaks too

        appended = _incremental_update(pdf)
        result = verify_package(_zip(files | {name: appended}))
        failures = _failures(result)
        assert not result.ok and f"{name}: changed" in failures, failures
        assert "NOT recorded with these bytes in the audit entries" in failures


def test_a_changed_manifest_that_matches_a_changed_file_still_fails(installation: Installation) -> None:
    files = _files(installation.package)
    name = _pdfs(files)[0]
    appended = _incremental_update(files[name])
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        if item["path"] == name:
            import hashlib

            item["sha256"] = hashlib.sha256(appended).hexdigest()
    forged = (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    result = verify_package(_zip(files | {name: appended, "manifest.json": forged}))
    assert not result.ok
    assert "manifest.p7s: the signature over manifest.json fails" in _failures(result)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_removed_or_added_file_fails(installation: Installation) -> None:
    files = _files(installation.package)
    for name in files:
        result = verify_package(_zip({k: v for k, v in files.items() if k != name}))
        assert not result.ok and name in _failures(result), name
    result = verify_package(_zip(files | {"documents/extra.pdf": files[_pdfs(files)[0]]}))
    assert not result.ok and "documents/extra.pdf: extra file" in _failures(result)
    result = verify_package(_zip(files, extra=[("audit/proof.json", files["audit/proof.json"])]))
    assert not result.ok and "audit/proof.json: appears twice" in _failures(result)
    assert not verify_package(b"not a zip").ok

    # the command: exit 1, naming the file
    run = CliRunner().invoke(
        cli, ["evidence", "verify", str(_write(installation.path.with_name("extra.zip"), files, "x.txt"))]
    )
    assert run.exit_code == 1 and "x.txt: extra file" in run.output and "KHÔNG ĐẠT / FAILED" in run.output


def _write(path: Path, files: dict[str, bytes], extra: str) -> Path:
    path.write_bytes(_zip(files, extra=[(extra, b"added")]))
    return path


# ---------------------------------------------------------------------- export by the command, by the desk, by the API


def test_the_export_command_writes_a_package_recorded_for_the_auditor(
    installation: Installation, tmp_path: Path
) -> None:
    env = {"MOTCUA_VAR_DIR": str(installation.runtime.settings.var_dir), "MOTCUA_DEMO_CLOCK": "true"}
    out = tmp_path / "cli.zip"
    run = CliRunner().invoke(
        cli, ["evidence", "export", installation.code, "--output", str(out), "--as", AUDITOR], env=env
    )
    assert run.exit_code == 0, run.output
    assert "3 signed document(s)" in run.output
    result = verify_package(out.read_bytes())
    assert result.ok, _failures(result)
    exported = [
        e for e in installation.runtime.audit.for_dossier(installation.code) if e.event.kind == "evidence.exported"
    ]
    assert exported[-1].event.actor == AUDITOR and exported[-1].event.details["channel"] == "cli"

    run = CliRunner().invoke(
        cli, ["evidence", "export", installation.code, "-o", str(out), "--as", "tiepnhan.xa1"], env=env
    )
    assert run.exit_code == 2 and "not an auditor" in run.output
    run = CliRunner().invoke(cli, ["evidence", "export", "000.00.31.H99-260302-9999", "-o", str(out)], env=env)
    assert run.exit_code == 2, run.output


def _browser(runtime: Runtime, username: str) -> TestClient:
    from api.app import create_app

    client = TestClient(create_app(runtime).state.asgi, base_url="https://testserver", follow_redirects=False)
    assert log_in(client, username).status_code == 303
    return client


def test_the_auditors_desk_offers_the_package_and_only_auditors_get_it(installation: Installation) -> None:
    runtime, code = installation.runtime, installation.code
    link = f"/thanh-tra/ho-so/{code}/goi-chung-cu.zip"
    auditor = _browser(runtime, AUDITOR)
    trail = auditor.get(f"/thanh-tra/ho-so/{code}")
    assert trail.status_code == 200 and "Tải gói chứng cứ" in trail.text and link in trail.text

    before = len([e for e in runtime.audit.for_dossier(code) if e.event.kind == "evidence.exported"])
    r = auditor.get(link)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert (
        "attachment" in r.headers["content-disposition"]
        and f"{code}-goi-chung-cu.zip" in r.headers["content-disposition"]
    )
    result = verify_package(r.content)
    assert result.ok, _failures(result)
    exported = [e for e in runtime.audit.for_dossier(code) if e.event.kind == "evidence.exported"]
    assert len(exported) == before + 1
    assert exported[-1].event.actor == AUDITOR and exported[-1].event.details["channel"] == "browser"

    admin = _browser(runtime, "quantri.tinh")  # reads the trail, but the package is the auditors'
    assert link not in admin.get(f"/thanh-tra/ho-so/{code}").text
    assert admin.get(link).status_code == 403
    assert _browser(runtime, "tiepnhan.xa1").get(link).status_code == 403
    assert auditor.get("/thanh-tra/ho-so/000.00.31.H99-260302-9999/goi-chung-cu.zip").status_code == 404

    # the same over the API, with a bearer token
    api = installation.api
    r = api.get(f"/api/dossiers/{code}/evidence", AUDITOR)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert verify_package(r.content).ok
    assert api.get(f"/api/dossiers/{code}/evidence", "tiepnhan.xa1").status_code == 403
    assert api.get(f"/api/dossiers/{code}/evidence", "quantri.tinh").status_code == 403
    assert installation.api.client.get(f"/api/dossiers/{code}/evidence").status_code == 401
    kinds = [
        e.event.details.get("channel") for e in runtime.audit.for_dossier(code) if e.event.kind == "evidence.exported"
    ]
    assert kinds[-1] == "api"


# ---------------------------------------------------------------------- with a live TSA


def test_with_a_tsa_the_checkpoint_and_the_manifest_are_timestamped(live_pki: LivePki, tmp_path: Path) -> None:
    tsa_root = live_pki.pem_file("root.pem", "root")
    settings = Settings(
        var_dir=tmp_path / "var",
        demo_clock=True,
        tsa_url=live_pki.tsa_url,
        trust_roots=str(tsa_root),
        verify_allow_fetching=True,  # the export fetches the TSA's CRL so the package validates offline
    )
    clock = SimulatedClock(dt.datetime.now(VN_TZ))
    runtime = _start(settings, clock)
    try:
        api = Api(runtime)
        code = _submit(api, procedure=HOUSEHOLD_BUSINESS)
        api.work()  # the receipt, sealed with a signature timestamp (B-T)
        clock.advance(dt.timedelta(minutes=1))  # the export comes after the TSA's times
        package = export_evidence(runtime, code, AUDITOR, channel="test")
        dev_root = runtime.pki.root_cert_path
    finally:
        runtime.close()
    files = _files(package.data)
    assert json.loads(files["audit/checkpoint.json"])["timestamped"] is True
    path = tmp_path / "package.zip"
    path.write_bytes(package.data)
    run = CliRunner().invoke(cli, ["evidence", "verify", str(path), "--trust", str(dev_root), "--trust", str(tsa_root)])
    assert run.exit_code == 0, run.output
    checkpoint_line = next(line for line in run.output.splitlines() if "audit/checkpoint.p7s:" in line)
    assert f"timestamp by {TSA_NAME} at " in checkpoint_line and "valid" in checkpoint_line, checkpoint_line
    manifest_line = next(line for line in run.output.splitlines() if "manifest.p7s:" in line)
    assert f"timestamp by {TSA_NAME} at " in manifest_line, manifest_line
    # the TSA's certificate travels in the package, and the CRL covering it (fetched at export) for offline checks
    tsa_cert = to_crypto(live_pki.cert("tsa"))
    assert fingerprint(tsa_cert) in _package_fingerprints(files)
    issuers = {x509.load_der_x509_crl(data).issuer for name, data in files.items() if name.startswith("revocation/")}
    assert tsa_cert.issuer in issuers


def _package_fingerprints(files: dict[str, bytes]) -> set[str]:
    found = set()
    for name, data in files.items():
        if name.startswith("certificates/"):
            found |= {fingerprint(c) for c in x509.load_pem_x509_certificates(data)}
    return found
