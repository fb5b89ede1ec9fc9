"""Every kind of document the system issues, judged by DSS, by ours and by pdfsig, and a committed corpus of them
(issue 19 point 2).

Fresh: a throw-away installation run through its API issues one document of each kind (Mẫu 01–03, the head-signed
Mẫu 04 and Mẫu 05, the control sheet, the tracking register, an electronic copy of a scan, a template result, a birth
certificate, a certified copy) with its defaults (no TSA: B-B with revocation data) and with certomancer's TSA
(B-LT seals, B-LTA results); DSS offline with only the development root (and the TSA root), ``motcua verify
--trust`` and pdfsig (an NSS database trusting those roots) must all pass every signature, at the expected level.

Committed: a few of them (one per signing shape: B-B seal, B-B copy stamp, B-LT copy stamp, B-LTA result), a
tampered copy and another installation's seal, kept in ``tests/data/signatures/`` with the two roots and
``expected.json`` (per document: the roots, DSS's and our indication/sub-indication/level per field, pdfsig's
verdicts). The COMMITTED files are validated again (nothing is signed) and compared with ``expected.json``: a change
in our verifier, in DSS or in poppler shows against fixed bytes. ``MOTCUA_REGENERATE_CORPUS=1`` rewrites the
directory from the fresh documents. They validate offline until the development PKI's leaf certificates expire
(five years, ``signing.pki.LEAF_VALIDITY``) or its embedded CRLs grow old; regenerate them before then.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from dossiers.model import Role
from dossiers.ports import SignatureRequest
from motcua.app import DEMO_PASSWORD, Runtime, build_runtime, init_state
from motcua.settings import Settings
from services.late import find_late_risks
from services.verification import validator_for
from signing import DevelopmentPki, PadesSigner
from signing.certs import pem, to_crypto
from tests.conftest import Api, minimal_pdf
from tests.integration.certomancer_pki import LivePki
from tests.integration.dss import TOTAL_PASSED, DssValidator, Verdict, dss_verdicts, our_verdicts
from tests.integration.dss import dss as dss  # the session fixture
from tests.pdftools import nss_db_trusting, pdfsig, tool

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "signatures"
EXPECTED = CORPUS / "expected.json"
DEV_ROOT = "dev-root.pem"  # the development PKI's root: every document of the installation
TSA_ROOT = "tsa-root.pem"  # certomancer's root: its TSA
REGENERATE = os.environ.get("MOTCUA_REGENERATE_CORPUS") == "1"
MAX_BYTES = 400_000  # the committed corpus stays small (each generated PDF/A carries its fonts: 25–165 KB)

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
RECEPTION = "tiepnhan.xa1"
SPECIALIST = "chuyenvien1.xa1"
LEADER = "lanhdao.xa1"
OFFICER = "hotich.xa1"  # the civil status officer (Tư pháp - Hộ tịch)
BIRTH = "1.001193"
CERTIFIED_COPY = "2.000815"
BIRTH_DETAILS = {
    "child_name": "Nguyễn Minh Khôi",
    "child_birth_date": "2026-02-15",
    "child_gender": "Nam",
    "child_ethnicity": "Kinh",
    "birth_place": "Trạm y tế xã Demo 1",
    "hometown": "xã Demo 1",
    "mother_name": "Trần Thị Hoa",
    "mother_birth_year": 1992,
    "mother_residence": "Thôn Đông, xã Demo 1",
    "father_name": "Nguyễn Văn An",
    "father_birth_year": 1990,
    "father_residence": "Thôn Đông, xã Demo 1",
    "declarer_relationship": "Cha",
}

# What the installation issues: each must be TOTAL_PASSED by DSS offline, by ours and valid for pdfsig.
ISSUED = (
    "receipt",  # Mẫu 01, sealed at acceptance
    "supplement_request",  # Mẫu 02
    "refusal",  # Mẫu 03
    "apology",  # Mẫu 04 of 2025: signed by the head, then sealed
    "stop_notice",  # Mẫu 05 of 2025: signed by the head, then sealed
    "control_sheet",  # the control sheet, sealed on request
    "tracking_register",  # the tracking register, sealed on request
    "scan_copy",  # a scanned paper turned into an electronic copy (Decree 30 copy stamp)
    "result",  # a template result (household business): the leader's certification, then the seal
    "birth_certificate",  # a civil status extract
    "certified_copy",  # the original with the certification statement
)
# Not issued by the installation as such: what DSS (and so ours) must refuse.
REFUSED = {"tampered": "TOTAL_FAILED", "foreign": "INDETERMINATE"}
COMMITTED = ("receipt", "scan_copy", "scan_copy-tsa", "result-tsa", *REFUSED)


# ---------------------------------------------------------------------- making the corpus (regeneration only)


def _pdf(name: str, text: str) -> tuple[str, bytes, str]:
    return (name, minimal_pdf(text), "application/pdf")


def _document(api: Api, code: str, kind: str) -> bytes:
    [row] = [d for d in api.get(f"/api/dossiers/{code}", RECEPTION).json()["documents"] if d["kind"] == kind]
    r = api.get(f"/api/dossiers/{code}/documents/{row['id']}", RECEPTION)
    assert r.status_code == 200, r.text
    return bytes(r.content)


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r


def _issue(api: Api, code: str) -> None:
    """Approved by the leader: prepared, signed on the leader's device, numbered by the clerk, sealed."""
    _ok(api.decide(LEADER, code, "approve"))
    api.issue_result(code)


def _submitted(api: Api, procedure: str, details: dict[str, Any] | None, files: dict[str, Any]) -> str:
    fields = {"details": json.dumps(details, ensure_ascii=False)} if details is not None else {}
    code = str(_ok(api.submit(procedure=procedure, files=files, **fields), 201).json()["code"])
    api.work()
    return code


def _apology(api: Api) -> bytes:
    """Mẫu 04 of 2025: a late notice opened at once (a window wider than the time limit), the specialist moves the
    due date to a working afternoon after it, the head signs the letter, the server seals it."""
    runtime = api.runtime
    code = api.received()
    _ok(api.post(f"/api/tasks/{api.task_for(SPECIALIST, code)['id']}/claim", SPECIALIST))
    assert code in find_late_risks(runtime.db, runtime.engine, runtime.shop, runtime.clock.now(), window_hours=1000)
    [notice] = [n for n in api.get("/api/late-notices", SPECIALIST).json() if n["dossier_code"] == code]
    old_due = dt.datetime.fromisoformat(api.get(f"/api/dossiers/{code}", RECEPTION).json()["due_at"])
    day = old_due.astimezone(VN_TZ).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    new_due = dt.datetime.combine(day, dt.time(16), VN_TZ)
    body = {"reason": "Cần xác minh thêm địa chỉ trụ sở", "new_due_at": new_due.isoformat()}
    _ok(api.post(f"/api/late-notices/{notice['id']}/issue", SPECIALIST, json=body))
    _ok(api.sign_on_device(LEADER, code))
    return _document(api, code, "apology")


def _every_kind(runtime: Runtime) -> dict[str, bytes]:
    """One document of each kind, made through the API as the e2e tests make them."""
    api = Api(runtime)
    if runtime.accounts.get(OFFICER) is None:
        runtime.accounts.add(
            OFFICER, DEMO_PASSWORD, "Đinh Thị Thu", Role.SPECIALIST, COMMUNE, f"{COMMUNE}-TPHT", runtime.clock.now()
        )
    pdfs: dict[str, bytes] = {}
    code = api.received()
    pdfs["receipt"] = _document(api, code, "receipt")
    made = api.post(
        f"/api/dossiers/{code}/scans",
        RECEPTION,
        data={"paper_key": "giay_to_phap_ly"},
        files={"file": ("scan.pdf", minimal_pdf("so ho khau ban giay"), "application/pdf")},
    )
    _ok(made, 201)
    pdfs["scan_copy"] = _document(api, code, "scan_copy")
    _ok(api.decide(SPECIALIST, code, "approve", "Hồ sơ hợp lệ"))
    _issue(api, code)
    pdfs["result"] = _document(api, code, "result")
    pdfs["control_sheet"] = _ok(api.get(f"/api/dossiers/{code}/control-sheet", RECEPTION)).content
    pdfs["tracking_register"] = _ok(api.get("/api/registers/tracking", RECEPTION)).content
    for decision, kind in (("supplement", "supplement_request"), ("refuse", "refusal")):
        other = api.received()
        _ok(api.decide(SPECIALIST, other, decision, "Thiếu giấy tờ"))
        api.work()
        pdfs[kind] = _document(api, other, kind)
    stopped = api.received()
    _ok(api.post(f"/api/dossiers/{stopped}/stop", RECEPTION, json={"requested_by_applicant": True}))
    _ok(api.sign_on_device(LEADER, stopped))  # the head signs Mẫu 05; the server seals it
    pdfs["stop_notice"] = _document(api, stopped, "stop_notice")

    pdfs["apology"] = _apology(api)

    files = {"paper.to_khai": _pdf("to-khai.pdf", "to khai"), "paper.giay_chung_sinh": _pdf("gcs.pdf", "chung sinh")}
    birth = _submitted(api, BIRTH, BIRTH_DETAILS, files)
    _ok(api.decide(OFFICER, birth, "approve", "Thông tin khai sinh đầy đủ"))
    _issue(api, birth)
    pdfs["birth_certificate"] = _document(api, birth, "result")
    files = {"paper.ban_chinh": _pdf("bang.pdf", "Bang tot nghiep trung hoc pho thong")}
    copy = _submitted(api, CERTIFIED_COPY, {"document_title": "Bằng tốt nghiệp trung học phổ thông"}, files)
    _ok(api.decide(OFFICER, copy, "approve", "Bản sao đúng với bản chính"))
    _issue(api, copy)
    pdfs["certified_copy"] = _document(api, copy, "result")
    return pdfs


def _installation(settings: Settings) -> dict[str, bytes]:
    init_state(settings)
    runtime = build_runtime(settings, clock=SimulatedClock(dt.datetime.now(VN_TZ)))  # real time: the TSA's
    try:
        runtime.engine.deploy()
        return _every_kind(runtime)
    finally:
        runtime.close()


def _made(live_pki: LivePki, root: Path) -> tuple[dict[str, bytes], bytes, bytes]:
    """The documents (``-tsa`` with certomancer's TSA), the development root and certomancer's root. Both runs
    share one installation (one development PKI: one root for the whole corpus)."""
    tsa_root = live_pki.pem_file("root.pem", "root")
    plain = Settings(var_dir=root / "var", demo_clock=True)
    stamped = plain.model_copy(update={"tsa_url": live_pki.tsa_url, "trust_roots": str(tsa_root)})
    pdfs = _installation(plain)
    pdfs |= {f"{name}-tsa": pdf for name, pdf in _installation(stamped).items()}
    pki = DevelopmentPki(plain.pki_dir, plain.key_passphrase)
    sealed = PadesSigner(pki).sign(
        minimal_pdf("Motcua original"), SignatureRequest(f"agency:{COMMUNE}", "agency_seal", "Đóng dấu")
    )
    pdfs["tampered"] = sealed.replace(b"Motcua original", b"Motcua 0riginal")  # same length, other bytes
    other = DevelopmentPki(root / "foreign-pki")
    other.ensure([(COMMUNE, COMMUNE_NAME)], [], dt.datetime.now(dt.UTC))
    pdfs["foreign"] = PadesSigner(other).sign(
        minimal_pdf(), SignatureRequest(f"agency:{COMMUNE}", "agency_seal", "Đóng dấu")
    )
    return pdfs, pki.root_cert_path.read_bytes(), pem(to_crypto(live_pki.cert("root")))


# ---------------------------------------------------------------------- judging the files


def _roots_for(name: str) -> list[str]:
    return [DEV_ROOT, TSA_ROOT] if name.endswith("-tsa") else [DEV_ROOT]


def _nss_db(directory: Path, roots: list[Path]) -> str:
    """An NSS database trusting ``roots`` (the first through :func:`nss_db_trusting`)."""
    db = nss_db_trusting(roots[0], directory)
    certutil = tool("certutil", "libnss3-tools")
    for i, root in enumerate(roots[1:]):
        subprocess.run(
            [certutil, "-A", "-n", f"motcua-root-{i}", "-t", "CT,C,C", "-i", str(root), "-d", db],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return db


def _pdfsig_verdicts(pdf: bytes, nss_db: str, tmp_path: Path) -> list[list[str]]:
    """pdfsig's (signature, certificate) verdicts, in file order, for the CMS signatures (poppler does not judge
    document timestamps: "Signature Type: unknown", "not yet been verified")."""
    blocks = pdfsig(pdf, nss_db, tmp_path)
    return [
        [b.get("Signature Validation", ""), b.get("Certificate Validation", "")]
        for b in blocks
        if b.get("Signature Type") in ("ETSI.CAdES.detached", "adbe.pkcs7.detached")
    ]


def _as_json(verdicts: dict[str, Verdict]) -> dict[str, list[str | None]]:
    return {field: list(verdict) for field, verdict in verdicts.items()}


@dataclass
class Judged:
    """What each judge says of each document, in ``expected.json``'s shape."""

    files: dict[str, Path]
    dss: dict[str, dict[str, list[str | None]]]
    ours: dict[str, dict[str, list[str | None]]]
    pdfsig: dict[str, list[list[str]]]

    def table(self) -> dict[str, Any]:
        return {
            name: {
                "trust": _roots_for(name),
                "dss": self.dss[name],
                "ours": self.ours[name],
                "pdfsig": self.pdfsig[name],
            }
            for name in sorted(self.files)
        }


def _judge(dss: DssValidator, directory: Path, tmp_path: Path) -> Judged:
    files = {p.stem: p for p in sorted(directory.glob("*.pdf"))}
    roots = {name: directory / name for name in (DEV_ROOT, TSA_ROOT)}
    settings = Settings(var_dir=tmp_path / "verifier", demo_clock=True)
    by_dss: dict[str, dict[str, list[str | None]]] = {}
    by_us: dict[str, dict[str, list[str | None]]] = {}
    by_pdfsig: dict[str, list[list[str]]] = {}
    for trust in ([DEV_ROOT], [DEV_ROOT, TSA_ROOT]):
        group = {name: path.read_bytes() for name, path in files.items() if _roots_for(name) == trust}
        paths = [roots[r] for r in trust]
        for name, report in dss.validate_many(group, paths).items():
            by_dss[name] = _as_json(dss_verdicts(report))
        validator = validator_for(settings, paths, only_extra=True)  # `motcua verify --trust …`
        nss_dir = tmp_path / f"nss-{len(trust)}"
        nss_dir.mkdir(parents=True)
        nss_db = _nss_db(nss_dir, paths)
        for name, pdf in group.items():
            by_us[name] = _as_json(our_verdicts(validator.report(pdf)))
            by_pdfsig[name] = _pdfsig_verdicts(pdf, nss_db, tmp_path)
    return Judged(files, by_dss, by_us, by_pdfsig)


@dataclass
class Fresh:
    judged: Judged
    directory: Path  # the PDFs and the two roots


@pytest.fixture(scope="session")
def fresh(dss: DssValidator, live_pki: LivePki, tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    """Every kind made now, without and with a TSA, and judged."""
    tmp = tmp_path_factory.mktemp("corpus-fresh")
    pdfs, dev_root, tsa_root = _made(live_pki, tmp / "made")
    staged = tmp / "staged"
    staged.mkdir()
    (staged / DEV_ROOT).write_bytes(dev_root)
    (staged / TSA_ROOT).write_bytes(tsa_root)
    for name, pdf in pdfs.items():
        (staged / f"{name}.pdf").write_bytes(pdf)
    return Fresh(_judge(dss, staged, tmp / "judging"), staged)


def _regenerate(fresh: Fresh) -> None:
    """Rewrite ``tests/data/signatures`` with the committed subset of the fresh corpus and its judgements."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    for name in (DEV_ROOT, TSA_ROOT, *(f"{n}.pdf" for n in COMMITTED)):
        shutil.copyfile(fresh.directory / name, CORPUS / name)
    table = {name: row for name, row in fresh.judged.table().items() if name in COMMITTED}
    EXPECTED.write_text(json.dumps(table, ensure_ascii=False, indent=1) + "\n")


@pytest.fixture(scope="session")
def committed(dss: DssValidator, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Judged:
    """The committed files judged now (rewritten first with ``MOTCUA_REGENERATE_CORPUS=1``)."""
    if REGENERATE:
        _regenerate(request.getfixturevalue("fresh"))
    return _judge(dss, CORPUS, tmp_path_factory.mktemp("corpus-judged"))


@pytest.fixture(scope="session")
def expected(committed: Judged) -> dict[str, Any]:
    """``expected.json`` (after the regeneration when asked for)."""
    table: dict[str, Any] = json.loads(EXPECTED.read_text())
    return table


# ---------------------------------------------------------------------- the checks


PASSED_BY_PDFSIG = ["Signature is Valid.", "Certificate is Trusted."]


def _all_pass(row: dict[str, Any], tsa: bool) -> None:
    """Every signature TOTAL_PASSED by DSS at the level the configuration gives (B-B without a TSA; B-LT seals,
    B-LTA results with one), ours the same, and pdfsig: each CAdES signature valid and its certificate trusted."""
    signatures = {f: v for f, v in row["dss"].items() if v[2]}  # document timestamps have no level
    assert signatures and all(v[:2] == [TOTAL_PASSED, None] for v in row["dss"].values()), row
    assert {v[2] for v in signatures.values()} <= ({"B-LT", "B-LTA"} if tsa else {"B-B"}), row
    assert row["ours"] == row["dss"], row
    assert row["pdfsig"] == [PASSED_BY_PDFSIG] * len(signatures), row


@pytest.mark.parametrize("kind", ISSUED)
@pytest.mark.parametrize("tsa", [False, True], ids=["no-tsa", "tsa"])
def test_every_kind_the_installation_issues_passes_dss_ours_and_pdfsig(fresh: Fresh, kind: str, tsa: bool) -> None:
    name = f"{kind}-tsa" if tsa else kind
    _all_pass(fresh.judged.table()[name], tsa)


def test_with_a_tsa_what_a_leader_signs_is_b_lta_and_a_seal_alone_b_lt(fresh: Fresh) -> None:
    """Results and the head-signed letters end with a document timestamp over both signatures (LTA); a document
    the agency only seals is LT."""
    table = fresh.judged.table()
    for kind in ISSUED:
        levels = [v[2] for v in table[f"{kind}-tsa"]["dss"].values()]
        if "leader_signature" in table[kind]["dss"]:
            assert levels == ["B-LTA", "B-LTA", ""], (kind, levels)
        else:
            assert levels == ["B-LT"], (kind, levels)


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_tampered_copy_and_a_foreign_seal_fail_alike_for_dss_and_ours(fresh: Fresh, name: str) -> None:
    row = fresh.judged.table()[name]
    [(indication, _, _)] = row["dss"].values()
    assert indication == REFUSED[name] and row["ours"] == row["dss"], row
    assert row["pdfsig"] and PASSED_BY_PDFSIG not in row["pdfsig"], row


# ---------------------------------------------------------------------- the committed files


def test_the_committed_corpus_is_complete_and_small(expected: dict[str, Any]) -> None:
    assert set(expected) == set(COMMITTED)
    assert {p.stem for p in CORPUS.glob("*.pdf")} == set(COMMITTED)
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < MAX_BYTES


@pytest.mark.parametrize("name", COMMITTED)
def test_the_committed_files_are_judged_as_expected_json_says(
    expected: dict[str, Any], committed: Judged, name: str
) -> None:
    """DSS, ours and pdfsig today say of the committed bytes what they said when they were made; and what that was
    is itself checked: the issued documents pass everywhere, the others fail as DSS says."""
    row = expected[name]
    if name in REFUSED:
        assert next(iter(row["dss"].values()))[0] == REFUSED[name] and row["ours"] == row["dss"], row
    else:
        _all_pass(row, name.endswith("-tsa"))
    assert committed.table()[name] == row
