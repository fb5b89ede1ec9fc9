"""Every procedure whose result is issued from a template runs, as data alone, from the desk to its signed,
numbered and sealed result: the catalogue entry's papers in force today, its result template's sample as the
application form, the review task on the list of the agency's specialist whose department the entry names, the
leader's approval and personal signature, the clerk's number, the agency seal, the hand-over. On the embedded engine
for every such procedure; on Operaton for a sample (``OPERATON_SAMPLE``), which is slow.

A procedure added to ``motcua/data/procedures`` with a ``"result": {"template": …}`` is picked up by this file
with no change here: that is the point of issue 18's "no Python for a new procedure"."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from signing.validate import PadesValidator
from tests.conftest import Api, minimal_pdf
from tests.pdftools import nss_db_trusting, pdfsig, pdftotext

ROOT = Path(__file__).resolve().parents[2]
PROCEDURES = ROOT / "motcua" / "data" / "procedures"
RESULTS = ROOT / "motcua" / "data" / "results"
AGENCIES = ROOT / "motcua" / "data" / "agencies.json"
AGENCY = "000.00.31.H99"  # xã Hòa An, where the desk's demo people work
LEADER, CLERK, RECEPTION = "lanhdao.xa1", "vanthu.xa1", "tiepnhan.xa1"
OPERATON_SAMPLE = 3  # the first few by code also run on Operaton


def _entries() -> dict[str, dict[str, Any]]:
    entries = {}
    for path in sorted(PROCEDURES.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        if (entry.get("result") or {}).get("template"):
            entries[entry["code"]] = entry
    return entries


ENTRIES = _entries()
CASES = [pytest.param(code, "embedded", id=f"{code}-embedded") for code in ENTRIES] + [
    pytest.param(code, "operaton", id=f"{code}-operaton") for code in list(ENTRIES)[:OPERATON_SAMPLE]
]


def _in_force(entry: dict[str, Any], day: dt.date) -> dict[str, Any]:
    for version in entry["versions"]:
        starts = dt.date.fromisoformat(version["valid_from"])
        ends = dt.date.fromisoformat(version["valid_to"]) if version.get("valid_to") else dt.date.max
        if starts <= day <= ends:
            return dict(version)
    raise AssertionError(f"{entry['code']}: no rule version in force on {day}")


def _specialists() -> list[str]:
    people = json.loads(AGENCIES.read_text(encoding="utf-8"))["users"]
    return [p["username"] for p in people if p["agency_code"] == AGENCY and p["role"] == "specialist"]


def _holder_of_review(api: Api, code: str) -> str:
    """The one specialist of the agency whose list shows the dossier: the entry's department kinds at work."""
    holders = [
        who for who in _specialists() if any(t["dossier_code"] == code for t in api.get("/api/tasks", who).json())
    ]
    assert len(holders) == 1, (code, holders)
    return holders[0]


@pytest.mark.parametrize(("procedure", "engine_kind"), CASES, indirect=["engine_kind"])
def test_a_dossier_of_the_procedure_reaches_its_sealed_result(
    api: Api, tmp_path: Path, procedure: str, engine_kind: str
) -> None:
    entry = ENTRIES[procedure]
    template = json.loads((RESULTS / entry["result"]["template"]).read_text(encoding="utf-8"))
    today = api.runtime.clock.now().date()
    papers = [p for p in _in_force(entry, today)["papers"] if p["mandatory"]]
    files = {f"paper.{p['key']}": (f"{p['key']}.pdf", minimal_pdf(p["key"]), "application/pdf") for p in papers}

    r = api.submit(
        procedure=procedure,
        files=files,
        applicant_name="Nguyễn Văn An",
        details=json.dumps(template["sample"], ensure_ascii=False),
    )
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()  # accept, receipt

    specialist = _holder_of_review(api, code)
    assert api.decide(specialist, code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide(LEADER, code, "approve").status_code == 200
    api.issue_result(code, leader=LEADER, clerk=CLERK)
    fee = api.get(f"/api/dossiers/{code}/payments", RECEPTION).json()
    assert fee["fee_vnd"] == _in_force(entry, today)["fee_vnd"]  # a province-set fee counts as 0 until configured
    if fee["fee_vnd"]:  # the result is handed over only once the fee is paid: at the desk, in cash
        paid = api.post(f"/api/dossiers/{code}/payments/cash", RECEPTION, json={"receipt_number": "BL-0001"})
        assert paid.status_code == 201 and paid.json()["fee_paid"], paid.text
    assert api.decide(RECEPTION, code, None).status_code == 200
    api.work()

    view = api.get(f"/api/dossiers/{code}", RECEPTION).json()
    assert view["status"] == "returned", view["status"]
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    assert template["document"]["filename"] in result["filename"], result["filename"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", RECEPTION).content

    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert len(report.signatures) == 2  # the leader's personal signature, then the agency's seal
    (tmp_path / "nss").mkdir()
    blocks = pdfsig(pdf, nss_db_trusting(api.runtime.pki.root_cert_path, tmp_path / "nss"), tmp_path)
    assert [b.get("Signature Validation") for b in blocks] == ["Signature is Valid."] * 2, blocks

    text = " ".join(pdftotext(pdf, tmp_path).split())
    sample_texts = [v for v in template["sample"].values() if isinstance(v, str) and 3 < len(v) < 60]
    assert any(" ".join(v.split()) in text for v in sample_texts), (procedure, sample_texts, text[:400])
