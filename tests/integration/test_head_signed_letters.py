"""Letters the head of the agency signs (Mẫu 05 of 2025) on PostgreSQL: the stop takes effect at once, the notice
waits for the leader's device; a seal that fails leaves the signature made and nothing stored, and the housekeeping
round's query (``pending_signatures.signed_without_document``, through its index) finds it and seals it once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dossiers.clock import SimulatedClock
from motcua.app import Runtime, build_runtime, init_state
from motcua.housekeeping import operations_tick
from motcua.settings import Settings
from signing.validate import PadesValidator
from tests.conftest import MONDAY_MORNING, Api

pytestmark = pytest.mark.integration
LEADER = "lanhdao.xa1"


@pytest.fixture
def pg_api(pg_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(database_url=pg_url, var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True)
    init_state(settings)
    rt: Runtime = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    assert rt.db.dialect.name == "postgresql"
    rt.engine.deploy()
    try:
        yield Api(rt)
    finally:
        rt.close()
        rt.db.dispose()


def _kinds(api: Api, code: str) -> list[str]:
    return [d["kind"] for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]]


def test_a_notice_whose_seal_failed_is_sealed_once_by_the_next_round(pg_api: Api) -> None:
    api = pg_api
    code = api.received()
    stop = {"requested_by_applicant": False, "reason": "Hồ sơ thuộc thẩm quyền cơ quan khác."}
    r = api.post(f"/api/dossiers/{code}/stop", "tiepnhan.xa1", json=stop)
    assert r.status_code == 200 and r.json()["status"] == "stopped", r.text
    assert "stop_notice" not in _kinds(api, code)

    paperwork = api.runtime.paperwork
    sign = paperwork.issuer.sign

    def down(*args: Any, **kwargs: Any) -> bytes:
        raise ConnectionError("the signing service is down")

    paperwork.issuer.sign = down  # type: ignore[method-assign]
    try:
        assert api.sign_on_device(LEADER, code).status_code == 200  # the leader's signature is made and kept
    finally:
        paperwork.issuer.sign = sign  # type: ignore[method-assign]
    assert "stop_notice" not in _kinds(api, code) and "stop_notice_draft" in _kinds(api, code)
    operations_tick(api.runtime)  # the next round seals it
    operations_tick(api.runtime)  # and the one after finds nothing left
    assert _kinds(api, code).count("stop_notice") == 1
    assert paperwork.finish_signed_letters() == []
    documents = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]
    [notice] = [d for d in documents if d["kind"] == "stop_notice"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1").content
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert [s.field_name for s in report.signatures] == ["leader_signature", "agency_seal"]


def test_the_round_looks_back_a_bounded_window(pg_api: Api) -> None:
    """A letter left unsealed longer than the window is not picked up by the round (an administrator's case);
    asked with a longer window, it is sealed once."""
    api = pg_api
    code = api.received()
    assert (
        api.post(f"/api/dossiers/{code}/stop", "tiepnhan.xa1", json={"requested_by_applicant": True}).status_code == 200
    )
    paperwork = api.runtime.paperwork
    finisher = paperwork.finish_signed_letter
    api.runtime.signatures.on_letter_signed(lambda pending_id: None)  # the server died before sealing
    try:
        assert api.sign_on_device(LEADER, code).status_code == 200
    finally:
        api.runtime.signatures.on_letter_signed(finisher)
    api.advance(days=31)
    assert paperwork.finish_signed_letters() == []
    [document_id] = paperwork.finish_signed_letters(within=dt.timedelta(days=60))
    assert paperwork.finish_signed_letters(within=dt.timedelta(days=60)) == []
    assert [
        d["id"]
        for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]
        if d["kind"] == "stop_notice"
    ] == [document_id]
